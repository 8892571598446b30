"""The planner flags `jepa-sim eval` and `jepa-sim deploy` share, and the planner they build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from jepa_sim.planning import SamplingPlanner


@dataclass(frozen=True)
class PlannerArgs:
    planner: Literal["cem", "mppi"] = "cem"
    """`cem` (the paper's) or `mppi` (same samples, iterations and bounds; every sample weighted by its cost)"""
    horizon: int = 2
    samples: int = 64
    topk: int = 10
    """CEM elites"""
    temperature: float = 0.1
    """MPPI softmax temperature, relative to the spread of each iteration's costs"""
    iterations: int = 3
    momentum: float = 0.15
    max_xyz: float = 0.075
    """per-step translation bound of planned actions (m)"""
    max_gripper: float = 0.75
    """per-step gripper-change bound of planned actions"""
    max_yaw: float = 0.0
    """per-step yaw bound of planned actions (rad; 0 = yaw held, as in the paper; roll and pitch are always held)"""

    def build_planner(self) -> SamplingPlanner:
        """The CEM or MPPI planner these flags describe (bad settings raise ValueError)."""
        from jepa_sim.planning import CEM, MPPI, ActionBounds, CEMConfig, MPPIConfig

        bounds = ActionBounds(xyz=self.max_xyz, rotation=0.0, gripper=self.max_gripper, yaw=self.max_yaw)
        if self.planner == "cem":
            config = CEMConfig(horizon=self.horizon, samples=self.samples, topk=self.topk,
                               iterations=self.iterations, momentum=self.momentum)  # fmt: skip
            return CEM(config, bounds)
        mppi = MPPIConfig(horizon=self.horizon, samples=self.samples, iterations=self.iterations,
                          temperature=self.temperature)  # fmt: skip
        return MPPI(mppi, bounds)

    def check_horizon(self, max_steps: int) -> None:
        if not 1 <= self.horizon <= max_steps:
            raise ValueError(f"--horizon must be in 1..{max_steps} (the predictor's), got {self.horizon}")

    def planner_meta(self) -> dict[str, Any]:
        return {"name": self.planner, "horizon": self.horizon, "samples": self.samples, "topk": self.topk,
                "iterations": self.iterations, "momentum": self.momentum, "temperature": self.temperature,
                "max_xyz": self.max_xyz, "max_gripper": self.max_gripper, "max_yaw": self.max_yaw}  # fmt: skip

    def planner_summary(self) -> str:
        return f"{self.planner.upper()} {self.samples} samples x {self.iterations} iterations, horizon {self.horizon}"
