"""The simulated Franka behind the driver interface."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.drivers.base import Observation, RobotDriver
from agents.drivers.camera import model_to_franka_joints
from agents.safety import SafetyLimits
from envs.franka_env import FrankaTableEnv
from envs.scene import EXTERIOR_CAMERA


class SimDriver(RobotDriver):
    """A ``JepaSim/*`` gymnasium env as a robot: ``done`` and ``success`` after each action, privileged state in
    ``Observation.extras["info"]`` (used only by oracle baselines).

    Every action goes through the safety clamp with the env's own control limits
    (:meth:`SafetyLimits.from_control`) before the env sees it. The env adds the gripper delta to its kept
    gripper *command*, so the clamp's reference state carries that command in place of the measured closedness
    (the tool pose is the measured one, as the env's controller uses it). With the tool inside the workspace box
    the clamp then changes nothing the env's own clipping would not have changed.
    """

    name = "sim"
    control_period: float

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        self.env = env
        control = env.unwrapped.config.control  # type: ignore[attr-defined]
        self.control_period = float(control.control_period)
        self.limits = SafetyLimits.from_control(control)
        self._obs: dict[str, Any] | None = None
        self._info: dict[str, Any] = {}
        self._goals: list[NDArray[np.uint8]] = []
        self._wrist_goals: list[NDArray[np.uint8]] = []
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
        self._wrist_goals = list(self._info.get("wrist_subgoal_images") or [])
        self.steps, self.done, self.success = 0, False, bool(self._info["is_success"])
        return self.get_observation()

    def get_observation(self) -> Observation:
        if self._obs is None:
            raise RuntimeError("reset the driver before observing")
        return Observation(self._obs["image"], np.asarray(self._obs["state"], np.float64),
                           self.steps * self.control_period, {"info": self._info},
                           self._obs.get("wrist_image"))  # fmt: skip

    def connect(self) -> None:
        """Start a first episode (unseeded) unless one is running, so that the driver can be observed."""
        if self._obs is None:
            self.reset()

    def get_state(self) -> NDArray[np.float64]:
        if self._obs is None:
            raise RuntimeError("reset the driver before observing")
        return np.asarray(self._obs["state"], np.float64).copy()

    def joint_positions(self) -> NDArray[np.float64]:
        """The simulated arm's 7 joint angles (rad) in libfranka's convention, as the real robot reports them
        (:func:`agents.drivers.camera.model_to_franka_joints`)."""
        sim = self.simulator
        return model_to_franka_joints(sim.data.qpos[sim.controller.arm_qpos_adr])

    def _clamp_reference(self) -> NDArray[np.float64]:
        if self._obs is None:
            raise RuntimeError("reset the driver before acting")
        if self.done:
            raise RuntimeError("the episode is over; reset the driver")
        reference = self.get_state()
        reference[6] = float(self._info.get("gripper_command", reference[6]))
        return reference

    def _execute(self, action: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
        self._obs, _, terminated, truncated, self._info = self.env.step(action)
        self.steps += 1
        self.success = bool(self._info["is_success"])
        self.done = bool(terminated or truncated)
        return np.asarray(self._info["applied_action"], np.float64)

    def goal_images(self) -> list[NDArray[np.uint8]]:
        """The episode's sub-goal images in order (pick-and-place), or its one goal image."""
        if self._obs is None:
            raise RuntimeError("reset the driver before asking for its goal images")
        return list(self._goals)

    def goal_views(self) -> list[dict[str, NDArray[np.uint8]]]:
        """The goal chain from the exterior camera and, with the env's wrist camera, the wrist camera."""
        if not self._wrist_goals:
            return super().goal_views()
        return [{"exterior": e, "wrist": w} for e, w in zip(self._goals, self._wrist_goals, strict=True)]

    def camera_features(self) -> dict[str, Any]:
        config = self.env.unwrapped.config  # type: ignore[attr-defined]
        size = int(config.image_size)
        return {"kind": "simulator", "name": EXTERIOR_CAMERA, "shape": [size, size, 3], "preset": config.render_preset}

    def features(self) -> dict[str, Any]:
        spec = self.env.spec
        return {**super().features(), "env_id": spec.id if spec is not None else None}

    def close(self) -> None:
        self.env.close()
