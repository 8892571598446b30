"""Collect action-labelled episodes into a dataset folder, in parallel, resumably.

Episode ``i`` is fully determined by the collection spec and ``i`` (its env seed, policy and policy seed
come from ``SeedSequence([seed, i])``), so it does not matter which worker records it or whether the run
was interrupted: rerunning the same command skips finished episodes and redoes only the missing ones.
Each episode is written atomically (temporary file, then rename), so a killed run never leaves a
half-written episode under its final name; leftover temporary files are removed on the next run.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from envs.collect_policies import COLLECT_POLICIES, choose_policy, parse_mix, policy_label
from envs.config import OBJECTS, EnvConfig
from envs.franka_env import FrankaTableEnv
from envs.registration import ENV_IDS, MAX_EPISODE_STEPS, task_of
from envs.rollout import Policy
from jepa_sim.atomic import remove_leftovers
from jepa_sim.data.dataset import episode_path
from jepa_sim.data.episode import FORMAT_VERSION, Episode, EpisodeFormatError, write_episode
from jepa_sim.data.episode import read_metadata as read_episode_metadata
from jepa_sim.data.manifest import (
    CONVENTIONS,
    DATASET_FORMAT,
    DATASET_FORMAT_VERSION,
    EPISODES_DIR,
    DatasetError,
    check_same_spec,
    manifest_path,
    read_manifest,
    write_manifest,
)

log = logging.getLogger(__name__)
VERSIONED_PACKAGES = ("jepa-sim", "numpy", "mujoco", "dm_control", "gymnasium", "gymnasium-robotics", "torch")


@dataclass(frozen=True)
class CollectSpec:
    """Everything that determines the episodes of a dataset (stored in the manifest, checked on resume)."""

    env_ids: tuple[str, ...]
    objects: tuple[str, ...]
    policy: str = "expert:0.4,imperfect:0.4,explore:0.2"
    seed: int = 0
    image_size: int = 128
    render_preset: str = "fast"
    wrist_camera: bool = False
    exterior_camera: str = "droid"
    """exterior camera preset (``EnvConfig.exterior_camera``)"""
    max_steps: int | None = None
    """steps per episode at most; None uses each task's registered limit"""
    tail_steps: int = 5
    """steps recorded after the first success before the episode ends"""

    def __post_init__(self) -> None:
        if not self.env_ids or not self.objects:
            raise ValueError("give at least one env id and one object")
        for env_id in self.env_ids:
            task_of(env_id)  # raises for unknown ids
        for obj in self.objects:
            if obj not in OBJECTS:
                raise ValueError(f"object={obj!r} is not valid; allowed values: {', '.join(OBJECTS)}")
        parse_mix(self.policy)
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.tail_steps < 0:
            raise ValueError(f"tail_steps must be >= 0, got {self.tail_steps}")
        self.env_config("reach", self.objects[0])  # validates image_size and render_preset

    def env_config(self, task: str, obj: str) -> EnvConfig:
        return EnvConfig(
            task=task,  # type: ignore[arg-type]
            object=obj,  # type: ignore[arg-type]
            image_size=self.image_size,
            render_preset=self.render_preset,  # type: ignore[arg-type]
            wrist_camera=self.wrist_camera,
            exterior_camera=self.exterior_camera,
            terminate_on_success=False,
        )

    @property
    def combos(self) -> list[tuple[str, str]]:
        """(env id, object) pairs, cycled through by episode index."""
        return [(env_id, obj) for env_id in self.env_ids for obj in self.objects]

    def plan(self, index: int) -> EpisodePlan:
        env_id, obj = self.combos[index % len(self.combos)]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        env_seed, policy_seed = (int(s) for s in rng.integers(0, 2**31, size=2))
        name = choose_policy(parse_mix(self.policy), rng)
        task = task_of(env_id)
        steps = self.max_steps or MAX_EPISODE_STEPS[task]
        return EpisodePlan(index, env_id, task, obj, env_seed, name, policy_seed, steps)


@dataclass(frozen=True)
class EpisodePlan:
    index: int
    env_id: str
    task: str
    object: str
    env_seed: int
    policy: str
    policy_seed: int
    max_steps: int


@dataclass(frozen=True)
class EpisodeReport:
    """What a worker reports back about one recorded episode."""

    index: int
    frames: int
    success: bool
    policy: str
    seconds: float


