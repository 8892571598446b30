"""Sampling-based planners over action sequences. They know nothing of simulators or models: they minimise a
cost function that maps a batch of action sequences ``(K, H, 7)`` to costs ``(K,)``."""

from jepa_sim.planning.base import ActionBounds, CostFn, Plan, SamplingConfig, SamplingPlanner, shift_plan
from jepa_sim.planning.cem import CEM, CEMConfig
from jepa_sim.planning.mppi import MPPI, MPPIConfig

__all__ = [
    "CEM",
    "MPPI",
    "ActionBounds",
    "CEMConfig",
    "CostFn",
    "MPPIConfig",
    "Plan",
    "SamplingConfig",
    "SamplingPlanner",
    "shift_plan",
]
