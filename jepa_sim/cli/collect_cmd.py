"""``jepa-sim collect``: record action-labelled episodes into a dataset folder, in parallel, resumably."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class CollectArgs:
    """Record action-labelled episodes (frames, states, achieved-state-change actions) for training.

    Episode i is fully determined by --seed and i, so killing the command at any moment and rerunning it
    resumes where it stopped: finished episodes are kept, half-written ones never exist (each file is
    written to a temporary name and renamed). Rerunning with a larger --episodes extends the dataset.

    Examples:
      jepa-sim collect --env all --episodes 400 --workers 2 --out data/sim
      jepa-sim collect --env JepaSim/FrankaGrasp-v0 --object cup --policy imperfect --episodes 50 --out data/grasp
    """

    out: Path
    """dataset folder (created; reused to resume)"""
    env: str = "all"
    """a registered id (see `jepa-sim envs`) or `all`; episodes cycle through every env and object"""
    object: Literal["cup", "box", "all"] = "all"
    """the task object"""
    episodes: int = 20
    """total number of episodes in the dataset (indices 0 .. episodes-1)"""
    policy: str = "expert:0.4,imperfect:0.4,explore:0.2"
    """policy mix `name:weight,...` from expert (scripted, 2 mm noise), imperfect (5 mm noise, and in 60% of
    episodes one mistake: early close, offset grasp, drop, detour or hesitation), explore (random waypoints
    near the object, random gripper), hover (the expert probing 0-2.5 cm beside and 0-8 cm above the grasp pose
    for 6-14 steps before it grasps), random (uniform random actions); one name alone is allowed"""
    workers: int = 1
    """worker processes recording episodes in parallel"""
    seed: int = 0
    """dataset seed: episode i is seeded by (seed, i)"""
    image_size: int = 128
    """camera image size in pixels (64 to 256)"""
    render_preset: Literal["fast", "pretty"] = "fast"
    """`fast`: low-poly meshes, no shadows; `pretty`: full meshes and shadows (about 15x slower on a CPU)"""
    wrist_camera: bool = False
    """also record the wrist camera"""
    exterior_camera: Literal["droid", "front"] = "droid"
    """exterior camera preset: `droid` (beside the robot; the shipped models' view) or `front` (facing the robot
    from above the far table edge, the object region larger)"""
    max_steps: int | None = None
    """steps per episode at most (default: each task's time limit, 30 to 70 steps)"""
    tail_steps: int = 5
    """steps still recorded after the first success"""


def run(args: CollectArgs) -> int:
    from tqdm import tqdm

    from envs.collection import CollectSpec, EpisodeReport, collect, default_env_ids
    from jepa_sim.data.manifest import DatasetError

    try:
        spec = CollectSpec(
            env_ids=default_env_ids(args.env),
            objects=("cup", "box") if args.object == "all" else (args.object,),
            policy=args.policy,
            seed=args.seed,
            image_size=args.image_size,
            render_preset=args.render_preset,
            wrist_camera=args.wrist_camera,
            exterior_camera=args.exterior_camera,
            max_steps=args.max_steps,
            tail_steps=args.tail_steps,
        )
    except ValueError as exc:
        raise SystemExit(f"jepa-sim collect: {exc}") from exc
    if args.episodes < 1 or args.workers < 1:
        raise SystemExit("jepa-sim collect: --episodes and --workers must be at least 1")

    bar = tqdm(total=args.episodes, desc="collect", unit="ep", mininterval=1.0)
    stats = {"frames": 0, "success": 0, "episodes": 0}
    start = time.perf_counter()

    def on_start(already: int) -> None:
        bar.update(already)

    def on_episode(report: EpisodeReport) -> None:
        stats["frames"] += report.frames
        stats["success"] += report.success
        stats["episodes"] += 1
        elapsed = max(time.perf_counter() - start, 1e-9)
        bar.set_postfix(
            frames_per_s=f"{stats['frames'] / elapsed:.0f}",
            success=f"{stats['success']}/{stats['episodes']}",
            refresh=False,
        )
        bar.update(1)

    try:
        try:
            reports = collect(args.out, spec, args.episodes, args.workers, on_episode=on_episode, on_start=on_start)
        finally:
            bar.close()
    except DatasetError as exc:
        raise SystemExit(f"jepa-sim collect: {exc}") from exc
    except KeyboardInterrupt:
        on_disk = len(list((args.out / "episodes").glob("episode_*.npz")))
        print(f"\ninterrupted: {on_disk} of {args.episodes} episodes are on disk; rerun the same command to resume")
        return 130
    elapsed = time.perf_counter() - start
    skipped = args.episodes - len(reports)
    rate = stats["frames"] / max(elapsed, 1e-9)
    print(
        f"recorded {len(reports)} episodes ({stats['frames']} frames, {rate:.0f} frames/s with {args.workers} "
        f"worker(s)) into {args.out}" + (f"; {skipped} were already there" if skipped else "")
    )
    print(f"next: jepa-sim dataset info {args.out}")
    return 0
