"""Model-predictive path integral control: every sample counts, weighted by the exponential of its cost."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jepa_sim.planning.base import ActionBounds, CostFn, Plan, check_cost


@dataclass(frozen=True)
class MPPIConfig:
    horizon: int = 2
    samples: int = 256
    iterations: int = 4
    temperature: float = 0.1
    """softmax temperature, relative to the spread (std) of the costs of an iteration: scale-free"""
    init_std: float = 1.0
    """initial std of each free dimension, as a fraction of its bound"""
    min_std: float = 0.02

    def __post_init__(self) -> None:
        if min(self.horizon, self.samples, self.iterations) < 1:
            raise ValueError(f"need horizon, samples and iterations >= 1, got {self}")
        if not (self.temperature > 0 and self.init_std > 0 and self.min_std >= 0):
            raise ValueError(f"need temperature > 0, init_std > 0, min_std >= 0, got {self}")


class MPPI:
    """Same interface as :class:`~jepa_sim.planning.cem.CEM`: ``plan(cost)`` -> the best sequence seen."""

    def __init__(self, config: MPPIConfig | None = None, bounds: ActionBounds | None = None) -> None:
        self.config, self.bounds = config or MPPIConfig(), bounds or ActionBounds()

    def plan(
        self,
        cost: CostFn,
        warm: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Plan:
        cfg = self.config
        high = self.bounds.high().to(device)
        free = high > 0
        mean = torch.zeros(cfg.horizon, 7, device=device)
        if warm is not None:
            if warm.shape != (cfg.horizon, 7):
                raise ValueError(f"warm start must be ({cfg.horizon}, 7), got {tuple(warm.shape)}")
            mean = self.bounds.clip(warm.to(device).float()) * free
        std = high * cfg.init_std * torch.ones(cfg.horizon, 1, device=device)
        floor = high * cfg.min_std
        best, best_cost, history = mean, float("inf"), []
        for _ in range(cfg.iterations):
            noise = torch.randn(cfg.samples, cfg.horizon, 7, generator=generator).to(device)
            candidates = self.bounds.clip(mean + std * noise) * free
            candidates[0] = mean
            costs = check_cost(cost(candidates), cfg.samples)
            i = int(torch.argmin(costs))
            if float(costs[i]) < best_cost:
                best, best_cost = candidates[i].clone(), float(costs[i])
            finite = torch.isfinite(costs)
            spread = costs[finite].std() if int(finite.sum()) > 1 else torch.tensor(1.0)
            weights = torch.softmax(-(costs - costs[i]) / (cfg.temperature * spread.clamp_min(1e-8)), dim=0)
            mean = (weights[:, None, None] * candidates).sum(0)
            var = (weights[:, None, None] * (candidates - mean) ** 2).sum(0)
            std = torch.maximum(var.sqrt(), floor)
            history.append(best_cost)
        return Plan(best, best_cost, history, cfg.samples * cfg.iterations)
