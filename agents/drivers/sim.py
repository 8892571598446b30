"""The simulated Franka behind the driver interface."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.drivers.base import Observation, RobotDriver
from envs.franka_env import FrankaTableEnv


class SimDriver(RobotDriver):
    """A ``JepaSim/*`` gymnasium env as a robot: ``done`` and ``success`` after each action, privileged state in
    ``Observation.extras["info"]`` (used only by oracle baselines)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        self.env = env
        self.control_period = float(env.unwrapped.config.control.control_period)  # type: ignore[attr-defined]
        self._obs: dict[str, Any] | None = None
        self._info: dict[str, Any] = {}
        self._goals: list[NDArray[np.uint8]] = []
        self.steps, self.done, self.success = 0, False, False

    @classmethod
    def make(cls, env_id: str, object_name: str, image_size: int = 128, **config: Any) -> SimDriver:
        return cls(gym.make(env_id, object=object_name, image_size=image_size, **config))

    @property
    def simulator(self) -> FrankaTableEnv:
        """The simulation under the wrappers (the simulator-as-model baseline looks ahead in it)."""
        env = self.env.unwrapped
        if not isinstance(env, FrankaTableEnv):
            raise TypeError(f"the driver's env is a {type(env).__name__}, not a FrankaTableEnv")
        return env

    def reset(self, seed: int | None = None) -> Observation:
        self._obs, self._info = self.env.reset(seed=seed)
        self._goals = list(self._info.get("subgoal_images") or [self._info["goal_image"]])
        self.steps, self.done, self.success = 0, False, bool(self._info["is_success"])
        return self.get_observation()

    def get_observation(self) -> Observation:
        if self._obs is None:
            raise RuntimeError("reset the driver before observing")
        return Observation(self._obs["image"], np.asarray(self._obs["state"], np.float64),
                           self.steps * self.control_period, {"info": self._info})  # fmt: skip

    def send_action(self, action: NDArray[np.floating]) -> NDArray[np.float64]:
        if self._obs is None:
            raise RuntimeError("reset the driver before acting")
        if self.done:
            raise RuntimeError("the episode is over; reset the driver")
        self._obs, _, terminated, truncated, self._info = self.env.step(np.asarray(action, np.float64))
        self.steps += 1
        self.success = bool(self._info["is_success"])
        self.done = bool(terminated or truncated)
        return np.asarray(self._info["applied_action"], np.float64)

    def goal_images(self) -> list[NDArray[np.uint8]]:
        """The episode's sub-goal images in order (pick-and-place), or its one goal image."""
        if self._obs is None:
            raise RuntimeError("reset the driver before asking for its goal images")
        return list(self._goals)

    def close(self) -> None:
        self.env.close()
