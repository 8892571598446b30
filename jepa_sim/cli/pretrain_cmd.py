"""``jepa-sim pretrain``: stage-1 V-JEPA pretraining of a small video encoder on a collected dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PretrainArgs:
    """Pretrain a V-JEPA 2 encoder on sim video (mask denoising in representation space).

    Multi-block 3D masks (8 blocks at 0.15 of the frame plus 2 at 0.7, aspect 0.75-1.5, over every frame of
    the clip); the encoder sees only the visible tokens, a narrower predictor fills in the masked ones, and
    the targets come from an EMA copy of the encoder, layer-normed, under an L1 loss. AdamW with
    warmup-stable-decay. OUT gets checkpoint.pt (every 100 steps and on Ctrl-C; rerun the same command to
    resume), metrics.jsonl, loss.png, and encoder/, a save_pretrained folder that `--encoder OUT/encoder`
    loads anywhere an encoder is asked for. Episodes held out (--holdout) give the validation loss and the
    probe's test set.

    Examples:
      jepa-sim pretrain --data data/sim --out runs/pretrain            # the embedded default's recipe
      jepa-sim pretrain --data data/sim --out runs/tiny --steps 50 --width 96 --depth 2
      jepa-sim pretrain --data data/sim --out runs/video --clip-frames 4 --frames-per-clip 4 --frame-stride 2
      jepa-sim pretrain --data data/two_views --views exterior,wrist --init checkpoints/encoder --lr 2e-4 \\
          --out runs/more     # continue from the shipped encoder on both cameras
      jepa-sim probe --data data/sim --encoder runs/pretrain/encoder   # does it know where things are?
    """

    data: Path
    """dataset folder made by `jepa-sim collect`"""
    out: Path = Path("runs/pretrain")
    """run folder (resumed when it already holds this run)"""
    device: str = "auto"
    """`auto` (CUDA when available), `cpu`, `cuda`, ..."""
    steps: int = 2000
    batch_size: int = 64
    lr: float = 5e-4
    """peak learning rate"""
    warmup: float = 0.05
    """fraction of steps of linear warmup"""
    decay: float = 0.2
    """fraction of steps of final linear decay"""
    weight_decay: float = 0.04
    ema_start: float = 0.996
    ema_end: float = 1.0
    image_size: int = 128
    """encoder input side (frames are centre-cropped, then resized)"""
    patch_size: int = 16
    width: int = 192
    depth: int = 6
    heads: int = 3
    pred_width: int = 96
    pred_depth: int = 4
    pred_heads: int = 3
    frames_per_clip: int = 2
    """encoder clip length (a multiple of the tubelet, 2)"""
    clip_frames: int = 1
    """distinct frames per sample: 1 (one frame repeated to fill the clip; with frames-per-clip 2, one tubelet,
    this is exactly how the frozen encoder sees frames) or frames-per-clip (video clips)"""
    frame_stride: int = 1
    """steps between the frames of a video sample"""
    views: str = "exterior"
    """comma-separated camera views to pretrain on: exterior, wrist (the wrist view needs a dataset collected
    with --wrist-camera)"""
    holdout: float = 0.1
    """fraction of episodes held out of training"""
    seed: int = 0
    init: Path | None = None
    """an exported encoder folder (e.g. checkpoints/encoder) to continue pretraining from, e.g. on data with
    another view, instead of fresh weights; its sizes must be the run's"""


def run(args: PretrainArgs) -> int:
    from tqdm import tqdm

    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.features import parse_views
    from jepa_sim.data.manifest import DatasetError
    from jepa_sim.plots import plot_curves
    from jepa_sim.pretrain.jepa import ModelSize
    from jepa_sim.pretrain.trainer import PretrainConfig, Pretrainer, PretrainError, StepReport, read_metrics

    try:
        size = ModelSize(
            image_size=args.image_size, patch_size=args.patch_size, frames_per_clip=args.frames_per_clip,
            width=args.width, depth=args.depth, heads=args.heads,
            pred_width=args.pred_width, pred_depth=args.pred_depth, pred_heads=args.pred_heads,
        )  # fmt: skip
        config = PretrainConfig(
            size=size, clip_frames=args.clip_frames, frame_stride=args.frame_stride, steps=args.steps,
            batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, decay=args.decay,
            weight_decay=args.weight_decay, ema=(args.ema_start, args.ema_end), holdout=args.holdout, seed=args.seed,
            views=parse_views(args.views),
        )  # fmt: skip
        trainer = Pretrainer(args.data, args.out, config, args.device, init=args.init)
    except (DatasetError, PretrainError, ValueError) as exc:
        raise SystemExit(f"jepa-sim pretrain: {exc}") from exc

    n_episodes = len(trainer.train_episodes) + len(trainer.heldout_episodes)
    loading = tqdm(total=n_episodes, desc="load frames", unit="ep", mininterval=1.0)
    bar: tqdm | None = None

    def on_start(start: int, train_frames: int, heldout_frames: int) -> None:
        nonlocal bar
        loading.close()
        grid = size.grid
        print(f"{train_frames} training frames ({len(trainer.train_episodes)} episodes), {heldout_frames} held out; "
              f"tokens {grid[0]}x{grid[1]}x{grid[2]} of width {size.width}; device {trainer.device}")  # fmt: skip
        if start:
            print(f"resuming from step {start} ({args.out / 'checkpoint.pt'})")
        bar = tqdm(total=config.steps, initial=start, desc="pretrain", unit="step", mininterval=1.0)

    def on_step(report: StepReport) -> None:
        assert bar is not None
        m = report.metrics
        post = {"loss": f"{m['loss']:.4f}", "lr": f"{m['lr']:.1e}"}
        if "val_loss" in m:
            post["val"] = f"{m['val_loss']:.4f}"
        bar.set_postfix(post, refresh=False)
        bar.update(1)

    def plot() -> Path:
        keys = ["loss", "val_loss", *[f"loss_group{g}" for g in range(len(config.groups))]]
        return plot_curves(read_metrics(args.out), keys, args.out / "loss.png", f"V-JEPA pretraining: {args.out}")

    try:
        try:
            result = trainer.run(on_start, on_step, on_load=lambda _: loading.update(1))
        finally:
            loading.close()
            if bar is not None:
                bar.close()
    except KeyboardInterrupt:
        if bar is None:
            print("\ninterrupted while loading frames; nothing was trained")
            return 130
        plot()
        print(f"\ninterrupted; checkpoint saved in {args.out}; rerun the same command to resume")
        return 130
    except (DatasetError, EpisodeFormatError, PretrainError, ValueError) as exc:
        raise SystemExit(f"jepa-sim pretrain: {exc}") from exc
    plot_path = plot()
    print(f"done: {result.steps} steps in {result.train_seconds / 60:.1f} min of training, final loss "
          f"{result.final_loss:.4f}; loss curve {plot_path}")  # fmt: skip
    print(f"encoder: {result.encoder_dir}  (use it with --encoder {result.encoder_dir})")
    return 0
