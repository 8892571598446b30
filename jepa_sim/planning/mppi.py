"""Model-predictive path integral control: every sample counts, weighted by the exponential of its cost."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jepa_sim.planning.base import ActionBounds, Sampler, SamplingConfig, SamplingPlanner


@dataclass(frozen=True)
class MPPIConfig(SamplingConfig):
    temperature: float = 0.1
    """softmax temperature, relative to the spread (std) of the costs of an iteration: scale-free"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.temperature > 0:
            raise ValueError(f"need temperature > 0, got {self}")


class MPPI(SamplingPlanner):
    """Refits the Gaussian to all samples, each weighted by the softmax of its negative cost."""

    config: MPPIConfig

    def __init__(self, config: MPPIConfig | None = None, bounds: ActionBounds | None = None) -> None:
        self.config, self.bounds = config or MPPIConfig(), bounds or ActionBounds()

    def refit(self, gauss: Sampler, candidates: torch.Tensor, costs: torch.Tensor) -> None:
        finite = torch.isfinite(costs)
        spread = costs[finite].std() if int(finite.sum()) > 1 else torch.tensor(1.0)
        scale = self.config.temperature * spread.clamp_min(1e-8)
        weights = torch.softmax(-(costs - costs[finite].min()) / scale, dim=0)
        gauss.mean = (weights[:, None, None] * candidates).sum(0)
        var = (weights[:, None, None] * (candidates - gauss.mean) ** 2).sum(0)
        gauss.std = torch.maximum(var.sqrt(), gauss.floor)
