"""The training loader: fixed-length clips aligned with states and actions, through a torch DataLoader."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from envs.collection import CollectSpec, collect, episode_path
from jepa_sim.data.clips import ClipDataset, split_episodes
from jepa_sim.data.episode import EpisodeFormatError, read_episode
from jepa_sim.geometry import state_delta


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    spec = CollectSpec(env_ids=("JepaSim/FrankaReach-v0", "JepaSim/FrankaGrasp-v0"), objects=("cup",), image_size=64)
    collect(root, spec, 4)
    return root


def test_every_window_is_indexed_and_short_episodes_are_skipped(root):
    clips = ClipDataset(root, clip_len=8)
    lengths = {i: read_episode(episode_path(root, i)).num_frames for i in range(4)}
    expected = sum(max(0, n - 7) for n in lengths.values())
    assert len(clips) == expected
    assert clips.skipped == [i for i, n in lengths.items() if n < 8]


@pytest.mark.parametrize("stride", [1, 2])
def test_clip_frames_states_and_actions_are_aligned(root, stride):
    clips = ClipDataset(root, clip_len=4, frame_stride=stride)
    item = clips[len(clips) // 2]
    episode = read_episode(episode_path(root, item["episode"]))
    rows = slice(item["start"], item["start"] + 3 * stride + 1, stride)
    assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(item["frames"].numpy(), episode["frames"][rows])
    np.testing.assert_allclose(item["states"].numpy(), episode["states"][rows], atol=1e-6)
    assert item["actions"].shape == (3, 7)
    if stride == 1:  # the stored labels
        labels = episode["actions"][item["start"] : item["start"] + 3]
    else:  # the achieved change over the stride
        states = episode["states"][rows]
        labels = state_delta(states[:-1], states[1:])
        assert not np.allclose(labels, episode["actions"][item["start"] : item["start"] + 3])
    np.testing.assert_allclose(item["actions"].numpy(), labels, atol=1e-6)


def test_dataloader_batches_clips(root):
    loader = DataLoader(ClipDataset(root, clip_len=3), batch_size=4, shuffle=True, num_workers=0)
    batch = next(iter(loader))
    assert batch["frames"].shape == (4, 3, 64, 64, 3)
    assert batch["states"].shape == (4, 3, 7) and batch["actions"].shape == (4, 2, 7)
    assert batch["states"].dtype == torch.float32


def test_states_only_and_split(root):
    train, held = split_episodes(range(4), 0.25, seed=0)
    assert sorted(train + held) == [0, 1, 2, 3] and len(held) == 1
    assert split_episodes(range(4), 0.25, seed=0) == (train, held)
    clips = ClipDataset(root, clip_len=2, episodes=held, load_frames=False)
    assert {item["episode"] for item in (clips[i] for i in range(len(clips)))} == set(held)
    assert "frames" not in clips[0]


def test_loader_refuses_a_damaged_episode(root, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    path = episode_path(copy, 1)
    clips = ClipDataset(copy, clip_len=2)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    item = next(i for i, (episode, _) in enumerate(clips.windows) if episode == 1)
    with pytest.raises(EpisodeFormatError, match=r"episode_000001\.npz: truncated"):
        clips[item]


def test_bad_clip_settings_are_named(root):
    with pytest.raises(ValueError, match="clip_len"):
        ClipDataset(root, clip_len=1)
    with pytest.raises(ValueError, match="frame_stride"):
        ClipDataset(root, frame_stride=0)
