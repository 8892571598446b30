"""The robot on another machine: a small robot server and its client over ZeroMQ (DROID's split: the policy
workstation plans, the robot PC runs the driver).

* Robot PC: :func:`serve` answers requests for one :class:`~agents.drivers.base.RobotDriver` (e.g. a connected
  :class:`~agents.drivers.franky.FrankyDriver`) on a ZeroMQ REP socket, one request at a time.
* Workstation: :class:`RemoteDriver` is a ``RobotDriver`` whose methods are requests to that server.

Wire format: a multipart message, first a UTF-8 JSON frame, then one raw frame per numpy array (the JSON holds
``{"__nd__": i, "dtype": ..., "shape": ...}`` in its place). Requests are ``{"method": name, "args": [...]}``;
replies ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": class name, "message": ...}``.
Observations travel without their ``extras`` (the simulator's privileged state stays on the server).

Safety: the client clamps every action with the server's limits (fetched on :meth:`RemoteDriver.connect`) and
the server's driver clamps it again against the robot's freshly measured state, so nothing reaches the robot
around the clamp; what the robot executed comes back and the reasons of both clamps are in ``last_safety``.

Timeouts and lost links (never a hang, never a blind retry): every request waits at most ``timeout`` seconds
(``motion_timeout`` for ``reset``, ``home`` and ``send_action``, which move the robot). A server that does not
answer in time, or whose connection drops while a request is pending (a killed server is noticed at once;
a silent network is noticed by ZeroMQ heartbeats within ``3 * heartbeat`` seconds), raises
:class:`~agents.drivers.base.RobotConnectionError` and marks the client disconnected; later calls raise it at
once until :meth:`RemoteDriver.connect` is called again. Between requests the robot is at rest (each action
ends at rest), so a dead workstation leaves a robot holding still. Errors raised by the robot-side driver come
back as the same class (``UnsafeActionError``, ``RobotMotionError``, ``RobotConnectionError``, ...) with the
server's message.

``zmq`` (pyzmq) is imported when a socket is made, so importing this module needs only numpy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.drivers.base import (
    Observation,
    RobotConnectionError,
    RobotDriver,
    RobotDriverError,
    RobotMotionError,
)
from agents.safety import SafetyLimits, SafetyResult, UnsafeActionError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""seconds a quick request (observe, state, stop, features) may take"""
DEFAULT_MOTION_TIMEOUT = 60.0
"""seconds a moving request (reset, home, send_action) may take; longer than the robot driver's own timeout"""
DEFAULT_HEARTBEAT = 1.0
"""seconds between ZeroMQ heartbeats; a peer silent for 3 of them counts as gone"""

METHODS = ("ping", "features", "reset", "home", "stop", "get_observation", "get_state", "joint_positions",
           "goal_images", "clamp_reference", "send_action")  # fmt: skip
"""what a client may ask the server (the robot's connection itself is the server's business)"""
MOVING = frozenset({"reset", "home", "send_action"})

_ERROR_CLASSES: tuple[type[Exception], ...] = (
    UnsafeActionError,
    RobotConnectionError,
    RobotMotionError,
    RobotDriverError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    TypeError,
)
_ERRORS: dict[str, type[Exception]] = {cls.__name__: cls for cls in _ERROR_CLASSES}
"""errors of the robot-side driver that the client raises as the same class"""


class ProtocolError(RobotDriverError):
    """A message that does not follow the wire format."""


def _zmq() -> Any:
    try:
        import zmq
    except ImportError as exc:  # pragma: no cover - pyzmq ships with the dev and notebook extras
        raise ImportError("the remote robot driver needs pyzmq: pip install pyzmq") from exc
    return zmq


# ---- wire format ------------------------------------------------------------------------------------------
def encode(obj: Any) -> list[bytes]:
    """``obj`` (JSON types, numpy arrays and scalars, tuples, :class:`Observation`) as multipart frames."""
    buffers: list[bytes] = []

    def walk(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            buffers.append(np.ascontiguousarray(x).tobytes())
            return {"__nd__": len(buffers) - 1, "dtype": x.dtype.str, "shape": list(x.shape)}
        if isinstance(x, Observation):
            return {"__obs__": {"image": walk(x.image), "state": walk(x.state), "time": float(x.time)}}
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
            return Observation(np.asarray(o["image"], np.uint8), np.asarray(o["state"], np.float64), float(o["time"]))
        return d

    try:
        return json.loads(frames[0].decode(), object_hook=hook)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"malformed message: {type(exc).__name__}: {exc}") from exc


