"""Everything the evaluation harness can run, behind one small interface: the MPC agent and the baselines."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from agents.drivers.base import Observation
from agents.mpc import MPCAgent
from envs.config import ControlConfig
from envs.expert import ScriptedExpert
from envs.rollout import RandomPolicy

GoalViews = Mapping[str, NDArray[np.uint8]]
"""one (sub)goal: an image per view (``exterior``, ``wrist``)"""


class Agent(Protocol):
    plan_seconds: list[float]
    """time spent choosing each action of the current episode"""

    @property
    def goal_index(self) -> int:
        """the goal image pursued now (sub-goals; -1 = the last one)"""
        ...

    def reset(self, goals: Sequence[GoalViews], first: Observation, seed: int | None = None) -> None:
        """Start an episode toward ``goals``: the chain of (sub)goals, one image per view each. ``seed`` is the
        trial's env seed, for agents with randomness of their own (a resumed evaluation reruns a trial alike)."""
        ...

    def act(self, obs: Observation) -> NDArray[np.float64]: ...


class MPCPolicy:
    """The MPC agent: sees only the camera image, the state and the goal image(s)."""

    def __init__(self, agent: MPCAgent) -> None:
        self.agent = agent
        self.plan_seconds: list[float] = []

    @property
    def goal_index(self) -> int:
        return self.agent.subgoal

    @property
    def distance(self) -> float:
        """The energy's distance of the last observed frames to the sub-goal pursued (for traces)."""
        return self.agent.log[-1].distance

    def reset(self, goals: Sequence[GoalViews], first: Observation, seed: int | None = None) -> None:
        self.agent.reset(goals)
        self.plan_seconds = []

    def act(self, obs: Observation) -> NDArray[np.float64]:
        action = self.agent.act(obs.views(), obs.state)
        self.plan_seconds.append(self.agent.log[-1].seconds)
        return action


class RandomAgent:
    """Uniform random translations and gripper changes within the per-step limits (rotation held)."""

    def __init__(self, control: ControlConfig, seed: int) -> None:
        self.control, self.seed = control, seed
        self.plan_seconds: list[float] = []
        self.goal_index = -1

    def reset(self, goals: Sequence[GoalViews], first: Observation, seed: int | None = None) -> None:
        """Actions seeded by the trial's seed when given (else by a counter from the constructor's seed)."""
        self.policy = RandomPolicy(self.control, seed=self.seed if seed is None else seed)
        self.seed += 1
        self.plan_seconds = []

    def act(self, obs: Observation) -> NDArray[np.float64]:
        return self.policy.act(obs.state, {})


class OracleAgent:
    """The scripted expert with the simulator's privileged state (object and goal positions): an upper bound."""

    def __init__(self, task: str, object_name: str, control: ControlConfig) -> None:
        self.expert = ScriptedExpert(task, object_name, control)
        self.plan_seconds: list[float] = []
        self.goal_index = -1

    def reset(self, goals: Sequence[GoalViews], first: Observation, seed: int | None = None) -> None:
        self.expert.reset()
        self.plan_seconds = []

    def act(self, obs: Observation) -> NDArray[np.float64]:
        if "info" not in obs.extras:
            raise RuntimeError("the oracle needs the simulator's privileged state; it cannot run on this driver")
        start = time.perf_counter()
        action = self.expert.act(obs.state, obs.extras["info"])
        self.plan_seconds.append(time.perf_counter() - start)
        return action
