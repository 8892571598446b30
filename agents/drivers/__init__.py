"""Robot drivers: one interface for the simulator and (later) the real Franka."""

from agents.drivers.base import Observation, RobotDriver
from agents.drivers.sim import SimDriver

__all__ = ["Observation", "RobotDriver", "SimDriver"]
