"""Gymnasium ids under the ``JepaSim/`` namespace."""

from __future__ import annotations

import gymnasium as gym

from envs.config import TASKS

ENV_IDS: dict[str, str] = {
    "reach": "JepaSim/FrankaReach-v0",
    "grasp": "JepaSim/FrankaGrasp-v0",
    "reach_with_object": "JepaSim/FrankaReachWithObject-v1",
    "grasp_and_carry": "JepaSim/FrankaGraspAndCarry-v0",
    "pick_and_place": "JepaSim/FrankaPickAndPlace-v0",
}
MAX_EPISODE_STEPS: dict[str, int] = {
    "reach": 30,
    "grasp": 40,
    "reach_with_object": 30,
    "grasp_and_carry": 50,
    "pick_and_place": 70,
}
"""time limits in control steps (0.25 s each by default)"""


def register_envs() -> None:
    """Register every task id; idempotent. Pass ``object="cup"|"box"`` and other config fields to ``make``."""
    for task in TASKS:
        env_id = ENV_IDS[task]
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="envs.franka_env:FrankaTableEnv",
            max_episode_steps=MAX_EPISODE_STEPS[task],
            kwargs={"task": task},
        )


def task_of(env_id: str) -> str:
    """The task name of a registered id, with a clear error for unknown ids."""
    for task, registered in ENV_IDS.items():
        if registered == env_id:
            return task
    raise ValueError(f"unknown env id {env_id!r}; registered ids: {', '.join(ENV_IDS.values())}")
