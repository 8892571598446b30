"""The cross-entropy method of V-JEPA 2-AC: sample around a Gaussian, refit it to the top-k, repeat."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jepa_sim.planning.base import ActionBounds, Sampler, SamplingConfig, SamplingPlanner


@dataclass(frozen=True)
class CEMConfig(SamplingConfig):
    samples: int = 400
    iterations: int = 10
    topk: int = 10
    momentum: float = 0.15
    """weight of the old mean and std when refitting to the elites (0 = replace them)"""
    keep_elites: bool = False
    """carry each iteration's elites into the next one, already scored, in place of ``topk`` fresh samples (as
    iCEM does, Pinneri et al. 2020): every iteration still ranks ``samples`` candidates, but after the first only
    ``samples - topk`` are scored, and a good sequence found early keeps competing. False = the paper's CEM,
    every iteration sampled afresh"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.topk <= self.samples:
            raise ValueError(f"need 1 <= topk <= samples, got {self}")
        if self.keep_elites and self.topk >= self.samples:
            raise ValueError(f"keep_elites needs topk < samples (fresh samples every iteration), got {self}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"need 0 <= momentum < 1, got {self}")


class CEM(SamplingPlanner):
    """Refits the Gaussian to the ``topk`` cheapest samples, keeping ``momentum`` of the old mean and std."""

    config: CEMConfig

    def __init__(self, config: CEMConfig | None = None, bounds: ActionBounds | None = None) -> None:
        self.config, self.bounds = config or CEMConfig(), bounds or ActionBounds()

    def refit(self, gauss: Sampler, candidates: torch.Tensor, costs: torch.Tensor) -> None:
        cfg = self.config
        elites = candidates[self._elites(costs)]
        elite_std = elites.std(0, unbiased=False) if len(elites) > 1 else torch.zeros_like(gauss.std)
        gauss.mean = cfg.momentum * gauss.mean + (1 - cfg.momentum) * elites.mean(0)
        gauss.std = torch.maximum(cfg.momentum * gauss.std + (1 - cfg.momentum) * elite_std, gauss.floor)

    def _elites(self, costs: torch.Tensor) -> torch.Tensor:
        """Indices of the ``topk`` cheapest candidates (never one whose cost is unknown, unless all are)."""
        finite = int(torch.isfinite(costs).sum())
        return torch.argsort(costs)[: max(1, min(self.config.topk, finite))]

    def kept(self, candidates: torch.Tensor, costs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        if not self.config.keep_elites:
            return None
        elites = self._elites(costs)
        return candidates[elites], costs[elites]
