"""``jepa-sim deploy``: the MPC agent on a robot (franky, a remote robot server, or the simulator) toward goal
images, observing the predictor's views (the exterior camera, and the wrist camera for a two-view predictor).

The robot flags and helpers it shares with ``jepa-sim robot-server`` are in :mod:`jepa_sim.cli.robot_args`;
the episode recorder of --record is :mod:`agents.drivers.recording`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jepa_sim.cli.planner_args import AgentArgs, PlannerArgs
from jepa_sim.cli.robot_args import (
    DriverName,
    RobotArgs,
    fail,
    fmt,
    make_camera,
    make_driver,
    print_features,
    stop_robot,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from agents.drivers.base import Observation, RobotDriver
    from agents.drivers.camera import Camera

WRIST = "wrist"


@dataclass(frozen=True)
class DeployArgs(PlannerArgs, AgentArgs, RobotArgs):
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
    that holds episodes recorded with other settings (driver, image size, object, wrist camera) is refused
    before the robot is connected.

    Goal images are framed like the camera: the largest centred square, resized to --image-size (never
    squashed). --subgoals are pursued in order before --goal.

    Cameras (--camera): `twin` renders our MuJoCo scene with the arm posed from the robot's measured joints (the
    franky-sim loop has no camera); `opencv:N` captures /dev/videoN (or `opencv:PATH`); `driver` uses the
    driver's own images (the simulator's, or those the robot server sends). `auto`: driver for sim and remote,
    twin for franky.

    Wrist camera (--wrist-camera, DROID's second view): the agent observes the views its predictor was trained
    on. A two-view predictor (exterior and wrist) needs a wrist camera and the wrist camera's goal images, one
    per exterior goal (--wrist-goal, --wrist-subgoals; with --driver sim and no --goal the simulator renders both
    views of its goals). The wrist camera is `driver` (the simulator's, --driver sim; or the one the robot server
    sends, --driver remote, from a server started with --wrist-camera), `opencv:N` (a camera on this machine),
    or `twin` (the digital twin seen from the simulated wrist camera); `auto`: driver for sim and remote, twin
    for franky, none for a one-view predictor. With a one-view predictor a wrist camera is not planned with,
    only shown and recorded (--record stores `wrist_frames`, for `jepa-sim encode --views exterior,wrist`).

    The agent is a preset (--agent, as in `jepa-sim eval`): `grasp` (default: the two-view predictor, so a wrist
    camera and wrist goal images) or `paper` (the exterior camera alone, one-view predictor); flags override it.

    Examples:
      jepa-sim deploy --driver franky --robot-ip 172.16.0.2 --camera opencv:0 --wrist-camera opencv:1 \
        --subgoals over.png around.png closed.png --goal lifted.png \
        --wrist-subgoals over_w.png around_w.png closed_w.png --wrist-goal lifted_w.png   # the shipped agent
      jepa-sim deploy --agent paper --driver franky --robot-ip 172.16.0.2 --goal goal.png --dry-run   # one camera
      jepa-sim deploy --agent paper --driver remote --address tcp://robot-pc:5555 --goal place.png \
        --subgoals grasp.png lift.png --record runs/real
      jepa-sim deploy --driver sim --env JepaSim/FrankaGrasp-v0 --max-steps 40   # goals from the simulator
    """

    driver: DriverName = "franky"
    """franky (a Franka through franky-control, or franky-sim), remote (a `jepa-sim robot-server`), sim"""
    address: str = "tcp://127.0.0.1:5555"
    """the robot server's endpoint (--driver remote)"""
    goal: Path | None = None
    """the goal image (PNG/JPEG); optional with --driver sim (the simulator's own goal images)"""
    subgoals: tuple[Path, ...] = ()
    """sub-goal images pursued in order before --goal"""
    wrist_goal: Path | None = None
    """the wrist camera's image of --goal (needed when the predictor observes the wrist view)"""
    wrist_subgoals: tuple[Path, ...] = ()
    """the wrist camera's images of --subgoals, one per sub-goal, in the same order"""
    goal_chain: Literal["paper", "grasp"] = "grasp"
    """--driver sim without --goal: the simulator's goal images, `grasp` (a grasp shown step by step) or `paper`
    (one goal image), as in `jepa-sim eval`"""
    dry_run: bool = False
    """plan and print the actions, send nothing (the robot does not move; no homing)"""
    record: Path | None = None
    """dataset folder to add this run to as an episode"""
    max_steps: int = 50
    camera: str = "auto"
    """auto, twin, driver, or opencv:N"""
    wrist_camera: str = "auto"
    """none (the paper's single exterior view), auto (what the predictor needs: see above), driver (--driver sim),
    twin, or opencv:N"""
    home: bool = True
    """home the robot (sim: reset the episode) before the first step"""
    confirm: bool = False
    """wait for Enter after the start-up check before moving"""
    encoder: str = "default"
    predictor: str = "two-view-hover"
    """shipped: `two-view-hover`, `two-view` (both need --wrist-camera and wrist goal images) or `one-view` (the
    exterior camera alone: `--agent paper`); or a predictor folder"""
    seed: int = 0
    """the planner's seed (and the simulator's layout with --driver sim)"""
    timeout: float = 5.0
    """--driver remote: seconds a quick request may take before the link counts as lost (and the margin added
    to the waits for moving requests)"""
    device: str = "auto"


