"""``jepa-sim deploy``: the MPC agent on a robot (franky, a remote robot server, or the simulator) toward goal
images; ``jepa-sim robot-server``: serve a robot to a policy workstation (DROID's split)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jepa_sim.cli.planner_args import PlannerArgs

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from agents.drivers.base import Observation, RobotDriver
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


@dataclass(frozen=True)
class DeployArgs(PlannerArgs, RobotArgs):
    """Run the encoder + predictor + planner agent on a robot toward goal image(s), one planned action per step.

    Every action passes the driver's safety clamp (per-step limits, workspace box, gripper range, NaN/inf
    rejection); clamped actions are reported. Before anything moves, a start-up check prints the driver's
    features, the robot state, the safety limits and the camera frame. With --dry-run the agent plans from the
    live camera and state and prints its actions, and nothing is sent (no homing either). Ctrl-C or any error
    stops the robot (driver.stop(); with --driver remote a stop also goes out at once on a fresh connection when
    a running action is interrupted or times out) and reports; whatever was recorded so far is saved.

    --record DIR adds the run as one episode to the dataset folder DIR in the format of `jepa-sim collect`
    (frames, measured states, achieved-change labels, commanded and executed actions), so that real episodes
    can fine-tune the predictor (`jepa-sim encode`, `jepa-sim train`). Successive runs add episodes; a folder
    that holds episodes recorded with other settings (driver, image size, object) is refused before the robot
    is connected.

    Goal images are framed like the camera: the largest centred square, resized to --image-size (never
    squashed). --subgoals are pursued in order before --goal.

    Cameras (--camera): `twin` renders our MuJoCo scene with the arm posed from the robot's measured joints (the
    franky-sim loop has no camera); `opencv:N` captures /dev/videoN (or `opencv:PATH`); `driver` uses the
    driver's own images (the simulator's, or those the robot server sends). `auto`: driver for sim and remote,
    twin for franky.

    Examples:
      jepa-sim deploy --driver franky --robot-ip 172.16.0.2 --goal goal.png --dry-run
      jepa-sim deploy --driver franky --robot-ip 172.16.0.2 --goal goal.png --camera opencv:0 --record runs/real
      jepa-sim deploy --driver remote --address tcp://robot-pc:5555 --goal place.png --subgoals grasp.png lift.png
      jepa-sim deploy --driver sim --env JepaSim/FrankaReach-v0 --max-steps 20   # goal from the simulator
    """

    driver: DriverName = "franky"
    """franky (a Franka through franky-control, or franky-sim), remote (a `jepa-sim robot-server`), sim"""
    address: str = "tcp://127.0.0.1:5555"
    """the robot server's endpoint (--driver remote)"""
    goal: Path | None = None
    """the goal image (PNG/JPEG); optional with --driver sim (the simulator's own goal images)"""
    subgoals: tuple[Path, ...] = ()
    """sub-goal images pursued in order before --goal"""
    dry_run: bool = False
    """plan and print the actions, send nothing (the robot does not move; no homing)"""
    record: Path | None = None
    """dataset folder to add this run to as an episode"""
    max_steps: int = 50
    camera: str = "auto"
    """auto, twin, driver, or opencv:N"""
    home: bool = True
    """home the robot (sim: reset the episode) before the first step"""
    confirm: bool = False
    """wait for Enter after the start-up check before moving"""
    encoder: str = "default"
    predictor: str = "default"
    seed: int = 0
    """the planner's seed (and the simulator's layout with --driver sim)"""
    timeout: float = 5.0
    """--driver remote: seconds a quick request may take before the link counts as lost (and the margin added
    to the waits for moving requests)"""
    device: str = "auto"


@dataclass(frozen=True)
class RobotServerArgs(RobotArgs):
    """Serve a robot to a policy workstation over ZeroMQ (`jepa-sim deploy --driver remote --address ...`).

    Runs on the robot PC: connects the driver, then answers observe/act requests (every action is clamped here
    too, against the freshly measured state) until Ctrl-C, then stops the robot and disconnects. A stop request
    is answered at once, also while an action runs.

    SECURITY: the server has no authentication. Anyone who can reach --address can move the robot. It listens
    on loopback (tcp://127.0.0.1:5555) by default; expose it (e.g. tcp://0.0.0.0:5555, or the robot network's
    interface address) only on an isolated robot network that nothing else can reach.

    Examples:
      jepa-sim robot-server --driver franky --robot-ip 172.16.0.2 --camera opencv:0 --address tcp://10.0.0.1:5555
      jepa-sim robot-server --driver sim
    """

    driver: Literal["franky", "sim"] = "franky"
    address: str = "tcp://127.0.0.1:5555"
    """the endpoint to listen on; loopback by default. Unauthenticated: anyone who can reach it can move the
    robot, so bind a public interface (e.g. tcp://0.0.0.0:5555) only on an isolated robot network"""
    camera: str = "auto"
    """auto (sim: the simulator's; franky: twin), twin, opencv:N, or none"""