def record_episode(env: gym.Env[Any, Any], policy: Policy, plan: EpisodePlan, tail_steps: int) -> Episode:
    """Run ``policy`` from ``env.reset(seed=plan.env_seed)`` and return the recorded episode.

    The episode ends ``tail_steps`` steps after the first success, or after ``plan.max_steps`` steps.
    """
    from jepa_sim.geometry import state_delta

    obs, info = env.reset(seed=plan.env_seed)
    goal_image = info["goal_image"]
    subgoals = info.get("subgoal_images", [])
    policy.reset()
    frames, wrist, states = [obs["image"]], [obs.get("wrist_image")], [obs["state"]]
    per_frame: dict[str, list[Any]] = {k: [] for k in ("object_pose", "other", "gripper", "grasped", "success", "t")}
    commanded: list[np.ndarray] = []
    applied: list[np.ndarray] = []

    def note(info: dict[str, Any]) -> None:
        per_frame["object_pose"].append(np.concatenate([info["object_pos"], info["object_quat"]]))
        per_frame["other"].append(info["other_object_pos"])
        per_frame["gripper"].append(info["gripper_command"])
        per_frame["grasped"].append(info["grasped"])
        per_frame["success"].append(info["is_success"])
        per_frame["t"].append(info["time"])

    note(info)
    first_success: int | None = 0 if info["is_success"] else None
    for step in range(1, plan.max_steps + 1):
        action = np.array(policy.act(obs["state"], info), dtype=np.float64)
        obs, _, _, _, info = env.step(action)
        commanded.append(action)
        applied.append(info["applied_action"])
        frames.append(obs["image"])
        wrist.append(obs.get("wrist_image"))
        states.append(obs["state"])
        note(info)
        if first_success is None and info["is_success"]:
            first_success = step
        if first_success is not None and step - first_success >= tail_steps:
            break
    state_arr = np.array(states, dtype=np.float64)
    arrays: dict[str, np.ndarray] = {
        "frames": np.array(frames, dtype=np.uint8),
        "states": state_arr,
        "actions": state_delta(state_arr[:-1], state_arr[1:]).reshape(-1, 7),
        "commanded": np.array(commanded, dtype=np.float64).reshape(-1, 7),
        "applied": np.array(applied, dtype=np.float64).reshape(-1, 7),
        "object_pose": np.array(per_frame["object_pose"], dtype=np.float64),
        "other_object_pos": np.array(per_frame["other"], dtype=np.float64),
        "gripper_command": np.array(per_frame["gripper"], dtype=np.float64),
        "grasped": np.array(per_frame["grasped"], dtype=bool),
        "success": np.array(per_frame["success"], dtype=bool),
        "time": np.array(per_frame["t"], dtype=np.float64),
        "goal_pos": np.asarray(info["goal_pos"], dtype=np.float64),
    }
    arrays["goal_image"] = np.asarray(goal_image, dtype=np.uint8)
    arrays["subgoal_images"] = np.array(subgoals, dtype=np.uint8).reshape(-1, *goal_image.shape)
    if wrist[0] is not None:
        arrays["wrist_frames"] = np.array(wrist, dtype=np.uint8)
    metadata = {
        "format_version": FORMAT_VERSION,
        "index": plan.index,
        "env_id": plan.env_id,
        "task": plan.task,
        "object": plan.object,
        "seed": plan.env_seed,
        "policy": policy_label(policy, plan.policy),
        "policy_seed": plan.policy_seed,
        "success": first_success is not None,
        "first_success_step": first_success,
        "steps": len(commanded),
    }
    return Episode(arrays, metadata)


# ---- workers --------------------------------------------------------------------------------------------
_WORKER_ENVS: dict[tuple[str, str], FrankaTableEnv] = {}


def record_to_file(spec: CollectSpec, index: int, root: Path) -> EpisodeReport:
    """Record episode ``index`` of ``spec`` and write it atomically under ``root``; envs are kept per process."""
    start = time.perf_counter()
    plan = spec.plan(index)
    key = (plan.env_id, plan.object)
    if key not in _WORKER_ENVS:
        _WORKER_ENVS[key] = FrankaTableEnv(spec.env_config(plan.task, plan.object))
        # (Re-)registered after MuJoCo's EGL clean-up, which the first renderer registers: atexit runs in
        # reverse order, so the contexts are freed while the display still exists.
        atexit.unregister(close_worker_envs)
        atexit.register(close_worker_envs)
    env = _WORKER_ENVS[key]
    control = env.config.control
    policy = COLLECT_POLICIES[plan.policy](plan.task, plan.object, control, plan.policy_seed)
    episode = record_episode(env, policy, plan, spec.tail_steps)
    write_episode(episode_path(root, index), episode)
    return EpisodeReport(
        index,
        episode.num_frames,
        bool(episode.metadata["success"]),
        episode.metadata["policy"],
        time.perf_counter() - start,
    )


def close_worker_envs() -> None:
    while _WORKER_ENVS:
        _WORKER_ENVS.popitem()[1].close()


def _init_worker() -> None:
    import signal

    import envs  # noqa: F401  (sets MUJOCO_GL and registers the ids in the spawned process)

    # Ctrl-C reaches the whole process group: the parent stops handing out work and lets running episodes
    # finish and be written, so workers ignore it instead of dying mid-episode with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _worker_environment() -> Iterator[None]:
    """Environment variables inherited by spawned workers: one llvmpipe render thread each.

    Mesa's llvmpipe starts a render thread per core in every process; with one worker per core they only
    compete (measured: 2 workers at 64 px went from 1.53x to 1.77x one worker). Set LP_NUM_THREADS to override.
    """
    previous = os.environ.get("LP_NUM_THREADS")
    os.environ.setdefault("LP_NUM_THREADS", "1")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("LP_NUM_THREADS", None)


