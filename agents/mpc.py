"""The MPC agent of V-JEPA 2-AC: encode the current frame(s), plan toward the goal latent with a model, execute
the first planned action, observe, replan. The model is pluggable (:class:`PlanningModel`): the learned
predictor, or the simulator itself (``agents.sim_model``) to measure the planner's own ceiling.

Views: the agent observes the views of ``MPCConfig.views`` (the paper: the exterior camera; DROID's rig adds the
wrist camera, which sees the fingers close). One frozen encoder encodes each view; the energy is the weighted
sum over views of the mean latent L1 (:func:`weighted_distance`, weights ``MPCConfig.view_weights``).

Sub-goals (a chain of goal images: above the object, around it, closed, lifted, ...) are pursued in order.
The agent moves on to the next one when either
- the distance of the current frames to the current sub-goal falls below ``advance_ratio`` times that distance
  when the sub-goal was taken up (the frames now look much more like the sub-goal than at the start), or
- with ``stall_steps`` = k > 0, the last k distances set no new low at least ``min_progress`` below the lowest
  before them: the planner has brought the frames as close to the sub-goal as it can. This fires where the
  ratio rule cannot: a sub-goal that differs little from the previous one (closing the gripper), or one whose
  distance floor is high (the object slightly off its imagined place). On the ``patient_subgoals`` (long moves
  such as carrying) k is ``patient_stall_steps`` and the new low needed ``patient_progress``;
- or after ``max_steps_per_subgoal`` steps on it. The last goal is never left for a later one.

A chain can go back (``retry_from``): when the stall rule fires on the last goal (its quick form, even on a patient
sub-goal: patience is about when to move on, not when to give up) while its distance is still
above ``advance_ratio`` times its start, the planner has got as close to it as it can without arriving (a grasp
that closed beside the object lifts an empty gripper: the wrist view never shows the object held). The agent
then takes up sub-goal ``retry_from`` again (just over the object, gripper open) and goes through the chain once
more, at most ``retries`` times per episode. With ``holding_subgoals`` it also goes back as soon as the robot's
gripper closes all the way on a sub-goal that should hold the object (the fingers met nothing between them).
With ``close_subgoal`` it leaves the close as soon as the fingers are measured stopped by the object.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from agents.planning_model import (
    EXTERIOR,
    Latents,
    PlanningModel,
    PredictorModel,
    Views,
    check_precision,
    weighted_distance,
)
from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.planning.base import Plan, SamplingPlanner, shift_plan
from jepa_sim.predictor.model import ACPredictor


@dataclass(frozen=True)
class MPCConfig:
    warm_start: bool = True
    """start each plan from the previous plan shifted by one step"""
    views: tuple[str, ...] = (EXTERIOR,)
    """the camera views the agent observes and its energy compares (the paper: the exterior one)"""
    view_weights: tuple[float, ...] | None = None
    """weight of each view's latent L1 in the energy, in the order of ``views`` (normalised to sum to 1);
    None = equal weights"""
    advance_ratio: float = 0.5
    """move to the next sub-goal when the distance to the current one falls below this fraction of its start"""
    stall_steps: int = 0
    """also move on when the last ``stall_steps`` distances set no new low ``min_progress`` below the lowest
    before them (usually: the frame is as close to the sub-goal as the planner gets it; robust when a sub-goal
    differs little from the last one, such as closing the gripper; it also fires when the distance only rises,
    leaving a sub-goal the planner moves away from); 0 = off"""
    min_progress: float = 0.1
    """a new low must be this fraction below the previous one to count as progress"""
    max_steps_per_subgoal: int = 25
    plan_arrival: bool = False
    """also move on when the best plan found toward the current sub-goal would bring the distance down by less
    than ``min_progress`` (the planner itself sees no way closer; unlike ``stall_steps`` it does not fire while
    the planner still sees a way, however it oscillated); the step then plans toward the next sub-goal"""
    gripper_snap: float | None = None
    """None: gripper changes are continuous (the paper). A number s: a planned gripper change of at least s in
    size is executed as a full close (+1) or open (-1), a smaller one as none. A picture cannot tell fingers
    1 mm short of an object from fingers squeezing it, so a continuous planner often stops closing just short
    of contact; a gripper that closes all the way (as a person's trigger does) grasps wherever the fingers meet
    the object. What the model scores depends on what its actions mean (``PlanningModel.actions_are_commands``):
    the simulator executes commands, so it scores the snapped action; the learned predictor reads an action as
    the state change it causes (the data records the observed change), and a full close on a 6 cm cup changes
    the closedness by 0.26, not 1, so it scores the planned change itself: +0.26 is what closing on the cup looks
    like to it, +1 would be fingers closing through the cup. ``s`` must then be below the change of a close on
    the object (0.26 cup, 0.30 box)"""
    retry_from: int | None = None
    """the sub-goal to go back to when the last goal stalls short of arrival (module docstring); None = never"""
    retries: int = 1
    """how many times per episode the chain may go back"""
    holding_subgoals: tuple[int, ...] = ()
    """sub-goals whose image shows the object held (the grasp chain's *closed*, *lifted*, *carried*, *lowered*):
    on them, a gripper that the robot measures closed beyond ``empty_closedness`` holds nothing (its fingers met
    each other, not the object: the cup stops them at 0.26, the box at 0.30), so the chain goes back to
    ``retry_from`` at once, without walking an empty gripper through the rest of the chain first. This reads the
    robot's own gripper width, as the state the predictor is given already does; the energy stays visual"""
    empty_closedness: float = 0.9
    """``holding_subgoals``, ``close_subgoal``: the measured closedness (0 open .. 1 closed) at or above which the
    gripper is empty"""
    close_subgoal: int | None = None
    """the sub-goal whose image shows the gripper closed on the object (the grasp chain's *closed*, 3): the agent
    moves on from it as soon as the robot measures its fingers stopped by something (closedness between
    ``stopped_closedness`` and ``empty_closedness``), instead of planning toward the *closed* image until its
    distance stalls. Those extra steps moved the arm while it held the object at the table: in pick-and-place cup
    seed 1030 one 1.6 cm step along the fingers' closing axis squeezed the cup out of the grasp. None = off"""
    stopped_closedness: float = 0.1
    """``close_subgoal``: the measured closedness at or above which the fingers have closed on something"""
    gripper_margin: float = 0.0
    """a planned gripper change is executed only when it earns its place: when the best plan with its gripper
    changes removed costs more than ``(1 + gripper_margin)`` times the best plan's cost. Where the energy barely
    depends on the gripper (far from the object, or while carrying), the best of a few dozen samples has a
    gripper change that is noise: snapped, it opens and closes the gripper at random and drops what it holds.
    0 = off (the paper)"""
    precision: str = "fp32"
    """the learned predictor's arithmetic while planning: ``fp32``, ``bf16`` or ``auto`` (:class:`PredictorModel`)"""
    path_weight: float = 0.0
    """the learned predictor's energy also scores the frames predicted on the way, with this weight
    (:class:`LatentEnergy`); 0 = the last frame only (the paper)"""
    fine_subgoals: tuple[int, ...] = ()
    """sub-goals on which the arm moves in finer steps: every planned translation times ``fine_scale`` (in the
    candidates scored and the action executed); e.g. the grasp chain's *over*, *around* and *closed* (1, 2, 3),
    where one long step can knock the object over, while reaching and carrying keep the long steps"""
    fine_scale: float = 1.0
    """the factor of ``fine_subgoals`` (0 < s <= 1)"""
    descent_subgoals: tuple[int, ...] = ()
    """sub-goals reached by moving straight down and closing in place (the grasp chain's *around* and *closed*, 2
    and 3: *over* is the last sideways alignment, and *around* is the same pose lower): on them every planned
    horizontal translation is multiplied by ``descent_scale`` (in the candidates scored and the action executed),
    the vertical one is not. Near the object the predictor's energy is nearly flat sideways, so CEM's sampling noise
    chose 2-3 cm sideways steps during the descent and the close, and the fingers pushed or tipped the cup (a close
    1.5 cm off its axis does not hold it)"""
    descent_scale: float = 1.0
    """the horizontal factor of ``descent_subgoals`` (0 < s <= 1)"""
    effort_weight: float = 0.0
    """a control-effort term added to the energy: this weight times the length (m) of every planned translation,
    as executed, summed over the plan's steps. Near the object the predicted energy is nearly flat (a 1 cm error
    raises it by 0.001-0.023), so CEM's choice among its samples is noise, and the arm wandered 1-3 cm per step
    around the cup; with the term, a move must lower the energy by more than it costs. Far from a sub-goal one 4
    cm step lowers the energy by about 0.1, so a weight of 0.5 (0.005 per cm) hardly changes those moves.
    0 = off (the paper)"""
    no_open_subgoals: tuple[int, ...] = ()
    """sub-goals whose image shows the object held (the grasp chain's *closed*, *lifted*, *carried*, *lowered*: 3-6):
    on them a planned gripper change is never an opening (negative changes become 0, in the candidates scored and
    the action executed). Where the energy hardly depends on the gripper (carrying), the best sample's gripper
    change is noise, and an opening drops the object; the chain's *placed* image, where the gripper opens, is not
    one of them. Going back (``retry_from``) reaches a sub-goal where opening is allowed again"""
    patient_subgoals: tuple[int, ...] = ()
    """sub-goals on which the stall rule waits ``patient_stall_steps`` steps instead of ``stall_steps``: long moves
    whose distance falls slowly at first (lifting, carrying, lowering the object), which two steps without a 10%
    new low leave too early, while the short ones of the grasp need the quick rule"""
    patient_stall_steps: int = 4
    """the stall rule's steps on ``patient_subgoals``"""
    patient_progress: float | None = None
    """the stall rule's ``min_progress`` on ``patient_subgoals`` (None: ``min_progress``). A long move closes a
    large latent distance a few percent per step (carrying the cup 4 cm toward its target: 0.377 -> 0.343, 9%), so
    a 10% new low every two steps leaves it half-way, while a smaller one still leaves it as soon as the distance
    stops falling"""
    seed: int = 0

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must name distinct views, got {self.views}")
        if self.view_weights is not None and (
            len(self.view_weights) != len(self.views) or min(self.view_weights) < 0 or sum(self.view_weights) <= 0
        ):
            raise ValueError(f"view_weights must be {len(self.views)} non-negative numbers, got {self.view_weights}")
        if not (0.0 < self.advance_ratio <= 1.0 and 0.0 <= self.min_progress < 1.0):
            raise ValueError(f"need 0 < advance_ratio <= 1 and 0 <= min_progress < 1, got {self.advance_ratio}, "
                             f"{self.min_progress}")  # fmt: skip
        if self.stall_steps < 0 or self.max_steps_per_subgoal < 1:
            raise ValueError(f"need stall_steps >= 0 and max_steps_per_subgoal >= 1, got {self.stall_steps}, "
                             f"{self.max_steps_per_subgoal}")  # fmt: skip
        if self.gripper_snap is not None and not 0.0 < self.gripper_snap <= 1.0:
            raise ValueError(f"gripper_snap must be in (0, 1] or None, got {self.gripper_snap}")
        if self.retry_from is not None and (self.retry_from < 0 or self.retries < 1 or self.stall_steps < 1):
            raise ValueError(f"retry_from needs retry_from >= 0, retries >= 1 and the stall rule (stall_steps >= 1), "
                             f"got {self.retry_from}, {self.retries}, {self.stall_steps}")  # fmt: skip
        if self.holding_subgoals and (self.retry_from is None or any(i < 0 for i in self.holding_subgoals)):
            raise ValueError(f"holding_subgoals need retry_from (where to go back to) and sub-goals >= 0, got "
                             f"{self.holding_subgoals}, retry_from {self.retry_from}")  # fmt: skip
        if not 0.0 < self.stopped_closedness < self.empty_closedness <= 1.0:
            raise ValueError(f"need 0 < stopped_closedness < empty_closedness <= 1, got {self.stopped_closedness}, "
                             f"{self.empty_closedness}")  # fmt: skip
        if self.close_subgoal is not None and self.close_subgoal < 0:
            raise ValueError(f"close_subgoal must be a sub-goal >= 0 or None, got {self.close_subgoal}")
        if not 0.0 <= self.gripper_margin < 10.0:
            raise ValueError(f"gripper_margin must be in [0, 10), got {self.gripper_margin}")
        if not 0.0 <= self.path_weight <= 10.0:
            raise ValueError(f"path_weight must be in [0, 10], got {self.path_weight}")
        if not 0.0 < self.fine_scale <= 1.0 or any(i < 0 for i in self.fine_subgoals):
            raise ValueError(
                f"need 0 < fine_scale <= 1 and sub-goals >= 0, got {self.fine_scale}, {self.fine_subgoals}"
            )
        if not 0.0 < self.descent_scale <= 1.0 or any(i < 0 for i in self.descent_subgoals):
            raise ValueError(f"need 0 < descent_scale <= 1 and sub-goals >= 0, got {self.descent_scale}, "
                             f"{self.descent_subgoals}")  # fmt: skip
        if not 0.0 <= self.effort_weight <= 100.0:
            raise ValueError(f"effort_weight must be in [0, 100], got {self.effort_weight}")
        if any(i < 0 for i in self.no_open_subgoals):
            raise ValueError(f"no_open_subgoals must be sub-goals >= 0, got {self.no_open_subgoals}")
        if self.patient_subgoals and (
            any(i < 0 for i in self.patient_subgoals) or self.patient_stall_steps < 1 or self.stall_steps < 1
        ):
            raise ValueError(f"patient_subgoals need sub-goals >= 0, patient_stall_steps >= 1 and the stall rule "
                             f"(stall_steps >= 1), got {self.patient_subgoals}, {self.patient_stall_steps}, "
                             f"{self.stall_steps}")  # fmt: skip
        if self.patient_progress is not None and not 0.0 <= self.patient_progress < 1.0:
            raise ValueError(f"patient_progress must be in [0, 1) or None, got {self.patient_progress}")

    def stall_steps_on(self, subgoal: int) -> int:
        """The stall rule's steps on sub-goal ``subgoal`` (``stall_steps``, or ``patient_stall_steps`` on the
        patient sub-goals)."""
        return self.patient_stall_steps if subgoal in self.patient_subgoals else self.stall_steps

    def min_progress_on(self, subgoal: int) -> float:
        """The stall rule's ``min_progress`` on sub-goal ``subgoal`` (``patient_progress`` on the patient ones)."""
        if subgoal in self.patient_subgoals and self.patient_progress is not None:
            return self.patient_progress
        return self.min_progress

    def snap(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions (..., 7) with the gripper change snapped as ``gripper_snap`` says (unchanged when None)."""
        if self.gripper_snap is None:
            return actions
        out = actions.clone()
        g = out[..., 6]
        out[..., 6] = torch.where(g.abs() >= self.gripper_snap, torch.sign(g), torch.zeros_like(g))
        return out

    @property
    def weights(self) -> dict[str, float]:
        raw = self.view_weights or (1.0,) * len(self.views)
        return {view: w / sum(raw) for view, w in zip(self.views, raw, strict=True)}


def arrived(history: Sequence[float], config: MPCConfig, subgoal: int) -> bool:
    """The advance rule (module docstring) on the distances to sub-goal ``subgoal`` so far (first = its start);
    the step limit is checked by the caller."""
    h = list(history)
    return h[-1] < config.advance_ratio * h[0] or stalled(h, config, subgoal)


def stalled(history: Sequence[float], config: MPCConfig, subgoal: int, quick: bool = False) -> bool:
    """The stall rule on sub-goal ``subgoal``: the last k distances (``MPCConfig.stall_steps_on``) set no new low
    ``MPCConfig.min_progress_on`` below the ones before. ``quick``: the rule of the impatient sub-goals
    (``stall_steps``, ``min_progress``) whatever the sub-goal."""
    h = list(history)
    k = config.stall_steps if quick else config.stall_steps_on(subgoal)
    progress = config.min_progress if quick else config.min_progress_on(subgoal)
    return k > 0 and len(h) > k and min(h[-k:]) > (1.0 - progress) * min(h[:-k])


def advance_points(distances: NDArray[np.floating], config: MPCConfig) -> list[int]:
    """Where the advance rule moves on when following a given trajectory: ``distances`` (T, K) of each frame to
    each of K sub-goals; returns the frame at which each of sub-goals 0..K-2 is left (fewer if never)."""
    points, current, history, steps = [], 0, [], 0
    for t in range(len(distances)):
        if current == distances.shape[1] - 1:
            break
        history.append(float(distances[t, current]))
        if arrived(history, config, current) or steps >= config.max_steps_per_subgoal:
            points.append(t)
            current, steps = current + 1, 0
            history = [float(distances[t, current])]
        steps += 1
    return points


@dataclass
class StepLog:
    action: NDArray[np.float64]
    energy: float
    """the planned energy of the chosen sequence"""
    distance: float
    """latent L1 distance of the current frame to the current goal"""
    subgoal: int
    seconds: float
    """planning time of this step (encode + plan)"""


class MPCAgent:
    """``reset(goals)`` per episode, then ``act(observation, state)`` every control step. A goal (or a sub-goal)
    is one image per view of ``config.views``; with the single exterior view, plain images are accepted too."""

    def __init__(
        self,
        encoder: FrozenEncoder,
        model: ACPredictor | PlanningModel,
        planner: SamplingPlanner,
        config: MPCConfig | None = None,
    ) -> None:
        """``model``: a predictor (planned through :class:`PredictorModel`) or any :class:`PlanningModel`."""
        self.config = config or MPCConfig()
        if isinstance(model, ACPredictor):
            if (encoder.num_tokens, encoder.dim) != (model.config.view_tokens, model.config.token_dim):
                raise ValueError(
                    f"the encoder gives {encoder.num_tokens} tokens of width {encoder.dim}, the predictor expects "
                    f"{model.config.view_tokens} of width {model.config.token_dim}"
                )
            model = PredictorModel(model, self.config.precision, self.config.path_weight)
        if self.config.path_weight and getattr(model, "path_weight", None) != self.config.path_weight:
            raise ValueError(f"path_weight {self.config.path_weight} needs a model that scores the predicted path "
                             f"(the learned predictor); {type(model).__name__} scores the last frame only")  # fmt: skip
        missing = [v for v in self.config.views if v not in model.views]
        if missing:
            raise ValueError(
                f"the agent observes the views {self.config.views} but its model knows only {model.views}: "
                f"a model trained on {model.views} cannot plan with {missing}"
            )
        if isinstance(model, PredictorModel) and set(model.views) != set(self.config.views):
            raise ValueError(
                f"the predictor was trained on the views {model.views} and needs every one of them, but the agent "
                f"observes only {self.config.views}: plan with --views {','.join(model.views)}"
            )
        self.encoder, self.model, self.planner = encoder, model, planner
        self.weights = self.config.weights
        self.device = model.device
        self.goals: Latents | None = None
        self.log: list[StepLog] = []

    def _as_views(self, observation: NDArray[np.uint8] | Views, what: str) -> dict[str, NDArray[np.uint8]]:
        if isinstance(observation, np.ndarray):
            if self.config.views != (EXTERIOR,):
                raise ValueError(f"{what} is a single image but the agent observes the views {self.config.views}")
            return {EXTERIOR: observation}
        missing = [v for v in self.config.views if v not in observation]
        if missing:
            raise ValueError(f"{what} lacks the view(s) {missing}; the agent observes {self.config.views}")
        return {v: observation[v] for v in self.config.views}

    def reset(self, goals: Sequence[NDArray[np.uint8] | Views]) -> None:
        """Start an episode toward ``goals``: one goal, or sub-goals in order; each an image per view (uint8
        (H, W, 3)) or, with the exterior view alone, one image."""
        if len(goals) == 0:
            raise ValueError("the agent needs at least one goal image")
        chain = [self._as_views(goal, f"goal {i}") for i, goal in enumerate(goals)]
        for i, goal in enumerate(chain):
            for view, image in goal.items():
                if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                    raise ValueError(
                        f"goal image {i} ({view}) must be uint8 (H, W, 3), got {image.dtype} {image.shape}"
                    )
        shapes = {image.shape for goal in chain for image in goal.values()}
        if len(shapes) > 1:
            raise ValueError(f"goal images differ in size: {sorted(shapes)}")
        self._goal_shape: tuple[int, ...] = next(iter(shapes))
        self.goals = {view: self._encode(np.stack([goal[view] for goal in chain])) for view in self.config.views}
        self.num_goals = len(chain)
        self.subgoal, self.steps_on_subgoal, self.retried = 0, 0, 0
        self.history: list[float] = []
        self.previous: Plan | None = None
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.log = []

    @torch.inference_mode()
    def _encode(self, images: NDArray[np.uint8]) -> torch.Tensor:
        return self.encoder.encode(images).to(self.device, torch.float32)

    def _goal(self, index: int) -> Latents:
        assert self.goals is not None
        return {view: tokens[index] for view, tokens in self.goals.items()}

    @torch.inference_mode()
    def act(self, observation: NDArray[np.uint8] | Views, state: NDArray[np.floating]) -> NDArray[np.float64]:
        """The action to execute now (7,), planned from the current camera image(s) and state."""
        if self.goals is None:
            raise RuntimeError("call reset(goals) before act()")
        views = self._as_views(observation, "the observation")
        for image in views.values():
            if image.shape != self._goal_shape:
                raise ValueError(
                    f"the camera image is {image.shape} but the goal images are {self._goal_shape}: frame the goal "
                    "images like the camera (same size, same crop)"
                )
        state_t = torch.as_tensor(np.asarray(state, dtype=np.float32), device=self.device)
        if state_t.shape != (7,) or not torch.isfinite(state_t).all():
            raise ValueError(f"state must be 7 finite floats, got {np.asarray(state)}")
        start = time.perf_counter()
        tokens = self._encode(np.stack(list(views.values())))  # every view in one batch
        z = dict(zip(views, tokens, strict=True))
        distance = self._advance(z, float(state_t[6]))
        plan = self._plan(z, state_t)
        last = self.subgoal == self.num_goals - 1
        if self.config.plan_arrival and not last and plan.cost >= (1.0 - self.config.min_progress) * distance:
            # the best plan found gets no closer to this sub-goal: the planner has arrived; aim at the next one
            self._next_subgoal(z)
            distance = self.history[-1]
            plan = self._plan(z, state_t)
        self.previous = plan
        action = self.config.snap(self._fine(plan.actions[0])).double().cpu().numpy()
        self.log.append(StepLog(action, plan.cost, distance, self.subgoal, time.perf_counter() - start))
        return action

    def _plan(self, z: Latents, state: torch.Tensor) -> Plan:
        scored = self.model.energy(z, state, self._goal(self.subgoal), self.weights)
        snap_scored = self.config.gripper_snap is not None and self.model.actions_are_commands
        fine, effort = self._fine, self.config.effort_weight

        def energy(actions: torch.Tensor) -> torch.Tensor:
            executed = fine(actions)
            cost = scored(self.config.snap(executed) if snap_scored else executed)
            if effort:
                cost = cost + effort * executed[..., :3].norm(dim=-1).sum(dim=-1).to(cost.dtype)
            return cost

        warm = shift_plan(self.previous.actions) if (self.config.warm_start and self.previous is not None) else None
        plan = self.planner.plan(energy, warm=warm, generator=self.generator, device=self.device)
        if self.config.gripper_margin > 0 and float(self.config.snap(plan.actions[0])[6]) != 0.0:
            held = plan.actions.clone()
            held[:, 6] = 0.0
            cost = float(energy(held[None])[0])
            if cost <= plan.cost + self.config.gripper_margin * abs(plan.cost):  # the change earns too little
                plan = Plan(held, cost, plan.costs, plan.evaluations + 1)
        return plan

    def _fine(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions (..., 7) as executed on the current sub-goal: translations times ``fine_scale`` on the sub-goals
        of ``fine_subgoals``, horizontal ones times ``descent_scale`` on ``descent_subgoals``, no gripper opening
        on ``no_open_subgoals`` (unchanged elsewhere). Applied before scoring and before execution."""
        cfg = self.config
        fine, descent = self.subgoal in cfg.fine_subgoals, self.subgoal in cfg.descent_subgoals
        no_open = self.subgoal in cfg.no_open_subgoals
        if not (fine or descent or no_open):
            return actions
        out = actions.clone()
        if fine:
            out[..., :3] *= cfg.fine_scale
        if descent:
            out[..., :2] *= cfg.descent_scale
        if no_open:
            out[..., 6] = out[..., 6].clamp(min=0.0)
        return out

    def _next_subgoal(self, z: Latents, index: int | None = None) -> None:
        self.subgoal = self.subgoal + 1 if index is None else index
        self.steps_on_subgoal = 1
        self.previous = None
        self.history = [self.distance(z, self.subgoal)]

    def distance(self, z: Latents, index: int) -> float:
        """The energy's distance of the encoded frames ``z`` to goal ``index``."""
        return float(weighted_distance(z, self._goal(index), self.weights))

    def _may_retry(self) -> bool:
        cfg = self.config
        return cfg.retry_from is not None and cfg.retry_from < self.subgoal and self.retried < cfg.retries

    def _advance(self, z: Latents, closedness: float = 0.0) -> float:
        """Move on to the next sub-goal (or back) when the rules of the module docstring say so; ``closedness``:
        the gripper's as measured now. Returns the distance of ``z`` to the (possibly new) current goal."""
        self.history.append(self.distance(z, self.subgoal))
        cfg = self.config
        last = self.subgoal == self.num_goals - 1
        h = self.history
        empty = self.subgoal in cfg.holding_subgoals and closedness >= cfg.empty_closedness  # closed on nothing
        gave_up = (  # the last goal stalls short of arrival; going back keeps the quick rule
            last and h[-1] >= cfg.advance_ratio * h[0] and stalled(h, cfg, self.subgoal, quick=True)
        )
        grasp_made = self.subgoal == cfg.close_subgoal and cfg.stopped_closedness <= closedness < cfg.empty_closedness
        if (empty or gave_up) and self._may_retry():
            self.retried += 1
            self._next_subgoal(z, cfg.retry_from)
        elif not last and (
            grasp_made or arrived(h, cfg, self.subgoal) or self.steps_on_subgoal >= cfg.max_steps_per_subgoal
        ):
            self._next_subgoal(z)
        else:
            self.steps_on_subgoal += 1
        return self.history[-1]
