"""``jepa-sim rollout``: run a policy in the simulated envs, write videos and a success table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from jepa_sim.atomic import atomic_write
from jepa_sim.media import write_video


@dataclass(frozen=True)
class RolloutArgs:
    """Roll out a policy (the scripted expert or random actions) and report its success rate.

    Examples:
      jepa-sim rollout --env JepaSim/FrankaGrasp-v0 --object cup --episodes 3 --video grasp.mp4
      jepa-sim rollout --env all --episodes 100 --out runs/expert
    """

    env: str = "all"
    """a registered id (see `jepa-sim envs`) or `all` for every task"""
    object: Literal["cup", "box", "all"] = "all"
    """the task object; `all` runs both (for reach the object is only scenery)"""
    policy: Literal["expert", "random"] = "expert"
    """`expert`: scripted with privileged state; `random`: uniform random actions"""
    episodes: int = 5
    """episodes per env and object"""
    seed: int = 0
    """episode i uses seed `seed + i`"""
    image_size: int = 128
    """camera image size (64 to 256 px)"""
    render_preset: Literal["fast", "pretty"] = "fast"
    """`fast`: low-poly, no shadows; `pretty`: full meshes and shadows (much slower on a CPU)"""
    video: Path | None = None
    """write an mp4 of the recorded episodes here (with a single env and object)"""
    out: Path | None = None
    """write results.json, results.md and one mp4 per env and object into this folder"""
    videos_per_env: int = 2
    """episodes recorded into each video"""


def _combos(args: RolloutArgs) -> list[tuple[str, str, str]]:
    import envs
    from envs.registration import task_of

    env_ids = list(envs.ENV_IDS.values()) if args.env == "all" else [args.env]
    combos = []
    for env_id in env_ids:
        task = task_of(env_id)
        objects = ["cup", "box"] if args.object == "all" else [args.object]
        combos += [(env_id, task, obj) for obj in objects]
    return combos


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text)


def run(args: RolloutArgs) -> int:
    import gymnasium as gym
    from tqdm import tqdm

    from envs.rollout import make_policy, run_episode

    if args.episodes < 1:
        raise SystemExit("--episodes must be at least 1")
    try:
        combos = _combos(args)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    if args.video is not None and len(combos) != 1:
        raise SystemExit("--video needs one env and one object; use --out DIR for several")

    results: dict[str, dict[str, dict[str, float | int]]] = {}
    rows = []
    for env_id, task, obj in combos:
        try:
            env = gym.make(env_id, object=obj, image_size=args.image_size, render_preset=args.render_preset)
        except ValueError as exc:  # a bad config field, named by EnvConfig
            raise SystemExit(f"jepa-sim rollout: {exc}") from exc
        control = env.unwrapped.config.control  # type: ignore[attr-defined]
        frames: list[np.ndarray] = []
        successes, steps, seconds = 0, 0, 0.0
        bar = tqdm(range(args.episodes), desc=f"{task}/{obj}", unit="ep", leave=False, mininterval=1.0)
        try:
            for i in bar:
                policy = make_policy(args.policy, task, obj, control, args.seed + i)
                record = (args.video is not None or args.out is not None) and i < args.videos_per_env
                result = run_episode(env, policy, seed=args.seed + i, record=record)
                successes += result.success
                steps += result.steps
                seconds += result.seconds
                frames += result.frames
                bar.set_postfix(
                    success=f"{successes}/{i + 1}", steps_per_s=f"{steps / max(seconds, 1e-9):.0f}", refresh=False
                )
        finally:
            env.close()
        rate = successes / args.episodes
        results.setdefault(task, {})[obj] = {
            "success_rate": rate,
            "n": args.episodes,
            "mean_steps": steps / args.episodes,
            "steps_per_second": steps / max(seconds, 1e-9),
        }
        rows.append((task, obj, rate, args.episodes, steps / args.episodes, steps / max(seconds, 1e-9)))
        fps = int(env.metadata.get("render_fps", 4))
        if args.video is not None:
            write_video(args.video, frames, fps)
        elif args.out is not None and frames:
            write_video(args.out / f"{task}_{obj}.mp4", frames, fps)

    table = [
        f"Policy `{args.policy}`, {args.episodes} episodes per row "
        f"(seeds {args.seed}..{args.seed + args.episodes - 1}), {args.image_size} px `{args.render_preset}`.",
        "",
        "| task | object | success | episodes | mean steps | env steps/s |",
        "|---|---|---|---|---|---|",
    ]
    table += [f"| {t} | {o} | {r:.0%} | {n} | {s:.1f} | {sps:.0f} |" for t, o, r, n, s, sps in rows]
    print("\n".join(table))
    if args.out is not None:
        _write_text(args.out / "results.json", json.dumps(results, indent=2) + "\n")
        _write_text(args.out / "results.md", "\n".join(table) + "\n")
        print(f"\nwrote {args.out}/results.json, results.md and one video per row (camera | goal image)")
    elif args.video is not None:
        print(f"\nwrote {args.video} (camera | goal image)")
    return 0
