"""A scripted expert with privileged state that solves every task.

It reads only the observation's ``state`` and the privileged ``info`` of :class:`envs.FrankaTableEnv`,
so it also drives vectorised envs (one expert per sub-env).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from envs.config import ControlConfig
from envs.scene import OBJECT_SPECS
from envs.tasks import CARRY_HEIGHT, GRASP_Z_OFFSET, grasp_yaw
from jepa_sim.geometry import wrap_angle

HOVER = 0.10
"""height above the grasp pose from which the gripper descends (m)"""
POS_TOLERANCE = 0.012
YAW_TOLERANCE = 0.08
CLOSE_STEPS = 2
RELEASE_STEPS = 2


@dataclass
class ExpertConfig:
    """Imperfections, for data collection that looks like human teleoperation."""

    noise_std: float = 0.0
    """std of Gaussian noise added to the translation of every action (m)"""


class ScriptedExpert:
    """Phase machine: approach above the object, descend, close, lift, carry, lower, release, retreat."""

    def __init__(
        self,
        task: str,
        object_name: str,
        control: ControlConfig | None = None,
        config: ExpertConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.task = task
        self.spec = OBJECT_SPECS[object_name]
        self.control = control or ControlConfig()
        self.config = config or ExpertConfig()
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        # reach_with_object starts with the object held: carry it (if it slips, the rules below start over)
        self.phase = {"reach": "reach", "reach_with_object": "carry"}.get(self.task, "approach")
        self._counter = 0
        self._grasp_yaw: float | None = None

    @property
    def grasp_yaw(self) -> float:
        """The yaw the expert grasps at (0 before it has seen the object)."""
        return 0.0 if self._grasp_yaw is None else self._grasp_yaw

    # ---- helpers ------------------------------------------------------------------------------------
    def _move(
        self, state: NDArray[np.float64], target: NDArray[np.float64], yaw: float | None, gripper: float
    ) -> NDArray[np.float64]:
        c = self.control
        action = np.zeros(7)
        action[:3] = np.clip(target - state[:3], -c.max_translation, c.max_translation)
        action[3:5] = np.clip(-wrap_angle(state[3:5]), -c.max_rotation, c.max_rotation)
        if yaw is not None:
            action[5] = np.clip(wrap_angle(yaw - state[5]), -c.max_rotation, c.max_rotation)
        action[6] = gripper
        if self.config.noise_std > 0:
            action[:3] += self.rng.normal(0.0, self.config.noise_std, 3)
        return action

    @staticmethod
    def _near(state: NDArray[np.float64], target: NDArray[np.float64], tol: float = POS_TOLERANCE) -> bool:
        return bool(np.linalg.norm(state[:3] - target) < tol)

    # ---- policy -------------------------------------------------------------------------------------
    def act(self, state: NDArray[np.float64], info: dict[str, Any]) -> NDArray[np.float64]:
        """The next action for the observed ``state`` and privileged ``info``."""
        state = np.asarray(state, dtype=np.float64)
        goal = np.asarray(info["goal_pos"], dtype=np.float64)
        if self.phase == "reach":
            return self._move(state, goal, 0.0, -1.0)

        obj = np.asarray(info["object_pos"], dtype=np.float64)
        grasped = bool(info["grasped"])
        if self._grasp_yaw is None or self.phase in ("approach", "descend"):
            self._grasp_yaw = grasp_yaw(
                float(info["object_yaw"]), self.spec.grasp_yaw_offset, self.spec.yaw_symmetry, float(state[5])
            )
        yaw = self._grasp_yaw
        grasp_pose = obj + np.array([0.0, 0.0, GRASP_Z_OFFSET])
        hover = grasp_pose + np.array([0.0, 0.0, HOVER])

        if self.phase == "approach":
            xy_error = float(np.linalg.norm(state[:2] - hover[:2]))
            if xy_error < 0.005 and self._near(state, hover, 0.02) and abs(wrap_angle(yaw - state[5])) < YAW_TOLERANCE:
                self.phase = "descend"
            else:
                return self._move(state, hover, yaw, -1.0)
        if self.phase == "descend":
            if self._near(state, grasp_pose, 0.008):
                self.phase, self._counter = "close", 0
            else:
                return self._move(state, grasp_pose, yaw, -1.0)
        if self.phase == "close":
            self._counter += 1
            if self._counter > CLOSE_STEPS:
                self.phase = "lift"
            else:
                return self._move(state, grasp_pose, yaw, 1.0)
        if self.phase in ("lift", "carry", "lower") and not grasped:
            self.phase = "approach"  # dropped it: start over
            return self._move(state, hover, yaw, -1.0)
        if self.phase == "lift":
            lift_target = self._lift_target(state, obj, goal)
            if self.task == "grasp" or not self._near(state, lift_target, 0.03):
                return self._move(state, lift_target, yaw, 1.0)
            self.phase = "carry"
        if self.phase == "carry":
            if self.task in ("reach_with_object", "grasp_and_carry"):
                return self._move(state, goal + np.array([0.0, 0.0, GRASP_Z_OFFSET]), yaw, 1.0)
            above = np.array([goal[0], goal[1], CARRY_HEIGHT + GRASP_Z_OFFSET])
            if not self._near(state, above, 0.02):
                return self._move(state, above, yaw, 1.0)
            self.phase = "lower"
        if self.phase == "lower":
            place = goal + np.array([0.0, 0.0, GRASP_Z_OFFSET + 0.004])
            if not self._near(state, place, 0.008):
                return self._move(state, place, yaw, 1.0)
            self.phase, self._counter = "release", 0
        if self.phase == "release":
            self._counter += 1
            if self._counter <= RELEASE_STEPS:
                return self._move(state, state[:3], yaw, -1.0)
            self.phase = "retreat"
        return self._move(state, goal + np.array([0.0, 0.0, HOVER]), yaw, -1.0)

    def _lift_target(
        self, state: NDArray[np.float64], obj: NDArray[np.float64], goal: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        if self.task == "grasp":
            return goal + np.array([0.0, 0.0, GRASP_Z_OFFSET])
        height = CARRY_HEIGHT if self.task == "pick_and_place" else max(goal[2], CARRY_HEIGHT)
        return np.array([state[0], state[1], height + GRASP_Z_OFFSET])
