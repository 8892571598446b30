"""The robot side of DROID's split: :func:`serve` answers requests for one
:class:`~agents.drivers.base.RobotDriver` (e.g. a connected :class:`~agents.drivers.franky.FrankyDriver`) on a
ZeroMQ ROUTER socket, for a :class:`~agents.drivers.remote.RemoteDriver` on the policy workstation.

Requests run one at a time, in order, in the thread that called :func:`serve` (the driver's own thread), except
``stop``: an I/O thread answers it at once by calling the driver's ``stop()``, also while another request is
moving the robot (franky's ``robot.stop()`` ends a running motion, which then reports its error to its own
request). Errors of the driver become error replies (:mod:`agents.drivers.wire`); the server keeps serving.
The robot's driver clamps every action against its freshly measured state, whatever the client did.

Nothing authenticates a client: serve on loopback or on an isolated robot network only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from agents.drivers.base import RobotDriver
from agents.drivers.wire import (
    CONTROL,
    DEFAULT_HEARTBEAT,
    METHODS,
    ProtocolError,
    decode,
    encode,
    set_heartbeats,
    zmq_module,
)

log = logging.getLogger(__name__)


def _episode(driver: RobotDriver) -> dict[str, bool] | None:
    """The driver's ``done`` and ``success`` when it knows them (the simulator), else None."""
    done, success = getattr(driver, "done", None), getattr(driver, "success", None)
    if isinstance(done, bool | np.bool_) and isinstance(success, bool | np.bool_):
        return {"done": bool(done), "success": bool(success)}
    return None


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
        reply: dict[str, Any] = {"ok": True, "result": result}
        episode = _episode(driver)
        if episode is not None:
            reply["episode"] = episode
        return encode(reply)
    except Exception as exc:  # reported to the client, which raises it; the server keeps serving
        log.warning("robot server: %s failed: %s: %s", frames[:1], type(exc).__name__, exc)
        return encode({"ok": False, "error": type(exc).__name__, "message": str(exc)})


def _split(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """A ROUTER message's envelope (routing frames up to and including the empty delimiter) and its body."""
    for i, frame in enumerate(frames):
        if not frame:
            return frames[: i + 1], frames[i + 1 :]
    raise ProtocolError("a message without an envelope delimiter (clients must use REQ sockets)")


def _method_of(body: list[bytes]) -> Any:
    """The request's method name, read without decoding its arrays (None when unreadable)."""
    try:
        request = json.loads(body[0]) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
    return request.get("method") if isinstance(request, dict) else None


class _Router:
    """The server's I/O thread: owns the ROUTER socket, answers ``stop`` at once, and relays every other
    request to the serving thread (over an inproc pair) and its reply back."""

    def __init__(self, zmq: Any, driver: RobotDriver, frontend: Any, relay: Any, poll_interval: float) -> None:
        self.zmq, self.driver, self.frontend, self.relay = zmq, driver, frontend, relay
        self.poll_ms = max(1, int(poll_interval * 1000))
        self.closing = threading.Event()
        self.answered = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="robot-server-io", daemon=True)

    def _run(self) -> None:
        zmq = self.zmq
        poller = zmq.Poller()
        poller.register(self.frontend, zmq.POLLIN)
        poller.register(self.relay, zmq.POLLIN)
        try:
            while not self.closing.is_set():
                events = dict(poller.poll(self.poll_ms))
                if self.relay in events:  # a reply from the serving thread
                    self.frontend.send_multipart(self.relay.recv_multipart())
                if self.frontend in events:
                    frames = self.frontend.recv_multipart()
                    try:
                        envelope, body = _split(frames)
                    except ProtocolError as exc:
                        log.warning("robot server: dropped a message: %s", exc)
                        continue
                    if _method_of(body) in CONTROL:  # now, even while another request moves the robot
                        self.frontend.send_multipart([*envelope, *handle(self.driver, body)])
                        self.answered += 1
                    else:
                        self.relay.send_multipart(frames)
        except BaseException as exc:  # reported by the serving thread, which then ends serve()
            log.exception("robot server: the I/O thread failed")
            self.error = exc


def serve(
    driver: RobotDriver,
    address: str,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
    poll_interval: float = 0.1,
    heartbeat: float = DEFAULT_HEARTBEAT,
) -> int:
    """Serve ``driver`` on ``address`` (e.g. ``tcp://127.0.0.1:5555``; ``tcp://127.0.0.1:*`` picks a free port)
    until ``stop`` is set or the process is interrupted; returns the number of requests answered.

    Requests run in the calling thread, one at a time, except ``stop``, which an I/O thread answers at once
    (calling ``driver.stop()`` while another request may still run in the calling thread). ``on_ready`` is
    called with the bound endpoint (the port resolved) once requests are accepted. The driver is neither
    connected nor closed here: the caller owns it.

    Nothing authenticates a client: anyone who can reach ``address`` can move the robot. Bind to loopback, or
    to an interface on an isolated robot network.
    """
    zmq = zmq_module()
    context = zmq.Context()
    frontend = context.socket(zmq.ROUTER)
    work, relay = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    for socket in (frontend, work, relay):
        socket.linger = 0
    set_heartbeats(zmq, frontend, heartbeat)
    router = _Router(zmq, driver, frontend, relay, poll_interval)
    served = 0
    try:
        frontend.bind(address)
        pipe = f"inproc://robot-server-{id(router):x}"
        work.bind(pipe)
        relay.connect(pipe)
        endpoint = frontend.getsockopt_string(zmq.LAST_ENDPOINT)
        router.thread.start()
        log.info("robot server: serving %s on %s", type(driver).__name__, endpoint)
        if on_ready is not None:
            on_ready(endpoint)
        while stop is None or not stop.is_set():
            if router.error is not None:
                raise RuntimeError(f"the robot server's I/O thread failed: {router.error!r}") from router.error
            if not work.poll(router.poll_ms, zmq.POLLIN):
                continue
            envelope, body = _split(work.recv_multipart())
            work.send_multipart([*envelope, *handle(driver, body)])
            served += 1
    finally:
        router.closing.set()
        if router.thread.is_alive():
            router.thread.join(timeout=max(5.0, 10 * poll_interval))
        if router.thread.is_alive():  # stuck in driver.stop(): leave its sockets (and the context) alone
            log.error("robot server: the I/O thread did not end; leaving its sockets open")
            work.close(linger=0)
        else:
            for socket in (frontend, work, relay):
                socket.close(linger=0)
            context.term()
    return served + router.answered
