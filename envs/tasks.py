"""Task definitions: goal sampling, success checks and the goal configurations used for goal images.

Success checks are small named functions of privileged quantities so that evaluation code, tests and the
scripted expert all read the same definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from envs.config import SuccessConfig

Vec = NDArray[np.float64]

OBJECT_REGION_LOW = np.array([0.40, -0.20])
OBJECT_REGION_HIGH = np.array([0.60, 0.20])
REACH_GOAL_LOW = np.array([0.35, -0.25, 0.06])
REACH_GOAL_HIGH = np.array([0.60, 0.25, 0.28])
CARRY_GOAL_LOW = np.array([0.38, -0.22, 0.12])
CARRY_GOAL_HIGH = np.array([0.60, 0.22, 0.25])
LIFT_HEIGHT = 0.12
"""grasp task: the goal image shows the object this far above its resting height (m)"""
CARRY_HEIGHT = 0.15
"""pick-and-place: height above the table at which the object is carried (m)"""
GRASP_Z_OFFSET = 0.01
"""the tool grasps objects this far above their centre (m)"""
MIN_OBJECT_SEPARATION = 0.16
"""objects and placement targets keep at least this xy distance (m)"""


@dataclass(frozen=True)
class Goal:
    """Where the task wants things to be.

    ``position`` is the tool goal (reach), the lifted object position (grasp), the carried object position
    (reach_with_object, grasp_and_carry) or the placed object position on the table (pick_and_place).
    """

    position: Vec


# ---- success checks -----------------------------------------------------------------------------------
def reached(tool_pos: Vec, goal: Vec, threshold: float) -> bool:
    """The tool is within ``threshold`` of the goal position."""
    return bool(np.linalg.norm(tool_pos - goal) < threshold)


def lifted(object_pos: Vec, rest_height: float, grasped: bool, threshold: float) -> bool:
    """The object is held by both fingers and raised at least ``threshold`` above its resting height."""
    return bool(grasped and object_pos[2] - rest_height >= threshold)


def carried_to(object_pos: Vec, goal: Vec, grasped: bool, threshold: float) -> bool:
    """The object is held and within ``threshold`` of the goal position."""
    return bool(grasped and np.linalg.norm(object_pos - goal) < threshold)


def placed(object_pos: Vec, target: Vec, rest_height: float, speed: float, grasped: bool, cfg: SuccessConfig) -> bool:
    """The object rests on the table within ``cfg.place`` (xy) of the target and the gripper let go."""
    near = np.linalg.norm(object_pos[:2] - target[:2]) < cfg.place
    on_table = object_pos[2] - rest_height < cfg.place_height
    return bool(near and on_table and speed < cfg.at_rest_speed and not grasped)


def is_success(
    task: str,
    tool_pos: Vec,
    object_pos: Vec,
    object_speed: float,
    rest_height: float,
    grasped: bool,
    goal: Goal,
    cfg: SuccessConfig,
) -> bool:
    """Dispatch to the task's success check."""
    if task == "reach":
        return reached(tool_pos, goal.position, cfg.reach)
    if task == "grasp":
        return lifted(object_pos, rest_height, grasped, cfg.lift)
    if task in ("reach_with_object", "grasp_and_carry"):
        return carried_to(object_pos, goal.position, grasped, cfg.carry)
    if task == "pick_and_place":
        return placed(object_pos, goal.position, rest_height, object_speed, grasped, cfg)
    raise ValueError(f"unknown task {task!r}")


def grasp_yaw(object_yaw: float, grasp_yaw_offset: float, yaw_symmetry: float, tool_yaw: float) -> float:
    """The tool yaw that grasps an object across its narrow side, the equivalent one closest to ``tool_yaw``."""
    base = object_yaw + grasp_yaw_offset
    turns = (base - tool_yaw) * 2 * np.pi / yaw_symmetry
    wrapped = (turns + np.pi) % (2 * np.pi) - np.pi
    return float(tool_yaw + wrapped * yaw_symmetry / (2 * np.pi))


# ---- sampling -----------------------------------------------------------------------------------------
class LayoutError(RuntimeError):
    """No placement satisfies the separation constraints (callers resample the whole layout)."""


def sample_xy_apart(
    rng: np.random.Generator, avoid: list[Vec], min_dist: float = MIN_OBJECT_SEPARATION, tries: int = 50
) -> Vec:
    """A table position in the object region at least ``min_dist`` (xy) from every point in ``avoid``."""
    for _ in range(tries):
        xy = rng.uniform(OBJECT_REGION_LOW, OBJECT_REGION_HIGH)
        if all(np.linalg.norm(xy - np.asarray(p)[:2]) >= min_dist for p in avoid):
            return xy
    raise LayoutError(f"no table position at least {min_dist} m from {len(avoid)} other point(s)")


def sample_goal(task: str, rng: np.random.Generator, object_pos: Vec, tool_pos: Vec, rest_height: float) -> Goal:
    """Sample the goal of a task, given where the object and the tool start."""
    if task == "reach":
        for _ in range(1000):
            goal = rng.uniform(REACH_GOAL_LOW, REACH_GOAL_HIGH)
            if np.linalg.norm(goal - tool_pos) > 0.1:
                return Goal(goal)
        raise RuntimeError("could not sample a reach goal away from the start")
    if task == "grasp":
        return Goal(object_pos + np.array([0.0, 0.0, LIFT_HEIGHT]))
    if task in ("reach_with_object", "grasp_and_carry"):
        for _ in range(1000):
            goal = rng.uniform(CARRY_GOAL_LOW, CARRY_GOAL_HIGH)
            if np.linalg.norm(goal[:2] - object_pos[:2]) > 0.1:
                return Goal(goal)
        raise RuntimeError("could not sample a carry goal away from the object")
    if task == "pick_and_place":
        xy = sample_xy_apart(rng, [object_pos], tries=1000)
        return Goal(np.array([xy[0], xy[1], rest_height]))
    raise ValueError(f"unknown task {task!r}")
