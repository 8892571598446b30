"""``jepa-sim predict-eval``: how well a trained predictor foresees held-out episodes, horizon by horizon."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PredictEvalArgs:
    """Latent L1 error of a predictor's autoregressive rollouts at horizons 1..H against the true future
    tokens, beside the copy-the-last-frame baseline (predict that nothing changes).

    Each clip starts from one true frame; the predictor then runs on its own predictions with the recorded
    actions and states. Test episodes: the ones the predictor's training held out when it was trained on a
    dataset collected with the same spec (collection is deterministic), else every episode of DATA.

    Examples:
      jepa-sim predict-eval --data data/sim                            # the shipped default predictor
      jepa-sim predict-eval --data data/fresh --predictor runs/predictor/predictor --horizons 8
    """

    data: Path
    """dataset folder with cached tokens of the predictor's encoder (`jepa-sim encode`)"""
    predictor: str = "default"
    """a shipped predictor (`default`, `two-view`, `two-view-hover`) or a predictor folder (OUT/predictor of
    `jepa-sim train`)"""
    encoder: str | None = None
    """check the predictor against this encoder (default: the one it was trained on)"""
    horizons: int = 4
    """longest horizon"""
    clip_step: int = 1
    """frames between the starts of consecutive test clips"""
    device: str = "auto"
    json_out: Path | None = None
    """also write the table as JSON here"""


def test_episodes(data: Path, training: dict[str, object]) -> tuple[list[int], str]:
    """The episodes to test on, and where the choice came from. Collection is deterministic, so a dataset
    with the predictor's training spec holds its training episodes under the same indices: those are never
    tested on."""
    from jepa_sim.data.dataset import EpisodeDataset

    dataset = EpisodeDataset(data)
    spec = training.get("data_spec")
    if spec is None or spec != dataset.manifest.get("spec"):
        return dataset.indices, "all episodes (data the predictor was not trained on)"
    trained = training.get("train_episodes")
    seen = {int(i) for i in trained} if isinstance(trained, list) else set()
    test = [i for i in dataset.indices if i not in seen]
    if not test:
        raise ValueError(f"every episode of {data} was used to train the predictor; evaluate on other data")
    return test, "held out of the predictor's training"


def run(args: PredictEvalArgs) -> int:
    from tqdm import tqdm

    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.feature_clips import FeatureClips
    from jepa_sim.data.manifest import DatasetError
    from jepa_sim.encoders import EncoderLoadError, encoder_id
    from jepa_sim.encoders.base import resolve_device
    from jepa_sim.predictor.checkpoint import PredictorLoadError, load_predictor
    from jepa_sim.predictor.evaluate import horizon_errors, horizon_table

    try:
        device = resolve_device(args.device)
        expected = encoder_id(args.encoder) if args.encoder is not None else None
        predictor, meta = load_predictor(args.predictor, expected, device)
        if args.horizons < 1 or args.horizons > predictor.config.max_steps:
            raise ValueError(f"--horizons must be in 1..{predictor.config.max_steps}, got {args.horizons}")
        episodes, source = test_episodes(args.data, meta.get("training", {}))
        stride = int(meta.get("training", {}).get("config", {}).get("frame_stride", 1))
        clips = FeatureClips(args.data, meta["encoder"]["id"], args.horizons + 1, stride, args.clip_step, episodes,
                             views=predictor.config.views)  # fmt: skip
        if len(clips) == 0:
            raise ValueError(f"no clips of {args.horizons + 1} frames in the test episodes of {args.data}")
        print(f"predictor {args.predictor} (encoder {meta['encoder']['id']}); {len(clips)} clips from "
              f"{len(episodes)} episodes, {source}")  # fmt: skip
        with tqdm(total=len(clips), desc="predict-eval", unit="clip", mininterval=1.0) as bar:
            rows = horizon_errors(predictor, clips, device, on_batch=bar.update)
    except (DatasetError, EpisodeFormatError, EncoderLoadError, PredictorLoadError, ValueError) as exc:
        raise SystemExit(f"jepa-sim predict-eval: {exc}") from exc
    print(horizon_table(rows))
    beaten = [r.horizon for r in rows if r.model < r.copy_last]
    if len(beaten) == len(rows):
        print("the predictor beats copy-last-frame at every horizon")
    else:
        print(f"the predictor beats copy-last-frame only at horizons {beaten or 'none'}")
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"predictor": str(args.predictor), "encoder": meta["encoder"]["id"], "data": str(args.data),
                   "episodes": source, "clips": len(clips),
                   "rows": [{"horizon": r.horizon, "model": r.model, "copy_last": r.copy_last, "ratio": r.ratio}
                            for r in rows]}  # fmt: skip
        args.json_out.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote {args.json_out}")
    return 0
