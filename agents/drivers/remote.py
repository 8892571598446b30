"""The robot on another machine: a small robot server and its client over ZeroMQ (DROID's split: the policy
workstation plans, the robot PC runs the driver).

* Robot PC: :func:`agents.drivers.robot_server.serve` answers requests for one driver (e.g. a connected
  :class:`~agents.drivers.franky.FrankyDriver`) on a ZeroMQ ROUTER socket.
* Workstation: :class:`RemoteDriver` (this module) is a ``RobotDriver`` whose methods are requests to that
  server. Both speak :mod:`agents.drivers.wire`.

Safety: the client clamps every action with the server's limits (fetched on :meth:`RemoteDriver.connect`) and
the server's driver clamps it again against the robot's freshly measured state, so nothing reaches the robot
around the clamp; what the robot executed comes back and the reasons of both clamps are in ``last_safety``.
Nothing authenticates a client: serve on loopback or on an isolated robot network only.

Timeouts and lost links (never a hang, never a blind retry): a quick request waits at most ``timeout``
seconds. A moving request (``reset``, ``home``, ``send_action``) waits as long as the server's driver may take
before it stops the robot and reports (its ``features()["max_seconds"]``, e.g. two legs of ``motion_timeout``
for a franky action and three legs of ``home_timeout`` for homing), plus ``timeout`` as a margin; a fixed
``motion_timeout`` given to :class:`RemoteDriver` overrides that. A server that does not answer in time, or
whose connection drops while a request is pending (a killed server is noticed at once; a silent network is
noticed by ZeroMQ heartbeats within ``3 * heartbeat`` seconds), raises
:class:`~agents.drivers.base.RobotConnectionError` and marks the client disconnected; later calls raise it at
once until :meth:`RemoteDriver.connect` is called again. When a moving request times out, or is interrupted
(Ctrl-C, or any other exception while waiting), the client first sends ``stop`` on a fresh socket (the waiting
REQ socket cannot send again) and reports whether the server acknowledged it; after an interrupt the link is
kept (on a fresh socket), so ``stop()`` and later calls work. Between requests the robot is at rest (each action
ends at rest), so a dead workstation leaves a robot holding still. Errors raised by the robot-side driver come
back as the same class (``UnsafeActionError``, ``RobotMotionError``, ``RobotConnectionError``, ...) with the
server's message.

``zmq`` (pyzmq) is imported when a socket is made, so importing this module needs only numpy.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.drivers.base import Observation, RobotConnectionError, RobotDriver, RobotDriverError
from agents.drivers.wire import (
    DEFAULT_HEARTBEAT,
    ERRORS,
    MOVING,
    ProtocolError,
    decode,
    encode,
    set_heartbeats,
    zmq_module,
)
from agents.safety import SafetyLimits, SafetyResult

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""seconds a quick request (observe, state, stop, features) may take; also the margin added to moving requests"""
DEFAULT_MOTION_TIMEOUT = 60.0
"""seconds a moving request (reset, home, send_action) may take when the server's driver does not say how long
it may take (no ``max_seconds`` or ``motion_timeout`` in its features)"""
LEGS = {"send_action": 2, "home": 3, "reset": 3}
"""motion legs of each moving request (arm and gripper; joints, Cartesian and gripper), each up to the server
driver's ``motion_timeout``: the client's estimate when the driver reports no ``max_seconds``"""


def moving_timeouts(features: dict[str, Any], margin: float) -> dict[str, float]:
    """Seconds a client waits for each moving request to a server whose driver has ``features``: the longest
    the driver may take before it stops the robot and reports (``max_seconds``; else ``motion_timeout`` times
    the request's :data:`LEGS`), plus ``margin``; :data:`DEFAULT_MOTION_TIMEOUT` when the driver says neither
    (a simulator, whose steps are quick)."""
    max_seconds = features.get("max_seconds")
    max_seconds = max_seconds if isinstance(max_seconds, dict) else {}
    per_leg = features.get("motion_timeout")
    out: dict[str, float] = {}
    for method in sorted(MOVING):
        worst = max_seconds.get(method)
        if not (isinstance(worst, int | float) and worst > 0) and isinstance(per_leg, int | float) and per_leg > 0:
            worst = LEGS[method] * per_leg
        out[method] = float(worst) + margin if isinstance(worst, int | float) and worst > 0 else DEFAULT_MOTION_TIMEOUT
    return out


class _NoReply(Exception):
    """No reply within the request's time limit (internal to :meth:`RemoteDriver._call`)."""


