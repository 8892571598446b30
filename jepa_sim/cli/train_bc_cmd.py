"""``jepa-sim train-bc``: the goal-conditioned behaviour-cloning baseline on the cached frozen tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainBCArgs:
    """Train the goal-conditioned behaviour-cloning baseline (the stand-in for the paper's Octo) on the same
    data and the same frozen tokens as the predictor.

    An MLP maps [current frame tokens, goal tokens, state] (tokens average-pooled 2x2) to the recorded action;
    goals are relabelled in hindsight (the last frame of each episode). OUT gets model.safetensors and
    config.json (encoder id, held-out action error beside predicting the mean action). A few minutes on a CPU.

    With `--views exterior,wrist` it sees both cameras (each view's pooled tokens side by side), as the two-view
    predictor does; the dataset must have been encoded with those views (`jepa-sim encode --views ...`).

    Examples:
      jepa-sim train-bc --data data/sim --out checkpoints/bc
      jepa-sim eval --methods mpc,bc --bc checkpoints/bc
      jepa-sim train-bc --data data/sim2v --views exterior,wrist --out checkpoints/bc-2v
      jepa-sim eval --methods mpc,bc --predictor two-view --bc two-view
    """

    data: Path
    """dataset folder with cached tokens (`jepa-sim encode`)"""
    encoder: str = "default"
    views: str = "exterior"
    """comma-separated camera views the policy observes: `exterior` (the paper) or `exterior,wrist`"""
    out: Path = Path("runs/bc")
    steps: int = 3000
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0


def run(args: TrainBCArgs) -> int:
    from tqdm import tqdm

    from agents.bc import train_bc
    from jepa_sim.data.dataset import EpisodeDataset
    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.features import FeatureCache, parse_views
    from jepa_sim.data.manifest import DatasetError
    from jepa_sim.encoders import EncoderLoadError, encoder_id

    try:
        views = parse_views(args.views)
        episodes = len(EpisodeDataset(args.data))
        cache = FeatureCache.open(args.data, encoder_id(args.encoder))
    except (DatasetError, EncoderLoadError, ValueError) as exc:
        raise SystemExit(f"jepa-sim train-bc: {exc}") from exc
    loading = tqdm(total=episodes, desc="load tokens", unit="ep", mininterval=1.0)
    bar = tqdm(total=args.steps, desc="train-bc", unit="step", mininterval=1.0)

    def on_step(step: int, loss: float) -> None:
        if step == 1:
            loading.close()
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        bar.update(1)

    try:
        try:
            record = train_bc(args.data, cache.encoder, args.out, args.steps, args.batch_size, args.lr, args.seed,
                              views=views, on_load=lambda _: loading.update(1), on_step=on_step)  # fmt: skip
        finally:
            loading.close()
            bar.close()
    except (DatasetError, EpisodeFormatError, ValueError) as exc:
        raise SystemExit(f"jepa-sim train-bc: {exc}") from exc
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was saved (training takes minutes: rerun it)")
        return 130
    print(f"trained in {record['train_seconds'] / 60:.1f} min on {record['train_frames']} frames; held-out action "
          f"error: xyz {100 * record['heldout_xyz_mae_m']:.2f} cm (mean action: "
          f"{100 * record['mean_action_xyz_mae_m']:.2f} cm), gripper {record['heldout_gripper_mae']:.3f} "
          f"(mean action: {record['mean_action_gripper_mae']:.3f})")  # fmt: skip
    print(f"BC policy: {args.out}  (use it with jepa-sim eval --methods bc --bc {args.out})")
    return 0
