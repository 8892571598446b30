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
With ``close_subgoal`` it leaves the close as soon as the fingers are measured stopped by the object, and with
``set_down_subgoal`` the setting down as soon as the arm is measured stopped on its way down (the object is on the
table).

What is scored and executed on a sub-goal can be shaped (:meth:`MPCAgent._shaped`): shorter steps
(``fine_subgoals``), straight descents (``descent_subgoals``), no opening while the object should be held
(``no_open_subgoals``); ``effort_weight`` adds a control-effort term to the energy. The settings and the sub-goal
rules live in :mod:`agents.mpc_config`.

Visual servoing (``servo_subgoals``): where the advance rule would leave one of those sub-goals, the agent first
moves the arm in small probes and keeps those that lower the distance it *observes* (:mod:`agents.servo`); the
sub-goal is left when the search ends. The planner is not called during the search.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from agents.mpc_config import MPCConfig, advance_points, arrived, stalled
from agents.planning_model import (
    EXTERIOR,
    Latents,
    PlanningModel,
    PredictorModel,
    Views,
    weighted_distance,
)
from agents.servo import SEARCHES, Search
from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.planning.base import Plan, SamplingPlanner, shift_plan
from jepa_sim.predictor.model import ACPredictor

__all__ = ["MPCAgent", "MPCConfig", "StepLog", "advance_points", "arrived", "stalled"]


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
        self.servo: Search | None = None
        self.servoed: set[int] = set()
        self.descent: tuple[float, float] | None = None  # the last step's tool height and commanded height change
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
        # during a servo search the sub-goal rules wait: the search decides when the sub-goal is left
        if self.servo is None:
            distance = self._advance(z, float(state_t[6]), self._stopped_descending(float(state_t[2])))
        else:
            distance = self._servo_distance(z)
        if self.servo is not None:
            move = self.servo.next(distance)
            if move is not None:
                action = np.zeros(7)
                action[:3] = move
                self.log.append(StepLog(action, distance, distance, self.subgoal, time.perf_counter() - start))
                self.descent = (float(state_t[2]), float(action[2]))
                return action
            self.servo = None
            self._next_subgoal(z)
            distance = self.history[-1]
        plan = self._plan(z, state_t)
        last = self.subgoal == self.num_goals - 1
        if self.config.plan_arrival and not last and plan.cost >= (1.0 - self.config.min_progress) * distance:
            # the best plan found gets no closer to this sub-goal: the planner has arrived; aim at the next one
            self._next_subgoal(z)
            distance = self.history[-1]
            plan = self._plan(z, state_t)
        self.previous = plan
        action = self.config.snap(self._shaped(plan.actions[0])).double().cpu().numpy()
        self.log.append(StepLog(action, plan.cost, distance, self.subgoal, time.perf_counter() - start))
        self.descent = (float(state_t[2]), float(action[2]))
        return action

    def _stopped_descending(self, height: float) -> bool:
        """The arm was commanded at least ``set_down_drop`` down last step and went less than ``set_down_fraction``
        of it (measured tool ``height`` now against then)."""
        if self.descent is None:
            return False
        before, commanded = self.descent
        cfg = self.config
        return commanded <= -cfg.set_down_drop and before - height < cfg.set_down_fraction * -commanded

    def _plan(self, z: Latents, state: torch.Tensor) -> Plan:
        scored = self.model.energy(z, state, self._goal(self.subgoal), self.config.weights_on(self.subgoal))
        snap_scored = self.config.gripper_snap is not None and self.model.actions_are_commands
        shaped, effort = self._shaped, self.config.effort_weight

        def energy(actions: torch.Tensor) -> torch.Tensor:
            executed = shaped(actions)
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

    def _shaped(self, actions: torch.Tensor) -> torch.Tensor:
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
        return float(weighted_distance(z, self._goal(index), self.config.weights_on(index)))

    def _servo_distance(self, z: Latents) -> float:
        """The observed distance a servo search compares: ``servo_view``'s alone, or the sub-goal's energy."""
        view = self.config.servo_view
        if view is None:
            return self.distance(z, self.subgoal)
        return float(weighted_distance(z, self._goal(self.subgoal), self.config.alone(view)))

    def _may_retry(self) -> bool:
        cfg = self.config
        return cfg.retry_from is not None and cfg.retry_from < self.subgoal and self.retried < cfg.retries

    def _advance(self, z: Latents, closedness: float = 0.0, stopped: bool = False) -> float:
        """Move on to the next sub-goal (or back) when the rules of the module docstring say so; ``closedness``:
        the gripper's as measured now; ``stopped``: the arm was measured stopped on its way down last step.
        Returns the distance of ``z`` to the (possibly new) current goal."""
        self.history.append(self.distance(z, self.subgoal))
        cfg = self.config
        last = self.subgoal == self.num_goals - 1
        h = self.history
        empty = self.subgoal in cfg.holding_subgoals and closedness >= cfg.empty_closedness  # closed on nothing
        gave_up = (  # the last goal stalls short of arrival; going back keeps the quick rule
            last and h[-1] >= cfg.advance_ratio * h[0] and stalled(h, cfg, self.subgoal, quick=True)
        )
        grasp_made = self.subgoal == cfg.close_subgoal and cfg.stopped_closedness <= closedness < cfg.empty_closedness
        set_down = self.subgoal == cfg.set_down_subgoal and stopped
        if (empty or gave_up) and self._may_retry():
            self.retried += 1
            self.servoed.clear()  # the chain is walked again: so is its servoing
            self._next_subgoal(z, cfg.retry_from)
        elif not last and (
            grasp_made
            or set_down
            or arrived(h, cfg, self.subgoal)
            or self.steps_on_subgoal >= cfg.max_steps_per_subgoal
        ):
            if self.subgoal in cfg.servo_subgoals and self.subgoal not in self.servoed:  # refine it first (act)
                self.servoed.add(self.subgoal)
                self.servo = SEARCHES[cfg.servo_method](
                    self._servo_distance(z), cfg.servo_step, cfg.servo_min_step, cfg.servo_steps
                )
            else:
                self._next_subgoal(z)
        else:
            self.steps_on_subgoal += 1
        return self.history[-1]
