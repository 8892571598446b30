"""The true (simulated, encoded) distance to *above* and *over* around those sub-goal poses: is it sharp, centred?

Drives the tool to the object + (0, 0, h) in 4 cm steps, then moves it -2..+2 cm along x and along y (restoring the
state in between) and prints the energy's distance to the sub-goal image per offset. Equal view weights by default
(WE / WW environment variables set the exterior and wrist weights). Ad-hoc, eleventh session:

    MUJOCO_GL=egl .venv/bin/python benchmarks/results/session11_2026-12-07/servo_probe.py cup 1000,1001,1002
"""

import os
import sys

import numpy as np
import torch

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.drivers.sim import SimDriver
from agents.planning_model import weighted_distance
from envs.registration import ENV_IDS
from jepa_sim.encoders import load_encoder

OFFSETS = (-0.02, -0.01, -0.005, 0.0, 0.005, 0.01, 0.02)


def main() -> None:
    encoder = load_encoder("default", device="cpu")
    weights = {"exterior": float(os.environ.get("WE", 0.5)), "wrist": float(os.environ.get("WW", 0.5))}
    torch.set_grad_enabled(False)

    def encode(images: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {v: encoder.encode(images[v][None])[0] for v in ("exterior", "wrist")}

    for obj in sys.argv[1].split(","):
        for seed in (int(s) for s in sys.argv[2].split(",")):
            driver = SimDriver.make(ENV_IDS["grasp"], obj, 128, goal_chain="grasp", wrist_camera=True)
            obs = driver.reset(seed)
            goals = driver.goal_views()
            sim = driver.simulator
            names = sim.goal_chain_names()
            for sub, height in (("above", 0.11), ("over", 0.06)):
                goal = encode(goals[names.index(sub)])
                for _ in range(30):
                    info = obs.extras["info"]
                    rel = info["object_pos"] + np.array([0, 0, height]) - info["tool_pos"]
                    if np.linalg.norm(rel) < 0.002:
                        break
                    action = np.zeros(7)
                    action[:3] = np.clip(rel, -0.04, 0.04)
                    driver.send_action(action)
                    obs = driver.get_observation()
                info = obs.extras["info"]
                base = 100 * (info["tool_pos"] - info["object_pos"])
                saved = sim.save_state()
                rows = []
                for axis in (0, 1):
                    values = []
                    for offset in OFFSETS:
                        sim.restore_state(saved)
                        action = np.zeros(7)
                        action[axis] = offset
                        sim.step(action)
                        frame, *_ = sim.step(np.zeros(7))
                        seen = encode({"exterior": frame["image"], "wrist": frame["wrist_image"]})
                        values.append(float(weighted_distance(seen, goal, weights)))
                    rows.append(" ".join(f"{v:.3f}" for v in values))
                sim.restore_state(saved)
                where = f"base({base[0]:+.1f},{base[1]:+.1f},{base[2]:.1f})"
                print(f"{obj} {seed} {sub} {where} x: {rows[0]} | y: {rows[1]}", flush=True)
            driver.close()


if __name__ == "__main__":
    main()
