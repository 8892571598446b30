"""The simulator itself as the MPC agent's model: the planner's own ceiling.

Every candidate action sequence is executed in the real physics from the current simulation state
(``FrankaTableEnv.preview``, which puts the state back afterwards), its final camera frame is encoded, and the
cost is the same latent L1 to the goal as the learned model's. With a perfect model, what is left of the gap
to the oracle belongs to the energy (encoder and goal images) and the planner, not the predictor.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.franka_env import FrankaTableEnv
from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.planning.base import CostFn


class SimulatorModel:
    """A :class:`agents.mpc.PlanningModel` that looks ahead in ``env``, the very env being acted in."""

    def __init__(self, env: FrankaTableEnv, encoder: FrozenEncoder, device: torch.device | str = "cpu") -> None:
        self.env, self.encoder, self.device = env, encoder, torch.device(device)

    def energy(self, z: torch.Tensor, state: torch.Tensor, goal: torch.Tensor) -> CostFn:
        now = self.env.controller.state(self.env.data)
        if not np.allclose(now, state.detach().cpu().double().numpy(), atol=1e-5):
            raise ValueError(
                f"the simulator model's env is at state {np.round(now, 4)} but the agent observed "
                f"{np.round(state.cpu().numpy(), 4)}: give the model the env the agent acts in"
            )

        @torch.inference_mode()
        def cost(actions: torch.Tensor) -> torch.Tensor:
            sequences = actions.detach().cpu().double().numpy()
            frames = np.stack([self.env.preview(seq) for seq in sequences])
            final = self.encoder.encode(frames).to(self.device, torch.float32)
            return (final - goal.to(self.device)).abs().mean(dim=(1, 2))

        return cost
