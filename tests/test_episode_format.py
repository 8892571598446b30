"""The episode file format: round trip, determinism, and clear errors for damaged files."""

import zipfile

import numpy as np
import pytest

from jepa_sim.data.episode import (
    Episode,
    EpisodeFormatError,
    read_arrays,
    read_episode,
    read_metadata,
    write_episode,
)
from jepa_sim.geometry import state_delta


def make_episode(steps: int = 5, size: int = 8, seed: int = 0) -> Episode:
    rng = np.random.default_rng(seed)
    states = np.cumsum(rng.normal(0, 0.01, (steps + 1, 7)), axis=0)
    states[:, 6] = rng.uniform(0, 1, steps + 1)
    arrays = {
        "frames": rng.integers(0, 256, (steps + 1, size, size, 3), dtype=np.uint8),
        "states": states,
        "actions": state_delta(states[:-1], states[1:]),
        "commanded": rng.normal(0, 0.05, (steps, 7)),
        "applied": rng.normal(0, 0.05, (steps, 7)),
        "object_pose": rng.normal(0, 1, (steps + 1, 7)),
        "other_object_pos": rng.normal(0, 1, (steps + 1, 3)),
        "gripper_command": rng.uniform(0, 1, steps + 1),
        "grasped": rng.random(steps + 1) > 0.5,
        "success": np.zeros(steps + 1, dtype=bool),
        "time": np.arange(steps + 1) * 0.25,
        "goal_pos": np.array([0.5, 0.0, 0.1]),
        "goal_image": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "subgoal_images": np.zeros((0, size, size, 3), np.uint8),
    }
    meta = {
        "format_version": 1,
        "index": 3,
        "env_id": "JepaSim/FrankaReach-v0",
        "task": "reach",
        "object": "cup",
        "seed": seed,
        "policy": "expert",
        "success": False,
        "steps": steps,
    }
    return Episode(arrays, meta)


def test_round_trip_keeps_every_array_and_the_metadata(tmp_path):
    episode = make_episode()
    path = tmp_path / "episode_000003.npz"
    write_episode(path, episode)
    back = read_episode(path)
    assert back.metadata == episode.metadata
    assert set(back.arrays) == set(episode.arrays)
    for key, value in episode.arrays.items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == value.dtype
    assert np.load(path)["frames"].shape == (6, 8, 8, 3)  # a plain .npz for numpy users
    assert read_metadata(path)["index"] == 3
    assert set(read_arrays(path, ["states"])) == {"states"}
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_same_episode_gives_the_same_bytes(tmp_path):
    write_episode(tmp_path / "a.npz", make_episode())
    write_episode(tmp_path / "b.npz", make_episode())
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999])
def test_truncated_file_is_rejected_naming_the_file(tmp_path, keep):
    path = tmp_path / "episode_000003.npz"
    write_episode(path, make_episode(size=32))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(EpisodeFormatError, match=r"episode_000003\.npz") as err:
        read_episode(path)
    assert "truncated" in str(err.value) or "corrupt" in str(err.value)


def test_flipped_byte_in_the_frames_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "episode_000003.npz"
    write_episode(path, make_episode(size=32), compresslevel=0)  # stored bytes: flip one pixel
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("frames.npy")
    data = bytearray(path.read_bytes())
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 500
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(EpisodeFormatError, match=r"frames\.npy is corrupt"):
        read_episode(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(EpisodeFormatError, match="no such episode file"):
        read_episode(tmp_path / "episode_000009.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(actions=a["actions"] + 0.01), "achieved state changes"),
        (lambda a: a.update(states=np.where(np.eye(6, 7, dtype=bool), np.nan, a["states"])), "NaN"),
        (lambda a: a.update(frames=a["frames"][:-1]), "shape"),
        (lambda a: a.update(frames=a["frames"].astype(np.float32)), "dtype"),
        (lambda a: a.pop("goal_image"), "missing arrays goal_image"),
    ],
)
def test_inconsistent_episodes_are_refused_on_write_and_read(tmp_path, change, message):
    episode = make_episode()
    change(episode.arrays)
    with pytest.raises(EpisodeFormatError, match=message):
        write_episode(tmp_path / "episode_000003.npz", episode)
    assert not list(tmp_path.iterdir())  # nothing half-written
