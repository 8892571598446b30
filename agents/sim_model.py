"""The simulator itself as the MPC agent's model: the planner's own ceiling.

Every candidate action sequence is executed in the real physics from the current simulation state
(``FrankaTableEnv.preview``, which puts the state back afterwards), its final camera frame is encoded, and the
cost is the same latent L1 to the goal as the learned model's. With a perfect model, what is left of the gap
to the oracle belongs to the energy (encoder and goal images) and the planner, not the predictor.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from agents.planning_model import Latents, weighted_distance
from envs.franka_env import EXTERIOR_VIEW, VIEWS, FrankaTableEnv
from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.planning.base import CostFn


class SimulatorModel:
    """A :class:`agents.planning_model.PlanningModel` that looks ahead in ``env``, the very env being acted in, from
    any of its views (``exterior``, and ``wrist`` when the env has the wrist camera)."""

    def __init__(self, env: FrankaTableEnv, encoder: FrozenEncoder, device: torch.device | str = "cpu") -> None:
        self.env, self.encoder, self.device = env, encoder, torch.device(device)
        self.views: tuple[str, ...] = VIEWS if env.config.wrist_camera else (EXTERIOR_VIEW,)
        self.actions_are_commands = True  # each candidate is executed as the robot would execute it

    def energy(self, z: Latents, state: torch.Tensor, goal: Latents, weights: Mapping[str, float]) -> CostFn:
        now = self.env.controller.state(self.env.data)
        if not np.allclose(now, state.detach().cpu().double().numpy(), atol=1e-5):
            raise ValueError(
                f"the simulator model's env is at state {np.round(now, 4)} but the agent observed "
                f"{np.round(state.cpu().numpy(), 4)}: give the model the env the agent acts in"
            )
        views = tuple(weights)

        @torch.inference_mode()
        def cost(actions: torch.Tensor) -> torch.Tensor:
            sequences = actions.detach().cpu().double().numpy()
            previews = [self.env.preview_views(seq, views) for seq in sequences]
            final = {
                view: self.encoder.encode(np.stack([p[view] for p in previews])).to(self.device, torch.float32)
                for view in views
            }
            return weighted_distance(final, {v: g.to(self.device) for v, g in goal.items()}, weights)

        return cost
