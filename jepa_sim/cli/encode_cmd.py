"""``jepa-sim encode``: run the frozen encoder once over every frame of a dataset and cache the tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class EncodeArgs:
    """Cache frozen-encoder tokens for every frame of a dataset, so training never runs the encoder per epoch.

    The cache lives in DATA/features/<encoder>/ (one file per episode, written atomically); rerunning encodes
    only what is missing, e.g. after an interruption or after `jepa-sim collect` extended the dataset.

    Examples:
      jepa-sim encode --data data/sim                                  # the embedded default encoder
      jepa-sim encode --data data/sim --encoder vjepa2-vitl --device cuda --dtype bfloat16
      jepa-sim encode --data data/sim --encoder /models/vjepa2-vitl    # a save_pretrained folder
    """

    data: Path
    """dataset folder made by `jepa-sim collect`"""
    encoder: str = "default"
    """`default` (shipped in checkpoints/encoder), vjepa2-vitl|vith|vitg|vitg-384, a Hugging Face id, or a folder"""
    device: str = "auto"
    """`auto` (CUDA when available), `cpu`, `cuda`, `cuda:1`, ..."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """inference dtype (tokens are stored as float16 either way)"""
    batch_size: int = 64
    """frames per encoder call"""
    views: str = "exterior"
    """comma-separated views to encode: exterior, wrist (the wrist view needs a dataset collected with
    --wrist-camera); each view's tokens are cached apart (DATA/features/<encoder>/wrist/...)"""


def run(args: EncodeArgs) -> int:
    from tqdm import tqdm

    from jepa_sim.data.dataset import EpisodeDataset
    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.features import FeatureCache, encode_dataset, parse_views
    from jepa_sim.data.manifest import DatasetError
    from jepa_sim.encoders import EncoderLoadError, load_encoder

    try:
        views = parse_views(args.views)
        dataset = EpisodeDataset(args.data)
        encoder = load_encoder(args.encoder, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    except (DatasetError, EncoderLoadError, ValueError) as exc:
        raise SystemExit(f"jepa-sim encode: {exc}") from exc
    cache = FeatureCache(args.data, encoder.describe())
    todo = cache.missing(dataset, views)
    print(f"encoder {encoder.id}: {encoder.num_tokens} tokens x {encoder.dim} per frame, {encoder.image_size} px input")
    bar = tqdm(total=len(dataset), initial=len(dataset) - len(todo), desc="encode", unit="ep", mininterval=1.0)
    start, frames = time.perf_counter(), 0

    def on_episode(index: int, n: int) -> None:
        nonlocal frames
        frames += n
        bar.set_postfix(frames_per_s=f"{frames / max(time.perf_counter() - start, 1e-9):.0f}", refresh=False)
        bar.update(1)

    try:
        try:
            encode_dataset(args.data, encoder.encode, encoder.describe(), on_episode, views)
        finally:
            bar.close()
    except (DatasetError, EpisodeFormatError, ValueError) as exc:
        raise SystemExit(f"jepa-sim encode: {exc}") from exc
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to encode the remaining episodes")
        return 130
    elapsed = time.perf_counter() - start
    rate = frames / max(elapsed, 1e-9)
    print(f"encoded {len(todo)} episodes ({frames} frames, {rate:.0f} frames/s) into {cache.folder}")
    return 0
