"""Headless offscreen rendering with a clear error when no OpenGL context can be made."""

from __future__ import annotations

import atexit
import os
import sys
import weakref
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


# ---- OpenGL contexts and processes ------------------------------------------------------------------------
# Two hazards of MuJoCo's stock renderer, both silent, drive the design of this module:
# 1. ``mujoco.Renderer.close`` (and its ``__del__``) frees the GPU objects of its MjrContext while whatever
#    context is current on the thread is bound, usually the one another renderer used last. Both renderers of
#    a model number their textures and framebuffers alike, so closing env A deleted env B's buffers and B's
#    next frames were garbage. Here every renderer makes its own context current before it renders and before
#    it frees anything.
# 2. With EGL (Mesa), a process forked after the parent created any EGL context hangs forever as soon as it
#    creates its own. Contexts are therefore created lazily, at the first frame: a process that only built an
#    env (gymnasium's AsyncVectorEnv builds one in the parent for its spaces) forks cleanly. A child forked
#    after the parent did render fails at its first frame with an error that names the fix.
# Garbage collection can run in the middle of a render (between making a context current and reading the
# pixels back), so a collected renderer is never freed from the collector's callback: the callback only queues
# it, and queued renderers are freed at the start of the next frame or close, or at exit.
_GL_STATE = {"forked_after_gl": False, "atexit": False}
_RESOURCES: dict[int, Any] = {}
"""live mujoco.Renderer objects by handle; kept out of the objects users hold, so that no garbage-collector
order can finalize one while another context is bound (see :func:`_release`)"""
_PENDING: list[int] = []
"""handles of renderers whose owner was garbage-collected, freed at the next safe point (:func:`_drain`)"""
_INHERITED: list[Any] = []
"""renderers a forked child inherited from its parent, or whose context could not be made current: never
touched again (any GL call on them could hang or hit another renderer's objects)"""
_next_handle = 0


def _egl_in_use() -> bool:
    """This process has initialised MuJoCo's EGL display (created a context at least once)."""
    egl = sys.modules.get("mujoco.egl")
    return egl is not None and getattr(egl, "EGL_DISPLAY", None) is not None


def _after_fork_in_child() -> None:
    if _egl_in_use():
        _GL_STATE["forked_after_gl"] = True
    _INHERITED.extend(_RESOURCES.values())
    _RESOURCES.clear()
    _PENDING.clear()


# Registered at import, not at the first env: a process that rendered by other means (a raw mujoco.Renderer,
# dm_control) and then forks must still be caught in the child.
os.register_at_fork(after_in_child=_after_fork_in_child)


def _check_can_create_context(backend: str) -> None:
    if backend == "egl" and _GL_STATE["forked_after_gl"]:
        raise RenderingUnavailableError(
            "this process was forked from one that had already created an EGL (OpenGL) context, and Mesa's EGL "
            "hangs in such a child; start worker processes with 'spawn' or 'forkserver' instead of 'fork' "
            "(gymnasium: gym.make_vec(..., vectorization_mode='async', vector_kwargs={'context': 'spawn'}); "
            "multiprocessing: multiprocessing.get_context('spawn')), or fork before anything renders"
        )


def _release(handle: int) -> None:
    """Free one renderer: its own context made current first, so nothing of another renderer is touched. If
    its context cannot be made current (current in another thread, say), it is kept, never freed elsewhere."""
    renderer = _RESOURCES.pop(handle, None)
    if renderer is None:
        return
    gl = getattr(renderer, "_gl_context", None)  # mujoco.Renderer keeps its GLContext here (3.x)
    try:
        if gl is not None:
            gl.make_current()
    except Exception:
        _INHERITED.append(renderer)
        return
    renderer.close()  # frees the MjrContext (with our context bound), then the context itself


def _defer(handle: int) -> None:
    """The garbage collector's callback: queue the renderer, free nothing here (see the module comment)."""
    _PENDING.append(handle)


def _drain() -> None:
    """Free the renderers queued by the garbage collector (at a safe point: no frame in progress)."""
    while _PENDING:
        _release(_PENDING.pop())


def _release_all() -> None:
    """At exit, before MuJoCo's own exit handler terminates the EGL display: free what is still open."""
    _PENDING.extend(_RESOURCES)
    while _PENDING:
        try:
            _release(_PENDING.pop())
        except Exception:
            continue


class CameraRenderer:
    """Renders named cameras of one model at a fixed square size into uint8 RGB arrays.

    The OpenGL context is created at the first :meth:`render` (not here) and made current before every frame
    and before it is freed, so renderers of any number of envs coexist in one process and closing or
    garbage-collecting one never affects another.
    """

    def __init__(self, model: mujoco.MjModel, size: int, shadows: bool) -> None:
        self._backend = ensure_gl_backend()
        self._model = model
        self._options = mujoco.MjvOption()
        self._shadows = shadows
        self.size = size
        self._handle: int | None = None
        self._closed = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def _renderer(self) -> mujoco.Renderer:
        global _next_handle
        if self._closed:
            raise RuntimeError("this renderer is closed (its env or camera was closed)")
        if self._handle is not None and self._handle in _RESOURCES:
            return _RESOURCES[self._handle]
        if self._handle is not None:  # created before a fork: the parent's context is unusable here
            self._handle = None
        _check_can_create_context(self._backend)
        try:
            renderer = mujoco.Renderer(self._model, height=self.size, width=self.size)
        except Exception as exc:  # MuJoCo raises several types depending on the backend
            raise _unavailable(self._backend, exc) from exc
        if not _GL_STATE["atexit"]:  # registered after MuJoCo's eglTerminate, so it runs before it
            atexit.register(_release_all)
            _GL_STATE["atexit"] = True
        _next_handle += 1
        self._handle = _next_handle
        _RESOURCES[self._handle] = renderer
        # Queued when this object goes away (freed at the next safe point); not at interpreter exit, where
        # _release_all frees everything before the EGL display is terminated.
        self._finalizer = weakref.finalize(self, _defer, self._handle)
        self._finalizer.atexit = False
        return renderer

    def render(self, data: mujoco.MjData, camera: str) -> NDArray[np.uint8]:
        """An RGB image (size, size, 3) of ``camera`` for the current ``data``."""
        _drain()
        renderer = self._renderer()
        renderer.update_scene(data, camera=camera, scene_option=self._options)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self._shadows
        return renderer.render()  # makes this renderer's own context current first

    def close(self) -> None:
        """Free the OpenGL resources; idempotent. Rendering afterwards raises ``RuntimeError``."""
        self._closed = True
        finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer()  # queues this renderer ...
        _drain()  # ... and frees it, with anything the collector queued, now (an explicit close is a safe point)


def _loaded_backend() -> str:
    """The GL backend MuJoCo picked when it was imported (it reads MUJOCO_GL only then)."""
    try:
        from mujoco.rendering.classic import gl_context
    except ImportError:
        return "unknown"
    context = getattr(gl_context, "GLContext", None)
    return "none" if context is None else str(context.__module__).rsplit(".", 1)[-1]


def _unavailable(backend: str, exc: Exception) -> RenderingUnavailableError:
    loaded = _loaded_backend()
    if loaded not in (backend, "unknown"):
        hint = (
            f"mujoco was imported before MUJOCO_GL={backend} took effect and loaded its {loaded} backend; "
            "import envs (or set MUJOCO_GL) before importing mujoco"
        )
    else:
        hint = _GL_HELP.get(backend, "set MUJOCO_GL to egl, osmesa or glfw")
    return RenderingUnavailableError(f"could not create an OpenGL context with MUJOCO_GL={backend} ({exc}); {hint}")


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
