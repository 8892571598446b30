"""Record a driver run (a deployment on a robot or in the simulator) as one episode of a dataset folder in the
format of `jepa-sim collect` (:mod:`jepa_sim.data.episode`, :mod:`jepa_sim.data.manifest`), so that real
episodes can be encoded and fine-tune the predictor.

A folder holds episodes of one :func:`record_spec` (driver, task, object, image size, and whether the wrist
camera was recorded): :func:`check_record_folder` refuses another spec before anything is connected, and
:meth:`EpisodeRecorder.save` checks again. With the wrist view, its frames are stored as ``wrist_frames`` (the
array `jepa-sim collect --wrist-camera` writes, which `jepa-sim encode --views exterior,wrist` reads).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from agents.drivers.base import Observation

DEPLOY_SOURCE = "jepa-sim deploy"


class RecordSpecError(ValueError):
    """A dataset folder holds episodes recorded with another spec; ``differences`` lists them."""

    def __init__(self, root: Path, differences: list[str]) -> None:
        self.root, self.differences = root, differences
        super().__init__(
            f"{root} already holds episodes recorded with different settings ({'; '.join(differences)}); "
            "record with the same settings to add to it, or choose another folder"
        )


def record_spec(
    driver: str, env_id: str, obj: str, image_size: int, wrist_camera: bool = False, source: str = DEPLOY_SOURCE
) -> dict[str, Any]:
    """The dataset spec of a recording folder: episodes with another spec do not go into the same folder.
    ``env_id`` is the simulated task's (used with the ``sim`` driver; a robot's runs are ``deploy/<driver>``).
    ``wrist_camera`` is stored only when true, so that folders recorded before it existed keep their spec."""
    spec: dict[str, Any] = {"source": source, "env_ids": [env_id if driver == "sim" else f"deploy/{driver}"],
                            "objects": [obj], "image_size": image_size, "driver": driver}  # fmt: skip
    if wrist_camera:
        spec["wrist_camera"] = True
    return spec


def check_record_folder(root: Path | None, spec: dict[str, Any]) -> None:
    """Raise :class:`RecordSpecError` when ``root`` holds episodes recorded with another spec (call it before
    anything is connected, so that no real episode is run only to be thrown away)."""
    from jepa_sim.data.manifest import manifest_path, read_manifest, spec_differences

    if root is None or not manifest_path(root).exists():
        return
    diffs = spec_differences(read_manifest(root).get("spec", {}), spec)
    if diffs:
        raise RecordSpecError(root, diffs)


class EpisodeRecorder:
    """Collects one driver run and adds it to a dataset folder as an episode in the `jepa-sim collect` format.

    Args:
        root: the dataset folder (made when missing).
        spec: :func:`record_spec`; with ``wrist_camera`` every observation must carry a wrist image.
        goals: the exterior goal chain (sub-goals, then the goal), uint8 (H, W, 3) each.
        features: the driver's features (stored in a new folder's manifest; its control period sets the fps).
        cameras: what each view's camera is, for a new folder's manifest (``{"exterior": ..., "wrist": ...}``).
        seed, policy: stored with the episode.
        extra: more episode metadata (goal files, model names, ...), stored after the outcome.
    """

    def __init__(
        self,
        root: Path,
        spec: dict[str, Any],
        goals: list[NDArray[np.uint8]],
        features: dict[str, Any],
        cameras: dict[str, Any],
        seed: int,
        policy: str = "mpc",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.root, self.spec, self.goals, self.features, self.cameras = root, spec, goals, features, cameras
        self.seed, self.policy, self.extra = seed, policy, dict(extra or {})
        self.wrist = bool(spec.get("wrist_camera", False))
        self.frames: list[Any] = []
        self.wrist_frames: list[Any] = []
        self.states: list[Any] = []
        self.times: list[float] = []
        self.commanded: list[Any] = []
        self.applied: list[Any] = []
        self.infos: list[dict[str, Any] | None] = []

    def first(self, obs: Observation) -> None:
        """The observation the run starts from."""
        self._frame(obs)

    def step(self, commanded: Any, applied: Any, obs: Observation) -> None:
        """One completed transition: the action sent, what was executed, and the observation after it."""
        self.commanded.append(commanded)
        self.applied.append(applied)
        self._frame(obs)

    def _frame(self, obs: Observation) -> None:
        if self.wrist and obs.wrist_image is None:
            raise ValueError("the recording stores the wrist view, but the observation has no wrist image")
        self.frames.append(obs.image)
        if self.wrist:
            self.wrist_frames.append(obs.wrist_image)
        self.states.append(obs.state)
        self.times.append(float(obs.time))
        info = obs.extras.get("info")
        self.infos.append(info if isinstance(info, dict) else None)

    def save(self, outcome: str) -> Path | None:
        """Write the episode (nothing when no frame was seen) and update the manifest; returns the file."""
        import numpy as np

        from envs.collection import package_versions
        from jepa_sim.data.dataset import EPISODE_RE, episode_path
        from jepa_sim.data.episode import FORMAT_VERSION, Episode, write_episode
        from jepa_sim.data.manifest import (
            CONVENTIONS,
            DATASET_FORMAT,
            DATASET_FORMAT_VERSION,
            EPISODES_DIR,
            manifest_path,
            read_manifest,
            write_manifest,
        )
        from jepa_sim.geometry import state_delta

        if not self.frames:
            return None
        goals = self.goals
        steps = len(self.commanded)
        states = np.asarray(self.states, np.float64).reshape(-1, 7)
        privileged = all(info is not None for info in self.infos)
        if privileged:  # the simulator's own record of the scene
            infos: list[dict[str, Any]] = [i for i in self.infos if i is not None]
            object_pose = np.array([np.concatenate([i["object_pos"], i["object_quat"]]) for i in infos])
            other = np.array([i["other_object_pos"] for i in infos], np.float64)
            command = np.array([i["gripper_command"] for i in infos], np.float64)
            grasped = np.array([bool(i["grasped"]) for i in infos])
            success = np.array([bool(i["is_success"]) for i in infos])
            goal_pos = np.asarray(infos[-1]["goal_pos"], np.float64)
        else:  # a real robot: the scene is unknown; the gripper command is the measured closedness + its change
            object_pose = np.tile(np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), (steps + 1, 1))
            other = np.zeros((steps + 1, 3))
            applied = np.asarray(self.applied, np.float64).reshape(-1, 7)
            command = np.concatenate([states[:1, 6], np.clip(states[:-1, 6] + applied[:, 6], 0.0, 1.0)])
            grasped = np.zeros(steps + 1, bool)
            success = np.zeros(steps + 1, bool)
            goal_pos = np.zeros(3)
        spec = self.spec
        env_id = spec["env_ids"][0]
        arrays: dict[str, NDArray[Any]] = {
            "frames": np.asarray(self.frames, np.uint8),
            "states": states,
            "actions": state_delta(states[:-1], states[1:]).reshape(-1, 7),
            "commanded": np.asarray(self.commanded, np.float64).reshape(-1, 7),
            "applied": np.asarray(self.applied, np.float64).reshape(-1, 7),
            "object_pose": np.asarray(object_pose, np.float64).reshape(-1, 7),
            "other_object_pos": other.reshape(-1, 3),
            "gripper_command": command,
            "grasped": grasped,
            "success": success,
            "time": np.asarray(self.times, np.float64),
            "goal_pos": goal_pos,
            "goal_image": np.asarray(goals[-1], np.uint8),
            "subgoal_images": np.asarray(goals if len(goals) > 1 else [], np.uint8).reshape(-1, *goals[-1].shape),
        }
        if self.wrist:
            arrays["wrist_frames"] = np.asarray(self.wrist_frames, np.uint8)
        self.root.mkdir(parents=True, exist_ok=True)
        if manifest_path(self.root).exists():
            check_record_folder(self.root, spec)  # checked before the run too; again in case the folder changed
            manifest = read_manifest(self.root)
        else:
            durations = np.diff(self.times)
            period = self.features.get("control_period") or (float(np.mean(durations)) if steps else 1.0)
            manifest = {
                "format": DATASET_FORMAT,
                "format_version": DATASET_FORMAT_VERSION,
                "spec": spec,
                "episodes": 0,
                "conventions": {**CONVENTIONS, "applied": "the action the driver executed after the safety clamp"},
                "episode_format_version": FORMAT_VERSION,
                "versions": package_versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "control_period": period,
                "fps": 1.0 / period,
                "cameras": self.cameras,
                "driver": self.features,
            }
        folder = self.root / EPISODES_DIR
        folder.mkdir(exist_ok=True)
        taken = [int(m.group(1)) for p in folder.iterdir() if (m := EPISODE_RE.match(p.name))]
        index = max(taken, default=-1) + 1
        metadata = {
            "format_version": FORMAT_VERSION,
            "index": index,
            "env_id": env_id,
            "task": str(infos[0]["task"]) if privileged else "deploy",
            "object": spec["objects"][0],
            "seed": self.seed,
            "policy": self.policy,
            "success": bool(success.any()),
            "success_known": privileged,
            "steps": steps,
            "outcome": outcome,
            **self.extra,
            "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        path = episode_path(self.root, index)
        write_episode(path, Episode(arrays, metadata))
        manifest["episodes"] = max(int(manifest.get("episodes", 0)), index + 1)
        write_manifest(self.root, manifest)
        return path
