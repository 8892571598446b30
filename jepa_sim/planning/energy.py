"""The planning energy of V-JEPA 2-AC: L1 distance between the predicted final latent and the goal latent."""

from __future__ import annotations

import numpy as np
import torch

from jepa_sim.geometry import apply_action
from jepa_sim.predictor.model import ACPredictor, Observed


def integrate_states(state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The state at the start of each planned step: ``(K, H, 7)`` from the current ``state`` (7,) and the
    actions (K, H, 7), integrated analytically (position adds, rotation composes, gripper adds and clips)."""
    k, h, _ = actions.shape
    a = actions.detach().cpu().double().numpy()
    out = np.empty((k, h, 7))
    current = np.broadcast_to(state.detach().cpu().double().numpy(), (k, 7))
    for t in range(h):
        out[:, t] = current
        current = apply_action(current, a[:, t])
    return torch.from_numpy(out).to(actions.device, actions.dtype)


class LatentEnergy:
    """``energy(actions (K, H, 7)) -> (K,)``: mean |z_hat_H - z_goal| over every token and feature of the last
    predicted frame, from one observed history (run once, shared by every call and candidate)."""

    def __init__(self, predictor: ACPredictor, observed: Observed, goal: torch.Tensor) -> None:
        cfg = predictor.config
        if goal.shape != (cfg.num_tokens, cfg.token_dim):
            raise ValueError(f"goal tokens must be ({cfg.num_tokens}, {cfg.token_dim}), got {tuple(goal.shape)}")
        self.predictor, self.observed, self.goal = predictor, observed, goal

    @torch.inference_mode()
    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        states = integrate_states(self.observed.state, actions)
        final = self.predictor.imagine(self.observed, actions, states)[:, -1]
        return (final - self.goal).abs().mean(dim=(1, 2))
