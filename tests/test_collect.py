"""`jepa-sim collect`: deterministic, correctly labelled, parallel and safe to kill."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from envs.collect_policies import MISTAKES, ImperfectExpert, parse_mix
from envs.collection import CollectSpec, collect, episode_path, record_episode
from envs.franka_env import FrankaTableEnv
from jepa_sim.atomic import temporary_path
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.episode import read_episode
from jepa_sim.data.manifest import DatasetError, read_manifest
from jepa_sim.geometry import state_delta

GRASP = "JepaSim/FrankaGrasp-v0"
PNP = "JepaSim/FrankaPickAndPlace-v0"


def small_spec(**overrides):
    kwargs = {"env_ids": (GRASP, PNP), "objects": ("cup", "box"), "image_size": 64, "max_steps": 25}
    return CollectSpec(**{**kwargs, **overrides})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    collect(root, small_spec(), 6)
    return root


def episode_bytes(root, n):
    return [episode_path(root, i).read_bytes() for i in range(n)]


def test_same_seed_gives_byte_identical_episodes(dataset, tmp_path):
    collect(tmp_path / "again", small_spec(), 6)
    assert episode_bytes(tmp_path / "again", 6) == episode_bytes(dataset, 6)
    collect(tmp_path / "other", small_spec(seed=1), 2)
    assert episode_bytes(tmp_path / "other", 2) != episode_bytes(dataset, 2)


def test_labels_are_the_achieved_state_change_of_a_replay(dataset):
    episode = read_episode(episode_path(dataset, 1))
    meta = episode.metadata
    spec = small_spec()
    env = FrankaTableEnv(spec.env_config(meta["task"], meta["object"]))
    try:
        obs, _ = env.reset(seed=meta["seed"])
        states = [obs["state"]]
        for action in episode["commanded"]:
            obs, *_ = env.step(action)
            states.append(obs["state"])
    finally:
        env.close()
    states = np.array(states)
    np.testing.assert_array_equal(episode["states"], states)  # the env replays exactly
    np.testing.assert_allclose(episode["actions"], state_delta(states[:-1], states[1:]), atol=1e-12)
    # the labels are what happened, not what was asked for: they differ from the commands
    assert np.abs(episode["actions"][:, :3] - episode["commanded"][:, :3]).max() > 1e-3
    np.testing.assert_array_equal(episode["frames"][-1], obs["image"])


def test_manifest_records_cameras_conventions_and_versions(dataset):
    manifest = read_manifest(dataset)
    cam = manifest["cameras"]["exterior"]
    assert cam["width"] == 64 and np.array(cam["intrinsics"]).shape == (3, 3)
    pose = np.array(cam["world_from_camera"])
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-5)
    # the camera looks at the table: the workspace centre projects inside the image
    point = np.array([0.46, 0.0, 0.1])
    p_cam = pose[:3, :3].T @ (point - pose[:3, 3])
    u, v, w = np.array(cam["intrinsics"]) @ p_cam
    assert w > 0 and 0 < u / w < 64 and 0 < v / w < 64
    assert manifest["control_period"] == 0.25 and manifest["spec"]["image_size"] == 64
    assert manifest["versions"]["mujoco"].startswith("3.")
    assert manifest["conventions"]["state"][-1] == "gripper"
    assert manifest["episodes"] == 6


def test_episodes_cycle_through_envs_and_objects(dataset):
    metas = [m for _, m in EpisodeDataset(dataset).metadata()]
    assert [(m["task"], m["object"]) for m in metas[:4]] == [
        ("grasp", "cup"),
        ("grasp", "box"),
        ("pick_and_place", "cup"),
        ("pick_and_place", "box"),
    ]
    assert all(m["steps"] <= 25 for m in metas)


def test_parallel_workers_give_the_same_episodes(dataset, tmp_path):
    collect(tmp_path / "par", small_spec(), 6, workers=2)
    assert episode_bytes(tmp_path / "par", 6) == episode_bytes(dataset, 6)


def test_killed_collection_resumes_to_exactly_n_valid_episodes(tmp_path):
    out = tmp_path / "killed"
    n = 8
    cmd = [sys.executable, "-m", "jepa_sim.cli.main", "collect", "--out", str(out), "--env", GRASP]
    cmd += ["--episodes", str(n), "--workers", "2", "--image-size", "64", "--max-steps", "25"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list((out / "episodes").glob("episode_*.npz"))) < 2:
        assert proc.poll() is None, "collection ended before it could be killed"
        assert time.monotonic() < deadline, "no episode written within 120 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: the command and its workers
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "episodes").glob("episode_*.npz")}
    assert 2 <= len(finished) < n
    temporary_path(episode_path(out, 7)).write_bytes(b"half an episode")  # as a kill mid-write leaves

    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    dataset = EpisodeDataset(out)
    assert dataset.indices == list(range(n))
    assert dataset.validate() == []
    assert not [p for p in (out / "episodes").iterdir() if p.name.startswith(".")]
    for name, mtime in finished.items():  # finished episodes were kept, not redone
        assert (out / "episodes" / name).stat().st_mtime_ns == mtime
    clean = tmp_path / "clean"
    collect(clean, CollectSpec(env_ids=(GRASP,), objects=("cup", "box"), image_size=64, max_steps=25), n)
    assert episode_bytes(out, n) == episode_bytes(clean, n)


def test_resume_with_other_settings_is_refused(dataset):
    with pytest.raises(DatasetError, match="image_size: 64 -> 96"):
        collect(dataset, small_spec(image_size=96), 6)


def test_extending_a_dataset_keeps_what_is_there(dataset, tmp_path):
    root = tmp_path / "grow"
    collect(root, small_spec(), 2)
    first = episode_path(root, 0).stat().st_mtime_ns
    reports = collect(root, small_spec(), 3)
    assert [r.index for r in reports] == [2]
    assert episode_path(root, 0).stat().st_mtime_ns == first
    assert read_manifest(root)["episodes"] == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("expert:0.5,dance:0.5", "unknown policy 'dance'"),
        ("expert:-1", "positive"),
        ("expert:x", "not a number"),
        ("", "empty"),
    ],
)
def test_bad_policy_mix_is_named(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_mix(spec)


def test_policy_mix_is_normalised():
    assert parse_mix("expert:3,explore:1") == {"expert": 0.75, "explore": 0.25}
    assert parse_mix("imperfect") == {"imperfect": 1.0}


class _Forced(ImperfectExpert):
    def __init__(self, mistake, **kwargs):
        self._forced = mistake
        super().__init__(**kwargs)

    def choose_mistake(self):
        return self._forced


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_imperfect_expert_makes_its_mistake(mistake):
    from envs.collection import EpisodePlan

    env = FrankaTableEnv(small_spec().env_config("pick_and_place", "cup"))
    try:
        policy = _Forced(mistake, task="pick_and_place", object_name="cup", control=env.config.control, seed=2)
        episode = record_episode(env, policy, EpisodePlan(0, PNP, "pick_and_place", "cup", 2, "imperfect", 2, 70), 3)
    finally:
        env.close()
    a = episode.arrays
    assert episode.metadata["policy"] == f"imperfect/{mistake}"
    closing = int(np.argmax(a["gripper_command"] > 0.5))
    above = a["states"][closing, 2] - a["object_pose"][closing, 2]
    beside = np.linalg.norm(a["states"][closing, :2] - a["object_pose"][closing, :2])
    drops = int(np.sum(a["grasped"][:-1] & ~a["grasped"][1:] & (a["gripper_command"][1:] < 0.5)))
    if mistake == "early_close":
        assert above > 0.035  # closed well above the grasp height (0.01 above the centre)
    elif mistake == "offset_grasp":
        assert beside > 0.01
    elif mistake == "drop":
        assert drops >= 2  # once by mistake, once on purpose at the target
    elif mistake == "detour":
        assert np.abs(a["commanded"][:6, :3]).max() > 0.02
    else:  # hesitation: a few near-still steps early on
        assert (np.linalg.norm(a["commanded"][:7, :3], axis=1) < 0.02).sum() >= 2


def test_hover_expert_probes_beside_and_above_the_object_then_grasps():
    from envs.collect_policies import HoverConfig, Hoverer
    from envs.collection import EpisodePlan
    from envs.tasks import GRASP_Z_OFFSET

    env = FrankaTableEnv(small_spec().env_config("grasp", "box"))
    config = HoverConfig()
    try:
        policy = Hoverer("grasp", "box", env.config.control, config, seed=4)
        episode = record_episode(env, policy, EpisodePlan(0, GRASP, "grasp", "box", 4, "hover", 4, 60), 5)
    finally:
        env.close()
    a = episode.arrays
    assert episode.metadata["policy"] == "hover"
    rel = a["states"][:, :3] - a["object_pose"][:, :3] - np.array([0.0, 0.0, GRASP_Z_OFFSET])
    near = (np.abs(rel[:, :2]).max(axis=1) < config.lateral + 0.01) & (rel[:, 2] < config.height + 0.02)
    assert near.sum() >= config.steps[0]  # it hovered near the grasp pose for at least the shortest hover
    sideways = np.abs(np.diff(a["states"][:, :2], axis=0)).max(axis=1)[near[:-1]]
    assert (sideways > 0.003).sum() >= 3  # and moved sideways there, which the expert alone never does
    assert a["grasped"].any() and episode.metadata["success"]  # then the expert took over and grasped