def _fail(message: str, command: str = "deploy") -> SystemExit:
    """The error that ends ``jepa-sim <command>`` with ``message`` (exit code 1)."""
    return SystemExit(f"jepa-sim {command}: {message}")


def _print_features(title: str, features: dict[str, Any], indent: str = "") -> None:
    print(f"{indent}{title}:")
    for key, value in features.items():
        print(f"{indent}  {key}: {json.dumps(value, default=str)}")


def _fmt(values: Any) -> str:
    return "[" + " ".join(f"{float(v):+.3f}" for v in values) + "]"


def _make_camera(spec: str, image_size: int, driver: RobotDriver, command: str = "deploy") -> Camera | None:
    """``twin`` / ``opencv:N`` / ``none``."""
    from agents.drivers.camera import DigitalTwinCamera, OpenCVCamera

    if spec == "twin":
        return DigitalTwinCamera.following(driver, image_size)
    if spec.startswith("opencv:"):
        device = spec.split(":", 1)[1]
        return OpenCVCamera(int(device) if device.isdigit() else device, image_size)
    if spec in ("none", "driver"):
        return None
    raise _fail(f"unknown camera {spec!r}; choose twin, driver, opencv:N or none", command)


def _make_driver(
    kind: str, args: DeployArgs | RobotServerArgs, timeout: float = 5.0, command: str = "deploy"
) -> tuple[RobotDriver, Camera | None, bool]:
    """(driver, camera, whether the camera is read here rather than by the driver)."""
    camera_spec = args.camera
    if kind == "sim":
        import envs  # noqa: F401  (registers the ids, picks the GL backend)
        from agents.drivers.sim import SimDriver

        if camera_spec not in ("auto", "driver"):
            raise _fail("--driver sim observes through the simulator's own camera (--camera auto)", command)
        return SimDriver.make(args.env, args.object, image_size=args.image_size), None, False
    if kind == "franky":
        from agents.drivers.franky import FrankyDriver

        if not args.robot_ip:
            raise _fail("--driver franky needs --robot-ip", command)
        franky = FrankyDriver(
            relative_dynamics_factor=args.relative_dynamics_factor,
            motion_timeout=args.motion_timeout,
            home_timeout=args.home_timeout,
            realtime=_realtime(args.realtime, args.robot_ip),
            tcp_offset=args.tcp_offset,
            ip=args.robot_ip,
        )
        camera = _make_camera("twin" if camera_spec == "auto" else camera_spec, args.image_size, franky, command)
        franky.camera = camera
        return franky, camera, False
    from agents.drivers.remote import RemoteDriver

    assert isinstance(args, DeployArgs)
    remote = RemoteDriver(args.address, timeout=timeout)  # moving requests: as long as the server's driver may take
    camera = _make_camera("driver" if camera_spec == "auto" else camera_spec, args.image_size, remote, command)
    return remote, camera, camera is not None


def _record_spec(args: DeployArgs) -> dict[str, Any]:
    """The dataset spec of a --record folder: episodes with another spec do not go into the same folder."""
    env_id = args.env if args.driver == "sim" else f"deploy/{args.driver}"
    return {"source": "jepa-sim deploy", "env_ids": [env_id], "objects": [args.object],
            "image_size": args.image_size, "driver": args.driver}  # fmt: skip


def _check_record_folder(args: DeployArgs) -> None:
    """Refuse a --record folder that holds episodes recorded with other settings (ValueError; before anything
    is connected, so that no real episode is run only to be thrown away)."""
    from jepa_sim.data.manifest import manifest_path, read_manifest, spec_differences

    if args.record is None or not manifest_path(args.record).exists():
        return
    diffs = spec_differences(read_manifest(args.record).get("spec", {}), _record_spec(args))
    if diffs:
        raise ValueError(
            f"--record {args.record} already holds episodes recorded with different settings ({'; '.join(diffs)}); "
            "run with the same settings to add to it, or choose another --record folder"
        )


