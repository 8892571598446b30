"""``jepa-sim probe``: a linear probe on frozen, pooled encoder tokens (or an attentive probe on every token),
against a random-weight twin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProbeArgs:
    """Does a frozen encoder know where the arm and the object are? Ridge regression from mean-pooled tokens
    to the end-effector position, the object position and the gripper opening, scored by R^2 on held-out
    episodes, side by side with the same architecture with random weights.

    Test episodes: the ones the encoder's pretraining held out when it was pretrained on a dataset collected
    with the same spec (encoder/training.json; collection is deterministic), else a seeded split of --holdout
    of the episodes.

    `--probe attentive` reads every token instead (V-JEPA's attentive probe: learned queries attend over the
    tokens, each with a learned embedding of where it is; a linear head reads the result), trained with AdamW.

    Examples:
      jepa-sim probe --data data/sim                                # the embedded default encoder
      jepa-sim probe --data data/sim --encoder runs/pretrain/encoder --json-out runs/probe.json
      jepa-sim probe --data data/sim2v --views exterior,wrist --probe attentive
    """

    data: Path
    """dataset folder made by `jepa-sim collect`"""
    encoder: str = "default"
    """`default`, a save_pretrained folder, or a Hugging Face id"""
    baseline: bool = True
    """also probe the same architecture with random weights"""
    max_train_episodes: int = 300
    """fit the probe on at most this many episodes"""
    every: int = 1
    """use every n-th frame"""
    holdout: float = 0.2
    """test fraction when the encoder carries no split for this dataset"""
    views: str = "exterior"
    """comma-separated views whose pooled features are put side by side: exterior, wrist (needs a dataset
    collected with --wrist-camera)"""
    pool: str = "mean"
    """`mean` (all tokens, the default probe), `grid` (the mean of each image quarter: keeps where things are) or
    `cells` (the mean of each 2 x 2 square of tokens, the squares the shipped predictors fold into one token: what a
    linear read-out of the predictor's inputs sees; 16 x 192 numbers per view at 128 px)"""
    probe: str = "ridge"
    """`ridge` (ridge regression on the --pool features) or `attentive` (every token; --pool is not used)"""
    epochs: int = 40
    """--probe attentive: training epochs (the one with the lowest validation loss is kept)"""
    seed: int = 0
    device: str = "auto"
    json_out: Path | None = None
    """also write the scores as JSON here"""


def probe_split(data: Path, encoder_source: Path, holdout: float, seed: int) -> tuple[list[int], list[int], str]:
    """(train, test) episodes and where the split came from."""
    from jepa_sim.data.clips import split_episodes
    from jepa_sim.data.dataset import EpisodeDataset

    dataset = EpisodeDataset(data)
    indices = dataset.indices
    card = encoder_source / "training.json"
    if card.is_file():
        info = json.loads(card.read_text())
        # collection is deterministic, so the same collection spec means the same episodes
        if info.get("data_spec") is not None and info["data_spec"] == dataset.manifest.get("spec"):
            present = set(indices)
            test = [i for i in info["heldout_episodes"] if i in present]
            if test:
                held = set(test)
                return [i for i in indices if i not in held], test, "held out of the encoder's pretraining"
    train, test = split_episodes(indices, holdout, seed)
    return train, test, f"seeded split ({holdout:.0%} held out)"


def _probe(args: ProbeArgs, encoders: dict[str, Any], train: list[int], test: list[int]) -> dict[str, Any]:
    """Scores per encoder label (``encoders``: label -> FrozenEncoder); every episode is read once for all
    encoders."""
    from tqdm import tqdm

    from jepa_sim.data.features import parse_views
    from jepa_sim.probe import fit_attentive, probe_sets, run_probe

    pool = "tokens" if args.probe == "attentive" else args.pool
    with tqdm(total=len(train) + len(test), desc="encode", unit="ep", mininterval=1.0) as bar:
        views = parse_views(args.views)
        encode = {label: encoder.encode for label, encoder in encoders.items()}
        fit = probe_sets(args.data, train, encode, args.every, lambda _: bar.update(1), views, pool)
        held = probe_sets(args.data, test, encode, args.every, lambda _: bar.update(1), views, pool)
    if args.probe == "ridge":
        return {label: {k: vars(v) for k, v in run_probe(fit[label], held[label]).items()} for label in encoders}
    out = {}
    for label, encoder in encoders.items():
        with tqdm(total=args.epochs, desc=f"attentive probe ({label})", unit="epoch", mininterval=1.0) as bar:
            scores = fit_attentive(fit[label], held[label], encoder.dim, args.epochs, seed=args.seed,
                                   on_epoch=lambda _: bar.update(1))  # fmt: skip
        out[label] = {k: vars(v) for k, v in scores.items()}
    return out


def run(args: ProbeArgs) -> int:
    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.features import parse_views
    from jepa_sim.data.manifest import DatasetError
    from jepa_sim.encoders import EncoderLoadError, load_encoder, load_random_encoder
    from jepa_sim.encoders.registry import resolve
    from jepa_sim.probe import POOLS

    try:
        encoder = load_encoder(args.encoder, device=args.device, batch_size=256)
        encoders = [("pretrained", encoder)]
        if args.baseline:
            encoders.append(("random init", load_random_encoder(args.encoder, args.seed, args.device, 256)))
        train, test, origin = probe_split(args.data, Path(resolve(args.encoder)), args.holdout, args.seed)
        parse_views(args.views)
        if args.pool not in POOLS:
            raise ValueError(f"--pool must be one of {', '.join(POOLS)}, got {args.pool!r}")
        if args.probe == "ridge" and args.pool == "tokens":
            raise ValueError("--pool tokens (every token side by side) is what --probe attentive reads; ridge needs a "
                             "pooled --pool (mean, grid, cells)")  # fmt: skip
        if args.probe not in ("ridge", "attentive") or args.epochs < 1:
            raise ValueError(f"--probe must be ridge or attentive and --epochs >= 1, got {args.probe!r}, {args.epochs}")
    except (DatasetError, EncoderLoadError, ValueError) as exc:
        raise SystemExit(f"jepa-sim probe: {exc}") from exc
    train = train[: args.max_train_episodes]
    what = "attentive probe on every token" if args.probe == "attentive" else f"{args.pool}-pooled, ridge"
    print(f"encoder {encoder.id}; views {args.views}, {what}; probe fitted on {len(train)} episodes, "
          f"tested on {len(test)} ({origin})")  # fmt: skip
    results: dict[str, Any] = {"encoder": encoder.id, "train_episodes": len(train), "test_episodes": len(test),
                               "views": args.views, "pool": args.pool, "probe": args.probe}  # fmt: skip
    try:
        results.update(_probe(args, dict(encoders), train, test))
    except (DatasetError, EpisodeFormatError, ValueError) as exc:
        raise SystemExit(f"jepa-sim probe: {exc}") from exc
    labels = [label for label, _ in encoders]
    print("\n| target | " + " | ".join(f"R^2 {label}" for label in labels) + " | " +
          " | ".join(f"RMSE {label}" for label in labels) + " |")  # fmt: skip
    print("|---" * (1 + 2 * len(labels)) + "|")
    for target in results[labels[0]]:
        r2 = [f"{results[label][target]['r2']:.3f}" for label in labels]
        rmse = [f"{results[label][target]['rmse']:.4f}" for label in labels]
        print(f"| {target} | " + " | ".join(r2) + " | " + " | ".join(rmse) + " |")
    if args.json_out is not None:
        from jepa_sim.atomic import atomic_write

        with atomic_write(args.json_out) as tmp:
            tmp.write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json_out}")
    return 0
