"""What every planner shares: per-dimension action bounds, the plan it returns, the warm start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

CostFn = Callable[[torch.Tensor], torch.Tensor]
"""action sequences (K, H, 7) -> cost (K,); lower is better"""


@dataclass(frozen=True)
class ActionBounds:
    """Symmetric per-step limits of the planned action: xyz (m) clipped to +-``xyz`` per axis, roll and pitch
    (rad) to +-``rotation``, yaw to +-``yaw`` (0 = held at zero: not optimised, as in the paper), gripper
    change to +-``gripper``."""

    xyz: float = 0.075
    rotation: float = 0.0
    gripper: float = 0.75
    yaw: float | None = None
    """yaw limit when it differs from roll and pitch (None = ``rotation``)"""

    def __post_init__(self) -> None:
        if min(self.xyz, self.rotation, self.gripper, self.yaw if self.yaw is not None else 0.0) < 0:
            raise ValueError(f"bounds must be >= 0, got {self}")

    def high(self) -> torch.Tensor:
        yaw = self.rotation if self.yaw is None else self.yaw
        return torch.tensor([self.xyz] * 3 + [self.rotation] * 2 + [yaw, self.gripper], dtype=torch.float32)

    def free(self) -> torch.Tensor:
        """boolean (7,): the dimensions that are optimised (bound > 0)"""
        return self.high() > 0

    def clip(self, actions: torch.Tensor) -> torch.Tensor:
        high = self.high().to(actions.device, actions.dtype)
        return torch.maximum(torch.minimum(actions, high), -high)


@dataclass
class Plan:
    actions: torch.Tensor
    """(H, 7) the best sequence found (its first action is the one to execute)"""
    cost: float
    """the cost of ``actions``"""
    costs: list[float] = field(default_factory=list)
    """the best cost after each iteration"""
    evaluations: int = 0
    """action sequences the cost function was asked about"""


def shift_plan(actions: torch.Tensor) -> torch.Tensor:
    """The warm start for the next control step: the plan advanced by one step, a zero action appended."""
    return torch.cat([actions[1:], torch.zeros_like(actions[:1])], dim=0)


def check_cost(cost: torch.Tensor, samples: int) -> torch.Tensor:
    if cost.shape != (samples,):
        raise ValueError(f"the cost function must return ({samples},) costs, got {tuple(cost.shape)}")
    cost = cost.float()
    cost = torch.where(torch.isfinite(cost), cost, torch.full_like(cost, float("inf")))  # NaN and -inf too
    if not bool(torch.isfinite(cost).any()):
        raise ValueError("every candidate's cost is NaN or inf: check the model and the goal")
    return cost


@dataclass
class Sampler:
    """The Gaussian over action sequences that CEM and MPPI refine: its start, its floor, its samples."""

    bounds: ActionBounds
    mean: torch.Tensor
    """(H, 7)"""
    std: torch.Tensor
    """(H, 7)"""
    floor: torch.Tensor
    """(7,) smallest std per dimension"""
    free: torch.Tensor
    """(7,) the optimised dimensions"""

    @classmethod
    def start(
        cls,
        bounds: ActionBounds,
        horizon: int,
        init_std: float,
        min_std: float,
        warm: torch.Tensor | None,
        device: torch.device | str,
    ) -> Sampler:
        """Zero mean (or the clipped ``warm`` start, (H, 7)) and std ``init_std`` times the bounds."""
        high = bounds.high().to(device)
        free = high > 0
        mean = torch.zeros(horizon, 7, device=device)
        if warm is not None:
            if warm.shape != (horizon, 7):
                raise ValueError(f"warm start must be ({horizon}, 7), got {tuple(warm.shape)}")
            mean = bounds.clip(warm.to(device).float()) * free
        std = high * init_std * torch.ones(horizon, 1, device=device)
        return cls(bounds, mean, std, high * min_std, free)

    def sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` sequences (n, H, 7) within the bounds, held dimensions at 0; the first is the mean itself."""
        noise = torch.randn(n, *self.mean.shape, generator=generator).to(self.mean.device)
        candidates = self.bounds.clip(self.mean + self.std * noise) * self.free
        candidates[0] = self.mean
        return candidates