class _Recorder:
    """Collects one deployment episode and adds it to a dataset folder in the `jepa-sim collect` format."""

    def __init__(self, root: Path, args: DeployArgs, goals: list[NDArray[np.uint8]], features: dict[str, Any]):
        self.root, self.args, self.goals, self.features = root, args, goals, features
        self.frames: list[Any] = []
        self.states: list[Any] = []
        self.times: list[float] = []
        self.commanded: list[Any] = []
        self.applied: list[Any] = []
        self.infos: list[dict[str, Any] | None] = []

    def first(self, obs: Observation) -> None:
        self._frame(obs)

    def step(self, commanded: Any, applied: Any, obs: Observation) -> None:
        """One completed transition: the action sent, what was executed, and the observation after it."""
        self.commanded.append(commanded)
        self.applied.append(applied)
        self._frame(obs)

    def _frame(self, obs: Observation) -> None:
        self.frames.append(obs.image)
        self.states.append(obs.state)
        self.times.append(float(obs.time))
        info = obs.extras.get("info")
        self.infos.append(info if isinstance(info, dict) else None)

    def save(self, outcome: str) -> Path | None:
        """Write the episode (nothing when no frame was seen) and update the manifest; returns the file."""
        import numpy as np

        from envs.collection import package_versions
        from jepa_sim.data.dataset import EPISODE_RE, episode_path
        from jepa_sim.data.episode import FORMAT_VERSION, Episode, write_episode
        from jepa_sim.data.manifest import (
            CONVENTIONS,
            DATASET_FORMAT,
            DATASET_FORMAT_VERSION,
            EPISODES_DIR,
            manifest_path,
            read_manifest,
            write_manifest,
        )
        from jepa_sim.geometry import state_delta

        if not self.frames:
            return None
        args, goals = self.args, self.goals
        steps = len(self.commanded)
        states = np.asarray(self.states, np.float64).reshape(-1, 7)
        privileged = all(info is not None for info in self.infos)
        if privileged:  # the simulator's own record of the scene
            infos: list[dict[str, Any]] = [i for i in self.infos if i is not None]
            object_pose = np.array([np.concatenate([i["object_pos"], i["object_quat"]]) for i in infos])
            other = np.array([i["other_object_pos"] for i in infos], np.float64)
            command = np.array([i["gripper_command"] for i in infos], np.float64)
            grasped = np.array([bool(i["grasped"]) for i in infos])
            success = np.array([bool(i["is_success"]) for i in infos])
            goal_pos = np.asarray(infos[-1]["goal_pos"], np.float64)
        else:  # a real robot: the scene is unknown; the gripper command is the measured closedness + its change
            object_pose = np.tile(np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), (steps + 1, 1))
            other = np.zeros((steps + 1, 3))
            applied = np.asarray(self.applied, np.float64).reshape(-1, 7)
            command = np.concatenate([states[:1, 6], np.clip(states[:-1, 6] + applied[:, 6], 0.0, 1.0)])
            grasped = np.zeros(steps + 1, bool)
            success = np.zeros(steps + 1, bool)
            goal_pos = np.zeros(3)
        spec = _record_spec(args)
        env_id = spec["env_ids"][0]
        arrays: dict[str, NDArray[Any]] = {
            "frames": np.asarray(self.frames, np.uint8),
            "states": states,
            "actions": state_delta(states[:-1], states[1:]).reshape(-1, 7),
            "commanded": np.asarray(self.commanded, np.float64).reshape(-1, 7),
            "applied": np.asarray(self.applied, np.float64).reshape(-1, 7),
            "object_pose": np.asarray(object_pose, np.float64).reshape(-1, 7),
            "other_object_pos": other.reshape(-1, 3),
            "gripper_command": command,
            "grasped": grasped,
            "success": success,
            "time": np.asarray(self.times, np.float64),
            "goal_pos": goal_pos,
            "goal_image": np.asarray(goals[-1], np.uint8),
            "subgoal_images": np.asarray(goals if len(goals) > 1 else [], np.uint8).reshape(-1, *goals[-1].shape),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        if manifest_path(self.root).exists():
            _check_record_folder(args)  # checked before the run too; again in case the folder changed meanwhile
            manifest = read_manifest(self.root)
        else:
            durations = np.diff(self.times)
            period = self.features.get("control_period") or (float(np.mean(durations)) if steps else 1.0)
            manifest = {
                "format": DATASET_FORMAT,
                "format_version": DATASET_FORMAT_VERSION,
                "spec": spec,
                "episodes": 0,
                "conventions": {**CONVENTIONS, "applied": "the action the driver executed after the safety clamp"},
                "episode_format_version": FORMAT_VERSION,
                "versions": package_versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "control_period": period,
                "fps": 1.0 / period,
                "cameras": {"exterior": self.features.get("camera")},
                "driver": self.features,
            }
        folder = self.root / EPISODES_DIR
        folder.mkdir(exist_ok=True)
        taken = [int(m.group(1)) for p in folder.iterdir() if (m := EPISODE_RE.match(p.name))]
        index = max(taken, default=-1) + 1
        metadata = {
            "format_version": FORMAT_VERSION,
            "index": index,
            "env_id": env_id,
            "task": str(infos[0]["task"]) if privileged else "deploy",
            "object": args.object,
            "seed": args.seed,
            "policy": "mpc",
            "success": bool(success.any()),
            "success_known": privileged,
            "steps": steps,
            "outcome": outcome,
            "goals": [str(p) for p in (*args.subgoals, *([args.goal] if args.goal else []))],
            "encoder": args.encoder,
            "predictor": args.predictor,
            "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        path = episode_path(self.root, index)
        write_episode(path, Episode(arrays, metadata))
        manifest["episodes"] = max(int(manifest.get("episodes", 0)), index + 1)
        write_manifest(self.root, manifest)
        return path


def run(args: DeployArgs) -> int:
    if args.max_steps < 1:
        raise _fail("--max-steps must be >= 1")
    if args.record is not None and args.dry_run:
        raise _fail("--record and --dry-run do not go together: a dry run sends no actions, so there is no episode")
    if args.goal is None and args.driver != "sim":
        raise _fail(f"--driver {args.driver} needs --goal (and optionally --subgoals)")
    if args.subgoals and args.goal is None:
        raise _fail("--subgoals come before a final --goal; give --goal too")

    import numpy as np

    from agents.drivers.base import Observation
    from agents.drivers.camera import CameraError, load_image
    from agents.mpc import MPCAgent, MPCConfig
    from jepa_sim.encoders import EncoderLoadError, load_encoder
    from jepa_sim.encoders.base import resolve_device
    from jepa_sim.predictor.checkpoint import PredictorLoadError, load_predictor

    # ---- everything that can fail without a robot, first ---------------------------------------------------
    try:
        _check_record_folder(args)
        goals = [load_image(str(p), args.image_size) for p in (*args.subgoals, *([args.goal] if args.goal else []))]
        device = resolve_device(args.device)
        encoder = load_encoder(args.encoder, device=str(device))
        predictor, _ = load_predictor(args.predictor, encoder.id, device)
        args.check_horizon(predictor.config.max_steps)
        agent = MPCAgent(encoder, predictor, args.build_planner(), MPCConfig(seed=args.seed))
        driver, camera, camera_here = _make_driver(args.driver, args, args.timeout)
    except (EncoderLoadError, PredictorLoadError, FileNotFoundError, ValueError, CameraError) as exc:
        raise _fail(str(exc)) from exc

    t0 = time.monotonic()

    def observe() -> Observation:
        if camera_here:  # a camera on this machine, the robot elsewhere
            assert camera is not None
            state = driver.get_state()
            return Observation(np.asarray(camera.read(), np.uint8), state, time.monotonic() - t0)
        return driver.get_observation()

    print(f"jepa-sim deploy: {args.driver} driver{' (DRY RUN: nothing will be sent)' if args.dry_run else ''}")
    _print_features("driver features", driver.features())
    print(f"planner: {args.planner_summary()}; encoder {encoder.id}; {len(goals) or 'simulator'} goal image(s)")

    recorder: _Recorder | None = None
    status, outcome, moving = 0, "finished", False
    steps_done = 0
    try:
        driver.connect()
        sim = args.driver == "sim"
        if sim or (args.home and not args.dry_run):
            print("homing..." if not sim else f"starting a simulated episode (seed {args.seed})...")
            moving = not sim
            obs = driver.reset(seed=args.seed)
            obs = observe() if camera_here else obs
        else:
            obs = observe()
        if not goals:
            goals = driver.goal_images()
            if not goals:
                raise ValueError("the driver makes no goal images; pass --goal")
        limits = driver.limits
        print("start-up check:")
        remote_features = getattr(driver, "remote_features", None)
        if remote_features is not None:
            _print_features("the robot server's driver", remote_features, indent="  ")
        print(f"  robot state (x y z roll pitch yaw gripper): {_fmt(obs.state)}")
        print(f"  safety limits: max translation {limits.max_translation} m/step, max rotation "
              f"{limits.max_rotation} rad/step, gripper change {limits.max_gripper_delta}/step, workspace "
              f"{list(limits.workspace_low)} .. {list(limits.workspace_high)} m, gripper "
              f"[{limits.gripper_low}, {limits.gripper_high}]")  # fmt: skip
        print(f"  camera frame: {obs.image.shape} {obs.image.dtype}, mean {float(obs.image.mean()):.1f}; "
              f"goal images: {len(goals)} x {goals[0].shape}")  # fmt: skip
        if obs.image.shape != goals[0].shape:
            raise ValueError(f"the camera gives {obs.image.shape} frames but the goal images are {goals[0].shape}")
        if args.confirm and not args.dry_run:
            input("press Enter to start, Ctrl-C to abort: ")
        agent.reset(goals)
        if args.record is not None:
            recorder = _Recorder(args.record, args, goals, driver.features())
            recorder.first(obs)
        for step in range(args.max_steps):
            action = agent.act(obs.image, obs.state)
            log = agent.log[-1]
            head = f"step {step + 1:3d} goal {log.subgoal} dist {log.distance:.4f} plan {log.seconds:.2f}s:"
            if args.dry_run:
                print(f"{head} planned {_fmt(action)} (dry run: not sent)")
                obs = observe()
                continue
            moving = True
            executed = driver.send_action(action)
            safety = driver.last_safety
            obs = observe()
            steps_done += 1
            if recorder is not None:
                recorder.step(action, executed, obs)
            print(f"{head} planned {_fmt(action)} executed {_fmt(executed)}")
            if safety is not None and safety.clamped and np.max(np.abs(executed - action)) > 1e-6:
                print(f"  clamped: {'; '.join(safety.reasons)}")  # (not float32 rounding at the limit itself)
            if getattr(driver, "done", False):
                print(f"the simulated episode ended (success: {getattr(driver, 'success', False)})")
                break
        print(f"final robot state: {_fmt(driver.get_state())}")
    except KeyboardInterrupt:
        status, outcome = 130, "interrupted (Ctrl-C)"
    except Exception as exc:  # any error: stop the robot, report, keep what was recorded
        status, outcome = 1, f"error: {type(exc).__name__}: {exc}"
    finally:
        if status != 0:
            print(f"\njepa-sim deploy: {outcome}")
            if moving:
                print(_stop_robot(driver, args.driver))
        if recorder is not None:
            try:
                path = recorder.save(outcome)
                if path is not None:
                    print(f"recorded {len(recorder.commanded)} steps to {path}")
            except Exception as save_exc:
                print(f"could not save the recording: {type(save_exc).__name__}: {save_exc}")
                status = status or 1
        driver.close()
        if camera is not None:
            camera.close()
    if status == 0:
        print(f"done: {steps_done} steps sent" if not args.dry_run else f"dry run done: {args.max_steps} steps planned")
    return status


def _stop_robot(driver: RobotDriver, kind: str) -> str:
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


def serve_robot(args: RobotServerArgs) -> int:
    """``jepa-sim robot-server``."""
    from agents.drivers.remote import serve

    command = "robot-server"
    try:
        import zmq
    except ImportError as exc:
        raise _fail("the robot server needs pyzmq: pip install pyzmq", command) from exc
    try:
        driver, camera, _ = _make_driver(args.driver, args, command=command)
    except (ValueError, RuntimeError) as exc:  # a camera that cannot open (CameraError), a bad --env, ...
        raise _fail(f"cannot set up the {args.driver} driver: {exc}", command) from exc
    connected = False
    try:
        try:
            driver.connect()
        except (ValueError, RuntimeError) as exc:  # RobotConnectionError and the other driver errors
            raise _fail(f"cannot connect the {args.driver} driver: {exc}", command) from exc
        connected = True
        _print_features("robot-server: driver features", driver.features())
        try:
            serve(
                driver,
                args.address,
                on_ready=lambda endpoint: print(f"robot-server: serving on {endpoint}", flush=True),
            )
        except zmq.ZMQError as exc:
            raise _fail(f"cannot serve on {args.address}: {exc}", command) from exc
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
    return 0


def _realtime(requested: bool | None, ip: str) -> bool:
    """A real Franka needs libfranka's real-time checks; franky-sim on loopback runs without them."""
    if requested is not None:
        return requested
    import ipaddress

    try:
        return not ipaddress.ip_address(ip).is_loopback
    except ValueError:  # a host name
        return ip != "localhost"