# ---- the robot side ---------------------------------------------------------------------------------------
def handle(driver: RobotDriver, frames: list[bytes]) -> list[bytes]:
    """Answer one request for ``driver`` (the reply frames); errors become error replies, never exceptions."""
    try:
        request = decode(frames)
        if not isinstance(request, dict) or request.get("method") not in METHODS:
            method = request.get("method") if isinstance(request, dict) else None
            raise ProtocolError(f"unknown request {method!r}; the server answers {', '.join(METHODS)}")
        method, args = str(request["method"]), list(request.get("args", []))
        result: Any
        if method == "ping":
            result = {"time": time.time()}
        elif method == "clamp_reference":  # the state the robot's driver clamps against (sim: gripper command)
            result = driver._clamp_reference()
        elif method == "send_action":
            executed = driver.send_action(np.asarray(args[0], np.float64))
            safety = driver.last_safety
            result = {"executed": executed, "clamped": bool(safety is not None and safety.clamped),
                      "reasons": list(safety.reasons) if safety is not None else []}  # fmt: skip
        else:
            result = getattr(driver, method)(*args)
        return encode({"ok": True, "result": result})
    except Exception as exc:  # reported to the client, which raises it; the server keeps serving
        log.warning("robot server: %s failed: %s: %s", frames[:1], type(exc).__name__, exc)
        return encode({"ok": False, "error": type(exc).__name__, "message": str(exc)})


def serve(
    driver: RobotDriver,
    address: str,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
    poll_interval: float = 0.1,
    heartbeat: float = DEFAULT_HEARTBEAT,
) -> int:
    """Serve ``driver`` on ``address`` (e.g. ``tcp://0.0.0.0:5555``; ``tcp://127.0.0.1:*`` picks a free port)
    until ``stop`` is set or the process is interrupted; returns the number of requests answered.

    ``on_ready`` is called with the bound endpoint (the port resolved) once requests are accepted. The driver
    is neither connected nor closed here: the caller owns it.
    """
    zmq = _zmq()
    context = zmq.Context()
    socket = context.socket(zmq.REP)
    socket.linger = 0
    _heartbeats(zmq, socket, heartbeat)
    served = 0
    try:
        socket.bind(address)
        endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info("robot server: serving %s on %s", type(driver).__name__, endpoint)
        if on_ready is not None:
            on_ready(endpoint)
        while stop is None or not stop.is_set():
            if not socket.poll(max(1, int(poll_interval * 1000)), zmq.POLLIN):
                continue
            frames = socket.recv_multipart()
            socket.send_multipart(handle(driver, frames))
            served += 1
    finally:
        socket.close(linger=0)
        context.term()
    return served


