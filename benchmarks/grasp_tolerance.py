"""How precise must a grasp be, and what does pressing a held object into the table do? The simulator alone.

`tolerance`: the tool is driven (plain position steps of at most 4 cm, no planner) over the grasp pose shifted by
an offset in the tool frame (x across the fingers, y along their closing axis, z up), descends there open, closes
for two steps and lifts 12 cm. Printed per offset: held after the close, held after the lift, how far the object
rose, and the measured closedness (about 0.26 on the cup, 0.30 on the box when held; 1.0: the fingers met).

`press`: the object is grasped at the grasp pose, lifted 5 cm, then driven down 2 or 4 cm per step for 6 steps
(the last moves of a *lowered* image reached too fast), with or without 1 cm sideways jitter. Printed per step:
the tool's and the object's height relative to the object's start, the object's sideways displacement, the
closedness and the grasp flag.

    .venv/bin/python benchmarks/grasp_tolerance.py --probe tolerance --objects cup,box
    .venv/bin/python benchmarks/grasp_tolerance.py --probe press --objects cup
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from envs.tasks import GRASP_Z_OFFSET

OFFSETS_CM = [(0, 0, 0), (0.5, 0, 0), (1.0, 0, 0), (1.5, 0, 0), (0, 0.5, 0), (0, 1.0, 0), (0, 1.5, 0),
              (0, 0, 1.0), (0, 0, 2.0), (0, 0, 3.0), (0, 0, -0.5)]  # fmt: skip


class Probe:
    """A grasp env driven by plain position steps toward targets (no planner, no noise)."""

    def __init__(self, obj: str) -> None:
        self.env: Any = gym.make("JepaSim/FrankaGrasp-v0", object=obj, image_size=64).unwrapped
        self.obs: dict[str, NDArray[Any]] = {}
        self.info: dict[str, Any] = {}

    def reset(self, seed: int) -> NDArray[np.float64]:
        self.obs, self.info = self.env.reset(seed=seed)
        return np.asarray(self.info["object_pos"], dtype=np.float64).copy()

    def step(self, action: NDArray[np.float64]) -> None:
        self.obs, _, _, _, self.info = self.env.step(action)

    def move(self, target: NDArray[np.float64], gripper: float, steps: int = 12) -> None:
        for _ in range(steps):
            action = np.zeros(7)
            action[:3] = np.clip(target - self.obs["state"][:3], -0.04, 0.04)
            action[6] = gripper
            self.step(action)
            if np.linalg.norm(target - self.obs["state"][:3]) < 0.003:
                break

    def grasp_at(self, grasp: NDArray[np.float64]) -> None:
        """Above, over, at ``grasp`` open; then two closing steps."""
        for height in (0.10, 0.05, 0.0):
            self.move(grasp + np.array([0.0, 0.0, height]), -1.0)
        for _ in range(2):
            self.step(np.array([0, 0, 0, 0, 0, 0, 1.0]))


def tolerance(probe: Probe, seeds: list[int]) -> None:
    print("| offset in the tool frame (cm) | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("|---|" + "---|" * len(seeds))
    for off_cm in OFFSETS_CM:
        cells = []
        for seed in seeds:
            obj = probe.reset(seed)
            yaw = float(probe.obs["state"][5])
            c, s = np.cos(yaw), np.sin(yaw)
            x, y, z = (v / 100 for v in off_cm)
            grasp = obj + np.array([c * x - s * y, s * x + c * y, GRASP_Z_OFFSET + z])
            probe.grasp_at(grasp)
            closed_held = bool(probe.info["grasped"])
            probe.move(grasp + np.array([0.0, 0.0, 0.12]), 1.0, steps=4)
            rise = 100 * (probe.info["object_pos"][2] - obj[2])
            cells.append(f"{'held' if closed_held else 'missed'}, {'lifted' if probe.info['grasped'] else 'lost'} "
                         f"{rise:+.1f} cm, closedness {probe.obs['state'][6]:.2f}")  # fmt: skip
        print(f"| {list(off_cm)} | " + " | ".join(cells) + " |")


def press(probe: Probe, seed: int) -> None:
    print("| down per step (cm) | sideways jitter (cm) | per step: tool z, object z (cm, from the object's start), "
          "object moved sideways (cm), closedness, held |")  # fmt: skip
    print("|---|---|---|")
    for down in (0.02, 0.04):
        for side in (0.0, 0.01):
            obj = probe.reset(seed)
            grasp = obj + np.array([0.0, 0.0, GRASP_Z_OFFSET])
            probe.grasp_at(grasp)
            probe.move(grasp + np.array([0.0, 0.0, 0.05]), 1.0, steps=3)
            rows = []
            for k in range(6):
                probe.step(np.array([side * (1 if k % 2 else -1), 0, -down, 0, 0, 0, 0]))
                o = probe.info["object_pos"]
                rows.append(f"{100 * (probe.obs['state'][2] - obj[2]):+.1f}/{100 * (o[2] - obj[2]):+.1f}/"
                            f"{100 * np.linalg.norm(o[:2] - obj[:2]):.1f}/{probe.obs['state'][6]:.2f}/"
                            f"{'y' if probe.info['grasped'] else 'n'}")  # fmt: skip
            print(f"| {100 * down:.0f} | {100 * side:.0f} | {'  '.join(rows)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", choices=("tolerance", "press"), default="tolerance")
    parser.add_argument("--objects", default="cup,box")
    parser.add_argument("--seeds", default="1000,1001,1002")
    args = parser.parse_args()
    objects = [o for o in args.objects.split(",") if o]
    if not objects or any(o not in ("cup", "box") for o in objects):
        parser.error(f"--objects must be cup and/or box, got {args.objects!r}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    for obj in objects:
        print(f"\n{obj}, {args.probe}\n")
        probe = Probe(obj)
        if args.probe == "tolerance":
            tolerance(probe, seeds)
        else:
            press(probe, seeds[0])
        probe.env.close()


if __name__ == "__main__":
    main()
