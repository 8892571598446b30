"""Cameras for the robot drivers: a real one through OpenCV, and a digital twin that renders our MuJoCo scene.

Every camera returns uint8 RGB ``(size, size, 3)`` frames framed like the training images: the largest centred
square of the sensor image, resized (:func:`crop_resize`, the encoder's own crop; never squashed).

* :class:`OpenCVCamera`: any device OpenCV can open (USB/UVC webcams; an Intel RealSense's colour stream is a
  UVC device too). ``cv2`` is imported when the camera is opened.
* :class:`DigitalTwinCamera`: the simulator's exterior camera looking at our Panda posed from a measured joint
  state (libfranka's joint convention, converted with :data:`MODEL_JOINT_OFFSETS`) and gripper closedness (the
  franky-sim loop has no camera; with the real robot it shows what the model would see in simulation). The
  table objects stand where they are put (:meth:`DigitalTwinCamera.place_object`) or at the scene's default
  spots. It imports MuJoCo when it is made, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

JointSource = Callable[[], tuple[NDArray[np.float64], float]]
"""returns the 7 arm joint angles (rad, libfranka's convention) and the gripper closedness (0 open .. 1 closed)"""

MODEL_JOINT_OFFSETS: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, -1.57, -0.7854)
"""our MJCF Panda's joint angles minus libfranka's for the same posture: the kitchen Franka chain we build on
(``envs.panda``) turns link 6 by 1.57 rad and link 7 by 0.7854 rad about their joint axes. Drivers report joint
angles in libfranka's convention (the real robot's); the twin converts them."""


def franka_to_model_joints(joints: ArrayLike) -> NDArray[np.float64]:
    """libfranka joint angles (7,) -> the joint angles of our simulated Panda in the same posture."""
    return np.asarray(joints, np.float64) + np.asarray(MODEL_JOINT_OFFSETS)


def model_to_franka_joints(joints: ArrayLike) -> NDArray[np.float64]:
    """The joint angles of our simulated Panda (7,) -> libfranka's for the same posture."""
    return np.asarray(joints, np.float64) - np.asarray(MODEL_JOINT_OFFSETS)


class CameraError(RuntimeError):
    """A camera could not be opened or read; the message names the device and the problem."""


