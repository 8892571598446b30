"""Rendering never hangs and never corrupts: async vector envs with default arguments, several renderers in
one process (envs and the digital-twin camera) closed or collected in any order, and a clear error, never a
hang, for a child forked after its parent rendered."""

import gc
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

from agents.drivers.camera import DigitalTwinCamera
from envs.panda import HOME_QPOS

CHILD_TIMEOUT = 180
"""seconds a subprocess may take (imports and a few renders take ~5 s here): a hang fails, it does not stall"""


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in its own process group; on a hang, kill the whole group (a hung
    vector env leaves worker processes behind) and fail."""
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"the subprocess hung for {CHILD_TIMEOUT} s; output so far: {out!r} {err!r}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_async_vector_env_with_default_arguments_steps_in_a_fresh_process():
    result = _run_python(
        """
        import envs, gymnasium as gym, numpy as np
        vec = gym.make_vec("JepaSim/FrankaReach-v0", num_envs=2, vectorization_mode="async", image_size=64)
        obs, _ = vec.reset(seed=0)
        frames = [obs["image"].copy()]
        for _ in range(3):
            obs, *_ = vec.step(np.tile([0.05, 0.03, -0.04, 0, 0, 0, 0], (2, 1)))
            frames.append(obs["image"].copy())
        vec.close()
        frames = np.stack(frames)  # (4, 2, 64, 64, 3)
        assert frames.shape == (4, 2, 64, 64, 3), frames.shape
        assert all(frames[i, j].std() > 5 for i in range(4) for j in range(2)), "a blank frame"
        assert all(not np.array_equal(frames[i, j], frames[i + 1, j]) for i in range(3) for j in range(2))
        assert not np.array_equal(frames[0, 0], frames[0, 1])  # seeds 0 and 1: different layouts
        print("OK")
        """
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


def test_forking_after_rendering_fails_at_once_with_the_fix_named():
    result = _run_python(
        """
        import envs, gymnasium as gym, numpy as np, multiprocessing as mp
        from envs.rendering import RenderingUnavailableError

        def child(queue):
            env = gym.make("JepaSim/FrankaReach-v0", image_size=64)
            try:
                env.reset(seed=0)
                queue.put("rendered")
            except RenderingUnavailableError as exc:
                queue.put(str(exc))

        if __name__ == "__main__":
            parent = gym.make("JepaSim/FrankaReach-v0", image_size=64)
            before = parent.reset(seed=1)[0]["image"]
            queue = mp.get_context("fork").Queue()
            proc = mp.get_context("fork").Process(target=child, args=(queue,))
            proc.start()
            print(queue.get(timeout=60))
            proc.join(60)
            after = parent.reset(seed=1)[0]["image"]  # the parent is unaffected
            assert np.array_equal(before, after)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "forked from one that had already created an EGL" in result.stdout
    assert "'spawn'" in result.stdout


