import os

os.environ.setdefault("MUJOCO_GL", "egl")

import envs  # noqa: F401  (registers the JepaSim ids and picks the GL backend before mujoco loads)
