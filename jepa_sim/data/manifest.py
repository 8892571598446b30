"""The dataset manifest: what was collected, how, and with which software.

``DIR/manifest.json`` is written before the first episode and holds:

- ``format``/``format_version``: identify the layout (one ``episodes/episode_NNNNNN.npz`` per episode);
- ``spec``: everything that determines the episodes (envs, objects, policy mix, seed, image size, ...).
  Rerunning a collection into the same folder must give the same ``spec``; only ``episodes`` may grow;
- ``episodes``: the number of episodes requested so far (indices ``0 .. episodes-1``);
- ``env_config`` (the simulator configuration), ``cameras`` (intrinsics and extrinsics), ``conventions``
  (action/state meaning), ``control_period`` and ``fps``, ``versions`` (packages that made the data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jepa_sim.atomic import atomic_write

MANIFEST_NAME = "manifest.json"
EPISODES_DIR = "episodes"
DATASET_FORMAT = "jepa-sim-episodes"
DATASET_FORMAT_VERSION = 1

CONVENTIONS: dict[str, Any] = {
    "frame": "robot base frame: x forward, y left, z up, table top at z = 0 (m)",
    "state": ["x", "y", "z", "roll", "pitch", "yaw", "gripper"],
    "state_meaning": "tool position (m), extrinsic Euler xyz of the tool frame (rad, R = Rz Ry Rx), "
    "gripper closedness measured at the fingers (0 open .. 1 closed)",
    "actions": "achieved state change between consecutive frames: dxyz (base frame), "
    "droll/dpitch/dyaw = euler_xyz(R_t+1 R_t^T), dgripper = change of measured closedness",
    "commanded": "the policy's action as sent: dxyz (m), Euler delta applied as R_new = R_delta R_cur, "
    "change of the commanded gripper closedness (clipped to [0, 1] by the env)",
    "applied": "the commanded action after the per-step limits",
    "tool_frame": "between the finger pads; Euler (0, 0, 0) with the gripper pointing straight down",
}


class DatasetError(ValueError):
    """A dataset folder is missing, incompatible or holds bad files; the message says which and why."""


def manifest_path(root: Path) -> Path:
    return Path(root) / MANIFEST_NAME


def read_manifest(root: Path) -> dict[str, Any]:
    path = manifest_path(root)
    if not path.is_file():
        raise DatasetError(f"{root} is not a jepa-sim dataset: {MANIFEST_NAME} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != DATASET_FORMAT:
        raise DatasetError(f"{path}: not a {DATASET_FORMAT} manifest")
    if manifest.get("format_version") != DATASET_FORMAT_VERSION:
        raise DatasetError(
            f"{path}: dataset format version {manifest.get('format_version')!r}, "
            f"this jepa-sim reads {DATASET_FORMAT_VERSION}"
        )
    return manifest


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (temporary file, fsync, rename)."""
    with atomic_write(manifest_path(root)) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def spec_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable ``field: old -> new`` lines for every spec field that differs."""
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def check_same_spec(root: Path, existing: dict[str, Any], spec: dict[str, Any]) -> None:
    """Raise :class:`DatasetError` if a rerun into ``root`` would mix differently made episodes."""
    diffs = spec_differences(existing.get("spec", {}), spec)
    if diffs:
        raise DatasetError(
            f"{root} already holds episodes collected with different settings ({'; '.join(diffs)}); "
            "rerun with the original settings to resume, or choose another --out folder"
        )
