"""What the robot server (:mod:`agents.drivers.robot_server`, on the robot PC) and its client
(:mod:`agents.drivers.remote`, on the policy workstation) share: the wire format, the requests, the errors that
cross the link, and the ZeroMQ settings of both ends.

Wire format: a multipart message, first a UTF-8 JSON frame, then one raw frame per numpy array (the JSON holds
``{"__nd__": i, "dtype": ..., "shape": ...}`` in its place). Requests are ``{"method": name, "args": [...]}``;
replies ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": class name, "message": ...}``; for a driver
that knows when its episode ends (the simulator's ``done`` and ``success``), replies also carry
``"episode": {"done": ..., "success": ...}``. Observations travel with their wrist image when the robot has a
wrist camera, and without their ``extras`` (the simulator's privileged state stays on the server).

``zmq`` (pyzmq) is imported when a socket is made, so importing this module needs only numpy.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from agents.drivers.base import Observation, RobotConnectionError, RobotDriverError, RobotMotionError
from agents.safety import UnsafeActionError

DEFAULT_HEARTBEAT = 1.0
"""seconds between ZeroMQ heartbeats; a peer silent for 3 of them counts as gone"""

METHODS = ("ping", "features", "reset", "home", "stop", "get_observation", "get_state", "joint_positions",
           "goal_images", "goal_views", "clamp_reference", "send_action")  # fmt: skip
"""what a client may ask the server (the robot's connection itself is the server's business)"""
MOVING = frozenset({"reset", "home", "send_action"})
CONTROL = frozenset({"stop"})
"""requests the server answers at once, also while another request runs"""
ERROR_CLASSES: tuple[type[Exception], ...] = (
    UnsafeActionError,
    RobotConnectionError,
    RobotMotionError,
    RobotDriverError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    TypeError,
)
ERRORS: dict[str, type[Exception]] = {cls.__name__: cls for cls in ERROR_CLASSES}
"""errors of the robot-side driver that the client raises as the same class"""


class ProtocolError(RobotDriverError):
    """A message that does not follow the wire format."""


def zmq_module() -> Any:
    """pyzmq, imported on first use (a clear error without it)."""
    try:
        import zmq
    except ImportError as exc:  # pragma: no cover - pyzmq ships with the dev and notebook extras
        raise ImportError("the remote robot driver needs pyzmq: pip install pyzmq") from exc
    return zmq


def encode(obj: Any) -> list[bytes]:
    """``obj`` (JSON types, numpy arrays and scalars, tuples, :class:`Observation`) as multipart frames."""
    buffers: list[bytes] = []

    def walk(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            buffers.append(np.ascontiguousarray(x).tobytes())
            return {"__nd__": len(buffers) - 1, "dtype": x.dtype.str, "shape": list(x.shape)}
        if isinstance(x, Observation):
            obs = {"image": walk(x.image), "state": walk(x.state), "time": float(x.time)}
            if x.wrist_image is not None:
                obs["wrist_image"] = walk(x.wrist_image)
            return {"__obs__": obs}
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, dict):
            return {str(k): walk(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [walk(v) for v in x]
        return x

    header = json.dumps(walk(obj), allow_nan=False).encode()
    return [header, *buffers]


def decode(frames: list[bytes]) -> Any:
    """The inverse of :func:`encode`; :class:`ProtocolError` for anything malformed."""
    if not frames:
        raise ProtocolError("empty message")

    def hook(d: dict[str, Any]) -> Any:
        if "__nd__" in d:
            index, dtype, shape = d["__nd__"], np.dtype(d["dtype"]), tuple(d["shape"])
            if dtype.hasobject or not 0 <= index < len(frames) - 1:
                raise ProtocolError(f"bad array reference {d}")
            return np.frombuffer(frames[index + 1], dtype=dtype).reshape(shape).copy()
        if "__obs__" in d:
            o = d["__obs__"]
            wrist = o.get("wrist_image")
            return Observation(np.asarray(o["image"], np.uint8), np.asarray(o["state"], np.float64), float(o["time"]),
                               {}, None if wrist is None else np.asarray(wrist, np.uint8))  # fmt: skip
        return d

    try:
        return json.loads(frames[0].decode(), object_hook=hook)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"malformed message: {type(exc).__name__}: {exc}") from exc


def set_heartbeats(zmq: Any, socket: Any, heartbeat: float) -> None:
    """ZeroMQ heartbeats every ``heartbeat`` s on ``socket``: a peer silent for 3 of them counts as gone."""
    if heartbeat > 0:
        socket.setsockopt(zmq.HEARTBEAT_IVL, int(heartbeat * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(3 * heartbeat * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TTL, int(3 * heartbeat * 1000))
