"""The driver interface every agent acts through, in sim and on a real robot."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass
class Observation:
    image: NDArray[np.uint8]
    """exterior camera, uint8 (H, W, 3)"""
    state: NDArray[np.float64]
    """(7,) tool xyz, Euler xyz, gripper closedness (jepa_sim.geometry)"""
    time: float
    """seconds since the episode started"""
    extras: dict[str, Any] = field(default_factory=dict)
    """what only some drivers know (the simulator's privileged state, for oracles)"""


class RobotDriver(ABC):
    """Resets to a start, observes, and executes one action per control step."""

    @abstractmethod
    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode (in sim: a seeded layout) and return the first observation."""

    @abstractmethod
    def get_observation(self) -> Observation: ...

    @abstractmethod
    def send_action(self, action: NDArray[np.floating]) -> NDArray[np.float64]:
        """Execute one action (7,) for one control period; returns the action actually executed."""

    def goal_images(self) -> list[NDArray[np.uint8]]:
        """Goal image(s) of the current episode, when the driver can make them (sim); else []."""
        return []

    @abstractmethod
    def close(self) -> None:
        """Release the robot or simulator."""
