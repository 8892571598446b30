"""``jepa-sim train``: the action-conditioned predictor on cached frozen-encoder tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainArgs:
    """Train the action-conditioned predictor (V-JEPA 2-AC) on the cached tokens of a frozen encoder.

    A block-causal transformer over per-step tokens [action, state, patch tokens] learns to predict the next
    frame's tokens, with the teacher-forcing L1 loss plus the L1 loss of a short autoregressive rollout that
    feeds back its own predictions. AdamW with warmup-stable-decay and gradient clipping. The tokens must be
    cached first (`jepa-sim encode --data DIR --encoder E`).

    OUT gets checkpoint.pt (every 100 steps and on Ctrl-C; rerun the same command to resume), metrics.jsonl,
    loss.png, and predictor/ (weights plus config.json: architecture, encoder id, action/state conventions,
    training record). At the end, the latent L1 error of rollouts at horizons 1-4 on the held-out episodes is
    printed beside the copy-the-last-frame baseline.

    Several processes (data parallel; gloo on CPU, nccl on GPUs), same arguments:
      torchrun --nproc_per_node 2 -m jepa_sim.cli.main train --data data/sim

    Examples:
      jepa-sim train --data data/sim                                 # the shipped default's recipe
      jepa-sim train --data data/sim --out runs/tiny --steps 100 --width 64 --depth 2
      jepa-sim train --data data/sim2v --views exterior,wrist --out runs/predictor-2v   # both cameras
      jepa-sim train --data data/sim2v --views exterior,wrist --init two-view --out runs/predictor-2v-more
      jepa-sim predict-eval --data data/sim --predictor runs/predictor/predictor
    """

    data: Path
    """dataset folder made by `jepa-sim collect`, encoded by `jepa-sim encode`"""
    encoder: str = "default"
    """the encoder whose cached tokens to train on: `default`, a save_pretrained folder, or a Hugging Face id"""
    out: Path = Path("runs/predictor")
    """run folder (resumed when it already holds this run)"""
    device: str = "auto"
    """`auto` (CUDA when available), `cpu`, `cuda`; under torchrun each rank takes cuda:LOCAL_RANK"""
    steps: int = 4000
    batch_size: int = 64
    """clips per step over all processes"""
    lr: float = 6e-4
    """peak learning rate"""
    warmup: float = 0.05
    """fraction of steps of linear warmup"""
    decay: float = 0.2
    """fraction of steps of final linear decay"""
    weight_decay: float = 0.04
    grad_clip: float = 1.0
    """gradient-norm clipping (0 = off)"""
    width: int = 192
    depth: int = 4
    heads: int = 4
    merge: int = 2
    """fold merge x merge squares of encoder tokens into one predictor token (1 = the paper's one token per
    patch; 2 makes a step 4x shorter, which is what makes CPU planning real time)"""
    residual: bool = True
    """predict the change from the input frame's tokens (--no-residual: the next tokens outright, as the
    paper); it starts as the copy-last-frame predictor, which small CPU runs otherwise take long to reach"""
    clip_len: int = 5
    """frames per training clip (teacher forcing over clip_len - 1 steps)"""
    frame_stride: int = 1
    """control steps between consecutive clip frames"""
    rollout_steps: int = 2
    """autoregressive steps of the rollout loss"""
    holdout: float = 0.1
    """fraction of episodes held out (validation loss and horizon table)"""
    seed: int = 0
    checkpoint_every: int = 100
    """steps between checkpoints (also written at the end and on Ctrl-C)"""
    views: str = "exterior"
    """comma-separated camera views whose tokens make a frame: `exterior` (the paper) or `exterior,wrist`
    (DROID's rig: the wrist camera sees the fingers close; needs `jepa-sim encode --views exterior,wrist`). The
    predictor records its views; the agent must observe the same ones"""
    init: str | None = None
    """start from this predictor's weights instead of a random initialisation (a shipped one: `default`,
    `two-view`, `two-view-hover`; or a predictor folder; same architecture, views and encoder): train on where
    an earlier run stopped, with a fresh schedule. Recorded in the run and the predictor's training record"""
    init_any_encoder: bool = False
    """--init may be a predictor trained on another encoder with tokens of the same shape (e.g. before that
    encoder was pretrained further with `jepa-sim pretrain --init`): a warm start on the new tokens"""


