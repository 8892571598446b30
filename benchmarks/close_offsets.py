"""How far off the object the learned agent's gripper is where the grasp is decided, over many seeds.

Runs `jepa-sim eval`'s agent (the preset's defaults and any `jepa-sim eval` flag given after the ones below) on the
grasp task of each seed until it first commands the gripper to close, and records from the simulator's privileged
state (for diagnosis only: the agent never sees it) the tool's horizontal offset from the object's axis at three
moments: when the agent leaves *over* (the last sideways alignment of the grasp chain), when it leaves *around*
(the fingers open around the object) and when it closes; then whether the object ends up held. The cup forgives
about 1 cm (`benchmarks/grasp_tolerance.py`), so the share of closes within 1 cm bounds what the grasp can reach.

    .venv/bin/python benchmarks/close_offsets.py --object cup --seeds 1000-1049
    .venv/bin/python benchmarks/close_offsets.py --object cup --seeds 1000-1049 --servo-subgoals 1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import tyro

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.drivers.sim import SimDriver
from agents.mpc import MPCAgent
from agents.policies import MPCPolicy
from envs.registration import ENV_IDS
from jepa_sim.cli.eval_cmd import EvalArgs
from jepa_sim.cli.planner_args import AGENT_PRESETS, with_preset
from jepa_sim.encoders import load_encoder
from jepa_sim.predictor.checkpoint import load_predictor

HELD_STEPS = 3
"""steps after the close at which "held" is read"""


def seed_range(spec: str) -> list[int]:
    """``1000-1049`` or ``1000,1003``."""
    if "-" in spec:
        first, last = (int(s) for s in spec.split("-"))
        return list(range(first, last + 1))
    return [int(s) for s in spec.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--object", default="cup", choices=("cup", "box"))
    parser.add_argument("--seeds", default="1000-1019", help="env seeds: a range 1000-1049 or a list 1000,1003")
    parser.add_argument("--agent", default="grasp", choices=sorted(AGENT_PRESETS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 per process here)")
    args, eval_flags = parser.parse_known_args()
    try:
        seeds = seed_range(args.seeds)
    except ValueError:
        parser.error(f"--seeds must be a range such as 1000-1049 or a list such as 1000,1003, got {args.seeds!r}")
    torch.set_num_threads(args.threads)
    settings = tyro.cli(EvalArgs, args=eval_flags, default=with_preset(EvalArgs, args.agent), prog="close_offsets.py")
    if settings.goal_chain != "grasp":
        parser.error("the offsets are read at the grasp chain's sub-goals: use an agent with --goal-chain grasp")
    encoder = load_encoder(settings.encoder, device="cpu")
    predictor, _ = load_predictor(settings.predictor, encoder.id)
    views = predictor.config.views
    print(f"grasp {args.object}, agent `{args.agent}` {' '.join(eval_flags)}: tool - object axis, horizontal (cm)")
    print("| seed | leaving *over* | leaving *around* | at the close | step | held |")
    print("|---|---|---|---|---|---|")
    closes, held_count = [], 0
    for seed in seeds:
        mpc = MPCAgent(encoder, predictor, settings.build_planner(), settings.agent_config(views))
        agent = MPCPolicy(mpc)
        driver = SimDriver.make(ENV_IDS["grasp"], args.object, image_size=settings.image_size, goal_chain="grasp",
                                chain_over=settings.chain_over, wrist_camera="wrist" in views)  # fmt: skip
        obs = driver.reset(seed)
        agent.reset(driver.goal_views(), obs, seed=seed)
        left: dict[int, np.ndarray] = {}
        close: np.ndarray | None = None
        held, step = False, 0
        while not driver.done:
            info = obs.extras["info"]
            offset = 100 * (np.asarray(info["tool_pos"]) - np.asarray(info["object_pos"]))[:2]
            action = agent.act(obs)
            for index in (1, 2):  # sub-goal index left by this step's advance
                if index not in left and mpc.subgoal > index:
                    left[index] = offset
            if action[6] > 0 and close is None:
                close, step = offset, driver.steps + 1
            driver.send_action(action)
            obs = driver.get_observation()
            if close is not None and driver.steps >= step + HELD_STEPS - 1:
                held = bool(obs.extras["info"].get("grasped")) or driver.success
                break
        driver.close()

        def cell(v: np.ndarray | None) -> str:
            return "-" if v is None else f"({v[0]:+.1f}, {v[1]:+.1f}) {np.linalg.norm(v):.1f}"

        print(f"| {seed} | {cell(left.get(1))} | {cell(left.get(2))} | {cell(close)} | {step or '-'} | "
              f"{'yes' if held else 'no'} |", flush=True)  # fmt: skip
        if close is not None:
            closes.append(float(np.linalg.norm(close)))
        held_count += held
    radial = np.asarray(closes)
    if len(radial):
        print(f"\n{len(radial)} of {len(seeds)} closed; offset at the close: median {np.median(radial):.2f} cm, "
              f"within 1 cm {np.mean(radial <= 1.0):.0%}, within 1.5 cm {np.mean(radial <= 1.5):.0%}; held "
              f"{held_count} of {len(seeds)}")  # fmt: skip


if __name__ == "__main__":
    main()
