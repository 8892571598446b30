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
    """(H, 7) the plan: the best sequence found, or the final mean (its first action is the one to execute)"""
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


@dataclass(frozen=True)
class SamplingConfig:
    """What every sampling planner is given; each planner adds its own refit settings."""

    horizon: int = 2
    samples: int = 256
    iterations: int = 4
    init_std: float = 1.0
    """initial std of each free dimension, as a fraction of its bound"""
    min_std: float = 0.02
    """floor of the std, as a fraction of the bound (keeps sampling alive)"""
    execute: str = "best"
    """what the plan is: ``best``, the cheapest sequence scored; ``mean``, the mean of the final Gaussian (its cost
    scored once more), as the official V-JEPA 2-AC CEM does; or ``mean-move``, that mean with the gripper change of
    the cheapest sequence. Where the energy is nearly flat the cheapest of a few hundred samples is a noisy pick,
    while the mean of the last elites averages that noise out (and shortens the moves)"""

    def __post_init__(self) -> None:
        if self.execute not in ("best", "mean", "mean-move"):
            raise ValueError(f"execute must be 'best', 'mean' or 'mean-move', got {self.execute!r}")
        if min(self.horizon, self.samples, self.iterations) < 1:
            raise ValueError(f"need horizon, samples and iterations >= 1, got {self}")
        if not (self.init_std > 0 and self.min_std >= 0):
            raise ValueError(f"need init_std > 0 and min_std >= 0, got {self}")


class SamplingPlanner:
    """Sample around a Gaussian, score, refit, repeat; keeps the best sequence seen (or returns the final mean:
    ``SamplingConfig.execute``). Subclasses say how the Gaussian is refitted to the scored samples
    (:meth:`refit`). The current mean is always among the samples, so the best cost never gets worse from one
    iteration to the next."""

    config: SamplingConfig
    bounds: ActionBounds

    def refit(self, gauss: Sampler, candidates: torch.Tensor, costs: torch.Tensor) -> None:
        raise NotImplementedError

    def kept(self, candidates: torch.Tensor, costs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The scored candidates (and their costs) that take part in the next iteration unscored, in place of as
        many fresh samples; None (the default) = every iteration samples afresh."""
        return None

    def plan(
        self,
        cost: CostFn,
        warm: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Plan:
        """Minimise ``cost`` (K, H, 7) -> (K,) within the bounds (dimensions bounded at 0 stay 0); ``warm``
        (H, 7) is the initial mean (e.g. the shifted plan of the previous control step), else zeros."""
        cfg = self.config
        gauss = Sampler.start(self.bounds, cfg.horizon, cfg.init_std, cfg.min_std, warm, device)
        best, best_cost, history, evaluations = gauss.mean, float("inf"), [], 0
        kept: tuple[torch.Tensor, torch.Tensor] | None = None
        for _ in range(cfg.iterations):
            fresh = cfg.samples - (len(kept[0]) if kept is not None else 0)
            candidates = gauss.sample(fresh, generator)
            costs = check_cost(cost(candidates), fresh)
            evaluations += fresh
            if kept is not None:
                candidates, costs = torch.cat([kept[0], candidates]), torch.cat([kept[1], costs])
            i = int(torch.argmin(costs))
            if float(costs[i]) < best_cost:
                best, best_cost = candidates[i].clone(), float(costs[i])
            self.refit(gauss, candidates, costs)
            kept = self.kept(candidates, costs)
            history.append(best_cost)
        if cfg.execute in ("mean", "mean-move"):  # the final Gaussian's mean (the elites' average)
            mean = (self.bounds.clip(gauss.mean) * gauss.free)[None]
            if cfg.execute == "mean-move":  # the motion averaged, the gripper change the cheapest sample's
                mean[0, :, 6] = best[:, 6]
            return Plan(mean[0].clone(), float(check_cost(cost(mean), 1)[0]), history, evaluations + 1)
        return Plan(best, best_cost, history, evaluations)
