"""Frozen-encoder speed at the embedded default, and the linear-probe table that shows it learned something.

Speed: frames per second of ``FrozenEncoder.encode`` on 128 px uint8 frames (crop, normalise, tubelet,
ViT, layer norm), one frame at a time (what an agent does each control step) and in batches of 64 (what
``jepa-sim encode`` does), side by side with Meta's ViT-L/16 V-JEPA 2 architecture (256 px, random weights:
the same code path; no download needed) in the same run.

Probe: a fresh dataset that no encoder has seen (seed 1, every task and object, 128 px) is collected once
into runs/bench/probe_data; then `jepa-sim probe` fits ridge regressions from mean-pooled tokens to the
end-effector position, object position and gripper opening on 80% of its episodes and scores R^2 on the
rest, for the shipped encoder and the same architecture with random weights.

    make bench            # or: .venv/bin/python benchmarks/bench_encoder.py [--probe-episodes 400]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from jepa_sim.encoders import load_encoder
from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.encoders.vjepa2 import VJEPA2Encoder


def frames_per_second(encoder: FrozenEncoder, batch: int, frames: int, size: int = 128) -> float:
    """Best of 3 timed passes over ``frames`` random frames, ``batch`` at a time, after one warm-up call."""
    data = np.random.default_rng(0).integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
    encoder.encode(data[:batch])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, frames, batch):
            encoder.encode(data[i : i + batch])
        best = min(best, time.perf_counter() - start)
    return frames / best


def vit_l_reference() -> VJEPA2Encoder:
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(0)
    config = VJEPA2Config(frames_per_clip=2, pred_num_hidden_layers=1, attn_implementation="sdpa")  # ViT-L/16, 256 px
    return VJEPA2Encoder(VJEPA2Model(config), "vit-l-random", device="cpu", batch_size=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="default")
    parser.add_argument("--probe-episodes", type=int, default=400)
    parser.add_argument("--probe-data", type=Path, default=Path("runs/bench/probe_data"))
    parser.add_argument("--skip-probe", action="store_true")
    args = parser.parse_args()

    encoder = load_encoder(args.encoder, device="cpu", batch_size=64)
    params = sum(p.numel() for p in encoder.model.encoder.parameters())  # type: ignore[attr-defined]
    reference = vit_l_reference()
    ref_params = sum(p.numel() for p in reference.model.encoder.parameters())
    rows = []
    for label, enc, frames in (
        (f"embedded default ({params / 1e6:.1f}M)", encoder, 256),
        (f"V-JEPA 2 ViT-L/16 arch ({ref_params / 1e6:.0f}M)", reference, 16),
    ):
        one = frames_per_second(enc, 1, min(frames, 32))
        batch = min(64, frames)
        many = frames_per_second(enc, batch, frames)
        rows.append((label, enc.image_size, enc.num_tokens, enc.dim, one, batch, many))
    print(f"\nFrozen encoder on the CPU ({torch.get_num_threads()} threads), 128 px uint8 frames in:\n")
    print(
        "| encoder | input px | tokens | width | frames/s (batch 1) | ms/frame (batch 1) | batch | frames/s (batched) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, px, tokens, dim, one, batch, many in rows:
        print(f"| {label} | {px} | {tokens} | {dim} | {one:.1f} | {1000 / one:.1f} | {batch} | {many:.1f} |")
    print(f"\nembedded default / ViT-L: {rows[0][6] / rows[1][6]:.0f}x the batched throughput")

    if args.skip_probe:
        return
    from envs.collection import CollectSpec, collect, default_env_ids
    from jepa_sim.cli.main import main as cli

    if (
        not (args.probe_data / "manifest.json").is_file()
        or len(list(args.probe_data.glob("episodes/*.npz"))) < args.probe_episodes
    ):
        print(f"\ncollecting {args.probe_episodes} probe episodes (seed 1) into {args.probe_data} ...")
        collect(
            args.probe_data,
            CollectSpec(env_ids=default_env_ids("all"), objects=("cup", "box"), seed=1),
            args.probe_episodes,
            workers=2,
        )
    print("\nLinear probe on mean-pooled tokens, held-out episodes of data no encoder was trained on:\n")
    cli(["probe", "--data", str(args.probe_data), "--encoder", args.encoder, "--device", "cpu",
         "--json-out", str(args.probe_data.parent / "probe.json")])  # fmt: skip


if __name__ == "__main__":
    main()
