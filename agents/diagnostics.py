"""Where grasping breaks, measured on the energy itself (no model, no planner).

Two measurements, both with the simulator's exact frames and a frozen encoder applied to each view:

- :func:`chain_traces`: along the scripted expert's own episodes, the energy (the MPC agent's weighted latent
  distance, :func:`agents.planning_model.weighted_distance`) of every frame to every image of the task's goal chain. A
  chain that works shows each sub-goal's distance reaching its low when the expert passes through that
  configuration, and the next sub-goal's distance falling after it: no ridge for a short-horizon planner.
- :func:`gripper_contrast`: at the grasp pose (the expert about to close), how much one control step that closes
  the gripper moves the latent, against one step 2 cm sideways (+-x, +-y, open) from the same state. If closing
  moves the energy much less than a small translation, a planner cannot tell a closed grasp from a near miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from numpy.typing import NDArray

from envs.expert import ScriptedExpert
from envs.franka_env import FrankaTableEnv
from envs.registration import ENV_IDS
from jepa_sim.encoders.base import FrozenEncoder

TAIL_STEPS = 3
"""expert steps still traced after the first success"""
SIDESTEP = 0.02
"""the translation the gripper contrast is compared with (m)"""


def _encode(encoder: FrozenEncoder, views: Mapping[str, Sequence[NDArray[np.uint8]]]) -> dict[str, torch.Tensor]:
    return {view: encoder.encode(np.stack(list(images))).float() for view, images in views.items()}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """Weighted latent L1 between matching rows of ``a`` (T, N, D per view) and ``b`` (K, N, D) -> (T, K)."""
    return sum(w * (a[v][:, None] - b[v][None]).abs().mean(dim=(-2, -1)) for v, w in weights.items())  # type: ignore[return-value]


def _views_of(obs: Mapping[str, Any], views: Sequence[str]) -> dict[str, NDArray[np.uint8]]:
    return {v: obs["image" if v == "exterior" else "wrist_image"] for v in views}


@dataclass
class ChainTrace:
    """The energy of every frame of one expert episode to every image of its goal chain."""

    task: str
    object: str
    seed: int
    names: list[str]
    """the chain's sub-goal names, in order"""
    distances: NDArray[np.float64]
    """(T+1, K): frame t to sub-goal k, weighted over the views"""
    per_view: dict[str, NDArray[np.float64]]
    """(T+1, K) per view"""
    phases: list[str]
    """the expert's phase when each frame was taken"""
    success: bool
    minima: list[int] = field(default_factory=list)
    """for each sub-goal, the frame at which its distance is lowest"""

    @property
    def ordered(self) -> bool:
        """The sub-goals' lowest points come in chain order (a chain a planner can follow)."""
        return all(a <= b for a, b in zip(self.minima, self.minima[1:], strict=False))


def chain_traces(
    encoder: FrozenEncoder,
    task: str,
    obj: str,
    seeds: Sequence[int],
    weights: Mapping[str, float],
    image_size: int = 128,
    goal_chain: str = "grasp",
) -> list[ChainTrace]:
    """Run the scripted expert (no noise) for each seed and trace its frames' energy to each chain image."""
    views = tuple(weights)
    env = gym.make(ENV_IDS[task], object=obj, image_size=image_size, wrist_camera="wrist" in views,
                   goal_chain=goal_chain, terminate_on_success=False)  # fmt: skip
    sim: FrankaTableEnv = env.unwrapped  # type: ignore[assignment]
    traces = []
    try:
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            goal_views = sim.render_goal_views(views)
            expert = ScriptedExpert(task, obj, seed=seed)
            frames: dict[str, list[NDArray[np.uint8]]] = {v: [] for v in views}
            phases: list[str] = []
            success, tail, truncated = False, TAIL_STEPS, False
            while not truncated and tail > 0:
                for v, image in _views_of(obs, views).items():
                    frames[v].append(image)
                phases.append(expert.phase)
                obs, _, _, truncated, info = env.step(expert.act(obs["state"], info))
                success = success or bool(info["is_success"])
                tail -= int(success)
            for v, image in _views_of(obs, views).items():
                frames[v].append(image)
            phases.append(expert.phase)
            z, goals = _encode(encoder, frames), _encode(encoder, goal_views)
            per_view = {v: _distance(z, goals, {v: 1.0}).numpy().astype(np.float64) for v in views}
            combined = sum(weights[v] * per_view[v] for v in views)
            assert isinstance(combined, np.ndarray)
            traces.append(ChainTrace(task, obj, seed, sim.goal_chain_names(), combined, per_view, phases, success,
                                     [int(i) for i in combined.argmin(axis=0)]))  # fmt: skip
    finally:
        env.close()
    return traces


@dataclass
class Contrast:
    """Latent distance moved by one closing step and by one 2 cm step, at the grasp pose (per view and weighted)."""

    object: str
    seed: int
    close: dict[str, float]
    sidestep: dict[str, float]
    """mean over +-x and +-y"""

    def ratio(self, view: str) -> float:
        return self.close[view] / self.sidestep[view]


def gripper_contrast(
    encoder: FrozenEncoder, obj: str, seeds: Sequence[int], weights: Mapping[str, float], image_size: int = 128
) -> list[Contrast]:
    """At the expert's grasp pose (descended, open, about to close) of the grasp task, for each seed."""
    views = tuple(weights)
    env = gym.make(ENV_IDS["grasp"], object=obj, image_size=image_size, wrist_camera="wrist" in views)
    sim: FrankaTableEnv = env.unwrapped  # type: ignore[assignment]
    results = []
    try:
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            expert = ScriptedExpert("grasp", obj, seed=seed)
            for _ in range(40):
                action = expert.act(obs["state"], info)
                if expert.phase == "close":
                    break
                obs, _, _, _, info = env.step(action)
            else:
                raise RuntimeError(f"the expert never reached the grasp pose ({obj}, seed {seed})")
            here = _views_of(obs, views)
            saved = sim.save_state()
            steps = {"close": np.array([0, 0, 0, 0, 0, 0, 1.0])}
            for name, axis, sign in (("+x", 0, 1), ("-x", 0, -1), ("+y", 1, 1), ("-y", 1, -1)):
                step = np.zeros(7)
                step[axis] = sign * SIDESTEP
                steps[name] = step
            after = {}
            for name, step in steps.items():
                obs_after, *_ = sim.step(step)
                after[name] = _views_of(obs_after, views)
                sim.restore_state(saved)
            z_here = _encode(encoder, {v: [here[v]] for v in views})
            z_after = _encode(encoder, {v: [after[n][v] for n in steps] for v in views})
            moved = {v: _distance(z_here, z_after, {v: 1.0})[0].numpy() for v in views}
            moved["weighted"] = sum(weights[v] * moved[v] for v in views)  # type: ignore[assignment]
            results.append(
                Contrast(
                    obj,
                    seed,
                    close={k: float(m[0]) for k, m in moved.items()},
                    sidestep={k: float(np.mean(m[1:])) for k, m in moved.items()},
                )
            )
    finally:
        env.close()
    return results
