"""Ad-hoc (tenth session): how much the encoded *carried* and *lowered* goal images change, per view, when the
pick-and-place target moves 2 or 4 cm; and the *carried* -> *lowered* distance for scale. Output:
place_sensitivity.txt.

    .venv/bin/python benchmarks/results/session10_2026-12-02/place_sensitivity.py
"""

import dataclasses

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from jepa_sim.encoders import load_encoder

VIEWS = ("exterior", "wrist")


def main() -> None:
    encoder = load_encoder("default", device="cpu")

    def latent(image: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return encoder.encode(np.asarray(image)[None])[0].float()

    def dist(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).abs().mean())

    for obj in ("cup", "box"):
        env = gym.make("JepaSim/FrankaPickAndPlace-v0", object=obj, image_size=128, goal_chain="grasp",
                       wrist_camera=True).unwrapped  # fmt: skip
        for seed in (1000, 1001, 1002):
            env.reset(seed=seed)
            names = env.goal_chain_names()
            base = {v: [latent(im) for im in ims] for v, ims in env.render_goal_views(VIEWS).items()}
            ic, il = names.index("carried"), names.index("lowered")
            lines = [f"{obj} {seed} carried->lowered ext {dist(base['exterior'][ic], base['exterior'][il]):.3f} "
                     f"wri {dist(base['wrist'][ic], base['wrist'][il]):.3f}"]  # fmt: skip
            goal = env.goal
            for off in ((0.02, 0, 0), (0.04, 0, 0), (0, 0.02, 0), (0, 0.04, 0)):
                env.goal = dataclasses.replace(goal, position=goal.position + np.array(off))
                moved = env.render_goal_views(VIEWS)
                env.goal = goal
                cells = [f"{n} " + " ".join(f"{v[:3]} {dist(base[v][i], latent(moved[v][i])):.3f}" for v in VIEWS)
                         for n, i in (("carried", ic), ("lowered", il))]  # fmt: skip
                lines.append(f"off {off[:2]}: " + " | ".join(cells))
            print("\n  ".join(lines), flush=True)
        env.close()


if __name__ == "__main__":
    main()