def _heartbeats(zmq: Any, socket: Any, heartbeat: float) -> None:
    if heartbeat > 0:
        socket.setsockopt(zmq.HEARTBEAT_IVL, int(heartbeat * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(3 * heartbeat * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TTL, int(3 * heartbeat * 1000))


# ---- the workstation side ---------------------------------------------------------------------------------
class RemoteDriver(RobotDriver):
    """A robot served by :func:`serve` on another machine (or process), behind the driver interface.

    Args:
        address: the server's endpoint, e.g. ``tcp://robot-pc:5555``.
        timeout: seconds a quick request may take.
        motion_timeout: seconds ``reset``, ``home`` and ``send_action`` may take.
        limits: the client-side clamp's limits; None takes the server driver's limits on :meth:`connect`.
        heartbeat: ZeroMQ heartbeat interval (s); 0 disables heartbeats.
    """

    name = "remote"

    def __init__(
        self,
        address: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        motion_timeout: float = DEFAULT_MOTION_TIMEOUT,
        limits: SafetyLimits | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> None:
        if not (timeout > 0 and motion_timeout > 0):
            raise ValueError(f"timeouts must be > 0, got timeout={timeout}, motion_timeout={motion_timeout}")
        self.address = address
        self.timeout, self.motion_timeout, self.heartbeat = float(timeout), float(motion_timeout), float(heartbeat)
        self._fixed_limits = limits is not None
        if limits is not None:
            self.limits = limits
        self.remote_features: dict[str, Any] | None = None
        """the server driver's :meth:`features`, fetched by :meth:`connect`"""
        self._context: Any = None
        self._socket: Any = None
        self._monitor: Any = None
        self._poller: Any = None

    # ---- connection ---------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._socket is not None

    def connect(self) -> None:
        """Open the link and fetch the server driver's features (and limits, unless given).

        Raises:
            RobotConnectionError: no server answered within ``timeout``.
        """
        if self.connected:
            raise RuntimeError(f"already connected to {self.address}; disconnect first")
        zmq = _zmq()
        context = zmq.Context()
        socket = context.socket(zmq.REQ)
        socket.linger = 0
        _heartbeats(zmq, socket, self.heartbeat)
        monitor = socket.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        try:
            socket.connect(self.address)
        except zmq.ZMQError as exc:
            monitor.close(linger=0)
            socket.close(linger=0)
            context.term()
            raise RobotConnectionError(f"cannot connect to the robot server at {self.address}: {exc}") from exc
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        self._context, self._socket, self._monitor, self._poller = context, socket, monitor, poller
        features = self._call("features")
        self.remote_features = features
        if not self._fixed_limits:
            limits = dict(features["limits"])
            for corner in ("workspace_low", "workspace_high"):
                limits[corner] = tuple(limits[corner])
            self.limits = SafetyLimits(**limits)
        self.control_period = features.get("control_period")

    def disconnect(self) -> None:
        """Close the link; safe to call twice. The robot is not told anything: every request is synchronous, so
        no motion of this client is running (and a gripper holding an object keeps holding it)."""
        self._drop()

    def _drop(self) -> None:
        socket, monitor, context = self._socket, self._monitor, self._context
        self._socket = self._monitor = self._context = self._poller = None
        if socket is not None:
            try:
                socket.disable_monitor()
            except Exception:  # already closed by libzmq; we are tearing down anyway
                log.debug("disable_monitor failed", exc_info=True)
            socket.close(linger=0)
        if monitor is not None:
            monitor.close(linger=0)
        if context is not None:
            context.term()

    def _call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """One request and its reply, within ``timeout`` (default by kind of request)."""
        if not self.connected:
            raise RobotConnectionError(
                f"not connected to the robot server at {self.address} (connect first, or again after a lost link)"
            )
        zmq = _zmq()
        from zmq.utils.monitor import recv_monitor_message

        limit = timeout if timeout is not None else (self.motion_timeout if method in MOVING else self.timeout)
        try:
            self._socket.send_multipart(encode({"method": method, "args": list(args)}), flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._drop()
            raise RobotConnectionError(f"cannot send {method} to the robot server at {self.address}: {exc}") from exc
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._drop()
                raise RobotConnectionError(
                    f"the robot server at {self.address} did not answer {method} within {limit:g} s; the link is "
                    "considered lost (the robot side stops on its own timeouts); connect again"
                )
            events = dict(self._poller.poll(max(1, int(remaining * 1000))))
            if self._monitor in events:
                event = recv_monitor_message(self._monitor)
                if event["event"] == zmq.EVENT_DISCONNECTED:
                    self._drop()
                    raise RobotConnectionError(
                        f"lost the connection to the robot server at {self.address} while waiting for {method} "
                        "(server stopped, killed or unreachable); connect again"
                    )
                continue
            if self._socket in events:
                reply = decode(self._socket.recv_multipart())
                break
        if not isinstance(reply, dict) or "ok" not in reply:
            raise ProtocolError(f"malformed reply to {method} from {self.address}")
        if reply["ok"]:
            return reply.get("result")
        name, message = str(reply.get("error")), str(reply.get("message"))
        cls = _ERRORS.get(name)
        if cls is None:
            raise RobotDriverError(f"the robot server failed {method}: {name}: {message}")
        raise cls(f"robot server: {message}")

    # ---- RobotDriver --------------------------------------------------------------------------------------
    def ping(self) -> float:
        """Round-trip time of one request (s)."""
        start = time.monotonic()
        self._call("ping")
        return time.monotonic() - start

    def reset(self, seed: int | None = None) -> Observation:
        obs = self._call("reset", seed)
        assert isinstance(obs, Observation)
        return obs

    def home(self) -> None:
        self._call("home")

    def stop(self) -> None:
        self._call("stop")

    def get_observation(self) -> Observation:
        obs = self._call("get_observation")
        assert isinstance(obs, Observation)
        return obs

    def get_state(self) -> NDArray[np.float64]:
        return np.asarray(self._call("get_state"), np.float64)

    def joint_positions(self) -> NDArray[np.float64]:
        return np.asarray(self._call("joint_positions"), np.float64)

    def goal_images(self) -> list[NDArray[np.uint8]]:
        return [np.asarray(image, np.uint8) for image in self._call("goal_images")]

    def _clamp_reference(self) -> NDArray[np.float64]:
        """The server driver's own clamp reference, so that both clamps agree."""
        return np.asarray(self._call("clamp_reference"), np.float64)

    def _execute(self, action: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
        result = self._call("send_action", action)
        executed = np.asarray(result["executed"], np.float64)
        if result["clamped"]:  # the robot's clamp against its own, fresher measurement changed it further
            local = self.last_safety
            reasons = (*(local.reasons if local is not None else ()), *(f"robot: {r}" for r in result["reasons"]))
            self.last_safety = SafetyResult(action=executed.copy(), clamped=True, reasons=reasons)
        return executed

    def camera_features(self) -> dict[str, Any] | None:
        return None if self.remote_features is None else self.remote_features.get("camera")

    def features(self) -> dict[str, Any]:
        """The client's settings, and the server driver's features once :meth:`connect` fetched them."""
        return {
            **super().features(),
            "address": self.address,
            "connected": self.connected,
            "timeout": self.timeout,
            "motion_timeout": self.motion_timeout,
            "remote": self.remote_features,
        }
