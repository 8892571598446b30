"""``jepa-sim eval``: seeded trials of the MPC agent and baselines on the simulated tasks, the success table."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jepa_sim.cli.planner_args import AgentArgs, PlannerArgs

if TYPE_CHECKING:
    from agents.mpc import MPCConfig

METHODS = ("mpc", "bc", "random", "oracle", "simmpc")


@dataclass(frozen=True)
class EvalArgs(PlannerArgs, AgentArgs):
    """Plan toward goal images in the simulator and measure success, like Table 2 of the V-JEPA 2 paper.

    Methods:
      mpc     the encoder + predictor + planner (CEM or MPPI) agent (camera image, state and goal image(s)
              only); it executes the first planned action and replans every step
      bc      goal-conditioned behaviour cloning on the same data and frozen tokens (`jepa-sim train-bc`),
              the stand-in for the paper's Octo
      random  uniform actions within the limits
      oracle  the scripted expert with privileged simulator state: an upper bound
      simmpc  the MPC agent with the simulator itself as its model (each candidate executed in the real physics
              from the current state, its final frame encoded): same energy and planner, a perfect model, so
              it is the planner's own ceiling. About 20x slower than mpc per step (about 4 s at the defaults).

    The agent is a preset (--agent): `grasp` by default (the two-view predictor, the grasp goal chain and the
    settings measured in the README), `paper` for V-JEPA 2-AC's own layout (the exterior camera, one goal image).
    Any flag given overrides the preset's value.

    Trial i of every task and object uses env seed SEED + i for every method, so the methods face the same
    layouts.

    OUT gets results.json ({task: {object: {method: {success_rate, n, ci95, mean_plan_seconds}}}} plus every
    trial), results.md (the paper's layout), results.png (bars with 95% intervals) and one mp4 per task,
    object and method of its first trials (camera | current goal image).

    Rerunning the same command into the same OUT resumes it (finished trials are kept; a larger --trials extends
    it); other settings or checkpoints are refused.

    Examples:
      jepa-sim eval --methods mpc --tasks all --trials 2 --out runs/eval          # the shipped agent
      jepa-sim eval --agent paper --methods mpc,bc --tasks all --trials 2 --out runs/paper   # the paper's layout
      jepa-sim eval --methods simmpc --views exterior,wrist --goal-chain grasp --stall-steps 2 \
        --max-steps-per-subgoal 10 --max-yaw 0.15 --gripper-snap 0.3 --tasks grasp --out runs/ceiling  # the ceiling
      jepa-sim eval --methods mpc,random,oracle --tasks reach,grasp --objects cup --trials 50 --out runs/t2
      jepa-sim eval --methods mpc --predictor runs/predictor/predictor --samples 256 --iterations 6
    """

    methods: str = "mpc,bc,random,oracle"
    """comma-separated: mpc, bc, random, oracle, simmpc"""
    tasks: str = "all"
    """`all` or comma-separated: reach, grasp, reach_with_object (starts held, the paper's cell),
    grasp_and_carry (grasp, then carry), pick_and_place"""
    objects: str = "cup,box"
    trials: int = 5
    """trials per task, object and method"""
    seed: int = 1000
    """env seed of the first trial (training data draws its env seeds from [0, 2^31), so small seeds practically
    never repeat a training layout)"""
    out: Path = Path("runs/eval")
    overwrite: bool = False
    """replace the results and videos of an earlier evaluation in OUT. Without it, the same command (same
    settings and checkpoints; --trials may grow) resumes the evaluation in OUT, keeping its finished trials;
    other settings are refused"""
    videos: int = 1
    """trials recorded per task, object and method (the first ones)"""
    outcome_videos: bool = True
    """also record the first success and the first failure of each task, object and method (camera views beside
    the current sub-goal), so every cell has a video of each outcome it had"""
    encoder: str = "default"
    predictor: str = "two-view-hover"
    """shipped: `two-view-hover` (exterior and wrist views, `two-view` fine-tuned on hovering data: grasps the most),
    `two-view` (exterior and wrist views), `one-view` (the exterior view, the paper's layout; also called
    `default`, its name before the two-view agent shipped); or a predictor folder"""
    bc: str = "two-view"
    """shipped: `two-view` (exterior and wrist views: the two-view predictor's data and tokens), `one-view` (the
    exterior view; also `default`); or a BC policy folder (`jepa-sim train-bc`)"""
    image_size: int = 128
    goal_chain: str = "grasp"
    """the goal images: `paper` (one goal image; pick-and-place: closed on the object, carried, placed) or `grasp`
    (every task that grasps shows it step by step: above the object open, just over it open, around it open,
    closed, lifted, then carried; pick-and-place: carried, lowered, placed)"""
    chain_over: float = 0.05
    """--goal-chain grasp: how far above the grasp pose the *over* image shows the open gripper (m)"""
    place_over: float = 0.0
    """--goal-chain grasp, pick-and-place: 0 = off; h > 0 adds the image *lowering* (the object held h m above its
    place) between *carried* and *lowered*"""
    views: str = "auto"
    """the views the MPC agents observe and compare: `exterior` (the paper) or `exterior,wrist` (DROID's rig: the
    wrist camera sees the fingers close). `auto`: the learned predictor's views when mpc is evaluated (a
    predictor needs every view it was trained on), else `exterior`"""
    device: str = "auto"

    def mpc_config(self) -> MPCConfig:
        """The MPC agent's views, energy weights and sub-goal rule from the flags (ValueError names a bad one)."""
        from jepa_sim.data.features import parse_views

        return self.agent_config(parse_views(self.views))

    def agent_meta(self) -> dict[str, object]:
        return self.agent_settings(self.mpc_config().views)


def read_previous(out: Path) -> dict[str, Any] | None:
    """The results.json of an earlier evaluation in ``out``, or None when there is none (or it is unreadable)."""
    path = out / "results.json"
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("_trials"), list) else None


