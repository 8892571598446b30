"""Env control steps per second against the raw limit of the same scene, measured in the same run.

The env runs the scripted expert on pick-and-place (contacts, grasping, IK every step). The raw limit replays
the very same joint and finger targets (every IK waypoint) on the same model with a bare ``mj_step`` loop and a plain
``mujoco.Renderer`` at the same size and shadow setting: what is left over is the env's own overhead
(action checks, IK, observations, success checks, wrappers).

    make bench            # or: .venv/bin/python benchmarks/bench_env.py [--steps 60]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the ids and sets MUJOCO_GL: mujoco is imported after it, lazily)
from envs.expert import ScriptedExpert

SIZES = (64, 128, 256)
PRESETS = ("fast", "pretty")


Ctrl = tuple[np.ndarray, list[tuple[np.ndarray, int]]]


def bench_env(preset: str, size: int, steps: int, seed: int = 0) -> tuple[float, list[Ctrl], np.ndarray]:
    """Env steps per second; also the ctrl sequence and the start state, for the raw replay."""
    import mujoco

    env = gym.make(
        "JepaSim/FrankaPickAndPlace-v0",
        object="cup",
        image_size=size,
        render_preset=preset,
        terminate_on_success=False,
        max_episode_steps=steps + 1,
    )
    raw = env.unwrapped
    obs, info = env.reset(seed=seed)
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    start = np.zeros(mujoco.mj_stateSize(raw.model, spec))
    mujoco.mj_getState(raw.model, raw.data, start, spec)
    expert = ScriptedExpert("pick_and_place", "cup")
    ctrls = []
    elapsed = 0.0
    for _ in range(steps):
        action = expert.act(obs["state"], info)
        t0 = time.perf_counter()
        obs, _, _, _, info = env.step(action)
        elapsed += time.perf_counter() - t0
        ctrls.append((raw.data.ctrl.copy(), list(raw.last_joint_targets)))
    env.close()
    return steps / elapsed, ctrls, start


def bench_raw(preset: str, size: int, ctrls: list[Ctrl], start: np.ndarray) -> float:
    """Bare ``mj_step`` + ``Renderer`` loop replaying the env's targets: the limit for this scene."""
    import mujoco

    from envs.scene import EXTERIOR_CAMERA, load_model

    model = load_model(preset == "pretty")
    data = mujoco.MjData(model)
    mujoco.mj_setState(model, data, start, mujoco.mjtState.mjSTATE_INTEGRATION)
    mujoco.mj_forward(model, data)
    renderer = mujoco.Renderer(model, height=size, width=size)
    arm = slice(model.actuator("panda/act_joint1").id, model.actuator("panda/act_joint7").id + 1)
    t0 = time.perf_counter()
    for ctrl, waypoints in ctrls:
        data.ctrl[:] = ctrl
        for target, nstep in waypoints:
            data.ctrl[arm] = target
            mujoco.mj_step(model, data, nstep=nstep)
        renderer.update_scene(data, camera=EXTERIOR_CAMERA)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = preset == "pretty"
        renderer.render()
    elapsed = time.perf_counter() - t0
    renderer.close()
    return len(ctrls) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="control steps per measurement (fast preset)")
    parser.add_argument("--pretty-steps", type=int, default=15, help="control steps per measurement (pretty)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs of each measurement")
    args = parser.parse_args()

    print("Env control steps/s (pick-and-place, scripted expert, 0.25 s control period, 125 physics steps each)")
    print("vs the raw limit: bare mj_step loop + mujoco.Renderer replaying the same targets, same run.\n")
    print(f"| {'preset':6s} | {'px':>4s} | {'env steps/s':>11s} | {'raw steps/s':>11s} | {'env / raw':>9s} |")
    print(f"|{'-' * 8}|{'-' * 6}|{'-' * 13}|{'-' * 13}|{'-' * 11}|")
    for preset in PRESETS:
        steps = args.steps if preset == "fast" else args.pretty_steps
        for size in SIZES:
            env_rate, raw_rate = 0.0, 0.0
            for _ in range(args.repeats):
                rate, ctrls, start = bench_env(preset, size, steps)
                env_rate = max(env_rate, rate)
                raw_rate = max(raw_rate, bench_raw(preset, size, ctrls, start))
            print(
                f"| {preset:6s} | {size:4d} | {env_rate:11.1f} | {raw_rate:11.1f} | {env_rate / raw_rate:9.0%} |",
                flush=True,
            )
    print("\nTarget: env >= 80% of the raw limit.")


if __name__ == "__main__":
    main()