def run(args: TrainArgs) -> int:
    from tqdm import tqdm

    from jepa_sim import distributed
    from jepa_sim.data.episode import EpisodeFormatError
    from jepa_sim.data.features import parse_views
    from jepa_sim.data.manifest import DatasetError
    from jepa_sim.encoders import EncoderLoadError, encoder_id
    from jepa_sim.plots import plot_curves
    from jepa_sim.predictor.evaluate import horizon_table
    from jepa_sim.predictor.train import PredictorTrainer, TrainConfig
    from jepa_sim.runs import RunError, StepReport, read_metrics

    errors = (DatasetError, EpisodeFormatError, EncoderLoadError, RunError, ValueError)
    try:
        config = TrainConfig(
            width=args.width, depth=args.depth, heads=args.heads, merge=args.merge, residual=args.residual,
            clip_len=args.clip_len,
            frame_stride=args.frame_stride, rollout_steps=args.rollout_steps, steps=args.steps,
            batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, decay=args.decay,
            weight_decay=args.weight_decay, grad_clip=args.grad_clip, holdout=args.holdout, seed=args.seed,
            checkpoint_every=args.checkpoint_every,
            views=parse_views(args.views), init=args.init, init_any_encoder=args.init_any_encoder,
        )  # fmt: skip
        ctx = distributed.setup(args.device)
    except errors as exc:
        raise SystemExit(f"jepa-sim train: {exc}") from exc
    try:
        trainer = PredictorTrainer(args.data, encoder_id(args.encoder), args.out, config, ctx)
        say = print if ctx.main else (lambda *a, **k: None)
        bar: tqdm | None = None
        evaluating: tqdm | None = None
        n_episodes = len(trainer.train_episodes) + len(trainer.heldout_episodes)
        loading = tqdm(total=n_episodes, desc="load tokens", unit="ep", mininterval=1.0, disable=not ctx.main)

        def on_start(start: int, train_clips: int, heldout_clips: int) -> None:
            nonlocal bar
            loading.close()
            pc = trainer.predictor_config
            say(f"encoder {trainer.encoder['id']}: views {', '.join(pc.views)}, {pc.num_tokens} tokens x "
                f"{pc.token_dim} per frame; predictor width "
                f"{pc.width}, depth {pc.depth}, {pc.step_tokens} tokens per step; {train_clips} training clips of "
                f"{config.clip_len} frames, {heldout_clips} held out; device {ctx.device}"
                + (f", {ctx.world} processes" if ctx.active else ""))  # fmt: skip
            if start:
                say(f"resuming from step {start} ({args.out / 'checkpoint.pt'})")
            bar = tqdm(total=config.steps, initial=start, desc="train", unit="step", mininterval=1.0,
                       disable=not ctx.main)  # fmt: skip

        def on_step(report: StepReport) -> None:
            assert bar is not None
            m = report.metrics
            post = {"loss": f"{m['loss']:.4f}", "lr": f"{m['lr']:.1e}"}
            if "val_loss" in m:
                post["val"] = f"{m['val_loss']:.4f}"
            bar.set_postfix(post, refresh=False)
            bar.update(1)

        def on_eval(n: int) -> None:
            nonlocal evaluating
            if evaluating is None:
                evaluating = tqdm(desc="evaluate held-out", unit="clip", mininterval=1.0, disable=not ctx.main)
            evaluating.update(n)

        def plot() -> Path | None:
            if not ctx.main:
                return None
            keys = ["loss", "val_loss", "teacher_forcing", "rollout", "val_teacher_forcing", "val_rollout"]
            return plot_curves(read_metrics(args.out), keys, args.out / "loss.png", f"predictor: {args.out}")

        try:
            try:
                result = trainer.run(on_start, on_step, on_eval, on_load=lambda _: loading.update(1))
            finally:
                for b in (loading, bar, evaluating):
                    if b is not None:
                        b.close()
        except KeyboardInterrupt:
            if bar is None:
                say("\ninterrupted while loading tokens; nothing was trained")
                return 130
            plot()
            say(f"\ninterrupted; rerun the same command to resume from the last checkpoint in {args.out}")
            return 130
        plot_path = plot()
        if ctx.main:
            print(f"done: {result.steps} steps in {result.train_seconds / 60:.1f} min of training, final loss "
                  f"{result.final_loss:.4f}; loss curve {plot_path}")  # fmt: skip
            print("latent L1 on held-out episodes (rollout from one true frame):")
            print(horizon_table(result.horizons))
            beaten = all(r.model < r.copy_last for r in result.horizons)
            print("beats copy-last-frame at every horizon" if beaten else "WARNING: does not beat copy-last-frame")
            print(f"predictor: {result.predictor_dir}  (use it with --predictor {result.predictor_dir})")
        return 0
    except errors as exc:
        raise SystemExit(f"jepa-sim train: {exc}") from exc
    finally:
        distributed.teardown(ctx)