def test_an_env_built_but_never_rendered_forks_cleanly():
    # gymnasium's AsyncVectorEnv builds one env in the parent for its spaces: it must not create a GL context.
    result = _run_python(
        """
        import envs, gymnasium as gym, multiprocessing as mp, numpy as np
        from envs.rendering import _egl_in_use

        def child(queue):
            env = gym.make("JepaSim/FrankaGrasp-v0", image_size=64)
            queue.put(float(env.reset(seed=0)[0]["image"].std()))

        env = gym.make("JepaSim/FrankaGrasp-v0", image_size=64, wrist_camera=True)
        assert env.observation_space["image"].shape == (64, 64, 3)
        assert not _egl_in_use()
        queue = mp.get_context("fork").Queue()
        proc = mp.get_context("fork").Process(target=child, args=(queue,))
        proc.start()
        print("std", queue.get(timeout=60))
        proc.join(60)
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.split("std")[1]) > 5


def _make(env_id="JepaSim/FrankaPickAndPlace-v0", **kwargs):
    return gym.make(env_id, image_size=64, wrist_camera=True, **kwargs)


def _frames(env, seed):
    """Every image an env renders for one reset and two steps: camera, wrist, goal and sub-goals, a preview."""
    obs, info = env.reset(seed=seed)
    images = [obs["image"], obs["wrist_image"], info["goal_image"], *info.get("subgoal_images", [])]
    images.append(env.unwrapped.preview(np.array([[0.03, 0.0, -0.02, 0, 0, 0, 0.5]])))
    for _ in range(2):
        obs, *_ = env.step(np.array([0.02, -0.01, -0.03, 0, 0, 0.05, 0.2]))
        images += [obs["image"], obs["wrist_image"]]
    return np.stack(images)


@pytest.mark.parametrize("how", ["close", "del_and_collect"])
def test_closing_or_collecting_one_env_leaves_another_bit_identical(how):
    a, b = _make(), _make(object="box")
    _frames(a, 0)
    reference = _frames(b, 1)
    if how == "close":
        a.close()
    else:
        del a
        gc.collect()
    again = _frames(b, 1)
    assert np.array_equal(reference, again), f"max pixel change {np.abs(reference.astype(int) - again).max()}"
    b.close()


def test_three_envs_closed_in_another_order_than_made():
    made = [_make(), _make(object="box"), _make("JepaSim/FrankaGrasp-v0")]
    references = [_frames(env, seed) for seed, env in enumerate(made)]
    alive = dict(enumerate(made))
    for closing in (1, 0):  # close the middle one, then the first; the others must still render the same
        alive.pop(closing).close()
        for i, env in alive.items():
            assert np.array_equal(references[i], _frames(env, i)), f"env {i} changed after closing env {closing}"
    # and a new env made after the others were closed renders like the first one did at the same seed
    fresh = _make()
    assert np.array_equal(references[0], _frames(fresh, 0))
    fresh.close()
    alive.pop(2).close()


def test_rendering_after_close_is_a_clear_error():
    env = _make()
    env.reset(seed=0)
    env.close()
    env.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        env.unwrapped.preview(np.zeros((1, 7)))


@pytest.mark.parametrize("closed", ["twin", "env"])
def test_digital_twin_and_sim_env_alive_together(closed):
    twin = DigitalTwinCamera(image_size=64)
    env = _make()
    # the one that is closed renders first, so the survivor's context is the current one when it is closed
    if closed == "twin":
        twin.render(HOME_QPOS, 0.0)
        env_before = _frames(env, 2)
        twin.close()
        assert np.array_equal(env_before, _frames(env, 2))
        env.close()
    else:
        _frames(env, 2)
        twin_before = twin.render(HOME_QPOS, 0.0)
        env.close()
        assert np.array_equal(twin_before, twin.render(HOME_QPOS, 0.0))
        twin.close()


# ---- the same results as before the rendering rework, at the same seeds ------------------------------------
# The trials were recorded with the stock mujoco.Renderer (commit f08dd0f) on this project's CPU machine (Mesa
# llvmpipe). The episode files' bytes were too, until a machine of the same kind (2026-12-02: another AMD EPYC,
# the same pinned packages) wrote other bytes for the same four episodes, deterministically: file digests are not
# portable across machines. What the files must be is the same whatever the number of collection workers.
GOLDEN_TRIALS = [
    ("reach", "cup", "mpc", 1000, True, 2),
    ("reach", "cup", "mpc", 1001, True, 2),
    ("reach", "cup", "random", 1000, False, 30),
    ("reach", "cup", "random", 1001, False, 30),
    ("reach", "box", "mpc", 1000, True, 2),
    ("reach", "box", "mpc", 1001, True, 3),
    ("reach", "box", "random", 1000, False, 30),
    ("reach", "box", "random", 1001, False, 30),
]


def test_collect_with_two_workers_writes_the_same_episode_files_as_one(tmp_path):
    """Two worker processes (each rendering in its own context) write byte for byte what one process writes."""
    from jepa_sim.cli.main import main

    digests = []
    for workers in (1, 2):
        out = tmp_path / f"data{workers}"
        args = ["collect", "--out", str(out), "--episodes", "4", "--workers", str(workers), "--wrist-camera",
                "--max-steps", "6"]  # fmt: skip
        assert main(args) == 0
        files = sorted((out / "episodes").glob("*.npz"))
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    assert len(digests[0]) == 4 and digests[0] == digests[1]


def test_eval_gives_the_same_trials_as_before(tmp_path):
    from jepa_sim.cli.main import main

    out = tmp_path / "eval"
    # the golden trials were planned by the paper's agent (one view, one goal image, the paper's CEM: keeping the
    # elites draws other samples) in fp32 (bf16 plans differ in the last bits)
    args = ["eval", "--agent", "paper", "--methods", "mpc,random", "--tasks", "reach", "--objects", "cup,box",
            "--trials", "2", "--precision", "fp32"]  # fmt: skip
    assert main([*args, "--out", str(out), "--videos", "0"]) == 0
    trials = json.loads((out / "results.json").read_text())["_trials"]
    got = [(t["task"], t["object"], t["method"], t["seed"], t["success"], t["steps"]) for t in trials]
    assert got == GOLDEN_TRIALS
