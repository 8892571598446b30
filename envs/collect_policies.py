"""Policies that generate training data: a noisy expert that sometimes makes a mistake, random exploration
near the object, an expert that hovers and probes around the object before it grasps, and weighted mixes of these.

Human teleoperation data (DROID, the paper's training data) holds hesitations, misses and regrasps as well
as clean demonstrations; a world model trained only on perfect demonstrations never sees what a missed
grasp looks like, and the planner then cannot tell a good action from a bad one. These policies produce
that variety from privileged simulator state, reproducibly from one seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from envs.config import ControlConfig
from envs.expert import ExpertConfig, ScriptedExpert
from envs.rollout import Policy, RandomPolicy
from envs.tasks import GRASP_Z_OFFSET
from jepa_sim.geometry import wrap_angle

Action = NDArray[np.float64]

MISTAKES: dict[str, str] = {
    "early_close": "closes the gripper 3-5 cm too high on the first try, then tries again",
    "offset_grasp": "aims the first grasp 1.5-3 cm beside the object",
    "drop": "lets the object slip just after lifting it, then picks it up again",
    "detour": "heads for a random point for a few steps, then carries on",
    "hesitate": "pauses with small jittery motions for a few steps",
}
"""the mistakes an imperfect expert episode may contain, one per episode"""
REACH_MISTAKES = ("detour", "hesitate")


@dataclass(frozen=True)
class ImperfectConfig:
    """How imperfect the ``imperfect`` expert is."""

    noise_std: float = 0.005
    """std of Gaussian noise on every translation (m)"""
    mistake_prob: float = 0.6
    """probability that an episode contains one mistake (see ``MISTAKES``)"""

    def __post_init__(self) -> None:
        if self.noise_std < 0 or not 0 <= self.mistake_prob <= 1:
            raise ValueError(f"noise_std must be >= 0 and mistake_prob in [0, 1], got {self}")


@dataclass(frozen=True)
class ExploreConfig:
    """Random exploration around the task object."""

    radius: float = 0.1
    """waypoints are sampled this far (m) around the object in x and y"""
    height: tuple[float, float] = (0.02, 0.2)
    """range of waypoint heights above the table (m)"""
    gripper_toggle_prob: float = 0.15
    """probability per step of opening a closed gripper or closing an open one"""
    noise_std: float = 0.01
    """std of Gaussian noise on every translation (m)"""


@dataclass(frozen=True)
class HoverConfig:
    """How the ``hover`` expert probes the space just above the object before it grasps."""

    steps: tuple[int, int] = (6, 14)
    """range of the number of hovering steps (inclusive)"""
    lateral: float = 0.025
    """hover targets are sampled up to this far (m) beside the grasp pose in x and y"""
    height: float = 0.08
    """and up to this high (m) above it"""
    speed: tuple[float, float] = (0.005, 0.03)
    """range of the step size (m) toward each hover target"""
    yaw_jitter: float = 0.15
    """hover targets turn up to this far (rad) from the grasp yaw"""
    close_prob: float = 0.1
    """probability per hovering step of closing the gripper (the expert opens it again afterwards)"""
    noise_std: float = 0.002
    """std of Gaussian noise on every translation (m)"""


class Hoverer:
    """The scripted expert that, when it first starts to descend onto the object, hovers for a few steps: short
    moves of random size among random points 0-2.5 cm beside and 0-8 cm above the grasp pose, at a jittered yaw,
    sometimes closing the gripper, before it carries on with the task. Near the object a 1 cm error decides a
    grasp (the fingers have about 1 cm of clearance on the cup) and the expert alone never makes one: this data
    shows the world model what small sideways moves there look like from both cameras, knocks included."""

    def __init__(
        self,
        task: str,
        object_name: str,
        control: ControlConfig | None = None,
        config: HoverConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.control = control or ControlConfig()
        self.config = config or HoverConfig()
        self.rng = np.random.default_rng(seed)
        expert_seed = int(self.rng.integers(2**31))
        self.expert = ScriptedExpert(task, object_name, self.control, ExpertConfig(self.config.noise_std), expert_seed)
        self.reset()

    @property
    def label(self) -> str:
        return "hover"

    def reset(self) -> None:
        self.expert.reset()
        low, high = self.config.steps
        self._left = int(self.rng.integers(low, high + 1))
        self._started = False
        self._target: NDArray[np.float64] | None = None
        self._speed = 0.0

    def act(self, state: NDArray[np.float64], info: dict[str, Any]) -> Action:
        action = self.expert.act(state, info)  # keeps the expert's phase (and grasp yaw) up to date
        if self.expert.phase == "descend":
            self._started = True
        if not self._started or self._left <= 0:
            return action
        self._left -= 1
        c, rng = self.config, self.rng
        if self._target is None or np.linalg.norm(self._target[:3] - state[:3]) < 0.004 or rng.random() < 0.3:
            grasp = np.asarray(info["object_pos"], dtype=np.float64) + np.array([0.0, 0.0, GRASP_Z_OFFSET])
            offset = [*rng.uniform(-c.lateral, c.lateral, 2), rng.uniform(0.0, c.height)]
            yaw = self.expert.grasp_yaw + rng.uniform(-c.yaw_jitter, c.yaw_jitter)
            self._target = np.array([*(grasp + np.array(offset)), yaw])
            self._speed = rng.uniform(*c.speed)
        hover = np.zeros(7)
        hover[:3] = np.clip(self._target[:3] - state[:3], -self._speed, self._speed) + rng.normal(0.0, c.noise_std, 3)
        turn = self.control.max_rotation
        hover[3:5] = np.clip(-wrap_angle(state[3:5]), -turn, turn)
        hover[5] = np.clip(wrap_angle(self._target[3] - state[5]), -turn, turn)
        hover[6] = 1.0 if rng.random() < c.close_prob else -1.0
        if self._left == 0:
            self.expert.phase = "approach"  # back above the object, then the expert's own descent and grasp
        return hover


class ImperfectExpert:
    """The scripted expert with translation noise and, in some episodes, one mistake it recovers from."""

    def __init__(
        self,
        task: str,
        object_name: str,
        control: ControlConfig | None = None,
        config: ImperfectConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.task = task
        self.control = control or ControlConfig()
        self.config = config or ImperfectConfig()
        self.rng = np.random.default_rng(seed)
        self.expert = ScriptedExpert(
            task, object_name, self.control, ExpertConfig(self.config.noise_std), seed=int(self.rng.integers(2**31))
        )
        self.reset()

    @property
    def label(self) -> str:
        return f"imperfect/{self.mistake or 'clean'}"

    def reset(self) -> None:
        self.expert.reset()
        rng = self.rng
        self.mistake = self.choose_mistake()
        self._step = 0
        self._done = False
        self._trigger = int(rng.integers(1, 6))
        self._remaining = 0
        angle = rng.uniform(-np.pi, np.pi)
        if self.mistake == "early_close":
            self._offset = np.array([0.0, 0.0, rng.uniform(0.03, 0.05)])
        else:
            self._offset = rng.uniform(0.015, 0.03) * np.array([np.cos(angle), np.sin(angle), 0.0])
        low, high = np.array(self.control.workspace_low), np.array(self.control.workspace_high)
        self._detour = rng.uniform(low + np.array([0.0, 0.0, 0.08]), high)

    def choose_mistake(self) -> str | None:
        """The mistake of the next episode, or None for a clean one."""
        allowed = REACH_MISTAKES if self.task == "reach" else tuple(MISTAKES)
        return str(self.rng.choice(allowed)) if self.rng.random() < self.config.mistake_prob else None

    def act(self, state: NDArray[np.float64], info: dict[str, Any]) -> Action:
        self._step += 1
        if self.mistake in ("offset_grasp", "early_close") and not self._done:  # a wrong first grasp pose
            info = {**info, "object_pos": np.asarray(info["object_pos"]) + self._offset}
            self._done = self.expert.phase in ("close", "lift")  # first attempt made: aim right from now on
        elif self.mistake == "drop" and not self._done and self.expert.phase == "lift" and info["grasped"]:
            if info["object_pos"][2] - info["object_rest_height"] > 0.02:  # slips out just after lift-off
                self._done = True
                action = self.expert.act(state, info)
                action[6] = -1.0
                return action
        elif self.mistake in ("detour", "hesitate") and self._step == self._trigger:
            self._remaining = int(self.rng.integers(2, 6))
        if self._remaining > 0:
            self._remaining -= 1
            return self._detour_action(state) if self.mistake == "detour" else self._hesitate_action()
        return self.expert.act(state, info)

    def _detour_action(self, state: NDArray[np.float64]) -> Action:
        action = np.zeros(7)
        limit = self.control.max_translation
        action[:3] = np.clip(self._detour - state[:3], -limit, limit)
        return action

    def _hesitate_action(self) -> Action:
        action = np.zeros(7)
        action[:3] = self.rng.normal(0.0, 0.005, 3)
        return action


class Explorer:
    """Random exploration near the task object: wander between random waypoints around it at random speeds,
    turning a little about z and opening or closing the gripper at random, so the data holds pushes, knocks
    and accidental grasps."""

    label = "explore"

    def __init__(
        self, control: ControlConfig | None = None, config: ExploreConfig | None = None, seed: int | None = None
    ) -> None:
        self.control = control or ControlConfig()
        self.config = config or ExploreConfig()
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        self._target: NDArray[np.float64] | None = None
        self._speed = 0.0
        self._yaw_rate = 0.0
        self._ttl = 0

    def _new_waypoint(self, obj: NDArray[np.float64]) -> None:
        c, rng = self.config, self.rng
        xy = obj[:2] + rng.uniform(-c.radius, c.radius, 2)
        self._target = np.array([xy[0], xy[1], rng.uniform(*c.height)])
        self._speed = rng.uniform(0.3, 1.0) * self.control.max_translation
        self._yaw_rate = rng.uniform(-0.5, 0.5) * self.control.max_rotation
        self._ttl = int(rng.integers(3, 9))

    def act(self, state: NDArray[np.float64], info: dict[str, Any]) -> Action:
        if self._target is None or self._ttl <= 0 or np.linalg.norm(self._target - state[:3]) < 0.01:
            self._new_waypoint(np.asarray(info["object_pos"], dtype=np.float64))
        assert self._target is not None
        self._ttl -= 1
        c, rng = self.config, self.rng
        action = np.zeros(7)
        action[:3] = np.clip(self._target - state[:3], -self._speed, self._speed) + rng.normal(0.0, c.noise_std, 3)
        action[3:5] = -wrap_angle(state[3:5])  # keep pointing down
        action[5] = self._yaw_rate
        if rng.random() < c.gripper_toggle_prob:
            action[6] = -1.0 if float(info["gripper_command"]) > 0.5 else 1.0
        return action


PolicyFactory = Callable[[str, str, ControlConfig, int], Policy]
COLLECT_POLICIES: dict[str, PolicyFactory] = {
    "expert": lambda task, obj, control, seed: ScriptedExpert(task, obj, control, ExpertConfig(0.002), seed=seed),
    "imperfect": lambda task, obj, control, seed: ImperfectExpert(task, obj, control, seed=seed),
    "explore": lambda task, obj, control, seed: Explorer(control, seed=seed),
    "hover": lambda task, obj, control, seed: Hoverer(task, obj, control, seed=seed),
    "random": lambda task, obj, control, seed: RandomPolicy(control, seed=seed),
}
"""``expert``: scripted, 2 mm noise; ``imperfect``: 5 mm noise and sometimes a mistake; ``explore``: random
waypoints near the object; ``hover``: the expert (2 mm noise) probing 0-2.5 cm beside and 0-8 cm above the grasp pose
for 6-14 steps before it grasps (:class:`Hoverer`); ``random``: uniform random actions"""


def parse_mix(spec: str) -> dict[str, float]:
    """``"expert:0.5,imperfect:0.3,explore:0.2"`` (or one name) -> normalised weights, with clear errors."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, weight = part.partition(":")
        name = name.strip()
        if name not in COLLECT_POLICIES:
            raise ValueError(f"unknown policy {name!r} in {spec!r}; available: {', '.join(COLLECT_POLICIES)}")
        try:
            value = float(weight) if weight else 1.0
        except ValueError as exc:
            raise ValueError(f"weight of {name!r} in {spec!r} is not a number: {weight!r}") from exc
        if not value > 0 or not np.isfinite(value):
            raise ValueError(f"weight of {name!r} in {spec!r} must be a positive number, got {weight!r}")
        if name in weights:
            raise ValueError(f"policy {name!r} appears twice in {spec!r}")
        weights[name] = value
    if not weights:
        raise ValueError("the policy mix is empty; give e.g. 'expert' or 'expert:0.5,imperfect:0.3,explore:0.2'")
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


def choose_policy(mix: dict[str, float], rng: np.random.Generator) -> str:
    """Draw one policy name from a normalised mix."""
    names = list(mix)
    return names[int(rng.choice(len(names), p=np.array([mix[n] for n in names])))]


def policy_label(policy: Policy, name: str) -> str:
    """What an episode's metadata records as its policy, e.g. ``imperfect/drop``."""
    return str(getattr(policy, "label", name))
