"""One episode on disk: a deterministic, checksummed zip of ``.npy`` arrays plus a JSON metadata member.

The file is an ordinary ``.npz`` (``numpy.load`` opens it), written member by member with fixed timestamps so
that the same episode always gives the same bytes, and compressed with deflate. Every member carries the
zip CRC-32, so a flipped byte or a truncated file is detected on read; :func:`read_episode` then raises
:class:`EpisodeFormatError` naming the file and the problem instead of returning partial data.

Arrays of an episode with ``T`` actions (``T + 1`` frames):

| key                 | shape           | dtype   | meaning                                                   |
|---------------------|-----------------|---------|-----------------------------------------------------------|
| ``frames``          | (T+1, H, W, 3)  | uint8   | exterior camera RGB                                       |
| ``states``          | (T+1, 7)        | float64 | tool xyz (m), Euler xyz (rad), gripper closedness         |
| ``actions``         | (T, 7)          | float64 | label: achieved change ``state_delta(s_t, s_t+1)``        |
| ``commanded``       | (T, 7)          | float64 | what the policy sent                                      |
| ``applied``         | (T, 7)          | float64 | what the controller executed after the per-step clip      |
| ``object_pose``     | (T+1, 7)        | float64 | task object position (m) and quaternion (w, x, y, z)      |
| ``other_object_pos``| (T+1, 3)        | float64 | the distractor's position (m)                             |
| ``gripper_command`` | (T+1,)          | float64 | commanded closedness kept by the env                      |
| ``grasped``         | (T+1,)          | bool    | both finger pads touch the task object                    |
| ``success``         | (T+1,)          | bool    | the task's success check on each frame                    |
| ``time``            | (T+1,)          | float64 | simulated seconds                                         |
| ``goal_pos``        | (3,)            | float64 | the goal position (m)                                     |
| ``goal_image``      | (H, W, 3)       | uint8   | the goal image the env rendered at reset                  |
| ``subgoal_images``  | (K, H, W, 3)    | uint8   | pick-and-place sub-goals (K = 0 for other tasks)          |
| ``wrist_frames``    | (T+1, H, W, 3)  | uint8   | only when collected with the wrist camera                 |
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jepa_sim.atomic import atomic_write
from jepa_sim.geometry import ACTION_DIM, STATE_DIM, state_delta

FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
LABEL_TOLERANCE = 1e-9
"""largest allowed difference between a stored action label and the recomputed state change"""

# key -> (dtype, shape with "T" for the number of actions, "F" for frames, "H"/"W" image, "K" sub-goals)
SCHEMA: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "frames": ("uint8", ("F", "H", "W", 3)),
    "states": ("float64", ("F", STATE_DIM)),
    "actions": ("float64", ("T", ACTION_DIM)),
    "commanded": ("float64", ("T", ACTION_DIM)),
    "applied": ("float64", ("T", ACTION_DIM)),
    "object_pose": ("float64", ("F", 7)),
    "other_object_pos": ("float64", ("F", 3)),
    "gripper_command": ("float64", ("F",)),
    "grasped": ("bool", ("F",)),
    "success": ("bool", ("F",)),
    "time": ("float64", ("F",)),
    "goal_pos": ("float64", (3,)),
    "goal_image": ("uint8", ("H", "W", 3)),
    "subgoal_images": ("uint8", ("K", "H", "W", 3)),
}
OPTIONAL: dict[str, tuple[str, tuple[str | int, ...]]] = {"wrist_frames": ("uint8", ("F", "H", "W", 3))}
METADATA_KEYS = ("format_version", "index", "env_id", "task", "object", "seed", "policy", "success", "steps")


class EpisodeFormatError(ValueError):
    """An episode file is missing, truncated, corrupt or inconsistent; the message names the file."""


@dataclass
class Episode:
    """The arrays of one episode (see the module docstring) and its metadata.

    ``metadata`` holds at least: ``index`` (position in the dataset), ``env_id``, ``task``, ``object``,
    ``seed`` (the env reset seed), ``policy`` (what acted, e.g. ``imperfect/early_close``), ``success`` (the
    task succeeded on some frame) and ``steps`` (T).
    """

    arrays: dict[str, NDArray[Any]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> NDArray[Any]:
        return self.arrays[key]

    @property
    def steps(self) -> int:
        return int(self.arrays["actions"].shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.arrays["frames"].shape[0])


def episode_filename(index: int) -> str:
    return f"episode_{index:06d}.npz"


def _npy_bytes(array: NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def check_episode(episode: Episode, source: str = "episode") -> None:
    """Raise :class:`EpisodeFormatError` unless every array matches the schema and the labels the states."""
    arrays = episode.arrays
    missing = [k for k in SCHEMA if k not in arrays]
    if missing:
        raise EpisodeFormatError(f"{source}: missing arrays {', '.join(missing)}")
    unknown = [k for k in arrays if k not in SCHEMA and k not in OPTIONAL]
    if unknown:
        raise EpisodeFormatError(f"{source}: unknown arrays {', '.join(unknown)}")
    absent = [k for k in METADATA_KEYS if k not in episode.metadata]
    if absent:
        raise EpisodeFormatError(f"{source}: metadata lacks {', '.join(absent)}")
    frames = arrays["frames"]
    if frames.ndim != 4 or frames.shape[0] < 1:
        raise EpisodeFormatError(f"{source}: frames must be (T+1, H, W, 3), got shape {frames.shape}")
    dims = {"F": frames.shape[0], "T": frames.shape[0] - 1, "H": frames.shape[1], "W": frames.shape[2]}
    dims["K"] = arrays["subgoal_images"].shape[0] if arrays["subgoal_images"].ndim == 4 else -1
    for key, (dtype, shape) in {**SCHEMA, **{k: v for k, v in OPTIONAL.items() if k in arrays}}.items():
        array = arrays[key]
        expected = tuple(dims[d] if isinstance(d, str) else d for d in shape)
        if array.dtype != np.dtype(dtype):
            raise EpisodeFormatError(f"{source}: {key} has dtype {array.dtype}, expected {dtype}")
        if array.shape != expected:
            raise EpisodeFormatError(f"{source}: {key} has shape {array.shape}, expected {expected}")
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise EpisodeFormatError(f"{source}: {key} contains NaN or inf")
    labels = state_delta(arrays["states"][:-1], arrays["states"][1:])
    error = float(np.max(np.abs(labels - arrays["actions"]), initial=0.0))
    if error > LABEL_TOLERANCE:
        raise EpisodeFormatError(
            f"{source}: actions are not the achieved state changes between frames (max error {error:.3g})"
        )
    if int(episode.metadata["steps"]) != dims["T"]:
        raise EpisodeFormatError(f"{source}: metadata says {episode.metadata['steps']} steps, arrays hold {dims['T']}")


def write_episode(path: Path, episode: Episode, compresslevel: int = 1) -> None:
    """Write ``episode`` to ``path`` atomically (temporary file, fsync, rename); same episode, same bytes."""
    check_episode(episode, str(path))
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", compresslevel=compresslevel) as zf:
        zf.writestr(_member(METADATA_MEMBER), json.dumps(episode.metadata, sort_keys=True, indent=1).encode())
        for key in sorted(episode.arrays):
            zf.writestr(_member(key + ".npy"), _npy_bytes(episode.arrays[key]))


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise EpisodeFormatError(f"{path}: no such episode file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        size = path.stat().st_size
        raise EpisodeFormatError(
            f"{path}: truncated or not an episode file ({size} bytes, no zip directory: {exc}); "
            "delete it and rerun the collect command to redo it"
        ) from exc


def _read_member(zf: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        return zf.read(name)
    except KeyError as exc:
        raise EpisodeFormatError(f"{path}: member {name} is missing") from exc
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:  # bad CRC, truncated or bad data
        raise EpisodeFormatError(f"{path}: member {name} is corrupt ({exc})") from exc


def _load_array(raw: bytes, name: str, path: Path) -> NDArray[Any]:
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise EpisodeFormatError(f"{path}: member {name} is not a valid .npy array ({exc})") from exc


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata of an episode file, without decompressing its arrays."""
    with _open_zip(path) as zf:
        raw = _read_member(zf, METADATA_MEMBER, path)
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EpisodeFormatError(f"{path}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict) or metadata.get("format_version") != FORMAT_VERSION:
        version = metadata.get("format_version") if isinstance(metadata, dict) else None
        raise EpisodeFormatError(f"{path}: episode format version {version!r}, this jepa-sim reads {FORMAT_VERSION}")
    return metadata


def read_arrays(path: Path, keys: Iterable[str]) -> dict[str, NDArray[Any]]:
    """Only the named arrays of an episode file (each checked by its CRC), for cheap partial reads."""
    with _open_zip(path) as zf:
        return {k: _load_array(_read_member(zf, k + ".npy", path), k, path) for k in keys}


def read_episode(path: Path, check: bool = True) -> Episode:
    """Read a whole episode; with ``check`` every array is validated against the schema and the labels."""
    metadata = read_metadata(path)
    with _open_zip(path) as zf:
        names = [n[: -len(".npy")] for n in zf.namelist() if n.endswith(".npy")]
        arrays = {k: _load_array(_read_member(zf, k + ".npy", path), k, path) for k in names}
    episode = Episode(arrays, metadata)
    if check:
        check_episode(episode, str(path))
    return episode
