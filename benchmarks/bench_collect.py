"""Collected frames per second with 1 and 2 worker processes, beside the single-env step rate (the limit).

Each cell collects the same episodes (default policy mix over every task and object) into a fresh folder
with the real ``envs.collection.collect`` (recording, compression, atomic writes). Two rates are shown:
``steady`` counts frames after the first episode arrives (worker start-up excluded), ``total`` is the whole
wall time including spawning the workers. The limit is one env stepped by the scripted expert in a bare loop
at the same image size, with no recording or writing (best of 3, resets not timed).
Target: 2 workers >= 1.7x one worker.

    make bench            # or: .venv/bin/python benchmarks/bench_collect.py [--episodes 48]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import envs
from envs.collection import CollectSpec, EpisodeReport, collect
from envs.config import EnvConfig
from envs.expert import ScriptedExpert
from envs.franka_env import FrankaTableEnv


def env_limit(size: int, steps: int = 200, repeats: int = 3) -> float:
    """Env steps per second of one env driven by the expert, nothing recorded; best of ``repeats``, resets
    not timed."""
    env = FrankaTableEnv(EnvConfig(task="pick_and_place", object="cup", image_size=size, terminate_on_success=False))
    try:
        expert = ScriptedExpert("pick_and_place", "cup", env.config.control, seed=0)
        best = 0.0
        for repeat in range(repeats):
            obs, info = env.reset(seed=repeat)
            expert.reset()
            elapsed = 0.0
            for done in range(1, steps + 1):
                start = time.perf_counter()
                obs, _, _, _, info = env.step(expert.act(obs["state"], info))
                elapsed += time.perf_counter() - start
                if done % 40 == 0:
                    obs, info = env.reset(seed=done)
                    expert.reset()
            best = max(best, steps / elapsed)
        return best
    finally:
        env.close()


def bench_collect(size: int, workers: int, episodes: int) -> tuple[float, float]:
    """(steady, total) collected frames per second."""
    spec = CollectSpec(env_ids=tuple(envs.ENV_IDS.values()), objects=("cup", "box"), image_size=size)
    times: list[tuple[float, int]] = []

    def on_episode(report: EpisodeReport) -> None:
        times.append((time.perf_counter(), report.frames))

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        collect(Path(tmp), spec, episodes, workers=workers, on_episode=on_episode)
        end = time.perf_counter()
    frames = sum(f for _, f in times)
    steady = sum(f for _, f in times[1:]) / (end - times[0][0])
    return steady, frames / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=48, help="episodes per cell")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args()
    print(f"Collection throughput, {args.episodes} episodes per cell (default mix, all tasks and objects)\n")
    print("| px | env limit steps/s | 1 worker frames/s (total) | 2 workers frames/s (total) | 2 / 1 |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        limit = env_limit(size)
        one = bench_collect(size, 1, args.episodes)
        two = bench_collect(size, 2, args.episodes)
        print(
            f"| {size} | {limit:.0f} | {one[0]:.0f} ({one[1]:.0f}) | {two[0]:.0f} ({two[1]:.0f}) | "
            f"{two[0] / one[0]:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
