"""The cross-entropy method of V-JEPA 2-AC: sample around a Gaussian, refit it to the top-k, repeat."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jepa_sim.planning.base import ActionBounds, CostFn, Plan, Sampler, check_cost


@dataclass(frozen=True)
class CEMConfig:
    horizon: int = 2
    samples: int = 400
    topk: int = 10
    iterations: int = 10
    momentum: float = 0.15
    """weight of the old mean and std when refitting to the elites (0 = replace them)"""
    init_std: float = 1.0
    """initial std of each free dimension, as a fraction of its bound"""
    min_std: float = 0.02
    """floor of the std, as a fraction of the bound (keeps sampling alive)"""

    def __post_init__(self) -> None:
        if min(self.horizon, self.samples, self.topk, self.iterations) < 1 or self.topk > self.samples:
            raise ValueError(f"need horizon, samples, iterations >= 1 and 1 <= topk <= samples, got {self}")
        if not (0.0 <= self.momentum < 1.0 and self.init_std > 0 and self.min_std >= 0):
            raise ValueError(f"need 0 <= momentum < 1, init_std > 0, min_std >= 0, got {self}")


class CEM:
    """``plan(cost)`` returns the best action sequence of ``config.horizon`` steps found within ``bounds``;
    dimensions whose bound is 0 stay at 0. The current mean is always among the samples, so the best cost
    never gets worse from one iteration to the next."""

    def __init__(self, config: CEMConfig | None = None, bounds: ActionBounds | None = None) -> None:
        self.config, self.bounds = config or CEMConfig(), bounds or ActionBounds()

    def plan(
        self,
        cost: CostFn,
        warm: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Plan:
        """Minimise ``cost`` (K, H, 7) -> (K,); ``warm`` (H, 7) is the initial mean (e.g. the shifted plan of
        the previous control step), else zeros."""
        cfg = self.config
        gauss = Sampler.start(self.bounds, cfg.horizon, cfg.init_std, cfg.min_std, warm, device)
        best, best_cost, history = gauss.mean, float("inf"), []
        for _ in range(cfg.iterations):
            candidates = gauss.sample(cfg.samples, generator)
            costs = check_cost(cost(candidates), cfg.samples)
            finite = int(torch.isfinite(costs).sum())  # never refit to candidates whose cost is unknown
            order = torch.argsort(costs)[: max(1, min(cfg.topk, finite))]
            if float(costs[order[0]]) < best_cost:
                best, best_cost = candidates[order[0]].clone(), float(costs[order[0]])
            elites = candidates[order]
            elite_std = elites.std(0, unbiased=False) if len(order) > 1 else torch.zeros_like(gauss.std)
            gauss.mean = cfg.momentum * gauss.mean + (1 - cfg.momentum) * elites.mean(0)
            gauss.std = torch.maximum(cfg.momentum * gauss.std + (1 - cfg.momentum) * elite_std, gauss.floor)
            history.append(best_cost)
        return Plan(best, best_cost, history, cfg.samples * cfg.iterations)
