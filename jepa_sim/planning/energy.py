"""The planning energy of V-JEPA 2-AC: L1 distance between the predicted final latent and the goal latent."""

from __future__ import annotations

from collections.abc import Mapping

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
    predicted frame, from one observed history (run once, shared by every call and candidate). With a predictor
    of several views, the sum over views of ``weights[view]`` x that view's mean (equal weights by default:
    the plain mean over every token).

    ``path_weight`` w > 0 adds w times the mean distance of the frames predicted on the way (steps 1..H-1): the
    paper scores the last frame only, so the first action of a two-step plan may go anywhere the second can come
    back from, and with 7.5 cm steps "anywhere" passes through the object (the cup knocked over on the way to
    the image just over it). Only the first action is executed, so it is the one that should make progress."""

    def __init__(
        self,
        predictor: ACPredictor,
        observed: Observed,
        goal: torch.Tensor,
        weights: Mapping[str, float] | None = None,
        path_weight: float = 0.0,
    ) -> None:
        cfg = predictor.config
        if not 0.0 <= path_weight <= 10.0:
            raise ValueError(f"path_weight must be in [0, 10], got {path_weight}")
        if goal.shape != (cfg.num_tokens, cfg.token_dim):
            raise ValueError(f"goal tokens must be ({cfg.num_tokens}, {cfg.token_dim}), got {tuple(goal.shape)}")
        weights = dict(weights) if weights is not None else {v: 1.0 / len(cfg.views) for v in cfg.views}
        if set(weights) != set(cfg.views):
            raise ValueError(f"weights must be given for the predictor's views {cfg.views}, got {tuple(weights)}")
        self.predictor, self.observed, self.goal = predictor, observed, goal
        self.path_weight = path_weight
        # compared in the predictor's folded token order (a permutation within each view: the same mean)
        self.folded_goal = predictor.fold(goal)
        self.weights = torch.tensor([weights[v] for v in cfg.views], device=goal.device, dtype=goal.dtype)

    @torch.inference_mode()
    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        states = integrate_states(self.observed.state, actions)
        imagined = self.predictor.imagine_folded(self.observed, actions, states)  # (K, H, N', D')
        if self.path_weight == 0 or imagined.shape[1] == 1:
            return self._distance(imagined[:, -1])
        on_the_way = torch.stack([self._distance(imagined[:, h]) for h in range(imagined.shape[1] - 1)]).mean(0)
        return self._distance(imagined[:, -1]) + self.path_weight * on_the_way

    def _distance(self, frame: torch.Tensor) -> torch.Tensor:
        """(K, N', D') folded predicted tokens -> (K,) weighted mean |frame - goal| over each view."""
        per_view = (frame - self.folded_goal).abs().reshape(frame.shape[0], len(self.weights), -1).mean(dim=2)
        return per_view @ self.weights


def energy_landscape(
    energy: LatentEnergy,
    extent: float = 0.075,
    points: int = 21,
    axes: tuple[int, int] = (0, 1),
    fixed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The energy of one-step actions over a grid of two translation axes (default x and y) within
    +-``extent`` m, the other action dimensions from ``fixed`` (7,) (default 0). Returns (values of the
    first axis (P,), values of the second (P,), energies (P, P) indexed [first, second]); for notebooks."""
    if points < 2 or extent <= 0 or len(set(axes)) != 2 or not all(0 <= a < 3 for a in axes):
        raise ValueError(
            f"need points >= 2, extent > 0 and two distinct axes among 0, 1, 2; got {points}, {extent}, {axes}"
        )
    values = torch.linspace(-extent, extent, points)
    first, second = torch.meshgrid(values, values, indexing="ij")
    actions = (fixed.clone().float() if fixed is not None else torch.zeros(7)).repeat(points * points, 1)
    actions[:, axes[0]] = first.reshape(-1)
    actions[:, axes[1]] = second.reshape(-1)
    costs = energy(actions[:, None].to(energy.goal.device))
    return values, values.clone(), costs.reshape(points, points).cpu()
