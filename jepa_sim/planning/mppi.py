"""Model-predictive path integral control: every sample counts, weighted by the exponential of its cost."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jepa_sim.planning.base import ActionBounds, CostFn, Plan, Sampler, check_cost


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
        gauss = Sampler.start(self.bounds, cfg.horizon, cfg.init_std, cfg.min_std, warm, device)
        best, best_cost, history = gauss.mean, float("inf"), []
        for _ in range(cfg.iterations):
            candidates = gauss.sample(cfg.samples, generator)
            costs = check_cost(cost(candidates), cfg.samples)
            i = int(torch.argmin(costs))
            if float(costs[i]) < best_cost:
                best, best_cost = candidates[i].clone(), float(costs[i])
            finite = torch.isfinite(costs)
            spread = costs[finite].std() if int(finite.sum()) > 1 else torch.tensor(1.0)
            weights = torch.softmax(-(costs - costs[i]) / (cfg.temperature * spread.clamp_min(1e-8)), dim=0)
            gauss.mean = (weights[:, None, None] * candidates).sum(0)
            var = (weights[:, None, None] * (candidates - gauss.mean) ** 2).sum(0)
            gauss.std = torch.maximum(var.sqrt(), gauss.floor)
            history.append(best_cost)
        return Plan(best, best_cost, history, cfg.samples * cfg.iterations)
