"""``jepa-sim robot-server``: serve a robot to a policy workstation (DROID's split)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Literal

from jepa_sim.cli.robot_args import RobotArgs, fail, make_driver, print_features


@dataclass(frozen=True)
class RobotServerArgs(RobotArgs):
    """Serve a robot to a policy workstation over ZeroMQ (`jepa-sim deploy --driver remote --address ...`).

    Runs on the robot PC: connects the driver, then answers observe/act requests (every action is clamped here
    too, against the freshly measured state) until Ctrl-C or SIGTERM, then stops the robot and disconnects. A stop
    request is answered at once, also while an action runs.

    SECURITY: the server has no authentication. Anyone who can reach --address can move the robot. It listens
    on loopback (tcp://127.0.0.1:5555) by default; expose it (e.g. tcp://0.0.0.0:5555, or the robot network's
    interface address) only on an isolated robot network that nothing else can reach.

    Examples:
      jepa-sim robot-server --driver franky --robot-ip 172.16.0.2 --camera opencv:0 --address tcp://10.0.0.1:5555
      jepa-sim robot-server --driver sim
      jepa-sim robot-server --driver sim --wrist-camera      # both views, for a two-view predictor
    """

    driver: Literal["franky", "sim"] = "franky"
    address: str = "tcp://127.0.0.1:5555"
    """the endpoint to listen on; loopback by default. Unauthenticated: anyone who can reach it can move the
    robot, so bind a public interface (e.g. tcp://0.0.0.0:5555) only on an isolated robot network"""
    camera: str = "auto"
    """auto (sim: the simulator's; franky: twin), twin, opencv:N, or none"""
    wrist_camera: bool = False
    """--driver sim: render the simulator's wrist camera too and send it with every observation and goal image,
    for a two-view predictor on the workstation (`jepa-sim deploy --driver remote --wrist-camera driver`)"""


def serve_robot(args: RobotServerArgs) -> int:
    """``jepa-sim robot-server``."""
    from agents.drivers.robot_server import serve

    command = "robot-server"
    try:
        import zmq
    except ImportError as exc:
        raise fail("the robot server needs pyzmq: pip install pyzmq", command) from exc
    if args.wrist_camera and args.driver != "sim":
        raise fail(f"the {args.driver} driver has no wrist camera to serve (--wrist-camera is for --driver sim); give "
                   "the workstation its own (jepa-sim deploy --wrist-camera opencv:N or twin)", command)  # fmt: skip
    try:
        driver, camera, _ = make_driver(args.driver, args, args.camera, command=command, wrist_camera=args.wrist_camera)
    except (ValueError, RuntimeError) as exc:  # a camera that cannot open (CameraError), a bad --env, ...
        raise fail(f"cannot set up the {args.driver} driver: {exc}", command) from exc
    connected = False
    restore = _stop_on_signals()
    try:
        try:
            driver.connect()
        except (ValueError, RuntimeError) as exc:  # RobotConnectionError and the other driver errors
            raise fail(f"cannot connect the {args.driver} driver: {exc}", command) from exc
        connected = True
        print_features("robot-server: driver features", driver.features())
        try:
            serve(
                driver,
                args.address,
                on_ready=lambda endpoint: print(f"robot-server: serving on {endpoint}", flush=True),
            )
        except zmq.ZMQError as exc:
            raise fail(f"cannot serve on {args.address}: {exc}", command) from exc
    except KeyboardInterrupt:
        print("\nrobot-server: interrupted")
    finally:
        if connected:
            try:
                driver.stop()
            except Exception as exc:
                print(f"robot-server: stop failed: {type(exc).__name__}: {exc}")
        driver.close()
        if camera is not None:
            camera.close()
        restore()
    return 0


def _stop_on_signals() -> Callable[[], None]:
    """Ctrl-C (SIGINT) and a service manager's SIGTERM both end the server the same way: the robot is stopped and
    disconnected. SIGINT is set explicitly because a process started in the background by a shell inherits it
    ignored (Python then never raises KeyboardInterrupt). Returns what restores the previous handlers; does
    nothing outside the main thread (only it may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
