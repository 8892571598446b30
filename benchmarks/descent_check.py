"""Where the learned grasp breaks: does the predictor see a 1-2 cm sideways error while the fingers descend?

The scripted expert is stopped on its way down, centred over the object (within 4 mm) with the tool less than 7.5
cm above the object's centre (it stops 3.8-4.2 cm above it: between the chain's *over* and *around*). From there a
fixed set of two-step candidates (a move, then a stay) is scored twice with the agent's energy toward the *around*
image (fingers open around the object): once with the predictor imagining the outcome, once with the simulator
executing it and the encoder seeing the real frames (``FrankaTableEnv.save_state``/``restore_state`` around each).
The summary row per object compares the contrasts: how much worse a descent 1 cm to the side scores than the
straight descent, predicted and true. A predictor that sees much less of it than the encoder does (ratio << 1) lets
the planner descend off-centre and knock over an object with 1 cm of clearance per finger (the cup).

    .venv/bin/python benchmarks/descent_check.py [--objects cup,box] [--seeds 1000,1001,1002]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.drivers.base import Observation
from agents.drivers.sim import SimDriver
from agents.planning_model import PredictorModel, weighted_distance
from agents.policies import OracleAgent
from envs.config import ControlConfig
from envs.registration import ENV_IDS
from jepa_sim.cli.planner_args import AgentArgs
from jepa_sim.encoders import load_encoder
from jepa_sim.predictor.checkpoint import load_predictor

GRASP_HEIGHT = 0.01  # the grasp pose's tool height above the object centre (envs.tasks.GRASP_Z_OFFSET)


def candidates(drop: float) -> dict[str, list[float]]:
    """Named first actions (the second is a stay): ``drop`` is the descent from the current height to *around*."""
    moves = {"stay": (0, 0, 0), "x+1": (0.01, 0, 0), "down": (0, 0, -drop), "x+1 down": (0.01, 0, -drop),
             "y+1 down": (0, 0.01, -drop), "x-2 down": (-0.02, 0, -drop)}  # fmt: skip
    return {name: [*xyz, 0.0, 0.0, 0.0, 0.0] for name, xyz in moves.items()}


def at_over(obj: str, seed: int) -> tuple[SimDriver, Observation, list[dict[str, np.ndarray]]]:
    """A grasp env with the expert stopped centred above the object, on its way down."""
    driver = SimDriver.make(ENV_IDS["grasp"], obj, 128, goal_chain="grasp", wrist_camera=True)
    obs = driver.reset(seed)
    goals = driver.goal_views()
    oracle = OracleAgent("grasp", obj, ControlConfig())
    oracle.reset(goals, obs)
    for _ in range(40):
        info = obs.extras["info"]
        rel = info["tool_pos"] - info["object_pos"]
        if np.linalg.norm(rel[:2]) < 0.004 and rel[2] < 0.075:
            return driver, obs, goals
        driver.send_action(oracle.act(obs))
        obs = driver.get_observation()
    raise RuntimeError(f"the expert never reached the over pose ({obj}, seed {seed})")


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="cup,box")
    parser.add_argument("--seeds", default="1000,1001,1002")
    parser.add_argument("--predictor", default="two-view", help="a two-view predictor (default: the shipped one)")
    parser.add_argument(
        "--view-weights",
        default="",
        help="weight of each view in the energy, as the agent's --view-weights (default: equal)",
    )
    args = parser.parse_args()
    encoder = load_encoder("default", device="cpu")
    predictor, _ = load_predictor(args.predictor, encoder.id, torch.device("cpu"))
    cfg = predictor.config
    model = PredictorModel(predictor)
    try:  # parsed, checked and normalised as the agent does
        weights = AgentArgs(view_weights=args.view_weights).agent_config(cfg.views).weights
    except ValueError as exc:
        parser.error(str(exc))

    def encode(images: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {view: encoder.encode(images[view][None])[0] for view in cfg.views}

    names = list(candidates(0.0))
    views = ", ".join(f"{v} {w:.2f}" for v, w in weights.items())
    print(f"distance to *around* after each move, predicted / true ({args.predictor}, view weights {views})")
    print("| object | seed | start offset (cm) | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    contrasts: dict[str, list[tuple[float, float]]] = {}
    for obj in args.objects.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            driver, obs, goals = at_over(obj, seed)
            sim = driver.simulator
            goal = encode(goals[sim.goal_chain_names().index("around")])
            info = obs.extras["info"]
            rel = info["tool_pos"] - info["object_pos"]
            moves = candidates(float(rel[2]) - GRASP_HEIGHT)
            state = torch.as_tensor(obs.state, dtype=torch.float32)
            energy = model.energy(encode(obs.views()), state, goal, weights)  # as the agent plans (fp32)
            plans = torch.tensor([[move, [0.0] * 7] for move in moves.values()], dtype=torch.float32)
            predicted = energy(plans).numpy()
            true = []
            saved = sim.save_state()
            for move in moves.values():
                sim.restore_state(saved)
                sim.step(np.array(move))
                frame, *_ = sim.step(np.zeros(7))
                seen = encode({"exterior": frame["image"], "wrist": frame["wrist_image"]})
                true.append(float(weighted_distance(seen, goal, weights)))
            sim.restore_state(saved)
            driver.close()
            row = dict(zip(names, zip(predicted.tolist(), true, strict=True), strict=True))
            contrasts.setdefault(obj, []).append(
                (row["x+1 down"][0] - row["down"][0], row["x+1 down"][1] - row["down"][1])
            )
            offset = ",".join(f"{100 * v:+.1f}" for v in rel)
            cells = " | ".join(f"{p:.3f} / {t:.3f}" for p, t in row.values())
            print(f"| {obj} | {seed} | ({offset}) | {cells} |", flush=True)
    print("\nsideways contrast at the descent: score of 'x+1 down' minus 'down' (higher = the error is seen)")
    print("| object | predicted | true | predicted / true |")
    print("|---|---|---|---|")
    for obj, pairs in contrasts.items():
        p, t = (float(np.mean(v)) for v in zip(*pairs, strict=True))
        print(f"| {obj} | {p:.3f} | {t:.3f} | {p / t:.2f} |")


if __name__ == "__main__":
    main()
