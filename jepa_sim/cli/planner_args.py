"""The planner and agent flags `jepa-sim eval` and `jepa-sim deploy` share, and the planner and agent settings they
build."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from agents.mpc import MPCConfig
    from jepa_sim.planning import SamplingPlanner


@dataclass(frozen=True)
class PlannerArgs:
    planner: Literal["cem", "mppi"] = "cem"
    """`cem` (the paper's) or `mppi` (same samples, iterations and bounds; every sample weighted by its cost)"""
    horizon: int = 1
    """planned steps per candidate. The `grasp` agent's 1 (the paper's and `--agent paper`'s: 2): with 2 steps
    only the second frame is scored, so the executed first step is loosely constrained (toward the *over* image
    it scattered 1.0-1.5 cm sideways over 16 plans, against 0.4-0.6 cm with 1 step, at half the cost:
    `benchmarks/plan_spread.py`); with 1 step the agent grasped the cup in 41/50 trials against 22/50 (README,
    *Success in sim*)"""
    samples: int = 64
    topk: int = 10
    """CEM elites"""
    temperature: float = 0.1
    """MPPI softmax temperature, relative to the spread of each iteration's costs"""
    iterations: int = 3
    momentum: float = 0.15
    keep_elites: bool = True
    """CEM: carry each iteration's elites into the next, already scored, in place of as many fresh samples (as
    iCEM does): 64 x 3 then scores 64 + 54 + 54 candidates, about 10% less planning time. `--no-keep-elites`: the
    paper's CEM, every iteration sampled afresh"""
    execute: Literal["best", "mean", "mean-move"] = "best"
    """the action executed: `best`, the first step of the cheapest sequence scored, or `mean`, that of the final
    sampling Gaussian (the elites' average; the official V-JEPA 2-AC CEM's choice), or `mean-move`, the mean's
    motion with the cheapest sequence's gripper change. Measured on grasp cup (50 trials): 41 `best`, 35 `mean` (its
    averaged gripper change often fell below the snap: no close), 35 `mean-move` (shorter, averaged moves)"""
    max_xyz: float = 0.04
    """per-step translation bound of planned actions (m). The `grasp` agent's 4 cm (the paper's and `--agent
    paper`'s: 7.5 cm): with 7.5 cm the planner dove onto the cup in one step while aligning over it; with 4 cm it
    grasped the cup in 22/50 trials against 12/50 (README, *Success in sim*)"""
    max_gripper: float = 0.75
    """per-step gripper-change bound of planned actions"""
    max_yaw: float = 0.15
    """per-step yaw bound of planned actions (rad; 0 = yaw held, as in the paper; roll and pitch are always held).
    Turning lets the fingers meet the object square"""

    def build_planner(self) -> SamplingPlanner:
        """The CEM or MPPI planner these flags describe (bad settings raise ValueError)."""
        from jepa_sim.planning import CEM, MPPI, ActionBounds, CEMConfig, MPPIConfig

        bounds = ActionBounds(xyz=self.max_xyz, rotation=0.0, gripper=self.max_gripper, yaw=self.max_yaw)
        if self.planner == "cem":
            config = CEMConfig(horizon=self.horizon, samples=self.samples, topk=self.topk,
                               iterations=self.iterations, momentum=self.momentum,
                               keep_elites=self.keep_elites, execute=self.execute)  # fmt: skip
            return CEM(config, bounds)
        mppi = MPPIConfig(horizon=self.horizon, samples=self.samples, iterations=self.iterations,
                          temperature=self.temperature, execute=self.execute)  # fmt: skip
        return MPPI(mppi, bounds)

    def check_horizon(self, max_steps: int) -> None:
        if not 1 <= self.horizon <= max_steps:
            raise ValueError(f"--horizon must be in 1..{max_steps} (the predictor's), got {self.horizon}")

    def planner_meta(self) -> dict[str, Any]:
        return {"name": self.planner, "horizon": self.horizon, "samples": self.samples, "topk": self.topk,
                "iterations": self.iterations, "momentum": self.momentum, "temperature": self.temperature,
                "keep_elites": self.keep_elites and self.planner == "cem",
                "max_xyz": self.max_xyz, "max_gripper": self.max_gripper, "max_yaw": self.max_yaw,
                # recorded only when not the default, so that evaluations from before this option still resume
                **({"execute": self.execute} if self.execute != "best" else {})}  # fmt: skip

    def planner_summary(self) -> str:
        kept = ", elites kept" if self.planner == "cem" and self.keep_elites else ""
        executed = f", {self.execute} executed" if self.execute != "best" else ""
        return (f"{self.planner.upper()} {self.samples} samples x {self.iterations} iterations{kept}, "
                f"horizon {self.horizon}{executed}")  # fmt: skip


def parse_subgoals(spec: str, flag: str = "--fine-subgoals") -> tuple[int, ...]:
    """A list of sub-goals (``1,2,3``) -> (1, 2, 3); ValueError names the flag and a bad list."""
    try:
        subgoals = tuple(int(part) for part in spec.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"{flag} must be comma-separated sub-goal numbers, got {spec!r}") from exc
    if any(i < 0 for i in subgoals):
        raise ValueError(f"{flag} must be sub-goal numbers >= 0, got {spec!r}")
    return subgoals


AgentName = Literal["grasp", "paper"]

AGENT_PRESETS: dict[str, dict[str, Any]] = {
    # the shipped agent: both cameras, grasps shown step by step (README, *The learned agent with two views*)
    "grasp": {"predictor": "two-view-hover", "bc": "two-view", "goal_chain": "grasp", "max_yaw": 0.15,
              "keep_elites": True, "advance_ratio": 0.25, "stall_steps": 2, "max_steps_per_subgoal": 10,
              "retry_from": 1, "retries": 2, "gripper_snap": 0.15, "gripper_margin": 0.05, "max_xyz": 0.04,
              "horizon": 1, "patient_subgoals": "4,5,6", "patient_stall": 2, "patient_progress": 0.03,
              "servo_subgoals": "1", "descent_subgoals": "2,3,6", "descent_xy": 0.002, "fine_subgoals": "3,7",
              "fine_xyz": 0.005, "exterior_subgoals": "5,6", "precise_subgoals": "5", "set_down_subgoal": 6},
    # V-JEPA 2-AC as published: the exterior camera, one goal image, yaw held, a continuous gripper, plain CEM
    "paper": {"predictor": "one-view", "bc": "one-view", "goal_chain": "paper", "max_yaw": 0.0,
              "keep_elites": False, "advance_ratio": 0.5, "stall_steps": 0, "max_steps_per_subgoal": 25,
              "retry_from": -1, "retries": 1, "gripper_snap": 0.0, "gripper_margin": 0.0, "max_xyz": 0.075,
              "horizon": 2, "patient_subgoals": "", "patient_stall": 4, "patient_progress": -1.0,
              "servo_subgoals": "", "descent_subgoals": "", "descent_xy": 0.01, "fine_subgoals": "", "fine_xyz": 0.04,
              "exterior_subgoals": "", "precise_subgoals": "", "set_down_subgoal": -1},
}  # fmt: skip
"""``--agent NAME`` -> the defaults it gives the flags of `jepa-sim eval` and `deploy` (flags given on the command
line still win). The dataclasses' own defaults are the ``grasp`` preset's."""

Args = TypeVar("Args", bound="AgentArgs")


def with_preset(cls: type[Args], name: str) -> Args:
    """``cls`` (EvalArgs, DeployArgs) with the defaults of the agent preset ``name`` (ValueError names an unknown
    one)."""
    if name not in AGENT_PRESETS:
        raise ValueError(f"--agent must be one of {', '.join(AGENT_PRESETS)}, got {name!r}")
    names = {f.name for f in fields(cls)}
    return cls(agent=name, **{k: v for k, v in AGENT_PRESETS[name].items() if k in names})  # type: ignore[arg-type]


def preset_in(argv: Sequence[str]) -> str | None:
    """The agent preset a command line asks for (``--agent NAME`` or ``--agent=NAME``), or None."""
    for i, arg in enumerate(argv):
        if arg == "--agent" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--agent="):
            return arg.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class AgentArgs:
    """How the MPC agent compares views, moves along a chain of sub-goals and executes the gripper."""

    agent: AgentName = "grasp"
    """the defaults of the flags below (and of --predictor, --bc, --goal-chain, --horizon, --max-xyz, --max-yaw,
    --keep-elites): `grasp` (the shipped agent: the exterior and wrist cameras, the `grasp` goal chain, 1-step
    plans of 4 cm steps, yaw, the gripper snap and margin, going back after a failed grasp) or `paper` (V-JEPA 2-AC
    as published: the exterior camera and the one-view predictor, one goal image, yaw held, a continuous gripper,
    the paper's CEM: 2-step plans of 7.5 cm steps). Flags given explicitly
    override the preset; `--agent paper --help` shows its defaults"""
    view_weights: str = ""
    """comma-separated weight of each view in the energy, in the order of the views (empty: equal)"""
    advance_ratio: float = 0.25
    """next sub-goal when the distance falls below this fraction of its start"""
    stall_steps: int = 2
    """also next sub-goal when the distance set no new low (by 10%) for this many steps; 0 = off"""
    max_steps_per_subgoal: int = 10
    """next sub-goal after this many steps on one at the latest"""
    plan_arrival: bool = False
    """also next sub-goal when the best plan found gets the distance down by less than 10% (the planner sees no
    way closer)"""
    retry_from: int = 1
    """-1: off; i >= 0: when the last goal stalls short of arrival (the stall rule fires while the distance is
    above the advance ratio of its start: e.g. a grasp that closed beside the object lifts an empty gripper), go
    back to sub-goal i (for --goal-chain grasp, 1 = just over the object, gripper open) and through the chain
    again; needs --stall-steps"""
    retries: int = 2
    """how many times per episode --retry-from may go back"""
    holding_subgoals: str = ""
    """comma-separated sub-goals whose image shows the object held (`3,4,5,6`: the grasp chain's *closed*, *lifted*,
    *carried*, *lowered*); on them a gripper measured closed beyond --empty-closedness holds nothing, and the chain
    goes back to --retry-from at once (counts as a retry); empty: off"""
    empty_closedness: float = 0.9
    """--holding-subgoals, --close-subgoal: the measured gripper closedness (0 open .. 1 closed) at or above which
    it is empty"""
    close_subgoal: int = -1
    """-1: off; i >= 0: the sub-goal whose image shows the gripper closed on the object (`3`, the grasp chain's
    *closed*); the agent moves on from it as soon as the robot measures its fingers stopped by the object
    (closedness from 0.1 to --empty-closedness), instead of planning on toward the image while it holds the object
    at the table"""
    set_down_subgoal: int = 6
    """-1: off; i >= 0: the sub-goal whose image shows the held object set down on its target (`6`, the grasp
    chain's *lowered*); the agent moves on from it (to let go) as soon as the robot measures its arm stopped on the
    way down (last step commanded >= 1 cm down, went < 60% of it): the object is on the table, and pressing on
    squeezes a cup out of the fingers"""
    gripper_snap: float = 0.15
    """0: continuous gripper changes (the paper); s > 0: a planned change of at least s is executed as a full
    close or open, a smaller one as none. The simulator (simmpc) scores the snapped action; the learned predictor
    scores the planned change (it reads actions as the observed change: a full close on the cup is +0.26)"""
    gripper_margin: float = 0.05
    """0: off; m > 0: a planned gripper change is executed only when the best plan without it costs more than
    (1 + m) times as much (where the energy hardly depends on the gripper, the best sample's gripper change is
    noise that would open and close the gripper at random)"""
    path_weight: float = 0.0
    """0: the energy scores the last predicted frame of a plan (the paper); w > 0 adds w times the mean distance of
    the frames predicted on the way, so that the executed first step makes progress itself instead of passing
    wherever the last step can come back from (learned predictor only)"""
    fine_subgoals: str = "3,7"
    """comma-separated sub-goals on which the arm moves in steps of at most --fine-xyz instead of --max-xyz (`3,7`:
    the grasp chain's *closed* and *placed*, where the gripper closes and opens in place: an opening combined with
    a 4 cm move dragged a set-down cup off its target); empty: none"""
    fine_xyz: float = 0.005
    """--fine-subgoals: their per-step translation bound (m), at most --max-xyz"""
    descent_subgoals: str = "2,3,6"
    """comma-separated sub-goals reached straight down (`2,3,6`: the grasp chain's *around* and *closed*, below
    *over*, where the last sideways alignment happens, and *lowered*, below *carried*, where the held object was
    brought over its target): on them the arm's horizontal steps are at most --descent-xy, its vertical ones
    --max-xyz; empty: none. At 1 cm (tenth session) it changed nothing measurable; at 2 mm with --servo-subgoals 1
    it is part of the shipped agent (README, *Success in sim*)"""
    descent_xy: float = 0.002
    """--descent-subgoals: their per-step horizontal translation bound (m), at most --max-xyz"""
    effort_weight: float = 0.0
    """0: off (the paper); w > 0: add w times the length (m) of each planned translation to the energy, so that a
    move must lower the energy by more than w per metre (0.5: 0.005 per cm); near the object, where the predicted
    energy is nearly flat, CEM's pick among its samples otherwise wanders 1-3 cm per step. Measured: grasp cup 39/50
    with 0.5 against 41/50 without; with `--descent-subgoals 2,3` grasp cup 42/50, pick-and-place cup 26/50 (against
    34/50: the long moves slow down)"""
    no_open_subgoals: str = ""
    """comma-separated sub-goals whose image shows the object held (`3,4,5,6`: the grasp chain's *closed*, *lifted*,
    *carried*, *lowered*); on them the gripper never opens (a planned opening is scored and executed as no change),
    so that noise in a gripper the energy hardly depends on does not drop what is held; empty: none. Measured with
    `--descent-subgoals 2,3`: pick-and-place cup 35/50, box 37/50 (34 and 37 without either)"""
    patient_subgoals: str = "4,5,6"
    """comma-separated sub-goals on which the stall rule counts --patient-stall steps and --patient-progress new
    lows instead of --stall-steps and 10% (`4,5,6`: the grasp chain's *lifted*, *carried* and *lowered*, long
    moves whose distance falls a few percent per step); empty: none"""
    patient_stall: int = 2
    """--patient-subgoals: the stall rule's steps on them"""
    patient_progress: float = 0.03
    """--patient-subgoals: the new low (a fraction of the lowest distance so far) that counts as progress on them;
    -1: the same 10% as elsewhere. Carrying the cup 4 cm closes its distance 5-10% per step, so a 10% new low
    every two steps left *carried* half-way and the cup was let go off target"""
    precise_subgoals: str = "5"
    """comma-separated sub-goals left by the ratio rule only below --precise-ratio times their start distance, else
    when the distance stops falling (`5`: *carried*, where with the exterior view alone the distance falls below
    --advance-ratio of its start with the held cup still 5-11 cm off its target); empty: none"""
    precise_ratio: float = 0.1
    """--precise-subgoals: the ratio rule's fraction on them (0: leave them by the stall rule alone)"""
    servo_subgoals: str = "1"
    """comma-separated sub-goals refined by visual servoing before the agent leaves them (`1`: the grasp chain's
    *over*, the last sideways alignment before the descent): the arm probes --servo-step moves along +x, -x, +y,
    -y, keeps each that lowers the distance the cameras *observe* to the sub-goal image and undoes the others,
    halving the step down to --servo-min-step, at most --servo-steps moves; empty: none. Near the object the
    encoder sees a 1 cm error that the predictor barely does"""
    servo_step: float = 0.01
    """--servo-subgoals: the first probe length (m)"""
    servo_min_step: float = 0.005
    """--servo-subgoals: the search ends when the probe length halves below this (m)"""
    servo_steps: int = 10
    """--servo-subgoals: at most this many moves (control steps) per search"""
    servo_method: Literal["compass", "axis", "grid"] = "compass"
    """--servo-subgoals: `compass` (probe +x, -x, +y, -y in turn, keep a move that lowers the distance, undo one
    that does not, halve the step when none does) or `axis` (per axis: probe both sides, move to the bottom of the
    parabola through the three distances; 6 moves a round) or `grid` (a 3 x 3 grid of --servo-step spacing, then
    the bottom of the quadratic fitted to its 9 distances: averages the observation noise; 9 moves)"""
    servo_view: str = ""
    """--servo-subgoals: the one view whose observed distance the search compares (`wrist`: the camera on the hand,
    which sees a 1 cm error as many pixels; `exterior`); empty: the sub-goal's energy (both views)"""
    exterior_subgoals: str = "5,6"
    """comma-separated sub-goals whose energy compares the exterior view alone (`5,6`: the grasp chain's *carried*
    and *lowered*, where the wrist camera sees the held object the same wherever the arm is, so its term is noise
    in the distance to where the object must go); empty: none (every sub-goal uses --view-weights)"""
    precision: str = "auto"
    """the learned predictor's arithmetic while planning: `fp32`, `bf16` (about 1.5x faster per step on a CPU with
    native bfloat16; its costs rank candidates as fp32's do) or `auto` (bf16 on a GPU or a CPU with native bfloat16,
    else fp32)"""

    def agent_config(self, views: tuple[str, ...], seed: int = 0) -> MPCConfig:
        """The MPC agent's settings for ``views`` from these flags (ValueError names a bad one)."""
        from agents.mpc import MPCConfig

        try:
            weights = tuple(float(w) for w in self.view_weights.split(",")) if self.view_weights.strip() else None
        except ValueError as exc:
            raise ValueError(f"--view-weights must be comma-separated numbers, got {self.view_weights!r}") from exc
        return MPCConfig(
            views=views,
            view_weights=weights,
            advance_ratio=self.advance_ratio,
            stall_steps=self.stall_steps,
            max_steps_per_subgoal=self.max_steps_per_subgoal,
            gripper_snap=self.gripper_snap if self.gripper_snap != 0 else None,
            gripper_margin=self.gripper_margin,
            path_weight=self.path_weight,
            fine_subgoals=parse_subgoals(self.fine_subgoals),
            fine_scale=self.fine_scale(),
            descent_subgoals=parse_subgoals(self.descent_subgoals, "--descent-subgoals"),
            descent_scale=self.descent_scale(),
            no_open_subgoals=parse_subgoals(self.no_open_subgoals, "--no-open-subgoals"),
            effort_weight=self.effort_weight,
            servo_subgoals=parse_subgoals(self.servo_subgoals, "--servo-subgoals"),
            servo_step=self.servo_step,
            servo_min_step=self.servo_min_step,
            servo_steps=self.servo_steps,
            servo_method=self.servo_method,
            servo_view=self.servo_view or None,
            exterior_subgoals=parse_subgoals(self.exterior_subgoals, "--exterior-subgoals"),
            patient_subgoals=parse_subgoals(self.patient_subgoals, "--patient-subgoals"),
            patient_stall_steps=self.patient_stall,
            patient_progress=self.patient_progress if self.patient_progress >= 0 else None,
            precise_subgoals=parse_subgoals(self.precise_subgoals, "--precise-subgoals"),
            precise_ratio=self.precise_ratio,
            retry_from=self.retry_from if self.retry_from >= 0 else None,
            retries=self.retries,
            holding_subgoals=parse_subgoals(self.holding_subgoals, "--holding-subgoals"),
            empty_closedness=self.empty_closedness,
            close_subgoal=self.close_subgoal if self.close_subgoal >= 0 else None,
            set_down_subgoal=self.set_down_subgoal if self.set_down_subgoal >= 0 else None,
            plan_arrival=self.plan_arrival,
            precision=self.precision,
            seed=seed,
        )

    def fine_scale(self) -> float:
        """--fine-xyz as a fraction of --max-xyz (ValueError when it is not in (0, --max-xyz])."""
        return self._step_scale(self.fine_subgoals, self.fine_xyz, "--fine-xyz")

    def descent_scale(self) -> float:
        """--descent-xy as a fraction of --max-xyz (ValueError when it is not in (0, --max-xyz])."""
        return self._step_scale(self.descent_subgoals, self.descent_xy, "--descent-xy")

    def _step_scale(self, subgoals: str, bound: float, flag: str) -> float:
        """A per-step translation ``bound`` (m) on the sub-goals ``subgoals`` as a fraction of --max-xyz; 1 when
        there are none."""
        max_xyz = getattr(self, "max_xyz", None)
        if not subgoals.strip():
            return 1.0
        if max_xyz is None or not 0.0 < bound <= max_xyz:
            raise ValueError(f"{flag} must be in (0, --max-xyz = {max_xyz}], got {bound}")
        return bound / max_xyz

    def agent_summary(self) -> str:
        """One line for a start-up report: the sub-goal rule and the gripper."""
        precise = f" ({self.precise_ratio:g} on {self.precise_subgoals})" if self.precise_subgoals.strip() else ""
        rule = [f"below {self.advance_ratio:g} x its start{precise}"]
        if self.stall_steps:
            progress = f", {self.patient_progress:.0%} new lows" if self.patient_progress >= 0 else ""
            patient = (
                f" ({self.patient_stall}{progress} on {self.patient_subgoals})" if self.patient_subgoals.strip() else ""
            )
            rule.append(f"after {self.stall_steps} steps without progress{patient}")
        if self.plan_arrival:
            rule.append("when the best plan gets no closer")
        if self.close_subgoal >= 0:
            rule.append(f"from {self.close_subgoal} when the fingers stop on the object")
        if self.set_down_subgoal >= 0:
            rule.append(f"from {self.set_down_subgoal} when the arm stops on its way down")
        rule.append(f"after {self.max_steps_per_subgoal} steps")
        if self.retry_from >= 0:
            empty = f" or the gripper closes on nothing on {self.holding_subgoals}" if self.holding_subgoals else ""
            rule.append(f"back to sub-goal {self.retry_from} when the last stalls{empty} ({self.retries}x at most)")
        gripper = f"snapped at {self.gripper_snap:g}" if self.gripper_snap else "continuous"
        if self.gripper_margin:
            gripper += f", changed only when it lowers the energy by {self.gripper_margin:.0%}"
        extras = f"; visual servoing on {self.servo_subgoals}" if self.servo_subgoals.strip() else ""
        if self.exterior_subgoals.strip():
            extras += f"; the exterior view alone on {self.exterior_subgoals}"
        return f"next sub-goal {', '.join(rule)}; gripper {gripper}{extras}"

    def agent_settings(self, views: tuple[str, ...]) -> dict[str, object]:
        """The agent's settings as an evaluation's results.json records them."""
        config = self.agent_config(views)
        return {
            "views": list(config.views),
            "view_weights": config.weights,
            "advance_ratio": config.advance_ratio,
            "stall_steps": config.stall_steps,
            "min_progress": config.min_progress,
            "max_steps_per_subgoal": config.max_steps_per_subgoal,
            "gripper_snap": config.gripper_snap,
            # recorded only when on, so evaluations from before this option still resume
            **({"plan_arrival": True} if config.plan_arrival else {}),
            **({"gripper_margin": config.gripper_margin} if config.gripper_margin else {}),
            **({"path_weight": config.path_weight} if config.path_weight else {}),
            **(
                {"fine_subgoals": list(config.fine_subgoals), "fine_xyz": self.fine_xyz} if config.fine_subgoals else {}
            ),
            **(
                {"descent_subgoals": list(config.descent_subgoals), "descent_xy": self.descent_xy}
                if config.descent_subgoals
                else {}
            ),
            **({"no_open_subgoals": list(config.no_open_subgoals)} if config.no_open_subgoals else {}),
            **({"effort_weight": config.effort_weight} if config.effort_weight else {}),
            **({"exterior_subgoals": list(config.exterior_subgoals)} if config.exterior_subgoals else {}),
            **(
                {
                    "servo_subgoals": list(config.servo_subgoals),
                    "servo_step": config.servo_step,
                    "servo_min_step": config.servo_min_step,
                    "servo_steps": config.servo_steps,
                    "servo_method": config.servo_method,
                    **({"servo_view": config.servo_view} if config.servo_view else {}),
                }
                if config.servo_subgoals
                else {}
            ),
            **({"retry_from": config.retry_from, "retries": config.retries} if config.retry_from is not None else {}),
            **(
                {"holding_subgoals": list(config.holding_subgoals), "empty_closedness": config.empty_closedness}
                if config.holding_subgoals
                else {}
            ),
            **(
                {"close_subgoal": config.close_subgoal, "empty_closedness": config.empty_closedness}
                if config.close_subgoal is not None
                else {}
            ),
            **({"set_down_subgoal": config.set_down_subgoal} if config.set_down_subgoal is not None else {}),
            **(
                {
                    "patient_subgoals": list(config.patient_subgoals),
                    "patient_stall": config.patient_stall_steps,
                    **({"patient_progress": config.patient_progress} if config.patient_progress is not None else {}),
                }
                if config.patient_subgoals
                else {}
            ),
            **(
                {"precise_subgoals": list(config.precise_subgoals), "precise_ratio": config.precise_ratio}
                if config.precise_subgoals
                else {}
            ),
        }
