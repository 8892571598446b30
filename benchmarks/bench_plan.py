"""Planning latency per replanning step on the CPU, the MPC agent against a straightforward reference CEM loop.

Ours: `MPCAgent.act` as `jepa-sim eval` runs it with its default planner and precision (`--precision auto`:
bfloat16 autocast on a CPU with native bfloat16). It encodes the frame(s), runs the observed history once
(`observe`), and scores each CEM iteration's candidates through the key/value cache (`imagine`). Energies: the
L1 distance of the last predicted frame to the goal latent. One table per predictor: the shipped one-view
(`one-view`, the paper's layout) and two-view (`two-view-hover`, the default agent's: exterior and wrist camera,
twice the tokens per frame). The agent's settings are `jepa-sim eval`'s defaults (its gripper margin may score one
more sequence).

Reference, same model and the same sample budget: the same CEM, but every rollout step re-feeds the whole
sequence so far through `forward`, with no cache. A second reference row also uses the paper's token layout
(one predictor token per encoder patch, merge 1, same width and depth).

Frames and goals are real: reset observations and goal images of the reach and grasp envs, seeds 0-4.

    make bench            # or: .venv/bin/python benchmarks/bench_plan.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.mpc import MPCAgent
from agents.planning_model import PredictorModel, Views
from jepa_sim.cli.eval_cmd import EvalArgs
from jepa_sim.encoders import load_encoder
from jepa_sim.planning import CEM
from jepa_sim.planning.energy import integrate_states
from jepa_sim.predictor import ACPredictor
from jepa_sim.predictor.checkpoint import load_predictor


def reference_energy(
    predictor: ACPredictor, z: torch.Tensor, state: torch.Tensor, goal: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The cost function without the fast path: re-feed the whole sequence at every rollout step."""

    @torch.inference_mode()
    def energy(actions: torch.Tensor) -> torch.Tensor:
        k, h, _ = actions.shape
        states = integrate_states(state, actions)
        seq = z[None, None].expand(k, 1, -1, -1)
        for t in range(h):
            nxt = predictor(seq, actions[:, : t + 1], states[:, : t + 1])[:, -1]
            seq = torch.cat([seq, nxt[:, None]], dim=1)
        return (seq[:, -1] - goal).abs().mean(dim=(1, 2))

    return energy


def bench(predictor_name: str, repeats: int) -> None:
    import gymnasium as gym

    defaults = EvalArgs()
    planner = defaults.build_planner()
    assert isinstance(planner, CEM)
    config, bounds = planner.config, planner.bounds
    encoder = load_encoder("default", device="cpu")
    predictor, _ = load_predictor(predictor_name, encoder.id)
    views = predictor.config.views
    paper = ACPredictor(replace(predictor.config, merge=1)).eval()
    shipped = defaults.agent_config(views)  # the eval's agent settings (e.g. the gripper margin's extra evaluation)

    observations = []
    for env_id in ("JepaSim/FrankaReach-v0", "JepaSim/FrankaGrasp-v0"):
        env = gym.make(env_id, object="cup", image_size=128, wrist_camera="wrist" in views)
        for seed in range(repeats):
            obs, info = env.reset(seed=seed)
            images = {"exterior": obs["image"], "wrist": obs.get("wrist_image")}
            goals = {"exterior": info["goal_image"], "wrist": info.get("wrist_goal_image")}
            observations.append(({v: images[v] for v in views}, obs["state"], {v: goals[v] for v in views}))
        env.close()

    kept = ", elites kept" if config.keep_elites else ""
    default_agent = MPCAgent(encoder, predictor, planner, shipped)
    assert isinstance(default_agent.model, PredictorModel)
    resolved = default_agent.model.precision
    agents = [(f"MPCAgent.act (cache, merge 2, {resolved}{kept}: the default)", default_agent)]
    if config.keep_elites:
        paper_cem = CEM(replace(config, keep_elites=False), bounds)
        agents.append((f"MPCAgent.act (cache, merge 2, {resolved}, every iteration afresh: the paper's CEM)",
                       MPCAgent(encoder, predictor, paper_cem, shipped)))  # fmt: skip
    if resolved != "fp32":
        agents.append((f"MPCAgent.act (cache, merge 2, fp32{kept})",
                       MPCAgent(encoder, predictor, planner, replace(shipped, precision="fp32"))))  # fmt: skip
    references = (("reference loop, same model, fp32", predictor), ("reference loop, paper layout, fp32", paper))
    scored = 0  # sequences one replanning step scores (the same for every row: the same CEM settings)

    def agent_seconds(agent: MPCAgent, images: Views, state: np.ndarray, goal: Views) -> float:
        agent.reset([goal])
        agent.act(images, state)  # warm-up (first call allocates)
        agent.reset([goal])
        agent.act(images, state)
        return agent.log[-1].seconds

    def reference_seconds(model: ACPredictor, images: Views, state: np.ndarray, goal: Views) -> float:
        nonlocal scored
        with torch.inference_mode():  # goal tokens at reset, as the agent does
            goal_z = torch.cat([encoder.encode(goal[v][None])[0] for v in views])
        start = time.perf_counter()
        with torch.inference_mode():
            z = torch.cat([encoder.encode(images[v][None])[0] for v in views])
        energy = reference_energy(model, z, torch.as_tensor(state, dtype=torch.float32), goal_z)
        scored = CEM(config, bounds).plan(energy, generator=torch.Generator().manual_seed(0)).evaluations
        return time.perf_counter() - start

    # every row is timed on each observation in turn (rows interleaved, not one row after another), so that a
    # slow spell of this shared machine falls on all rows alike
    times: dict[str, list[float]] = {label: [] for label, _ in [*agents, *references]}
    for images, state, goal in observations:
        for label, agent in agents:
            times[label].append(agent_seconds(agent, images, state, goal))
        for label, model in references:
            times[label].append(reference_seconds(model, images, state, goal))
    rows = [(label, float(np.median(seconds))) for label, seconds in times.items()]

    print(f"\nPlanning latency per replanning step, predictor `{predictor_name}` (views: {', '.join(views)}), "
          f"{torch.get_num_threads()} CPU threads; CEM {config.samples} samples x {config.iterations} iterations{kept} "
          f"= {scored} sequences of horizon {config.horizon} scored (the reference loop too), median of "
          f"{len(observations)} observations:\n")  # fmt: skip
    print("| planner | s / step | vs ours | real time at 4 Hz (<= 0.25 s) |")
    print("|---|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} | {seconds / rows[0][1]:.2f}x | {'yes' if seconds <= 0.25 else 'no'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="observations timed per env and row")
    parser.add_argument("--predictors", default="one-view,two-view-hover",
                        help="comma-separated shipped predictors (or folders) to time, one table each")  # fmt: skip
    args = parser.parse_args()
    for name in args.predictors.split(","):
        bench(name.strip(), args.repeats)


if __name__ == "__main__":
    main()
