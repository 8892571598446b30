"""The MPC agent of V-JEPA 2-AC: encode the current frame, plan toward the goal latent with the predictor as
the model, execute the first planned action, observe, replan. The model is pluggable (:class:`PlanningModel`):
the learned predictor, or the simulator itself (``agents.sim_model``) to measure the planner's own ceiling.

Sub-goals (pick-and-place: grasped, carried, placed) are pursued in order. The agent moves on to the next
one when the latent distance of the current frame to the current sub-goal falls below
``advance_ratio`` times that distance when the sub-goal was taken up (the frame now looks much more like the
sub-goal than at the start), or after ``max_steps_per_subgoal`` steps on it. The last goal is never left.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.planning.base import CostFn, Plan, SamplingPlanner, shift_plan
from jepa_sim.planning.energy import LatentEnergy
from jepa_sim.predictor.model import ACPredictor


class PlanningModel(Protocol):
    """What the agent plans with: an energy over candidate action sequences from the current instant."""

    device: torch.device

    def energy(self, z: torch.Tensor, state: torch.Tensor, goal: torch.Tensor) -> CostFn:
        """The cost (K, H, 7) -> (K,) of reaching ``goal`` (N, D) from the frame encoded as ``z`` (N, D) at
        ``state`` (7,)."""
        ...


class PredictorModel:
    """The learned world model: the predictor imagines each candidate's final latent (:class:`LatentEnergy`);
    the current frame is observed once per step and its cache shared by every candidate and iteration."""

    def __init__(self, predictor: ACPredictor) -> None:
        self.predictor = predictor.eval()
        self.device = next(predictor.parameters()).device

    def energy(self, z: torch.Tensor, state: torch.Tensor, goal: torch.Tensor) -> CostFn:
        observed = self.predictor.observe(z[None], torch.zeros(0, 7, device=self.device), state[None])
        return LatentEnergy(self.predictor, observed, goal)


@dataclass(frozen=True)
class MPCConfig:
    warm_start: bool = True
    """start each plan from the previous plan shifted by one step"""
    advance_ratio: float = 0.5
    """move to the next sub-goal when the distance to the current one falls below this fraction of its start"""
    max_steps_per_subgoal: int = 25
    seed: int = 0


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
    """``reset(goal_images)`` per episode, then ``act(image, state)`` every control step."""

    def __init__(
        self,
        encoder: FrozenEncoder,
        model: ACPredictor | PlanningModel,
        planner: SamplingPlanner,
        config: MPCConfig | None = None,
    ) -> None:
        """``model``: a predictor (planned through :class:`PredictorModel`) or any :class:`PlanningModel`."""
        if isinstance(model, ACPredictor):
            if (encoder.num_tokens, encoder.dim) != (model.config.num_tokens, model.config.token_dim):
                raise ValueError(
                    f"the encoder gives {encoder.num_tokens} tokens of width {encoder.dim}, the predictor expects "
                    f"{model.config.num_tokens} of width {model.config.token_dim}"
                )
            model = PredictorModel(model)
        self.encoder, self.model, self.planner = encoder, model, planner
        self.config = config or MPCConfig()
        self.device = model.device
        self.goals: torch.Tensor | None = None
        self.log: list[StepLog] = []

    def reset(self, goal_images: Sequence[NDArray[np.uint8]]) -> None:
        """Start an episode toward ``goal_images`` (one goal, or sub-goals in order; uint8 (H, W, 3) each)."""
        if len(goal_images) == 0:
            raise ValueError("the agent needs at least one goal image")
        for i, image in enumerate(goal_images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"goal image {i} must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
        shapes = {image.shape for image in goal_images}
        if len(shapes) > 1:
            raise ValueError(f"goal images differ in size: {sorted(shapes)}")
        self._goal_shape: tuple[int, ...] = goal_images[0].shape
        self.goals = self._encode(np.stack(list(goal_images)))
        self.subgoal, self.steps_on_subgoal = 0, 0
        self.start_distance: float | None = None
        self.previous: Plan | None = None
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.log = []

    @torch.inference_mode()
    def _encode(self, images: NDArray[np.uint8]) -> torch.Tensor:
        return self.encoder.encode(images).to(self.device, torch.float32)

    @torch.inference_mode()
    def act(self, image: NDArray[np.uint8], state: NDArray[np.floating]) -> NDArray[np.float64]:
        """The action to execute now (7,), planned from the current camera image and state."""
        if self.goals is None:
            raise RuntimeError("call reset(goal_images) before act()")
        if image.shape != self._goal_shape:
            raise ValueError(
                f"the camera image is {image.shape} but the goal images are {self._goal_shape}: frame the goal "
                "images like the camera (same size, same crop)"
            )
        state_t = torch.as_tensor(np.asarray(state, dtype=np.float32), device=self.device)
        if state_t.shape != (7,) or not torch.isfinite(state_t).all():
            raise ValueError(f"state must be 7 finite floats, got {np.asarray(state)}")
        start = time.perf_counter()
        z = self._encode(image[None])[0]
        distance = self._advance(z)
        energy = self.model.energy(z, state_t, self.goals[self.subgoal])
        warm = shift_plan(self.previous.actions) if (self.config.warm_start and self.previous is not None) else None
        plan = self.planner.plan(energy, warm=warm, generator=self.generator, device=self.device)
        self.previous = plan
        action = plan.actions[0].double().cpu().numpy()
        self.log.append(StepLog(action, plan.cost, distance, self.subgoal, time.perf_counter() - start))
        return action

    def _advance(self, z: torch.Tensor) -> float:
        """Move on to the next sub-goal when the rule of the module docstring says so; returns the distance of
        ``z`` to the (possibly new) current goal."""
        assert self.goals is not None
        distance = float((z - self.goals[self.subgoal]).abs().mean())
        start = self.start_distance = distance if self.start_distance is None else self.start_distance
        last = self.subgoal == len(self.goals) - 1
        close = distance < self.config.advance_ratio * start
        if not last and (close or self.steps_on_subgoal >= self.config.max_steps_per_subgoal):
            self.subgoal += 1
            self.steps_on_subgoal = 0
            self.previous = None
            distance = float((z - self.goals[self.subgoal]).abs().mean())
            self.start_distance = distance
        self.steps_on_subgoal += 1
        return distance
