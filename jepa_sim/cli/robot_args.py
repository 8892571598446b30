"""The robot flags and helpers `jepa-sim deploy` and `jepa-sim robot-server` share: the flags (:class:`RobotArgs`),
the driver and camera they build, the start-up printing, and stopping the robot after an error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agents.drivers.base import RobotDriver
    from agents.drivers.camera import Camera

DriverName = Literal["franky", "remote", "sim"]


@dataclass(frozen=True)
class RobotArgs:
    """The robot flags `jepa-sim deploy` and `jepa-sim robot-server` share."""

    robot_ip: str | None = None
    """the Franka's address (--driver franky)"""
    image_size: int = 128
    """side of the square camera (and goal) images"""
    env: str = "JepaSim/FrankaReach-v0"
    """--driver sim: the simulated task"""
    object: str = "cup"
    """--driver sim: the task object (deploy: also the label stored with --record)"""
    relative_dynamics_factor: float = 0.1
    """--driver franky: scale (0, 1] of velocity, acceleration and jerk limits"""
    motion_timeout: float = 10.0
    """--driver franky: seconds the arm motion of one action may take (and then its gripper command) before it
    is stopped and reported. deploy --driver remote uses the robot server's settings: the client waits as long
    as the server's driver may take (its features' max_seconds), plus --timeout"""
    home_timeout: float = 60.0
    """--driver franky: seconds each leg of homing (joints, Cartesian, gripper) may take"""
    realtime: bool | None = None
    """--driver franky: require a real-time kernel (libfranka's RealtimeConfig.Enforce); default: required unless
    --robot-ip is a loopback address (franky-sim)"""
    tcp_offset: float = 0.02
    """--driver franky: metres along the fingers from libfranka's end-effector frame to the state's tool point.
    The default is the simulator's tool point (the finger-pad centre of its fingers, 0.02 m past libfranka's
    end-effector point), the convention the models are trained in; change it only for other fingers"""


def fail(message: str, command: str = "deploy") -> SystemExit:
    """The error that ends ``jepa-sim <command>`` with ``message`` (exit code 1)."""
    return SystemExit(f"jepa-sim {command}: {message}")


def print_features(title: str, features: dict[str, Any], indent: str = "") -> None:
    print(f"{indent}{title}:")
    for key, value in features.items():
        print(f"{indent}  {key}: {json.dumps(value, default=str)}")


def fmt(values: Any) -> str:
    return "[" + " ".join(f"{float(v):+.3f}" for v in values) + "]"


def make_camera(
    spec: str, image_size: int, driver: RobotDriver, command: str = "deploy", scene_camera: str | None = None
) -> Camera | None:
    """``twin`` / ``opencv:N`` / ``none`` (``driver`` too: None, the driver's own images). ``scene_camera``: the
    MuJoCo camera a twin renders (default: the exterior one)."""
    from agents.drivers.camera import DigitalTwinCamera, OpenCVCamera

    if spec == "twin":
        return DigitalTwinCamera.following(driver, image_size, scene_camera)
    if spec.startswith("opencv:"):
        device = spec.split(":", 1)[1]
        return OpenCVCamera(int(device) if device.isdigit() else device, image_size)
    if spec in ("none", "driver"):
        return None
    raise fail(f"unknown camera {spec!r}; choose twin, driver, opencv:N or none", command)


def make_driver(
    kind: str,
    args: RobotArgs,
    camera_spec: str,
    *,
    address: str = "",
    timeout: float = 5.0,
    command: str = "deploy",
    wrist_camera: bool = False,
    goal_chain: str | None = None,
) -> tuple[RobotDriver, Camera | None, bool]:
    """(driver, camera, whether the camera is read here rather than by the driver). ``address``: the robot
    server's (--driver remote); ``wrist_camera``: the simulator renders its wrist camera too (--driver sim);
    ``goal_chain``: the simulator's goal images (--driver sim; None: the env's default)."""
    if kind == "sim":
        import envs  # noqa: F401  (registers the ids, picks the GL backend)
        from agents.drivers.sim import SimDriver

        if camera_spec not in ("auto", "driver"):
            raise fail("--driver sim observes through the simulator's own camera (--camera auto)", command)
        extra: dict[str, object] = {"wrist_camera": True} if wrist_camera else {}
        if goal_chain is not None:
            extra["goal_chain"] = goal_chain
        return SimDriver.make(args.env, args.object, image_size=args.image_size, **extra), None, False
    if kind == "franky":
        from agents.drivers.franky import FrankyDriver

        if not args.robot_ip:
            raise fail("--driver franky needs --robot-ip", command)
        franky = FrankyDriver(
            relative_dynamics_factor=args.relative_dynamics_factor,
            motion_timeout=args.motion_timeout,
            home_timeout=args.home_timeout,
            realtime=realtime_required(args.realtime, args.robot_ip),
            tcp_offset=args.tcp_offset,
            ip=args.robot_ip,
        )
        camera = make_camera("twin" if camera_spec == "auto" else camera_spec, args.image_size, franky, command)
        franky.camera = camera
        return franky, camera, False
    from agents.drivers.remote import RemoteDriver

    remote = RemoteDriver(address, timeout=timeout)  # moving requests: as long as the server's driver may take
    camera = make_camera("driver" if camera_spec == "auto" else camera_spec, args.image_size, remote, command)
    return remote, camera, camera is not None


def stop_robot(driver: RobotDriver, kind: str) -> str:
    """Stop the robot after an error or Ctrl-C (best effort, never raises); what happened, to print."""
    from agents.drivers.remote import RemoteDriver

    try:
        driver.stop()
        return "stopped the robot"
    except Exception as exc:
        failed = f"could not send stop ({type(exc).__name__}: {exc})"
    if isinstance(driver, RemoteDriver):  # the link is gone: try once more on a connection of its own
        return (
            f"{failed}; on a new connection: {driver.send_stop()}. Either way the robot server's driver ends or "
            "stops the running action on its own timeouts and no further actions are sent; check the robot"
        )
    if kind == "franky":
        return (
            f"{failed}; a Franka whose control link is lost stops on its own (libfranka's communication timeout) "
            "unless the link is only slow; check the robot and use the user stop if it still moves"
        )
    return f"{failed}; check the robot"


def realtime_required(requested: bool | None, ip: str) -> bool:
    """A real Franka needs libfranka's real-time checks; franky-sim on loopback runs without them."""
    if requested is not None:
        return requested
    import ipaddress

    try:
        return not ipaddress.ip_address(ip).is_loopback
    except ValueError:  # a host name
        return ip != "localhost"
