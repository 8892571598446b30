"""How precisely does the planner pick the step it executes? Planning horizon against the scatter of the first step.

The scripted expert is stopped at the grasp chain's *above* image (the open gripper 10 cm over the object), then
pushed 2 cm sideways (an error the agent must correct before it descends). From that frame the agent's energy
toward the next image (*over*: 5 cm over the grasp pose, where the open fingers already straddle a cup's rim with
8 mm to spare) is minimised again and again with different sampling seeds, for each planner setting (the
predictor in fp32). Printed per setting: the first planned step (what the agent executes) as a mean and a
per-axis standard deviation over the repeats, and how far the whole planned move ends from the ideal one
(privileged: the *over* pose minus the tool's position).

With horizon 2 only the second frame is scored, so the first step is free to go anywhere the second can come back
from: its scatter is what one replanning step executes. With horizon 1 the executed step is the scored one (its
plan ends short of the ideal move where that is longer than one step's bound, 4 cm per axis).

    .venv/bin/python benchmarks/plan_spread.py [--objects cup,box] [--seeds 1000,1001] [--repeats 16]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.drivers.base import Observation
from agents.drivers.sim import SimDriver
from agents.planning_model import PredictorModel
from agents.policies import OracleAgent
from envs.config import ControlConfig
from envs.registration import ENV_IDS
from jepa_sim.cli.eval_cmd import EvalArgs
from jepa_sim.encoders import load_encoder
from jepa_sim.predictor.checkpoint import load_predictor

SETTINGS: dict[str, dict[str, int]] = {
    "horizon 2, 64 x 3 (the paper's horizon)": {"horizon": 2},
    "horizon 2, 64 x 6": {"horizon": 2, "iterations": 6},
    "horizon 1, 64 x 3 (default)": {"horizon": 1},
    "horizon 1, 32 x 3": {"horizon": 1, "samples": 32},
}
"""planner settings compared, as overrides of `jepa-sim eval`'s defaults"""


def pushed_at_above(obj: str, seed: int, push: float) -> tuple[SimDriver, Observation, list[dict[str, np.ndarray]]]:
    """A grasp env with the expert stopped at *above*, then moved ``push`` m along x and left to settle."""
    driver = SimDriver.make(ENV_IDS["grasp"], obj, 128, goal_chain="grasp", wrist_camera=True)
    obs = driver.reset(seed)
    goals = driver.goal_views()
    sim = driver.simulator
    above = sim._goal_configurations()[sim.goal_chain_names().index("above")][1]
    oracle = OracleAgent("grasp", obj, ControlConfig())
    oracle.reset(goals, obs)
    for _ in range(40):
        if np.linalg.norm(obs.extras["info"]["tool_pos"] - above) < 0.006:
            break
        driver.send_action(oracle.act(obs))
        obs = driver.get_observation()
    else:
        raise RuntimeError(f"the expert never reached *above* ({obj}, seed {seed})")
    for action in ([push, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], np.zeros(7)):
        driver.send_action(np.array(action))
        obs = driver.get_observation()
    return driver, obs, goals


def cm(v: np.ndarray, signed: bool = True) -> str:
    return "(" + ", ".join(f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}" for x in v) + ")"


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="cup")
    parser.add_argument("--seeds", default="1000,1001")
    parser.add_argument("--repeats", type=int, default=16, help="plans per setting (sampling seeds 0..N-1)")
    parser.add_argument("--push", type=float, default=0.02, help="sideways offset from *above* (m)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    defaults = EvalArgs()
    encoder = load_encoder("default", device="cpu")
    predictor, _ = load_predictor(defaults.predictor, encoder.id, torch.device("cpu"))
    views = predictor.config.views
    model = PredictorModel(predictor)
    weights = defaults.agent_config(views).weights

    def encode(images: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {view: encoder.encode(images[view][None])[0] for view in views}

    print(f"first planned step and whole plan's end toward *over*, {args.repeats} plans each (cm, per axis x, y, z)")
    print(
        "| object | seed | planner | s / plan | first step mean | first step std | plan end - ideal, mean "
        "| plan end - ideal, std |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for obj in args.objects.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            driver, obs, goals = pushed_at_above(obj, seed, args.push)
            sim = driver.simulator
            k = sim.goal_chain_names().index("over")
            ideal = sim._goal_configurations()[k][1] - obs.extras["info"]["tool_pos"]
            state = torch.as_tensor(obs.state, dtype=torch.float32)
            energy = model.energy(encode(obs.views()), state, encode(goals[k]), weights)
            print(f"| {obj} | {seed} | ideal move {cm(ideal)} | | | | | |")
            for name, overrides in SETTINGS.items():
                planner = replace(defaults, **overrides).build_planner()
                firsts, ends = [], []
                start = time.perf_counter()
                for g in range(args.repeats):
                    plan = planner.plan(energy, generator=torch.Generator().manual_seed(g))
                    steps = plan.actions[:, :3].numpy()
                    firsts.append(steps[0])
                    ends.append(steps.sum(0) - ideal)
                seconds = (time.perf_counter() - start) / args.repeats
                f, e = np.array(firsts), np.array(ends)
                print(f"| {obj} | {seed} | {name} | {seconds:.2f} | {cm(f.mean(0))} | {cm(f.std(0), signed=False)} "
                      f"| {cm(e.mean(0))} | {cm(e.std(0), signed=False)} |", flush=True)  # fmt: skip
            driver.close()


if __name__ == "__main__":
    main()
