"""Can the gripper and the objects be read from the frozen encoder? Every probe on one encoding, in one table.

Issue 16's targets for the encoder: gripper opening R^2 >= 0.8 and object position RMSE <= 2 cm on held-out
episodes, "with whatever probe you justify (report the mean-pooled one beside it)". This encodes a dataset
recorded with both cameras once per encoder (the given one and the same architecture with random weights) and
fits, on the same episodes:

- ridge on mean-pooled tokens (the model card's probe), per view set;
- ridge on ``cells``: the mean of each 2 x 2 square of tokens, the squares the shipped predictors fold into one
  token (what a linear read-out of the predictor's own inputs sees);
- the attentive probe on every token (V-JEPA's evaluation protocol: learned queries attend over the tokens, with
  learned token positions).

Targets: end-effector position, gripper opening, the task object's position (``object_pos``: both objects are in
every scene, and one image cannot tell which is the task's) and each object by name (``cup_pos``, ``box_pos``).
The split is seeded (20% of the episodes held out); the probe is fitted on at most 300 of the others.

    .venv/bin/jepa-sim collect --env all --episodes 400 --workers 2 --wrist-camera --seed 1 --out runs/probe2v
    .venv/bin/python benchmarks/probe_table.py --data runs/probe2v
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jepa_sim.atomic import atomic_write
from jepa_sim.data.clips import split_episodes
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.encoders import EncoderLoadError, load_encoder, load_random_encoder
from jepa_sim.probe import ProbeScore, ProbeSet, fit_attentive, pool_tokens, probe_sets, run_probe

VIEW_SETS = (("exterior",), ("exterior", "wrist"))


def pooled(data: ProbeSet, views: tuple[str, ...], all_views: tuple[str, ...], dim: int, pool: str) -> ProbeSet:
    """The features of ``views`` (a subset of the encoded ``all_views``), pooled as ``pool`` (or every token)."""
    tokens = torch.as_tensor(data.features).view(len(data.features), len(all_views), -1, dim)
    per_view = [tokens[:, all_views.index(v)] for v in views]
    features = torch.cat([pool_tokens(t, pool) for t in per_view], dim=1).numpy()
    return ProbeSet(features, data.targets, data.episode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a dataset collected with --wrist-camera")
    parser.add_argument("--encoder", default="default")
    parser.add_argument("--train-episodes", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=40, help="attentive probe epochs")
    parser.add_argument("--lr", type=float, default=1e-3, help="attentive probe learning rate (AdamW)")
    parser.add_argument("--only-attentive", action="store_true", help="skip the ridge probes")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()

    all_views = VIEW_SETS[-1]
    try:  # DatasetError, EpisodeFormatError (no wrist frames: not collected with --wrist-camera) are ValueErrors
        train, test = split_episodes(EpisodeDataset(args.data).indices, 0.2, 0)
        train = train[: args.train_episodes]
        encoders = {"pretrained": load_encoder(args.encoder, device="cpu", batch_size=256),
                    "random init": load_random_encoder(args.encoder, 0, "cpu", 256)}  # fmt: skip
        dim = encoders["pretrained"].dim
        encode = {label: encoder.encode for label, encoder in encoders.items()}
        with tqdm(total=len(train) + len(test), desc="encode", unit="ep", mininterval=1.0) as bar:
            fit = probe_sets(args.data, train, encode, 1, lambda _: bar.update(1), all_views, "tokens")
            held = probe_sets(args.data, test, encode, 1, lambda _: bar.update(1), all_views, "tokens")
    except (EncoderLoadError, ValueError) as exc:
        raise SystemExit(f"probe_table.py: {exc}") from exc

    rows: list[tuple[str, str, dict[str, dict[str, ProbeScore]]]] = []
    for views in VIEW_SETS:
        for probe in ("attentive",) if args.only_attentive else ("mean", "cells", "attentive"):
            scores = {}
            for label in encoders:
                if probe == "attentive":
                    a = pooled(fit[label], views, all_views, dim, "tokens")
                    b = pooled(held[label], views, all_views, dim, "tokens")
                    scores[label] = fit_attentive(a, b, dim, args.epochs, lr=args.lr)
                else:
                    a = pooled(fit[label], views, all_views, dim, probe)
                    b = pooled(held[label], views, all_views, dim, probe)
                    scores[label] = run_probe(a, b)
            name = "attentive, every token" if probe == "attentive" else f"ridge, {probe}-pooled"
            rows.append((" + ".join(views), name, scores))
            print(f"done: {rows[-1][0]}, {name}", flush=True)

    targets = list(rows[0][2]["pretrained"])
    print(f"\nProbes of `{args.encoder}` on {args.data}: fitted on {len(train)} episodes, scored on {len(test)} held "
          "out; R^2 (RMSE: cm for positions, closedness for the gripper), pretrained / random weights:\n")  # fmt: skip
    print("| views | probe | " + " | ".join(targets) + " |")
    print("|---|---|" + "---|" * len(targets))
    for views, name, scores in rows:
        cells = []
        for target in targets:
            p, r = scores["pretrained"][target], scores["random init"][target]
            unit = 1.0 if target == "gripper" else 100.0
            cells.append(f"{p.r2:.3f} ({unit * p.rmse:.{2 if target == 'gripper' else 1}f}) / {r.r2:.3f}")
        print(f"| {views} | {name} | " + " | ".join(cells) + " |")
    if args.json_out is not None:
        out = {f"{views} | {name}": {label: {t: vars(s) for t, s in sc.items()} for label, sc in scores.items()}
               for views, name, scores in rows}  # fmt: skip
        with atomic_write(args.json_out) as tmp:
            tmp.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
