"""`jepa-sim encode`: features cached once per frame, reused, resumable, tied to one encoder."""

import numpy as np
import pytest
import torch
from test_encoders import tiny_vjepa2

from envs.collection import CollectSpec, collect
from jepa_sim.atomic import temporary_path
from jepa_sim.cli.main import main
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.episode import read_arrays
from jepa_sim.data.features import FeatureCache, encode_dataset
from jepa_sim.data.manifest import DatasetError
from jepa_sim.encoders import load_encoder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("feat")
    collect(root, CollectSpec(env_ids=("JepaSim/FrankaReach-v0",), objects=("cup",), image_size=64), 3)
    tiny_vjepa2(root.parent / "enc")
    return root, root.parent / "enc"


def test_encode_caches_every_frame_once_and_matches_the_encoder(data, capsys):
    root, enc = data
    assert main(["encode", "--data", str(root), "--encoder", str(enc), "--device", "cpu", "--batch-size", "4"]) == 0
    assert "encoded 3 episodes" in capsys.readouterr().out
    encoder = load_encoder(str(enc), device="cpu")
    cache = FeatureCache.open(root, encoder.id)
    for index in EpisodeDataset(root).indices:
        frames = read_arrays(EpisodeDataset(root).path(index), ["frames"])["frames"]
        tokens = cache.read(index, frames=len(frames))
        assert tokens.dtype == np.float16 and tokens.shape == (len(frames), 16, 32)
        expected = encoder.encode(frames).numpy()
        np.testing.assert_allclose(tokens.astype(np.float32), expected, atol=2e-2)
    stamps = [cache.path(i).stat().st_mtime_ns for i in range(3)]
    assert main(["encode", "--data", str(root), "--encoder", str(enc), "--device", "cpu"]) == 0
    assert "encoded 0 episodes" in capsys.readouterr().out
    assert [cache.path(i).stat().st_mtime_ns for i in range(3)] == stamps


def test_interrupted_encoding_resumes_with_only_the_missing_episodes(data, tmp_path):
    root, enc = data
    encoder = load_encoder(str(enc), device="cpu")
    calls = []

    def failing(frames):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append(len(frames))
        return encoder.encode(frames)

    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("features"))
    with pytest.raises(KeyboardInterrupt):
        encode_dataset(copy, failing, encoder.describe())
    cache = FeatureCache.open(copy, encoder.id)
    assert cache.missing(EpisodeDataset(copy)) == [1, 2]
    temporary_path(cache.path(1)).write_bytes(b"half")
    done = []
    encode_dataset(copy, encoder.encode, encoder.describe(), on_episode=lambda i, n: done.append(i))
    assert done == [1, 2] and not list(cache.folder.glob(".*"))


def test_features_of_another_encoder_are_kept_apart(data, tmp_path):
    root, _ = data
    tiny_vjepa2(tmp_path / "other", seed=1)
    other = load_encoder(str(tmp_path / "other"), device="cpu")
    with pytest.raises(DatasetError, match="no features of encoder"):
        FeatureCache.open(root, other.id)
    cache = FeatureCache(root, {**other.describe(), "dim": 64})
    with pytest.raises(ValueError, match="tokens must be"):
        cache.write(0, torch.zeros(2, 16, 32).numpy())


def test_a_truncated_feature_file_is_named(data, tmp_path):
    root, enc = data
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    encoder = load_encoder(str(enc), device="cpu")
    cache = FeatureCache.open(copy, encoder.id)
    path = cache.path(0)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"episode_000000\.npy: truncated or corrupt"):
        cache.read(0)


def test_feature_clips_pair_cached_tokens_with_states_and_achieved_actions(data):
    from jepa_sim.data.clips import ClipDataset
    from jepa_sim.data.feature_clips import FeatureClips

    root, enc = data
    encoder = load_encoder(str(enc), device="cpu")
    encode_dataset(root, encoder.encode, encoder.describe())
    clips = FeatureClips(root, encoder.id, clip_len=3, frame_stride=2)
    reference = ClipDataset(root, clip_len=3, frame_stride=2, load_frames=False)
    assert clips.windows == reference.windows and clips.skipped == reference.skipped and len(clips) > 0
    item, ref = clips[len(clips) - 1], reference[len(clips) - 1]
    assert item["z"].shape == (3, encoder.num_tokens, encoder.dim) and item["z"].dtype == torch.float32
    torch.testing.assert_close(item["states"], ref["states"])
    torch.testing.assert_close(item["actions"], ref["actions"])
    cached = FeatureCache.open(root, encoder.id).read(item["episode"])
    start = item["start"]
    np.testing.assert_array_equal(item["z"].numpy(), cached[start : start + 5 : 2].astype(np.float32))


def test_feature_clips_without_a_cache_say_how_to_make_one(data):
    from jepa_sim.data.feature_clips import FeatureClips

    root, _ = data
    with pytest.raises(DatasetError, match="run `jepa-sim encode"):
        FeatureClips(root, "no-such-encoder@0")


def test_feature_clips_of_another_length_share_the_loaded_tokens(data):
    from jepa_sim.data.feature_clips import FeatureClips

    root, enc = data
    encoder = load_encoder(str(enc), device="cpu")
    encode_dataset(root, encoder.encode, encoder.describe())
    clips = FeatureClips(root, encoder.id, clip_len=2)
    longer = clips.with_clip_len(4)
    fresh = FeatureClips(root, encoder.id, clip_len=4)
    assert longer.windows == fresh.windows and longer.clip_len == 4 and clips.clip_len == 2
    assert longer.tokens is clips.tokens  # no reload
    torch.testing.assert_close(longer[0]["z"], fresh[0]["z"])


def test_both_views_are_encoded_into_their_own_caches_and_a_missing_view_is_named(data, tmp_path, capsys):
    root, enc = data
    two = tmp_path / "two"
    spec = CollectSpec(env_ids=("JepaSim/FrankaGrasp-v0",), objects=("box",), image_size=64, wrist_camera=True)
    collect(two, spec, 2)
    args = ["encode", "--data", str(two), "--encoder", str(enc), "--device", "cpu", "--views", "exterior,wrist"]
    assert main(args) == 0
    assert "encoded 2 episodes" in capsys.readouterr().out
    encoder = load_encoder(str(enc), device="cpu")
    cache = FeatureCache.open(two, encoder.id)
    for index in EpisodeDataset(two).indices:
        arrays = read_arrays(EpisodeDataset(two).path(index), ["frames", "wrist_frames"])
        exterior = cache.read(index, frames=len(arrays["frames"]))
        wrist = cache.read(index, frames=len(arrays["wrist_frames"]), view="wrist")
        assert cache.path(index, "wrist").parent.name == "wrist"
        np.testing.assert_allclose(wrist.astype(np.float32), encoder.encode(arrays["wrist_frames"]).numpy(), atol=2e-2)
        assert not np.allclose(exterior.astype(np.float32), wrist.astype(np.float32))
    assert main(args) == 0 and "encoded 0 episodes" in capsys.readouterr().out  # both views cached: nothing to do
    # a dataset without the wrist camera: the wrist view is refused with the fix named
    with pytest.raises(SystemExit, match="collected with --wrist-camera"):
        main(["encode", "--data", str(root), "--encoder", str(enc), "--device", "cpu", "--views", "wrist"])
    with pytest.raises(SystemExit, match="views must be distinct names"):
        main(["encode", "--data", str(root), "--encoder", str(enc), "--views", "top"])
    with pytest.raises(DatasetError, match="--views exterior,wrist"):
        FeatureCache.open(root, encoder.id).read(0, view="wrist")
