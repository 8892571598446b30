"""Closed-loop episodes of a policy in a simulated Franka env, with optional frame recording."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from envs.config import ControlConfig
from envs.expert import ScriptedExpert


class Policy(Protocol):
    """What the rollout loop drives: reset per episode, then one action per observation."""

    def reset(self) -> None: ...

    def act(self, state: NDArray[np.float64], info: dict[str, Any]) -> NDArray[np.float64]: ...


class RandomPolicy:
    """Uniform random actions within the per-step limits (rotation held), seeded."""

    def __init__(self, control: ControlConfig | None = None, seed: int | None = None) -> None:
        self.control = control or ControlConfig()
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def act(self, state: NDArray[np.float64], info: dict[str, Any]) -> NDArray[np.float64]:
        c = self.control
        action = np.zeros(7)
        action[:3] = self.rng.uniform(-c.max_translation, c.max_translation, 3)
        action[6] = self.rng.uniform(-c.max_gripper_delta, c.max_gripper_delta)
        return action


PolicyFactory = Callable[[str, str, ControlConfig, int], Policy]
POLICIES: dict[str, PolicyFactory] = {
    "expert": lambda task, obj, control, seed: ScriptedExpert(task, obj, control, seed=seed),
    "random": lambda task, obj, control, seed: RandomPolicy(control, seed=seed),
}


def make_policy(name: str, task: str, object_name: str, control: ControlConfig, seed: int) -> Policy:
    """Build a policy by registered name."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; available: {', '.join(POLICIES)}")
    return POLICIES[name](task, object_name, control, seed)


@dataclass
class EpisodeResult:
    success: bool
    steps: int
    seconds: float
    frames: list[NDArray[np.uint8]] = field(default_factory=list)
    """camera image beside the goal image, one per step (only when recorded)"""


def run_episode(env: gym.Env[Any, Any], policy: Policy, seed: int, record: bool = False) -> EpisodeResult:
    """Reset with ``seed`` and act until the episode ends; success is the last step's ``is_success``."""
    obs, info = env.reset(seed=seed)
    policy.reset()
    goal = info["goal_image"]
    frames = [np.concatenate([obs["image"], goal], axis=1)] if record else []
    start = time.perf_counter()
    steps = 0
    success = bool(info["is_success"])
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs["state"], info))
        steps += 1
        success = bool(info["is_success"])
        done = terminated or truncated
        if record:
            frames.append(np.concatenate([obs["image"], goal], axis=1))
    return EpisodeResult(success, steps, time.perf_counter() - start, frames)
