"""Predictor training speed on the CPU, and the horizon table that shows the shipped predictor learned dynamics.

Speed: training clips per second (teacher forcing + 2-step rollout loss, backward, AdamW) of the default
predictor on tokens shaped like the embedded encoder's (8x8 x 192, 5-frame clips, batch 64), side by side
with the same network in the paper's token layout (one predictor token per encoder patch, merge 1) in the
same run. Also the cost of one planning-style rollout: 256 candidate action sequences, 2 steps, from one frame.

Horizons: `jepa-sim predict-eval` with the shipped predictor on data no predictor was trained on (the seed-1
dataset in runs/bench/probe_data, collected and encoded once), and on the held-out episodes of data/sim when
that dataset and its tokens are present.

    make bench            # or: .venv/bin/python benchmarks/bench_train.py [--skip-horizons]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from jepa_sim.losses import ac_losses
from jepa_sim.predictor import ACPredictor, PredictorConfig
from jepa_sim.predictor.checkpoint import read_predictor_meta


def train_rate(config: PredictorConfig, batch: int, clip_len: int, rollout_steps: int, steps: int = 4) -> float:
    """Training clips per second: best of ``steps`` timed optimiser steps after one warm-up step."""
    torch.manual_seed(0)
    model = ACPredictor(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    z = torch.randn(batch, clip_len, config.num_tokens, config.token_dim)
    actions, states = torch.randn(batch, clip_len - 1, 7), torch.randn(batch, clip_len, 7)
    best = float("inf")
    for i in range(steps + 1):
        start = time.perf_counter()
        loss = ac_losses(model, z, actions, states, rollout_steps)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i:
            best = min(best, time.perf_counter() - start)
    return batch / best


@torch.inference_mode()
def rollout_ms(config: PredictorConfig, candidates: int = 256, horizon: int = 2) -> float:
    model = ACPredictor(config).eval()
    z0 = torch.randn(candidates, config.num_tokens, config.token_dim)
    actions, states = torch.randn(candidates, horizon, 7), torch.randn(candidates, horizon, 7)
    model.rollout(z0, actions, states)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        model.rollout(z0, actions, states)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictor", default="default")
    parser.add_argument("--encoder", default="default", help="the encoder the predictor was trained on")
    parser.add_argument("--data", type=Path, default=Path("data/sim"))
    parser.add_argument("--fresh-data", type=Path, default=Path("runs/bench/probe_data"))
    parser.add_argument("--fresh-episodes", type=int, default=400)
    parser.add_argument("--skip-horizons", action="store_true")
    args = parser.parse_args()

    meta = read_predictor_meta(args.predictor)
    shipped = PredictorConfig.from_dict(meta["predictor"])
    clip_len = int(meta["training"]["config"]["clip_len"])
    batch = int(meta["training"]["config"]["batch_size"])
    rollout_steps = int(meta["training"]["config"]["rollout_steps"])
    rows = []
    for label, config in (
        (f"shipped (merge {shipped.merge})", shipped),
        ("same network, paper layout (merge 1)", replace(shipped, merge=1)),
    ):
        params = sum(p.numel() for p in ACPredictor(config).parameters())
        rows.append(
            (label, params, config.step_tokens, train_rate(config, batch, clip_len, rollout_steps), rollout_ms(config))
        )
    print(f"\nPredictor training on the CPU ({torch.get_num_threads()} threads), batch {batch}, {clip_len}-frame "
          f"clips of {shipped.num_tokens} x {shipped.token_dim} tokens:\n")  # fmt: skip
    print("| predictor | params | tokens/step | train clips/s | ms/step (batch) | rollout 256 x 2 steps (ms) |")
    print("|---|---|---|---|---|---|")
    for label, params, tokens, rate, ms in rows:
        print(f"| {label} | {params / 1e6:.2f}M | {tokens} | {rate:.0f} | {1000 * batch / rate:.0f} | {ms:.0f} |")
    print(f"\nshipped / paper layout: {rows[0][3] / rows[1][3]:.1f}x the training throughput, "
          f"{rows[1][4] / rows[0][4]:.1f}x faster rollouts")  # fmt: skip
    if args.skip_horizons:
        return

    from envs.collection import CollectSpec, collect, default_env_ids
    from jepa_sim.cli.main import main as cli

    fresh = args.fresh_data
    if not (fresh / "manifest.json").is_file() or len(list(fresh.glob("episodes/*.npz"))) < args.fresh_episodes:
        print(f"\ncollecting {args.fresh_episodes} fresh episodes (seed 1) into {fresh} ...")
        spec = CollectSpec(env_ids=default_env_ids("all"), objects=("cup", "box"), seed=1)
        collect(fresh, spec, args.fresh_episodes, workers=2)
    cli(["encode", "--data", str(fresh), "--encoder", args.encoder, "--device", "cpu"])
    print("\nLatent L1 of rollouts from one true frame, data no predictor was trained on (seed 1):\n")
    cli(["predict-eval", "--data", str(fresh), "--predictor", args.predictor, "--encoder", args.encoder,
         "--device", "cpu", "--json-out", str(fresh.parent / "predict_eval_fresh.json")])  # fmt: skip
    if (args.data / "features").is_dir():
        print(f"\nLatent L1 of rollouts from one true frame, episodes of {args.data} held out of training:\n")
        cli(["predict-eval", "--data", str(args.data), "--predictor", args.predictor, "--device", "cpu",
             "--json-out", str(fresh.parent / "predict_eval_heldout.json")])  # fmt: skip


if __name__ == "__main__":
    main()
