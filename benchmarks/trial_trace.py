"""Step by step through one evaluation trial: where the agent is in its goal chain, what it did with the gripper,
and what the simulator says happened (privileged state, for diagnosis only: the agent never sees it).

Per step: the sub-goal pursued, the agent's distance to it, the energy of the best plan found (the distance the
model predicts after its steps), the translation commanded, the gripper command executed, whether the object is
held, the object's horizontal distance to its target (pick-and-place: where it must rest; grasp: its start) and
height, the tool position and yaw, the tool's offset from the object's origin, and success. The agent is `jepa-sim
eval`'s: the preset's defaults, and any other `jepa-sim eval` flag after the ones below (agent, planner, chain),
so the trial is the one `jepa-sim eval` runs for the same seed with the same flags.

    .venv/bin/python benchmarks/trial_trace.py --task pick_and_place --object box --seed 1000
    .venv/bin/python benchmarks/trial_trace.py --task grasp --object cup --seed 1002 --agent paper
    .venv/bin/python benchmarks/trial_trace.py --task grasp --object cup --seed 1003 --path-weight 1
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="pick_and_place", choices=sorted(ENV_IDS))
    parser.add_argument("--object", default="box", choices=("cup", "box"))
    parser.add_argument("--seed", type=int, default=1000, help="the env seed (eval trial i uses 1000 + i)")
    parser.add_argument("--agent", default="grasp", choices=sorted(AGENT_PRESETS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (eval runs: 1 per process here)")
    args, eval_flags = parser.parse_known_args()
    torch.set_num_threads(args.threads)

    settings = tyro.cli(EvalArgs, args=eval_flags, default=with_preset(EvalArgs, args.agent), prog="trial_trace.py")
    encoder = load_encoder(settings.encoder, device="cpu")
    predictor, _ = load_predictor(settings.predictor, encoder.id)
    views = predictor.config.views
    mpc = MPCAgent(encoder, predictor, settings.build_planner(), settings.agent_config(views))
    agent = MPCPolicy(mpc)
    driver = SimDriver.make(ENV_IDS[args.task], args.object, image_size=settings.image_size,
                            goal_chain=settings.goal_chain, chain_over=settings.chain_over,
                            place_over=settings.place_over, wrist_camera="wrist" in views)  # fmt: skip
    obs = driver.reset(args.seed)
    agent.reset(driver.goal_views(), obs, seed=args.seed)
    names = list(driver.simulator.goal_chain_names())
    print(f"{args.task} {args.object} seed {args.seed}, agent `{args.agent}` ({settings.predictor}); goal chain: "
          + ", ".join(f"{i} {n}" for i, n in enumerate(names)))  # fmt: skip
    goal_pos = np.asarray(obs.extras["info"]["goal_pos"])
    reach = "; `object to target` below is the tool's 3-D distance to it" if args.task == "reach" else ""
    print(f"task goal position (m): {np.round(goal_pos, 3).tolist()}{reach}")
    print("| step | sub-goal | distance | planned | move (cm) | gripper | closedness | held | object to target (cm) "
          "| object height (cm) | tool (m) | yaw (rad) | tool - object (cm) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    while not driver.done:
        action = agent.act(obs)
        goal, distance, planned = agent.goal_index, mpc.log[-1].distance, mpc.log[-1].energy
        driver.send_action(action)
        obs = driver.get_observation()
        info = obs.extras.get("info", {})
        obj, target = np.asarray(info["object_pos"]), np.asarray(info["goal_pos"])
        off_target = obs.state[:3] - target if args.task == "reach" else obj[:2] - target[:2]
        print(f"| {driver.steps} | {goal} {names[goal]} | {distance:.3f} | {planned:.3f} | "
              f"{np.round(100 * action[:3], 1).tolist()} | {action[6]:+.2f} | "
              f"{obs.state[6]:.2f} | "
              f"{'yes' if info.get('grasped') else '-'} | {100 * np.linalg.norm(off_target):.1f} | "
              f"{100 * obj[2]:.1f} | {np.round(obs.state[:3], 3).tolist()} | {obs.state[5]:+.2f} | "
              f"{np.round(100 * (obs.state[:3] - obj), 1).tolist()} |"
              + (" success" if driver.success else ""))  # fmt: skip
    print(f"\n{'success' if driver.success else 'failure'} after {driver.steps} steps")


if __name__ == "__main__":
    main()