def _goal_files(args: DeployArgs) -> tuple[list[Path], list[Path]]:
    """The exterior and the wrist goal chains' files (sub-goals, then the goal)."""
    return ([*args.subgoals, *([args.goal] if args.goal else [])],
            [*args.wrist_subgoals, *([args.wrist_goal] if args.wrist_goal else [])])  # fmt: skip


def _check_wrist_flags(args: DeployArgs) -> None:
    """What is wrong with the wrist flags whatever the predictor (before anything is loaded)."""
    spec, kind = args.wrist_camera, args.driver
    if spec not in ("none", "auto", "driver", "twin") and not spec.startswith("opencv:"):
        raise fail(f"unknown wrist camera {spec!r}; choose none, auto, driver, twin or opencv:N")
    if kind == "sim" and spec not in ("none", "auto", "driver"):
        raise fail("--driver sim observes through the simulator's own wrist camera (--wrist-camera driver)")
    if kind == "franky" and spec == "driver":
        raise fail("the franky driver has no wrist camera: pass --wrist-camera opencv:N or twin")
    if kind == "remote" and spec == "driver" and args.camera not in ("auto", "driver"):
        raise fail("--wrist-camera driver takes the wrist images the robot server sends with its observations; "
                   "take the exterior images from it too (--camera auto), or pass --wrist-camera opencv:N or "
                   "twin")  # fmt: skip
    exterior, wrist = _goal_files(args)
    if wrist and args.goal is None:
        raise fail("--wrist-goal and --wrist-subgoals are the wrist camera's images of --goal and --subgoals; "
                   "give --goal too")  # fmt: skip
    if args.wrist_subgoals and args.wrist_goal is None:
        raise fail("--wrist-subgoals come before a final --wrist-goal; give --wrist-goal too")
    if wrist and len(wrist) != len(exterior):
        raise fail(f"{len(exterior)} exterior goal image(s) (--subgoals, --goal) but {len(wrist)} wrist goal "
                   "image(s) (--wrist-subgoals, --wrist-goal): give one wrist image per exterior goal, in the same "
                   "order")  # fmt: skip


