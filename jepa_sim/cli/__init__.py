"""The ``jepa-sim`` command line."""