# ---- the dataset folder -----------------------------------------------------------------------------------
def describe_world(spec: CollectSpec) -> dict[str, Any]:
    """Env configuration and camera parameters for the manifest (cameras at the home pose)."""
    import mujoco

    from envs.panda import HOME_QPOS
    from envs.rendering import camera_parameters
    from envs.scene import EXTERIOR_CAMERA, WRIST_CAMERA, load_model

    config = spec.env_config(task_of(spec.env_ids[0]), spec.objects[0])
    model = load_model(spec.render_preset == "pretty", spec.exterior_camera)
    data = mujoco.MjData(model)
    data.qpos[: len(HOME_QPOS)] = HOME_QPOS
    mujoco.mj_forward(model, data)
    cameras = {"exterior": camera_parameters(model, data, EXTERIOR_CAMERA, spec.image_size)}
    if spec.wrist_camera:
        cameras["wrist"] = camera_parameters(model, data, "panda/" + WRIST_CAMERA, spec.image_size)
        cameras["wrist"]["note"] = "moves with the hand; world_from_camera is at the home pose"
    env_config = asdict(config)
    for varying in ("task", "object"):
        env_config.pop(varying)
    return {
        "env_config": env_config,
        "cameras": cameras,
        "control_period": config.control.control_period,
        "fps": 1.0 / config.control.control_period,
        "max_episode_steps": {task_of(e): spec.max_steps or MAX_EPISODE_STEPS[task_of(e)] for e in spec.env_ids},
    }


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def spec_dict(spec: CollectSpec) -> dict[str, Any]:
    out = asdict(spec)
    out["env_ids"], out["objects"] = list(spec.env_ids), list(spec.objects)
    if out["exterior_camera"] == "droid":  # the default camera: datasets from before the presets still resume
        del out["exterior_camera"]
    return out


@contextmanager
def dataset_lock(root: Path) -> Iterator[None]:
    """Refuse to let two collections write into the same folder at once."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".collect.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DatasetError(
                f"another jepa-sim collect is writing into {root}; wait for it or use another --out"
            ) from exc
        yield


def prepare(root: Path, spec: CollectSpec, episodes: int) -> list[int]:
    """Write or check the manifest, remove leftovers of killed runs, and list the indices still to record."""
    root = Path(root)
    if manifest_path(root).exists():
        manifest = read_manifest(root)
        check_same_spec(root, manifest, spec_dict(spec))
        manifest["episodes"] = max(int(manifest.get("episodes", 0)), episodes)
    else:
        manifest = {
            "format": DATASET_FORMAT,
            "format_version": DATASET_FORMAT_VERSION,
            "spec": spec_dict(spec),
            "episodes": episodes,
            "conventions": CONVENTIONS,
            "episode_format_version": FORMAT_VERSION,
            "versions": package_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **describe_world(spec),
        }
    write_manifest(root, manifest)
    folder = root / EPISODES_DIR
    folder.mkdir(exist_ok=True)
    for leftover in remove_leftovers(folder):
        log.info("removed %s, left by an interrupted run", leftover)
    todo = []
    for index in range(episodes):
        path = episode_path(root, index)
        if not path.exists():
            todo.append(index)
            continue
        try:
            meta = read_episode_metadata(path)
        except EpisodeFormatError as exc:
            raise DatasetError(f"{exc}. Delete that file and rerun to record it again.") from exc
        if meta.get("index") != index:
            raise DatasetError(f"{path}: holds episode {meta.get('index')}, expected {index}")
    return todo


def collect(
    root: Path,
    spec: CollectSpec,
    episodes: int,
    workers: int = 1,
    on_episode: Callable[[EpisodeReport], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[EpisodeReport]:
    """Record episodes ``0 .. episodes-1`` of ``spec`` into ``root`` (skipping finished ones); returns reports.

    ``workers > 1`` records in that many spawned processes (forking after an OpenGL context hangs).
    ``on_start`` is called with the number of episodes already there, ``on_episode`` after each new one.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    root = Path(root)
    reports: list[EpisodeReport] = []

    def done(report: EpisodeReport) -> None:
        reports.append(report)
        if on_episode is not None:
            on_episode(report)

    with dataset_lock(root):
        todo = prepare(root, spec, episodes)
        if on_start is not None:
            on_start(episodes - len(todo))
        if workers == 1 or len(todo) <= 1:
            try:
                for index in todo:
                    done(record_to_file(spec, index, root))
            finally:
                close_worker_envs()
            return reports
        context = multiprocessing.get_context("spawn")
        with _worker_environment(), ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            pending: set[Future[EpisodeReport]] = set()
            queue = iter(todo)
            try:
                for index in queue:  # keep two tasks per worker in flight
                    pending.add(pool.submit(record_to_file, spec, index, root))
                    if len(pending) >= 2 * workers:
                        break
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done(future.result())
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(pool.submit(record_to_file, spec, nxt, root))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    return reports


def default_env_ids(env: str) -> tuple[str, ...]:
    return tuple(ENV_IDS.values()) if env == "all" else (env,)