def _wrist_for(args: DeployArgs, views: tuple[str, ...]) -> str:
    """The wrist camera to use for a predictor observing ``views``: none, driver, twin or opencv:N."""
    spec, needs = args.wrist_camera, WRIST in views
    if spec == "auto":
        spec = "none" if not needs else {"sim": "driver", "franky": "twin", "remote": "driver"}.get(args.driver, "none")
    if needs and spec == "none":
        hint = "driver (or auto)" if args.driver == "sim" else "opencv:N (a camera on the hand) or twin"
        if args.driver == "remote":
            hint = "driver (the robot server's, started with --wrist-camera), opencv:N or twin"
        raise fail(f"the predictor observes {' and '.join(views)}: pass --wrist-camera {hint}; or deploy the "
                   "exterior camera alone with --agent paper (the one-view predictor)")  # fmt: skip
    if not needs and _goal_files(args)[1]:
        raise fail(f"the predictor observes {' and '.join(views)} only: --wrist-goal and --wrist-subgoals are not "
                   "used; drop them (or deploy a predictor trained with --views exterior,wrist)")  # fmt: skip
    if needs and args.goal is not None and args.wrist_goal is None:
        raise fail(f"the predictor observes {' and '.join(views)}: give --wrist-goal (and one --wrist-subgoals "
                   "image per --subgoals), the wrist camera's images of the goals; or deploy the exterior camera "
                   "alone with --agent paper (the one-view predictor)")  # fmt: skip
    return spec


def _make_wrist_camera(spec: str, args: DeployArgs, driver: RobotDriver) -> Camera | None:
    """The wrist camera read on this machine (None: none, or the driver's own)."""
    if spec == "twin":
        import envs  # noqa: F401  (picks the GL backend before MuJoCo is imported)
        from envs.franka_env import VIEW_CAMERAS

        return make_camera(spec, args.image_size, driver, scene_camera=VIEW_CAMERAS[WRIST])
    return make_camera(spec, args.image_size, driver)


def _camera_features(spec: str, camera: Camera | None, driver: RobotDriver) -> dict[str, Any] | None:
    """What the wrist camera is, for the manifest of a --record folder."""
    if camera is not None:
        describe = getattr(camera, "describe", None)
        return describe() if callable(describe) else {"kind": spec}
    if spec == "driver":
        from envs.franka_env import VIEW_CAMERAS

        return {**(driver.camera_features() or {}), "name": VIEW_CAMERAS[WRIST]}
    return None


