"""What every planner shares: per-dimension action bounds, the plan it returns, the warm start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

CostFn = Callable[[torch.Tensor], torch.Tensor]
"""action sequences (K, H, 7) -> cost (K,); lower is better"""


@dataclass(frozen=True)
class ActionBounds:
    """Symmetric per-step limits of the planned action: xyz (m) clipped to +-``xyz`` per axis, rotation (rad)
    to +-``rotation`` (0 = held at zero: not optimised, as in the paper), gripper change to +-``gripper``."""

    xyz: float = 0.075
    rotation: float = 0.0
    gripper: float = 0.75

    def __post_init__(self) -> None:
        if min(self.xyz, self.rotation, self.gripper) < 0:
            raise ValueError(f"bounds must be >= 0, got {self}")

    def high(self) -> torch.Tensor:
        return torch.tensor([self.xyz] * 3 + [self.rotation] * 3 + [self.gripper], dtype=torch.float32)

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
    return torch.nan_to_num(cost.float(), nan=float("inf"))
