"""Robot drivers: one interface for the simulator and the real Franka.

Importing this package loads only the interface (:mod:`agents.drivers.base`, numpy). ``SimDriver`` is loaded
on first use (``from agents.drivers import SimDriver`` still works), so that the robot-side modules
(:mod:`agents.drivers.franky`, :mod:`agents.drivers.remote`) import without MuJoCo, gymnasium or the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.drivers.base import Observation, RobotDriver

if TYPE_CHECKING:
    from agents.drivers.sim import SimDriver

__all__ = ["Observation", "RobotDriver", "SimDriver"]


def __getattr__(name: str) -> Any:
    if name == "SimDriver":  # imports gymnasium and the simulator: only when asked for
        from agents.drivers.sim import SimDriver

        return SimDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