def run(args: DeployArgs) -> int:
    if args.max_steps < 1:
        raise fail("--max-steps must be >= 1")
    if args.record is not None and args.dry_run:
        raise fail("--record and --dry-run do not go together: a dry run sends no actions, so there is no episode")
    if args.goal is None and args.driver != "sim":
        raise fail(f"--driver {args.driver} needs --goal (and optionally --subgoals)")
    if args.subgoals and args.goal is None:
        raise fail("--subgoals come before a final --goal; give --goal too")
    _check_wrist_flags(args)

    import numpy as np

    from agents.drivers.base import Observation
    from agents.drivers.camera import CameraError, load_image
    from agents.drivers.recording import EpisodeRecorder, RecordSpecError, check_record_folder, record_spec
    from agents.mpc import MPCAgent
    from jepa_sim.encoders import EncoderLoadError, load_encoder
    from jepa_sim.encoders.base import resolve_device
    from jepa_sim.predictor.checkpoint import PredictorLoadError, load_predictor

    # ---- everything that can fail without a robot, first ---------------------------------------------------
    try:
        exterior_files, wrist_files = _goal_files(args)
        goals: list[dict[str, NDArray[np.uint8]]] = [{"exterior": load_image(str(p), args.image_size)}
                                                      for p in exterior_files]  # fmt: skip
        for goal, file in zip(goals, wrist_files, strict=False):  # as many (checked above) or none
            goal[WRIST] = load_image(str(file), args.image_size)
        device = resolve_device(args.device)
        encoder = load_encoder(args.encoder, device=str(device))
        predictor, _ = load_predictor(args.predictor, encoder.id, device)
        views: tuple[str, ...] = predictor.config.views
        wrist = _wrist_for(args, views)  # the predictor's views decide: checked before anything is connected
        spec = record_spec(args.driver, args.env, args.object, args.image_size, wrist_camera=wrist != "none")
        check_record_folder(args.record, spec)
        args.check_horizon(predictor.config.max_steps)
        agent = MPCAgent(encoder, predictor, args.build_planner(), args.agent_config(views, seed=args.seed))
        driver, camera, camera_here = make_driver(args.driver, args, args.camera, address=args.address,
                                                  timeout=args.timeout, wrist_camera=wrist == "driver",
                                                  goal_chain=args.goal_chain)  # fmt: skip
        try:
            wrist_camera = _make_wrist_camera(wrist, args, driver)
        except BaseException:
            driver.close()
            if camera is not None:
                camera.close()
            raise
    except RecordSpecError as exc:
        raise fail(f"--record {exc.root} already holds episodes recorded with different settings "
                   f"({'; '.join(exc.differences)}); run with the same settings to add to it, or choose another "
                   "--record folder") from exc  # fmt: skip
    except (EncoderLoadError, PredictorLoadError, FileNotFoundError, ValueError, CameraError) as exc:
        raise fail(str(exc)) from exc

    t0 = time.monotonic()

    def with_wrist(obs: Observation) -> Observation:
        if wrist_camera is None:
            return obs
        return replace(obs, wrist_image=np.asarray(wrist_camera.read(), np.uint8))

    def observe() -> Observation:
        if camera_here:  # a camera on this machine, the robot elsewhere
            assert camera is not None
            state = driver.get_state()
            return with_wrist(Observation(np.asarray(camera.read(), np.uint8), state, time.monotonic() - t0))
        return with_wrist(driver.get_observation())

    print(f"jepa-sim deploy: {args.driver} driver{' (DRY RUN: nothing will be sent)' if args.dry_run else ''}")
    print_features("driver features", driver.features())
    print(f"planner: {args.planner_summary()}; encoder {encoder.id}; {len(goals) or 'simulator'} goal image(s)")
    print(f"agent: {args.agent_summary()}; predictor arithmetic {getattr(agent.model, 'precision', 'fp32')}")
    if wrist != "none":
        used = "observed" if WRIST in views else "shown and recorded, not planned with: the predictor is one-view"
        print(f"wrist camera: {wrist} ({used}); the predictor observes {', '.join(views)}")

    recorder: EpisodeRecorder | None = None
    status, outcome, moving = 0, "finished", False
    steps_done = 0
    try:
        driver.connect()
        sim = args.driver == "sim"
        if sim or (args.home and not args.dry_run):
            print("homing..." if not sim else f"starting a simulated episode (seed {args.seed})...")
            moving = not sim
            obs = driver.reset(seed=args.seed)
            obs = observe() if camera_here else with_wrist(obs)
        else:
            obs = observe()
        if not goals:
            goals = driver.goal_views()
            if not goals:
                raise ValueError("the driver makes no goal images; pass --goal")
            if wrist != "none" and WRIST not in goals[0]:
                raise ValueError("the driver renders no wrist goal images; pass --goal and --wrist-goal")
        limits = driver.limits
        print("start-up check:")
        remote_features = getattr(driver, "remote_features", None)
        if remote_features is not None:
            print_features("the robot server's driver", remote_features, indent="  ")
        print(f"  robot state (x y z roll pitch yaw gripper): {fmt(obs.state)}")
        print(f"  safety limits: max translation {limits.max_translation} m/step, max rotation "
              f"{limits.max_rotation} rad/step, gripper change {limits.max_gripper_delta}/step, workspace "
              f"{list(limits.workspace_low)} .. {list(limits.workspace_high)} m, gripper "
              f"[{limits.gripper_low}, {limits.gripper_high}]")  # fmt: skip
        exterior_goal = goals[0]["exterior"]
        print(f"  camera frame: {obs.image.shape} {obs.image.dtype}, mean {float(obs.image.mean()):.1f}; "
              f"goal images: {len(goals)} x {exterior_goal.shape}")  # fmt: skip
        if obs.image.shape != exterior_goal.shape:
            raise ValueError(f"the camera gives {obs.image.shape} frames but the goal images are {exterior_goal.shape}")
        if wrist != "none":
            _check_wrist_frame(obs, goals, args.driver)
        if args.confirm and not args.dry_run:
            input("press Enter to start, Ctrl-C to abort: ")
        agent.reset(goals)
        if args.record is not None:
            features = driver.features()
            cameras = {"exterior": features.get("camera")}
            if wrist != "none":
                cameras[WRIST] = _camera_features(wrist, wrist_camera, driver)
            extra: dict[str, Any] = {"goals": [str(p) for p in exterior_files]}
            if wrist_files:
                extra["wrist_goals"] = [str(p) for p in wrist_files]
            extra.update(encoder=args.encoder, predictor=args.predictor)
            if wrist != "none":
                extra["wrist_camera"] = wrist
            recorder = EpisodeRecorder(args.record, spec, [g["exterior"] for g in goals], features, cameras,
                                       seed=args.seed, extra=extra)  # fmt: skip
            recorder.first(obs)
        for step in range(args.max_steps):
            action = agent.act(obs.views(), obs.state)
            log = agent.log[-1]
            head = f"step {step + 1:3d} goal {log.subgoal} dist {log.distance:.4f} plan {log.seconds:.2f}s:"
            if args.dry_run:
                print(f"{head} planned {fmt(action)} (dry run: not sent)")
                obs = observe()
                continue
            moving = True
            executed = driver.send_action(action)
            safety = driver.last_safety
            obs = observe()
            steps_done += 1
            if recorder is not None:
                recorder.step(action, executed, obs)
            print(f"{head} planned {fmt(action)} executed {fmt(executed)}")
            if safety is not None and safety.clamped and np.max(np.abs(executed - action)) > 1e-6:
                print(f"  clamped: {'; '.join(safety.reasons)}")  # (not float32 rounding at the limit itself)
            if getattr(driver, "done", False):
                print(f"the simulated episode ended (success: {getattr(driver, 'success', False)})")
                break
        print(f"final robot state: {fmt(driver.get_state())}")
    except KeyboardInterrupt:
        status, outcome = 130, "interrupted (Ctrl-C)"
    except Exception as exc:  # any error: stop the robot, report, keep what was recorded
        status, outcome = 1, f"error: {type(exc).__name__}: {exc}"
    finally:
        if status != 0:
            print(f"\njepa-sim deploy: {outcome}")
            if moving:
                print(stop_robot(driver, args.driver))
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
        if wrist_camera is not None:
            wrist_camera.close()
    if status == 0:
        print(f"done: {steps_done} steps sent" if not args.dry_run else f"dry run done: {args.max_steps} steps planned")
    return status


def _check_wrist_frame(obs: Observation, goals: list[dict[str, NDArray[np.uint8]]], driver: str) -> None:
    """Print the wrist frame of the start-up check; a ValueError when it or the wrist goals do not fit."""
    frame = obs.wrist_image
    if frame is None and driver == "remote":
        raise ValueError("the robot server sends no wrist images: start it with --wrist-camera (its driver must "
                         "have a wrist camera), or pass --wrist-camera opencv:N or twin here")  # fmt: skip
    if frame is None:
        raise ValueError("the wrist camera gave no frame")
    wrist_goals = [g[WRIST] for g in goals if WRIST in g]
    shapes = f"; wrist goal images: {len(wrist_goals)} x {wrist_goals[0].shape}" if wrist_goals else ""
    print(f"  wrist frame: {frame.shape} {frame.dtype}, mean {float(frame.mean()):.1f}{shapes}")
    if frame.shape != obs.image.shape:
        raise ValueError(f"the wrist camera gives {frame.shape} frames but the exterior camera {obs.image.shape}")
    for goal in wrist_goals:
        if goal.shape != obs.image.shape:
            raise ValueError(f"the wrist goal images are {goal.shape} but the camera frames {obs.image.shape}")
