"""A dataset folder of episodes: listing, statistics and full validation (no simulator, no torch)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepa_sim.data.episode import EpisodeFormatError, episode_filename, read_arrays, read_episode, read_metadata
from jepa_sim.data.manifest import EPISODES_DIR, DatasetError, read_manifest

EPISODE_RE = re.compile(r"^episode_(\d{6})\.npz$")


def episode_path(root: Path, index: int) -> Path:
    """Where episode ``index`` of the dataset folder ``root`` lives."""
    return Path(root) / EPISODES_DIR / episode_filename(index)


class EpisodeDataset:
    """The episodes of one dataset folder, indexed by episode number."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        folder = self.root / EPISODES_DIR
        self.paths: dict[int, Path] = {}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                match = EPISODE_RE.match(path.name)
                if match:
                    self.paths[int(match.group(1))] = path

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def indices(self) -> list[int]:
        return sorted(self.paths)

    @property
    def expected(self) -> int:
        """Episodes requested by the collection command(s) that made this folder."""
        return int(self.manifest.get("episodes", 0))

    @property
    def missing(self) -> list[int]:
        return [i for i in range(self.expected) if i not in self.paths]

    @property
    def control_period(self) -> float:
        return float(self.manifest["control_period"])

    @property
    def image_size(self) -> int:
        return int(self.manifest["spec"]["image_size"])

    def path(self, index: int) -> Path:
        if index not in self.paths:
            raise DatasetError(f"{self.root}: no episode {index} (holds {len(self)} episodes)")
        return self.paths[index]

    def metadata(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for index in self.indices:
            yield index, read_metadata(self.paths[index])

    def info(self) -> DatasetInfo:
        """Counts, duration, success rates and action-label statistics (reads only small arrays)."""
        info = DatasetInfo(root=self.root, expected=self.expected, missing=len(self.missing))
        labels = []
        for index, meta in self.metadata():
            key = f"{meta['task']}/{meta['object']}"
            info.episodes += 1
            info.steps += int(meta["steps"])
            info.per_combo[key] += 1
            info.successes[key] += bool(meta["success"])
            info.policies[str(meta["policy"])] += 1
            info.lengths.append(int(meta["steps"]))
            labels.append(read_arrays(self.paths[index], ["actions"])["actions"])
        info.hours = info.steps * self.control_period / 3600.0
        if labels:
            actions = np.concatenate(labels)
            if len(actions):
                info.action_stats = {
                    "mean": actions.mean(0),
                    "std": actions.std(0),
                    "min": actions.min(0),
                    "max": actions.max(0),
                    "abs_p99": np.percentile(np.abs(actions), 99, axis=0),
                }
        return info

    def validate(self, on_file: Callable[[int, str | None], None] | None = None) -> list[str]:
        """Read and check every episode in full; returns one line per problem (empty when all is well)."""
        problems = [f"episode {i} is missing (rerun the collect command to record it)" for i in self.missing]
        spec = self.manifest["spec"]
        combos = {(e, o) for e in spec["env_ids"] for o in spec["objects"]}
        folder = self.root / EPISODES_DIR
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if not EPISODE_RE.match(path.name):
                    problems.append(f"{path}: unexpected file in the episodes folder")
        for index in self.indices:
            path = self.paths[index]
            problem = None
            try:
                episode = read_episode(path)
                meta = episode.metadata
                if meta["index"] != index:
                    problem = f"{path}: holds episode {meta['index']}, its name says {index}"
                elif (meta["env_id"], meta["object"]) not in combos:
                    problem = f"{path}: {meta['env_id']}/{meta['object']} is not among the manifest's envs and objects"
                elif episode["frames"].shape[1] != spec["image_size"]:
                    problem = f"{path}: {episode['frames'].shape[1]} px frames, manifest says {spec['image_size']} px"
            except EpisodeFormatError as exc:
                problem = str(exc)
            if problem:
                problems.append(problem)
            if on_file is not None:
                on_file(index, problem)
        return problems


@dataclass
class DatasetInfo:
    root: Path
    expected: int = 0
    missing: int = 0
    episodes: int = 0
    steps: int = 0
    hours: float = 0.0
    per_combo: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)
    policies: Counter[str] = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    action_stats: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return self.steps + self.episodes

    @property
    def success_rate(self) -> float:
        return sum(self.successes.values()) / max(self.episodes, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "episodes": self.episodes,
            "expected": self.expected,
            "missing": self.missing,
            "frames": self.frames,
            "steps": self.steps,
            "hours": self.hours,
            "success_rate": self.success_rate,
            "per_combo": {
                k: {"episodes": n, "successes": self.successes[k]} for k, n in sorted(self.per_combo.items())
            },
            "policies": dict(sorted(self.policies.items())),
            "episode_steps": {
                "min": min(self.lengths, default=0),
                "mean": float(np.mean(self.lengths)) if self.lengths else 0.0,
                "max": max(self.lengths, default=0),
            },
            "action_stats": {k: v.round(6).tolist() for k, v in self.action_stats.items()},
        }