def settings_differ(previous: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """The settings (keys of ``_meta``) in which a resumed evaluation would differ from the earlier one."""
    now = json.loads(json.dumps(meta))
    keys = (set(previous) | set(now)) - {"finished", "interrupted", "trials"}  # more trials extend an evaluation
    return sorted(k for k in keys if previous.get(k) != now.get(k))


def checkpoint_ids(methods: list[str], encoder: Any, predictor: str, bc: str) -> dict[str, str]:
    """What identifies the models an evaluation used: the encoder id (it carries a hash of the weights) and a
    hash of the predictor's and the BC policy's weight files."""
    from agents.bc import resolve_bc
    from jepa_sim.predictor.checkpoint import WEIGHTS, resolve_predictor

    def file_hash(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"

    ids = {"encoder": encoder.id} if encoder is not None else {}
    if "mpc" in methods:
        ids["predictor"] = file_hash(Path(resolve_predictor(predictor)) / WEIGHTS)
    if "bc" in methods:
        ids["bc"] = file_hash(resolve_bc(bc) / "model.safetensors")
    return ids


def default_views(methods: list[str], predictor: str) -> tuple[str, ...]:
    """``--views auto``: the learned predictor's views when mpc is evaluated, else the exterior view."""
    from jepa_sim.predictor.checkpoint import PredictorLoadError, read_predictor_meta

    if "mpc" not in methods:
        return ("exterior",)
    try:
        return tuple(read_predictor_meta(predictor)["predictor"].get("views", ("exterior",)))
    except PredictorLoadError as exc:
        raise SystemExit(f"jepa-sim eval: {exc}") from exc


def run(args: EvalArgs) -> int:
    from tqdm import tqdm

    import envs  # noqa: F401  (registers the ids, picks the GL backend)
    from agents.bc import BCAgent, load_bc
    from agents.drivers.sim import SimDriver
    from agents.evaluate import TrialResult, evaluate, results_markdown, summarize, write_results
    from agents.mpc import MPCAgent
    from agents.planning_model import PredictorModel
    from agents.policies import Agent, MPCPolicy, OracleAgent, RandomAgent
    from agents.sim_model import SimulatorModel
    from envs.config import GOAL_CHAINS, TASKS, ControlConfig, EnvConfig
    from envs.franka_env import GRASP_CHAIN
    from envs.registration import ENV_IDS
    from jepa_sim.encoders import EncoderLoadError, load_encoder
    from jepa_sim.encoders.base import resolve_device
    from jepa_sim.media import write_video
    from jepa_sim.predictor.checkpoint import PredictorLoadError, load_predictor

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.views == "auto":
        args = replace(args, views=",".join(default_views(methods, args.predictor)))
    tasks = list(TASKS) if args.tasks == "all" else [t.strip() for t in args.tasks.split(",")]
    objects = [o.strip() for o in args.objects.split(",")]
    for name, chosen, allowed in (
        ("method", methods, METHODS),
        ("task", tasks, TASKS),
        ("object", objects, ("cup", "box")),
    ):
        unknown = [c for c in chosen if c not in allowed]
        if unknown or not chosen:
            raise SystemExit(f"jepa-sim eval: unknown {name} {unknown or chosen}; choose from {', '.join(allowed)}")
    if args.trials < 1:
        raise SystemExit("jepa-sim eval: --trials must be >= 1")
    try:
        mpc_config = args.mpc_config()
        if args.goal_chain not in GOAL_CHAINS:
            raise ValueError(f"--goal-chain must be one of {', '.join(GOAL_CHAINS)}, got {args.goal_chain!r}")
        EnvConfig(chain_over=args.chain_over, place_over=args.place_over)  # checks them
    except ValueError as exc:
        raise SystemExit(f"jepa-sim eval: {exc}") from exc

    earlier = sorted(p.name for p in [args.out / "results.json", *args.out.glob("*.mp4")] if p.exists())
    previous = read_previous(args.out)
    if earlier and previous is None and not args.overwrite:
        raise SystemExit(f"jepa-sim eval: {args.out} already holds an evaluation ({', '.join(earlier[:3])}...) "
                         "without a readable results.json; pass another --out, or --overwrite to replace "
                         "it")  # fmt: skip

    control = ControlConfig()
    agent = None
    bc_agent = None
    try:
        device = resolve_device(args.device)
        encoder = load_encoder(args.encoder, device=str(device)) if {"mpc", "bc", "simmpc"} & set(methods) else None
        if "bc" in methods:
            assert encoder is not None
            bc_agent = BCAgent(load_bc(args.bc, encoder.id).to(device), encoder.encode)
        planner = args.build_planner()
        if "mpc" in methods:
            assert encoder is not None
            predictor, _ = load_predictor(args.predictor, encoder.id, device)
            args.check_horizon(predictor.config.max_steps)
            agent = MPCAgent(encoder, predictor, planner, mpc_config)
    except (EncoderLoadError, PredictorLoadError, FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"jepa-sim eval: {exc}") from exc
    # the wrist camera renders when an agent observes it (the MPC agents' --views, or a two-view BC policy)
    wrist = "wrist" in mpc_config.views or (bc_agent is not None and "wrist" in bc_agent.views)

    meta = {"methods": methods, "tasks": tasks, "objects": objects, "trials": args.trials, "seed": args.seed,
            "encoder": args.encoder, "predictor": args.predictor, "bc": args.bc, "image_size": args.image_size,
            "goal_chain": args.goal_chain, "agent": args.agent_meta(),
            "device": args.device, "planner": args.planner_meta(),
            "checkpoints": checkpoint_ids(methods, encoder, args.predictor, args.bc)}  # fmt: skip
    if args.goal_chain == "grasp":  # what the chain shows, so that results made with another one do not resume
        meta["grasp_chain"] = list(GRASP_CHAIN)
        if args.chain_over != EnvConfig().chain_over:  # recorded when not the default: older evaluations resume
            meta["chain_over"] = args.chain_over
        if args.place_over:
            meta["place_over"] = args.place_over
    if agent is not None and isinstance(agent.model, PredictorModel) and agent.model.precision != "fp32":
        meta["precision"] = agent.model.precision  # only when not fp32: evaluations from before it still resume
    resumed: list[TrialResult] = []
    if previous is not None and not args.overwrite:
        differ = settings_differ(previous.get("_meta", {}), meta)
        if differ:
            raise SystemExit(f"jepa-sim eval: {args.out} holds an evaluation made with other settings or checkpoints "
                             f"({', '.join(differ)} differ); rerun with the same ones to resume it, or pass another "
                             "--out, or --overwrite to replace it")  # fmt: skip
        if args.trials < int(previous.get("_meta", {}).get("trials", 0)):
            raise SystemExit(f"jepa-sim eval: {args.out} holds {previous['_meta']['trials']} trials per cell; "
                             f"--trials {args.trials} would drop some: pass at least as many, or "
                             "--overwrite")  # fmt: skip
        resumed = [TrialResult.from_json(row) for row in previous.get("_trials", [])]
        earlier = []  # resumed, not replaced
        print(f"resuming {args.out}: {len(resumed)} finished trials kept")

    def make_agent(method: str, task: str, obj: str, driver: SimDriver) -> Agent:
        if method == "mpc":
            assert agent is not None
            return MPCPolicy(agent)
        if method == "simmpc":
            assert encoder is not None
            simulator = SimulatorModel(driver.simulator, encoder, device)
            return MPCPolicy(MPCAgent(encoder, simulator, planner, mpc_config))
        if method == "bc":
            assert bc_agent is not None
            return bc_agent
        if method == "random":
            return RandomAgent(control, seed=args.seed)
        return OracleAgent(task, obj, control)

    cells = [(ENV_IDS[t], t, o) for t in tasks for o in objects]
    total = len(cells) * len(methods) * args.trials
    print(f"{len(cells)} task/object cells x {len(methods)} methods x {args.trials} trials = {total} episodes"
          + (f"; MPC: {args.planner_summary()}"
             if {"mpc", "simmpc"} & set(methods) else ""))  # fmt: skip
    bar = tqdm(total=total, initial=len(resumed), desc="eval", unit="ep", mininterval=1.0)
    done: list[TrialResult] = list(resumed)
    args.out.mkdir(parents=True, exist_ok=True)

    def video_path(result: TrialResult) -> Path:
        return args.out / f"{result.task}_{result.object}_{result.method}_seed{result.seed}.mp4"

    outcomes = {(r.task, r.object, r.method, r.success) for r in resumed if video_path(r).is_file()}

    def wanted(result: TrialResult) -> bool:
        """Whether the trial's video is kept: one of the first --videos, or its cell's first such outcome."""
        first = result.seed - args.seed < args.videos
        shown = (result.task, result.object, result.method, result.success)
        keep = first or (args.outcome_videos and shown not in outcomes)
        if keep:
            outcomes.add(shown)
        return keep

    def on_trial(result: TrialResult) -> None:
        done.append(result)
        if result.frames and not wanted(result):
            result.frames = []
        if result.frames:
            fps = max(1, round(1 / control.control_period))
            write_video(video_path(result), result.frames, fps)
            result.frames = []
        write_results(done, methods, args.out, {**meta, "finished": False}, plot=False)  # nothing finished is lost
        bar.set_postfix(last=f"{result.method} {result.task} {result.object} {'ok' if result.success else 'fail'}",
                        refresh=False)  # fmt: skip
        bar.update(1)

    for name in earlier:  # only now that every model loaded: a failed start never deletes an evaluation
        (args.out / name).unlink()
    for name in ("results.md", "results.png"):
        (args.out / name).unlink(missing_ok=True)
    try:
        try:
            results = evaluate(
                cells, methods, args.trials, args.seed,
                lambda env_id, obj: SimDriver.make(env_id, obj, image_size=args.image_size, goal_chain=args.goal_chain,
                                                   chain_over=args.chain_over, place_over=args.place_over,
                                                   wrist_camera=wrist),
                make_agent, record=args.videos, on_trial=on_trial, done=resumed, record_all=args.outcome_videos,
            )  # fmt: skip
        finally:
            bar.close()
    except KeyboardInterrupt:
        if done:
            write_results(done, methods, args.out, {**meta, "finished": False, "interrupted": True})
            print(f"\ninterrupted; the {len(done)} finished trials are in {args.out}/results.json")
        return 130
    write_results(results, methods, args.out, {**meta, "finished": True})
    print()
    print(results_markdown(summarize(results), methods))
    for method in ("mpc", "simmpc"):
        seconds = [r.plan_seconds for r in results if r.method == method]
        if seconds:
            print(f"{method} planning time per step: {sum(seconds) / len(seconds):.3f} s (mean over trials)")
    count = len(list(args.out.glob("*.mp4")))
    videos = f" and {count} videos (camera views | current sub-goal's)" if count else ""
    print(f"wrote {args.out}/results.json, results.md, results.png{videos}")
    return 0
