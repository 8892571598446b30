"""Episodes on disk, dataset folders and training clips; see :mod:`jepa_sim.data.episode` for the format."""
