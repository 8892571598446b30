"""The `jepa-sim` entry points run end to end on tiny budgets."""

import json
import os
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import pytest

from jepa_sim.cli.main import main


def test_envs_lists_every_registered_id(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in (
        "JepaSim/FrankaReach-v0",
        "JepaSim/FrankaGrasp-v0",
        "JepaSim/FrankaReachWithObject-v1",
        "JepaSim/FrankaPickAndPlace-v0",
    ):
        assert env_id in out


def test_rollout_writes_results_and_videos(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "rollout",
            "--env",
            "JepaSim/FrankaGrasp-v0",
            "--episodes",
            "2",
            "--image-size",
            "64",
            "--out",
            str(out),
            "--videos-per-env",
            "1",
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["grasp"]) == {"cup", "box"}
    assert results["grasp"]["cup"]["n"] == 2 and results["grasp"]["cup"]["success_rate"] == 1.0
    frames = iio.imread(out / "grasp_box.mp4")
    assert frames.shape[1:] == (64, 128, 3)  # camera beside the goal image
    assert "| grasp | box | 100% |" in capsys.readouterr().out


def test_rollout_single_video(tmp_path):
    video = tmp_path / "reach.mp4"
    assert (
        main(
            [
                "rollout",
                "--env",
                "JepaSim/FrankaReach-v0",
                "--object",
                "cup",
                "--episodes",
                "1",
                "--image-size",
                "64",
                "--video",
                str(video),
            ]
        )
        == 0
    )
    assert iio.imread(video).shape[0] >= 2


def test_rollout_unknown_env_is_a_clear_error():
    with pytest.raises(SystemExit, match="unknown env id 'JepaSim/Juggle-v0'; registered ids:"):
        main(["rollout", "--env", "JepaSim/Juggle-v0"])


def test_bad_image_size_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="image_size must be between 64 and 256 px, got 32"):
        main(["rollout", "--env", "JepaSim/FrankaReach-v0", "--image-size", "32", "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()  # nothing written


def test_video_with_several_envs_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--video needs one env and one object"):
        main(["rollout", "--env", "all", "--video", str(tmp_path / "x.mp4")])


def test_gl_backend_loaded_too_early_gives_a_clear_error():
    """mujoco imported (with no MUJOCO_GL) before envs picks GLFW, which cannot work headless: say so at the
    first frame (the context is created lazily)."""
    code = textwrap.dedent("""
        import mujoco, gymnasium as gym, envs
        from envs.rendering import RenderingUnavailableError
        try:
            gym.make("JepaSim/FrankaReach-v0", image_size=64).reset(seed=0)
        except RenderingUnavailableError as exc:
            print("ERROR:", exc)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "ERROR:" in result.stdout, result.stderr[-2000:]
    assert "loaded its glfw backend" in result.stdout and "before importing mujoco" in result.stdout


def test_collect_info_preview_and_validate(tmp_path, capsys):
    out = tmp_path / "ds"
    args = ["collect", "--out", str(out), "--env", "JepaSim/FrankaReach-v0", "--object", "cup", "--episodes", "3"]
    assert main([*args, "--image-size", "64", "--policy", "expert:1,explore:1"]) == 0
    assert "recorded 3 episodes" in capsys.readouterr().out
    assert main([*args, "--image-size", "64", "--policy", "expert:1,explore:1"]) == 0  # nothing left to do
    assert "recorded 0 episodes" in capsys.readouterr().out

    preview = tmp_path / "preview.gif"
    assert main(["dataset", "info", str(out), "--preview", str(preview), "--json-out", str(tmp_path / "i.json")]) == 0
    text = capsys.readouterr().out
    assert "dataset" in text and "| reach/cup | 3 |" in text and "abs_p99" in text
    info = json.loads((tmp_path / "i.json").read_text())
    assert info["episodes"] == 3 and info["frames"] == info["steps"] + 3
    frames = iio.imread(preview)
    assert frames.shape[1:3] == (64, 130)  # camera | separator | goal image

    assert main(["dataset", "validate", str(out)]) == 0
    episode = next((out / "episodes").glob("episode_*.npz"))
    episode.write_bytes(episode.read_bytes()[:1000])
    assert main(["dataset", "validate", str(out)]) == 1
    text = capsys.readouterr().out
    assert episode.name in text and "truncated" in text


def test_collect_and_dataset_errors_are_clear(tmp_path):
    with pytest.raises(SystemExit, match="unknown policy 'dance'"):
        main(["collect", "--out", str(tmp_path / "x"), "--policy", "dance"])
    with pytest.raises(SystemExit, match="unknown env id"):
        main(["collect", "--out", str(tmp_path / "x"), "--env", "Nope-v0"])
    with pytest.raises(SystemExit, match=r"manifest\.json is missing"):
        main(["dataset", "info", str(tmp_path)])