class RemoteDriver(RobotDriver):
    """A robot served by :func:`serve` on another machine (or process), behind the driver interface.

    Args:
        address: the server's endpoint, e.g. ``tcp://robot-pc:5555``.
        timeout: seconds a quick request may take (and the margin added to the moving requests' limits).
        motion_timeout: seconds ``reset``, ``home`` and ``send_action`` may take; None (the default) derives
            them from the server driver's features on :meth:`connect` (:func:`moving_timeouts`).
        limits: the client-side clamp's limits; None takes the server driver's limits on :meth:`connect`.
        heartbeat: ZeroMQ heartbeat interval (s); 0 disables heartbeats.

    ``done`` and ``success`` follow the server's driver when it reports them (a served simulator:
    ``episode_known`` is then True); a real robot's episode has no known end.
    """

    name = "remote"

    def __init__(
        self,
        address: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        motion_timeout: float | None = None,
        limits: SafetyLimits | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> None:
        if not (timeout > 0 and (motion_timeout is None or motion_timeout > 0)):
            raise ValueError(f"timeouts must be > 0, got timeout={timeout}, motion_timeout={motion_timeout}")
        self.address = address
        self.timeout, self.heartbeat = float(timeout), float(heartbeat)
        self.motion_timeout = None if motion_timeout is None else float(motion_timeout)
        self._fixed_limits = limits is not None
        if limits is not None:
            self.limits = limits
        self.remote_features: dict[str, Any] | None = None
        """the server driver's :meth:`features`, fetched by :meth:`connect`"""
        self.moving_timeouts: dict[str, float] = {}
        """seconds each moving request may take, derived from the server's features on :meth:`connect`"""
        self.done, self.success, self.episode_known = False, False, False
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
        zmq = zmq_module()
        context = zmq.Context()
        try:
            self._socket, self._monitor, self._poller = self._open(context)
        except zmq.ZMQError as exc:
            context.term()
            raise RobotConnectionError(f"cannot connect to the robot server at {self.address}: {exc}") from exc
        self._context = context
        self.done, self.success, self.episode_known = False, False, False
        features = self._call("features")
        self.remote_features = features
        self.moving_timeouts = moving_timeouts(features, self.timeout)
        if not self._fixed_limits:
            limits = dict(features["limits"])
            for corner in ("workspace_low", "workspace_high"):
                limits[corner] = tuple(limits[corner])
            self.limits = SafetyLimits(**limits)
        self.control_period = features.get("control_period")

    def _open(self, context: Any) -> tuple[Any, Any, Any]:
        """A REQ socket connected to the server, its monitor and a poller for both."""
        zmq = zmq_module()
        socket = context.socket(zmq.REQ)
        socket.linger = 0
        set_heartbeats(zmq, socket, self.heartbeat)
        monitor = socket.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        try:
            socket.connect(self.address)
        except zmq.ZMQError:
            monitor.close(linger=0)
            socket.close(linger=0)
            raise
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        return socket, monitor, poller

    def disconnect(self) -> None:
        """Close the link; safe to call twice. The robot is not told anything: every request is synchronous (an
        interrupted moving request has already sent ``stop``), so no motion of this client is running (and a
        gripper holding an object keeps holding it)."""
        self._drop()

    def _close_socket(self) -> None:
        socket, monitor = self._socket, self._monitor
        self._socket = self._monitor = self._poller = None
        if socket is not None:
            try:
                socket.disable_monitor()
            except Exception:  # already closed by libzmq; we are tearing down anyway
                log.debug("disable_monitor failed", exc_info=True)
            socket.close(linger=0)
        if monitor is not None:
            monitor.close(linger=0)

    def _drop(self) -> None:
        self._close_socket()
        context, self._context = self._context, None
        if context is not None:
            context.term()

    def _fresh_socket(self) -> None:
        """Replace a REQ socket stuck waiting for a reply with a new one (the late reply goes nowhere)."""
        context = self._context
        self._close_socket()
        try:
            self._socket, self._monitor, self._poller = self._open(context)
        except Exception:  # cannot reconnect: the link is lost
            log.warning("could not reopen the link to %s", self.address, exc_info=True)
            self._drop()

    def request_timeout(self, method: str) -> float:
        """Seconds the client waits for a reply to ``method``."""
        if method not in MOVING:
            return self.timeout
        if self.motion_timeout is not None:
            return self.motion_timeout
        return self.moving_timeouts.get(method, DEFAULT_MOTION_TIMEOUT)

    def send_stop(self) -> str:
        """Send ``stop`` on a fresh socket of its own and wait up to ``timeout`` for the answer (for when the
        link's socket is busy waiting for another reply); returns what happened, in words. Never raises
        (except on interrupt)."""
        zmq = zmq_module()
        context = zmq.Context()
        socket = context.socket(zmq.REQ)
        socket.linger = 0
        try:
            socket.connect(self.address)
            socket.send_multipart(encode({"method": "stop", "args": []}), flags=zmq.NOBLOCK)
            if not socket.poll(max(1, int(self.timeout * 1000)), zmq.POLLIN):
                return f"sent stop, but the robot server did not acknowledge it within {self.timeout:g} s"
            reply = decode(socket.recv_multipart())
            if isinstance(reply, dict) and reply.get("ok"):
                return "sent stop; the robot server acknowledged it"
            detail = f"{reply.get('error')}: {reply.get('message')}" if isinstance(reply, dict) else "a bad reply"
            return f"sent stop; the robot server failed it ({detail})"
        except (zmq.ZMQError, RobotDriverError) as exc:
            return f"could not send stop ({type(exc).__name__}: {exc})"
        finally:
            socket.close(linger=0)
            context.term()

    def _call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """One request and its reply, within ``timeout`` (default: :meth:`request_timeout`)."""
        if not self.connected:
            raise RobotConnectionError(
                f"not connected to the robot server at {self.address} (connect first, or again after a lost link)"
            )
        zmq = zmq_module()
        limit = timeout if timeout is not None else self.request_timeout(method)
        try:
            self._socket.send_multipart(encode({"method": method, "args": list(args)}), flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._drop()
            raise RobotConnectionError(f"cannot send {method} to the robot server at {self.address}: {exc}") from exc
        try:
            frames = self._wait(method, limit)
        except _NoReply:
            what = "nothing was moving (the robot rests between actions); "
            try:
                if method in MOVING:
                    what = f"{self.send_stop()}; "
            finally:  # also when interrupted while sending stop
                self._drop()
            raise RobotConnectionError(
                f"the robot server at {self.address} did not answer {method} within {limit:g} s; {what}the link "
                "is considered lost; connect again"
            ) from None
        except RobotConnectionError:  # the link dropped (already torn down)
            raise
        except BaseException:  # Ctrl-C (or any error) while the server works on it: stop first, then a new socket
            try:
                if method in MOVING:
                    log.warning("%s to %s interrupted: %s", method, self.address, self.send_stop())
            finally:  # the waiting socket cannot send again; also when interrupted while sending stop
                self._fresh_socket()
            raise
        reply = decode(frames)
        if not isinstance(reply, dict) or "ok" not in reply:
            raise ProtocolError(f"malformed reply to {method} from {self.address}")
        episode = reply.get("episode")
        if isinstance(episode, dict):
            self.done, self.success = bool(episode.get("done")), bool(episode.get("success"))
            self.episode_known = True
        if reply["ok"]:
            return reply.get("result")
        name, message = str(reply.get("error")), str(reply.get("message"))
        cls = ERRORS.get(name)
        if cls is None:
            raise RobotDriverError(f"the robot server failed {method}: {name}: {message}")
        raise cls(f"robot server: {message}")

    def _wait(self, method: str, limit: float) -> list[bytes]:
        """The reply frames; :class:`_NoReply` after ``limit`` s; RobotConnectionError (link dropped) when the
        connection goes away."""
        zmq = zmq_module()
        from zmq.utils.monitor import recv_monitor_message

        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _NoReply
            events = dict(self._poller.poll(max(1, int(remaining * 1000))))
            if self._monitor in events:
                event = recv_monitor_message(self._monitor)
                if event["event"] == zmq.EVENT_DISCONNECTED:
                    self._drop()
                    moving = (
                        " The robot server's driver ends or stops the running action on its own timeouts; no "
                        "further actions are sent."
                        if method in MOVING
                        else ""
                    )
                    raise RobotConnectionError(
                        f"lost the connection to the robot server at {self.address} while waiting for {method} "
                        f"(server stopped, killed or unreachable); connect again.{moving}"
                    )
                continue
            if self._socket in events:
                frames: list[bytes] = self._socket.recv_multipart()
                return frames

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

    def goal_views(self) -> list[dict[str, NDArray[np.uint8]]]:
        """The server driver's goal chain with every view it renders (a served simulator with a wrist camera:
        the exterior and the wrist image of each (sub)goal)."""
        return [{str(view): np.asarray(image, np.uint8) for view, image in goal.items()}
                for goal in self._call("goal_views")]  # fmt: skip

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
            "moving_timeouts": self.moving_timeouts,
            "remote": self.remote_features,
        }
