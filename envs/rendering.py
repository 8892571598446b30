"""Headless offscreen rendering with a clear error when no OpenGL context can be made."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from numpy.typing import NDArray

from envs.gl import ensure_gl_backend

_GL_HELP = {
    "egl": "install Mesa's EGL (Debian/Ubuntu: `apt-get install libegl1 libgl1-mesa-dri`)",
    "osmesa": "install OSMesa (Debian/Ubuntu: `apt-get install libosmesa6`)",
    "glfw": "GLFW needs a display; on a headless machine use MUJOCO_GL=egl",
}


class RenderingUnavailableError(RuntimeError):
    """No OpenGL context could be created for offscreen rendering."""


def _loaded_backend() -> str:
    """The GL backend MuJoCo picked when it was imported (it reads MUJOCO_GL only then)."""
    try:
        from mujoco.rendering.classic import gl_context
    except ImportError:
        return "unknown"
    context = getattr(gl_context, "GLContext", None)
    return "none" if context is None else str(context.__module__).rsplit(".", 1)[-1]


class CameraRenderer:
    """Renders named cameras of one model at a fixed square size into uint8 RGB arrays."""

    def __init__(self, model: mujoco.MjModel, size: int, shadows: bool) -> None:
        backend = ensure_gl_backend()
        try:
            self._renderer = mujoco.Renderer(model, height=size, width=size)
        except Exception as exc:  # MuJoCo raises several types depending on the backend
            loaded = _loaded_backend()
            if loaded not in (backend, "unknown"):
                hint = (
                    f"mujoco was imported before MUJOCO_GL={backend} took effect and loaded its {loaded} backend; "
                    "import envs (or set MUJOCO_GL) before importing mujoco"
                )
            else:
                hint = _GL_HELP.get(backend, "set MUJOCO_GL to egl, osmesa or glfw")
            raise RenderingUnavailableError(
                f"could not create an OpenGL context with MUJOCO_GL={backend} ({exc}); {hint}"
            ) from exc
        self._options = mujoco.MjvOption()
        self._shadows = shadows
        self.size = size

    def render(self, data: mujoco.MjData, camera: str) -> NDArray[np.uint8]:
        """An RGB image (size, size, 3) of ``camera`` for the current ``data``."""
        self._renderer.update_scene(data, camera=camera, scene_option=self._options)
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self._shadows
        return self._renderer.render()

    def close(self) -> None:
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            renderer.close()


def camera_parameters(model: mujoco.MjModel, data: mujoco.MjData, camera: str, size: int) -> dict[str, Any]:
    """Pinhole intrinsics and base-frame extrinsics of a named camera for square ``size`` images.

    ``world_from_camera`` uses the OpenCV camera convention (x right, y down, z forward), so a base-frame
    point ``p`` projects to pixels with ``K @ R.T @ (p - t)``; MuJoCo's own camera looks along -z with y up.
    Call after ``mj_forward`` so ``data.cam_xpos`` / ``cam_xmat`` are current.
    """
    cam = model.camera(camera)
    fovy = float(model.cam_fovy[cam.id])
    focal = 0.5 * size / np.tan(np.deg2rad(fovy) / 2.0)
    rot_mj = data.cam_xmat[cam.id].reshape(3, 3)
    rot_cv = rot_mj @ np.diag([1.0, -1.0, -1.0])
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot_cv, data.cam_xpos[cam.id]
    return {
        "name": camera,
        "width": size,
        "height": size,
        "fovy_deg": fovy,
        "intrinsics": [[focal, 0.0, size / 2.0], [0.0, focal, size / 2.0], [0.0, 0.0, 1.0]],
        "world_from_camera": pose.round(6).tolist(),
    }
