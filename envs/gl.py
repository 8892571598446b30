"""Choosing MuJoCo's OpenGL backend; this module must not import mujoco."""

from __future__ import annotations

import os

DEFAULT_GL = "egl"


def ensure_gl_backend() -> str:
    """Default ``MUJOCO_GL`` to EGL (headless, works on CPU-only machines via Mesa) and return it.

    MuJoCo reads the variable once, when ``mujoco`` is first imported; ``envs/__init__.py`` calls this
    before that import.
    """
    backend = os.environ.setdefault("MUJOCO_GL", DEFAULT_GL)
    if backend == "egl":
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    return backend
