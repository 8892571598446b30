"""Does the learned model rank candidate plans like the simulator does? A diagnostic for the planning gap.

Along the scripted expert's own episodes (real frames, the task's real goal image), at every step: sample the
candidates CEM starts from (2-step sequences within the planner's bounds, plus the expert's next two actions),
score each with the same latent energy twice (once with the shipped predictor imagining the outcome, once with
the simulator executing it and the encoder seeing the real final frame), and compare the two rankings:

- rank correlation (Spearman) between the predictor's and the simulator's energies;
- regret: how much worse, in the simulator's energy, the predictor's best candidate is than the simulator's
  best, as a fraction of the simulator energies' spread (0 = it picks the same, 1 = as bad as the worst);
- whether the expert's own actions are in the top 10% of each ranking.

Rows are grouped by the expert's phase. Low correlation and high regret where the agent fails (descend, close)
mean the predictor, not the energy or the planner, is what stops the grasp.

    .venv/bin/python benchmarks/model_vs_sim.py [--episodes 3] [--samples 64]
"""

from __future__ import annotations

import argparse
import copy
from collections import defaultdict

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the ids, picks the GL backend)
from agents.planning_model import PredictorModel
from agents.sim_model import SimulatorModel
from envs.expert import ScriptedExpert
from envs.registration import ENV_IDS
from jepa_sim.encoders import load_encoder
from jepa_sim.planning import ActionBounds
from jepa_sim.planning.base import Sampler
from jepa_sim.predictor.checkpoint import load_predictor


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="grasp,pick_and_place")
    parser.add_argument("--object", default="cup")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()

    torch.manual_seed(0)
    encoder = load_encoder("default", device="cpu")
    predictor, _ = load_predictor("default", encoder.id)
    learned = PredictorModel(predictor)
    bounds = ActionBounds()
    generator = torch.Generator().manual_seed(0)
    rows: dict[tuple[str, str], list[tuple[float, float, bool, bool]]] = defaultdict(list)
    for task in args.tasks.split(","):
        env = gym.make(ENV_IDS[task], object=args.object, image_size=128)
        sim = env.unwrapped
        simulated = SimulatorModel(sim, encoder)  # type: ignore[arg-type]
        for episode in range(args.episodes):
            obs, info = env.reset(seed=args.seed + episode)
            goal = encoder.encode(info["goal_image"][None])[0].float()
            expert = ScriptedExpert(task, args.object, sim.config.control)
            expert.reset()
            done = False
            while not done:
                phase = expert.phase
                first = expert.act(obs["state"], info)
                saved, look = sim.save_state(), copy.deepcopy(expert)  # its second action: step, ask, step back
                after, *_, step_info = sim.step(first)  # unwrapped: the time limit does not count it
                second = look.act(after["state"], step_info)
                sim.restore_state(saved)
                expert_plan = torch.as_tensor(np.stack([first, second]), dtype=torch.float32)
                candidates = Sampler.start(bounds, 2, 1.0, 0.02, None, "cpu").sample(args.samples, generator)
                candidates = torch.cat([bounds.clip(expert_plan)[None], candidates[1:]])
                z = encoder.encode(obs["image"][None])[0].float()
                state = torch.as_tensor(obs["state"], dtype=torch.float32)
                ext = {"exterior": 1.0}
                e_model = learned.energy({"exterior": z}, state, {"exterior": goal}, ext)(candidates).numpy()
                e_sim = simulated.energy({"exterior": z}, state, {"exterior": goal}, ext)(candidates).numpy()
                spread = max(float(e_sim.max() - e_sim.min()), 1e-9)
                regret = float(e_sim[int(np.argmin(e_model))] - e_sim.min()) / spread
                top = max(1, len(candidates) // 10)
                rows[(task, phase)].append((spearman(e_model, e_sim), regret, 0 in np.argsort(e_model)[:top],
                                            0 in np.argsort(e_sim)[:top]))  # fmt: skip
                obs, _, terminated, truncated, info = env.step(first)
                done = terminated or truncated
        env.close()

    print(f"\n{args.samples} candidates per state, {args.episodes} expert episodes per task, object {args.object}\n")
    print("| task | expert phase | states | rank corr. (model vs sim) | regret | expert in model top 10% "
          "| expert in sim top 10% |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (task, phase), values in rows.items():
        v = np.array(values, dtype=float)
        print(f"| {task} | {phase} | {len(v)} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} | "
              f"{100 * v[:, 2].mean():.0f}% | {100 * v[:, 3].mean():.0f}% |")  # fmt: skip


if __name__ == "__main__":
    main()