@runtime_checkable
class Camera(Protocol):
    """A source of uint8 RGB frames ``(H, W, 3)``."""

    def read(self) -> NDArray[np.uint8]:
        """The latest frame."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


def crop_resize(image: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """The largest centred square of a uint8 ``(H, W, 3)`` image, resized to ``(size, size, 3)`` with
    antialiasing: the crop the encoders apply (:func:`jepa_sim.encoders.preprocess.center_crop_resize`)."""
    import torch

    from jepa_sim.encoders.preprocess import as_frame_batch, center_crop_resize

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    if image.shape[:2] == (size, size):
        return image.copy()
    x = center_crop_resize(as_frame_batch(image), size)[0]
    return x.permute(1, 2, 0).mul(255.0).round().clamp(0, 255).to(torch.uint8).numpy()


def load_image(path: str, size: int) -> NDArray[np.uint8]:
    """An image file (PNG, JPEG) as uint8 RGB, cropped and resized to ``size`` like camera frames."""
    import imageio.v3 as iio

    try:
        image = np.asarray(iio.imread(path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the image {path}: {exc}") from exc
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{path} is not an RGB image (shape {image.shape})")
    if image.dtype != np.uint8:
        raise ValueError(f"{path} has {image.dtype} pixels; save it as an 8-bit image")
    return crop_resize(np.ascontiguousarray(image[..., :3]), size)


class OpenCVCamera:
    """A camera device through OpenCV (``cv2.VideoCapture``), framed to ``image_size``.

    Fresh frames: a capture device keeps a queue of frames taken before anyone asked (V4L2 keeps 4 by default,
    and stops filling it while it is full), so a plain ``read()`` after a pause (planning, a robot motion)
    returns a frame from seconds ago. The camera asks for a one-frame queue (``CAP_PROP_BUFFERSIZE=1``) and
    :meth:`read` grabs ``grabs`` frames and decodes only the last: the first grabs empty the queue of frames
    taken before the call, the last waits for the next frame the sensor takes. This costs up to ``grabs``
    frame periods per read (about 70 ms at 30 fps for the default with the one-frame queue).

    Args:
        device: the device index (``/dev/videoN``) or a path/URL OpenCV understands.
        image_size: side of the square frames returned.
        width, height: capture resolution to ask the device for (None: its default).
        warmup: frames read and dropped when opening (auto exposure settles).
        grabs: frames grabbed per :meth:`read` (the last one is returned); None: 2 when the backend accepted
            the one-frame queue, else 5 (enough for V4L2's default queue of 4). Raise it for a backend that
            queues more frames.

    Raises:
        CameraError: OpenCV is missing, or the device cannot be opened or read.
    """

    def __init__(
        self,
        device: int | str = 0,
        image_size: int = 128,
        width: int | None = None,
        height: int | None = None,
        warmup: int = 5,
        grabs: int | None = None,
    ) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise CameraError(
                "OpenCVCamera needs OpenCV: pip install opencv-python-headless (the cv2 module is missing)"
            ) from exc
        self._cv2: Any = cv2
        self.device, self.image_size = device, int(image_size)
        capture = cv2.VideoCapture(device)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"cannot open camera {device!r} with OpenCV (no such device, or it is busy)")
        if width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        small_queue = bool(capture.set(cv2.CAP_PROP_BUFFERSIZE, 1))  # False where the backend ignores it
        if grabs is not None and grabs < 1:
            capture.release()
            raise ValueError(f"grabs must be >= 1, got {grabs}")
        self.grabs = int(grabs) if grabs is not None else (2 if small_queue else 5)
        """frames grabbed per read; the last one is returned"""
        self._capture: Any = capture
        for _ in range(max(0, warmup)):
            capture.read()

    def read(self) -> NDArray[np.uint8]:
        """The newest frame: ``grabs`` frames grabbed (the queued, stale ones dropped), the last one decoded."""
        if self._capture is None:
            raise CameraError(f"camera {self.device!r} is closed")
        for _ in range(self.grabs):
            if not self._capture.grab():
                raise CameraError(f"camera {self.device!r} returned no frame (unplugged or busy?)")
        ok, frame = self._capture.retrieve()
        if not ok or frame is None:
            raise CameraError(f"camera {self.device!r} returned no frame (unplugged or busy?)")
        rgb = self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)
        return crop_resize(np.ascontiguousarray(rgb, dtype=np.uint8), self.image_size)

    def describe(self) -> dict[str, Any]:
        return {"kind": "opencv", "device": self.device, "shape": [self.image_size, self.image_size, 3],
                "grabs_per_read": self.grabs}  # fmt: skip

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


class DigitalTwinCamera:
    """Renders our MuJoCo scene (fast preset) from the exterior camera with the Panda posed from a measured
    joint state: :meth:`render` for given joints, :meth:`read` for those of ``source`` (e.g.
    :meth:`following` a driver).

    Args:
        image_size: side of the square frames (64..256, as the simulator's).
        source: returns the measured joints and gripper closedness; needed by :meth:`read` only.
        camera: the scene camera to render (default: the exterior camera the models were trained on).
    """

    def __init__(self, image_size: int = 128, source: JointSource | None = None, camera: str | None = None) -> None:
        from envs.gl import ensure_gl_backend

        ensure_gl_backend()  # before mujoco is imported (it reads MUJOCO_GL once)
        import mujoco

        from envs.config import ControlConfig
        from envs.controller import CartesianController
        from envs.rendering import CameraRenderer
        from envs.scene import EXTERIOR_CAMERA, load_model

        if not 64 <= image_size <= 256:
            raise ValueError(f"image_size must be between 64 and 256 px, got {image_size}")
        self._mujoco: Any = mujoco
        self.image_size = int(image_size)
        self.source = source
        self.camera = EXTERIOR_CAMERA if camera is None else camera
        self.model = load_model(False)
        self.data = mujoco.MjData(self.model)
        self.controller = CartesianController(self.model, ControlConfig())
        self._renderer: CameraRenderer | None = CameraRenderer(self.model, self.image_size, shadows=False)
        self.model.camera(self.camera)  # raises KeyError for an unknown camera name now, not at the first frame

    @classmethod
    def following(cls, driver: Any, image_size: int = 128, camera: str | None = None) -> DigitalTwinCamera:
        """A twin that poses the arm from ``driver.joint_positions()`` and the closedness of
        ``driver.get_state()`` at every :meth:`read`."""

        def source() -> tuple[NDArray[np.float64], float]:
            return np.asarray(driver.joint_positions(), np.float64), float(driver.get_state()[6])

        return cls(image_size, source, camera)

    def place_object(self, name: str, position: ArrayLike, quat: Sequence[float] = (1.0, 0.0, 0.0, 0.0)) -> None:
        """Put the ``cup`` or ``box`` at ``position`` (m, base frame) with orientation ``quat`` (w, x, y, z)."""
        try:
            joint = self.model.joint(f"{name}_joint")
        except KeyError as exc:
            raise ValueError(f"no object {name!r} in the scene (cup, box)") from exc
        adr = int(joint.qposadr[0])
        pos, q = np.asarray(position, np.float64), np.asarray(quat, np.float64)
        if pos.shape != (3,) or q.shape != (4,) or not (np.all(np.isfinite(pos)) and np.all(np.isfinite(q))):
            raise ValueError(f"an object pose needs a finite position (3,) and quaternion (4,), got {pos}, {q}")
        self.data.qpos[adr : adr + 3] = pos
        self.data.qpos[adr + 3 : adr + 7] = q / np.linalg.norm(q)

    def render(self, joints: ArrayLike, closedness: float) -> NDArray[np.uint8]:
        """The frame with the arm at ``joints`` (7 angles, rad, libfranka's convention, as drivers report them)
        and the fingers at ``closedness`` (0..1)."""
        if self._renderer is None:
            raise RuntimeError("the digital-twin camera is closed")
        q = np.asarray(joints, np.float64)
        if q.shape != (7,) or not np.all(np.isfinite(q)):
            raise ValueError(f"the twin needs 7 finite joint angles, got {q}")
        self.controller.set_arm(self.data, franka_to_model_joints(q), float(np.clip(closedness, 0.0, 1.0)))
        self._mujoco.mj_forward(self.model, self.data)
        return self._renderer.render(self.data, self.camera)

    def tool_state(self) -> NDArray[np.float64]:
        """The 7-float state of the twin's arm as last posed (tool pose and closedness): compare it with the
        robot's measured state to check that the twin's kinematics agree with the robot's."""
        return self.controller.state(self.data)

    def read(self) -> NDArray[np.uint8]:
        if self.source is None:
            raise RuntimeError("this DigitalTwinCamera has no joint source; call render(joints, closedness)")
        joints, closedness = self.source()
        return self.render(joints, closedness)

    def describe(self) -> dict[str, Any]:
        from envs.rendering import camera_parameters

        self._mujoco.mj_forward(self.model, self.data)
        return {
            "kind": "digital_twin",
            "camera": self.camera,
            "preset": "fast",
            "shape": [self.image_size, self.image_size, 3],
            "parameters": camera_parameters(self.model, self.data, self.camera, self.image_size),
        }

    def close(self) -> None:
        renderer, self._renderer = self._renderer, None
        if renderer is not None:
            renderer.close()
