"""Training the action-conditioned predictor on cached frozen-encoder tokens: teacher-forcing plus rollout L1,
AdamW with warmup-stable-decay, gradient clipping, exact resume, data parallel under ``torchrun``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from jepa_sim.data.clips import split_episodes
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.feature_clips import FeatureClips
from jepa_sim.data.features import FeatureCache, check_views
from jepa_sim.distributed import Dist
from jepa_sim.losses import ac_losses
from jepa_sim.predictor.checkpoint import save_predictor
from jepa_sim.predictor.evaluate import HorizonRow, horizon_errors
from jepa_sim.predictor.model import ACPredictor, PredictorConfig
from jepa_sim.runs import RunError, RunFolder, StepReport, adamw, hardware, read_metrics, run_steps, step_generator
from jepa_sim.schedules import check_warmup_stable_decay, warmup_stable_decay

PREDICTOR_DIR = "predictor"
EVAL_HORIZONS = 4


@dataclass(frozen=True)
class TrainConfig:
    width: int = 192
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    merge: int = 2
    """fold merge x merge squares of encoder tokens into one predictor token (1 = the paper's layout)"""
    residual: bool = True
    """predict the change from the input frame's tokens (False = the next tokens outright, as the paper)"""
    max_steps: int = 16
    clip_len: int = 5
    """frames per training clip (teacher forcing over clip_len - 1 steps)"""
    frame_stride: int = 1
    rollout_steps: int = 2
    steps: int = 4000
    batch_size: int = 64
    """clips per optimiser step, over all data-parallel ranks together"""
    lr: float = 6e-4
    final_lr: float = 0.01
    """decayed rate at the last step, as a fraction of ``lr``"""
    warmup: float = 0.05
    decay: float = 0.2
    weight_decay: float = 0.04
    grad_clip: float = 1.0
    holdout: float = 0.1
    """fraction of episodes held out (validation loss and the horizon table)"""
    seed: int = 0
    checkpoint_every: int = 100
    """steps between checkpoints (also written at the end and on Ctrl-C)"""
    views: tuple[str, ...] = ("exterior",)
    """camera views whose tokens make a frame (``exterior``: the paper; ``exterior``, ``wrist``: DROID's rig)"""
    init: str | None = None
    """start from this predictor's weights (``default``, ``two-view`` or a predictor folder) instead of a random
    initialisation: more training of a predictor whose held-out loss was still falling. Its architecture, views
    and encoder must be this run's"""
    init_any_encoder: bool = False
    """``init`` may come from a predictor trained on another encoder's tokens of the same shape (an encoder
    pretrained further from the first, whose tokens moved but kept their layout): a warm start, not a check"""

    def __post_init__(self) -> None:
        check_views(self.views)
        if min(self.steps, self.batch_size, self.checkpoint_every) < 1:
            raise ValueError("steps, batch_size and checkpoint_every must be >= 1")
        if self.rollout_steps < 1 or self.clip_len < self.rollout_steps + 1:
            raise ValueError(f"clip_len ({self.clip_len}) must exceed rollout_steps ({self.rollout_steps}) >= 1")
        if self.max_steps < EVAL_HORIZONS:
            raise ValueError(f"max_steps must be >= {EVAL_HORIZONS} (the horizon table), got {self.max_steps}")
        if self.clip_len > self.max_steps + 1:
            raise ValueError(f"clip_len ({self.clip_len}) needs max_steps >= {self.clip_len - 1}")
        check_warmup_stable_decay(self.lr, self.warmup, self.decay, self.final_lr)
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout}")
        if self.init_any_encoder and self.init is None:
            raise ValueError("init_any_encoder needs an init predictor")

    def predictor(self, token_dim: int, grid: tuple[int, int]) -> PredictorConfig:
        return PredictorConfig(token_dim=token_dim, grid=grid, width=self.width, depth=self.depth, heads=self.heads,
                               mlp_ratio=self.mlp_ratio, max_steps=self.max_steps, merge=self.merge,
                               residual=self.residual, views=self.views)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values; the single-view default is left out, so runs from before views existed
        keep their identity (and resume)."""
        data = {**asdict(self), "views": list(self.views)}
        if self.views == ("exterior",):
            del data["views"]
        if self.init is None:
            del data["init"]
        if not self.init_any_encoder:
            del data["init_any_encoder"]
        return data


@dataclass
class TrainResult:
    predictor_dir: Path
    steps: int
    train_seconds: float
    final_loss: float
    horizons: list[HorizonRow]


class Objective(nn.Module):
    """The summed losses as one module, so ``DistributedDataParallel`` sees a single forward per step
    (the rollout calls the predictor several times)."""

    def __init__(self, predictor: ACPredictor, rollout_steps: int) -> None:
        super().__init__()
        self.predictor, self.rollout_steps = predictor, rollout_steps

    def forward(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> dict[str, torch.Tensor]:
        return ac_losses(self.predictor, z, actions, states, self.rollout_steps)


def collate(items: list[dict[str, Any]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.stack([i["z"] for i in items]).to(device), torch.stack([i["actions"] for i in items]).to(device),
            torch.stack([i["states"] for i in items]).to(device))  # fmt: skip


def param_checksum(model: nn.Module) -> float:
    """A float64 fingerprint of the weights (equal on ranks that hold equal weights)."""
    with torch.no_grad():
        return float(sum((p.double() * (i + 1)).sum().item() for i, p in enumerate(model.parameters())))


class PredictorTrainer:
    """One predictor training run in folder ``out``; rerunning with the same settings resumes it."""

    def __init__(self, data: Path, encoder_id: str, out: Path, config: TrainConfig, ctx: Dist) -> None:
        self.data, self.out, self.config, self.ctx = Path(data), Path(out), config, ctx
        dataset = EpisodeDataset(self.data)  # a clear error when DATA is not a dataset
        self.cache = FeatureCache.open(self.data, encoder_id)  # ... or was never encoded
        missing = self.cache.missing(dataset, config.views)
        if missing:
            several = config.views != ("exterior",)
            raise RunError(
                f"{len(missing)} of {len(dataset)} episodes of {self.data} have no features of {encoder_id!r}"
                + (f" for every view of {config.views}" if several else "")
                + f"; finish the cache with `jepa-sim encode --data {self.data} --encoder ..."
                + (f" --views {','.join(config.views)}`" if several else "`")
            )
        if len(dataset) < 2:
            raise RunError(f"{self.data} has {len(dataset)} episodes; training needs at least 2")
        if config.batch_size % ctx.world:
            raise RunError(f"batch size {config.batch_size} is not divisible by the {ctx.world} processes")
        self.train_episodes, self.heldout_episodes = split_episodes(dataset.indices, config.holdout, config.seed)
        self.encoder = self.cache.encoder
        self.predictor_config = config.predictor(int(self.encoder["dim"]), tuple(self.encoder["grid"]))
        self.run_info: dict[str, Any] = {
            "config": config.to_dict(),
            "encoder": self.encoder,
            "data": str(self.data),
            "data_spec": dataset.manifest.get("spec"),
            "train_episodes": self.train_episodes,
            "heldout_episodes": self.heldout_episodes,
        }
        identity = ("config", "encoder", "data_spec", "train_episodes", "heldout_episodes")
        self.folder = RunFolder(self.out, self.run_info, identity)
        self.folder.check()
        # a bad --init fails here, before minutes of token loading; its weights are used on a fresh start only
        self.init_weights = None if config.init is None else self.initial_weights(config.init)

    def initial_weights(self, init: str) -> dict[str, torch.Tensor]:
        """The weights of predictor ``init`` to start from, checked against this run's predictor and encoder."""
        from jepa_sim.predictor.checkpoint import PredictorLoadError, load_predictor

        try:
            start, _ = load_predictor(init, None if self.config.init_any_encoder else str(self.encoder["id"]))
        except PredictorLoadError as exc:
            raise RunError(f"cannot start from predictor {init!r}: {exc}") from exc
        if start.config != self.predictor_config:
            raise RunError(
                f"cannot start from predictor {init!r}: its architecture {start.config} differs from this run's "
                f"{self.predictor_config}; pass the same --width/--depth/--heads/--merge/--views"
            )
        return start.state_dict()

    def clips(self, episodes: list[int], clip_len: int, on_load: Callable[[int], None] | None = None) -> FeatureClips:
        encoder = str(self.encoder["id"])
        return FeatureClips(self.data, encoder, clip_len, self.config.frame_stride, 1, episodes, on_load,
                            self.config.views)  # fmt: skip

    def run(
        self,
        on_start: Callable[[int, int, int], None] | None = None,
        on_step: Callable[[StepReport], None] | None = None,
        on_eval: Callable[[int], None] | None = None,
        on_load: Callable[[int], None] | None = None,
    ) -> TrainResult:
        """Train to ``config.steps`` (resuming from the checkpoint if there is one), export ``out/predictor``
        and measure the horizon table on the held-out episodes. ``on_start(start_step, train_clips,
        heldout_clips)`` once the tokens are in memory (``on_load(episode)`` after each episode is loaded);
        ``on_eval(clips)`` as the final evaluation advances."""
        cfg, ctx = self.config, self.ctx
        if ctx.main:
            self.folder.create()
        ctx.barrier()
        train = self.clips(self.train_episodes, cfg.clip_len, on_load)
        heldout = self.clips(self.heldout_episodes, cfg.clip_len, on_load)
        for name, clips in (("training", train), ("held-out", heldout)):
            if len(clips) == 0:
                raise RunError(
                    f"no {name} clips of {cfg.clip_len} frames in {self.data}: episodes too short or too few"
                )
        horizon_clips = heldout.with_clip_len(EVAL_HORIZONS + 1)
        if len(horizon_clips) == 0:
            # fail now rather than after training when the final horizon table is impossible
            raise RunError(f"no held-out episode of {self.data} spans {EVAL_HORIZONS + 1} frames at stride "
                           f"{cfg.frame_stride}: the horizon table cannot be measured")  # fmt: skip

        torch.manual_seed(cfg.seed)
        predictor = ACPredictor(self.predictor_config)
        predictor.set_input_stats(*train.action_state_samples())
        predictor = predictor.to(ctx.device).train()
        objective: nn.Module = Objective(predictor, cfg.rollout_steps)
        optimizer = adamw(predictor, cfg.lr, cfg.weight_decay, no_decay=("_pos",))
        step, seconds = 0, 0.0
        state = self.folder.load_checkpoint(ctx.device)
        if state is None and self.init_weights is not None:
            predictor.load_state_dict(self.init_weights)
        if state is not None:
            if state.get("encoder", {}).get("id") != self.encoder["id"]:
                raise RunError(
                    f"{self.folder.checkpoint} was trained on encoder {state.get('encoder')}, not {self.encoder}"
                )
            try:
                predictor.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                step, seconds = int(state["step"]), float(state["seconds"])
            except (RuntimeError, KeyError, ValueError) as exc:
                ckpt = self.folder.checkpoint
                raise RunError(f"cannot resume from {ckpt}: {exc}; delete it to start over") from exc
        if ctx.active:
            objective = DistributedDataParallel(objective)  # broadcasts rank 0's weights
        if ctx.main:
            self.folder.truncate_metrics(step)
        if on_start is not None:
            on_start(step, len(train), len(heldout))

        picks = self._fixed_indices(len(heldout), 256)
        validation = collate([heldout[i] for i in picks], ctx.device) if ctx.main else None
        logged = read_metrics(self.out) if ctx.main else []
        last_loss = float(logged[-1]["loss"]) if logged else math.nan

        def train_step(step: int) -> dict[str, float]:
            nonlocal seconds, last_loss
            t0 = time.perf_counter()
            gen = step_generator(cfg.seed, step)
            picks = torch.randint(len(train), (cfg.batch_size,), generator=gen)[ctx.rank :: ctx.world]
            lr = warmup_stable_decay(step, cfg.steps, cfg.lr, cfg.warmup, cfg.decay, cfg.final_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            losses = objective(*collate([train[int(i)] for i in picks], ctx.device))
            loss = losses["loss"]
            if ctx.any(not bool(torch.isfinite(loss))):  # every rank raises, none waits in the all-reduce
                raise RunError(f"the loss became NaN or inf at step {step}; lower --lr or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # DDP averages the gradients of all ranks here
            clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(predictor.parameters(), clip)
            optimizer.step()
            seconds += time.perf_counter() - t0
            # each rank saw part of the batch: log the mean over ranks, the loss of the whole batch
            total, tf, ro = ctx.mean([float(loss.detach()), float(losses["teacher_forcing"]), float(losses["rollout"])])
            last_loss = total
            metrics = {"step": step + 1, "loss": total, "teacher_forcing": tf, "rollout": ro, "lr": lr,
                       "grad_norm": float(grad_norm), "seconds": seconds}  # fmt: skip
            if validation is not None and ((step + 1) % 50 == 0 or step + 1 == cfg.steps):
                metrics.update(self._validate(predictor, validation))
            return metrics

        def save(done: int) -> None:
            if ctx.main:
                self.folder.save_checkpoint({
                    "model": predictor.state_dict(), "optimizer": optimizer.state_dict(), "step": done,
                    "seconds": seconds, "config": cfg.to_dict(), "predictor": self.predictor_config.to_dict(),
                    "encoder": self.encoder,
                })  # fmt: skip

        def log(metrics: dict[str, float]) -> None:
            if ctx.main:
                self.folder.append_metrics(metrics)

        step = run_steps(step, cfg.steps, train_step, save, log, on_step, cfg.checkpoint_every, ctx.any)
        checksums = ctx.gather_floats(param_checksum(predictor))
        if len(set(checksums)) != 1:
            raise RunError(f"data-parallel ranks ended with different weights (checksums {checksums})")
        rows: list[HorizonRow] = []
        predictor_dir = self.out / PREDICTOR_DIR
        if ctx.main:
            rows = self.evaluate(predictor, horizon_clips, on_eval)
            training = {**self.run_info, "steps": step, "train_seconds": round(seconds, 1), "ranks": ctx.world,
                        "rank_checksums": checksums, "train_clips": len(train), "device": str(ctx.device),
                        "parameters": sum(p.numel() for p in predictor.parameters()), "hardware": hardware(),
                        "horizons": [asdict(r) for r in rows]}  # fmt: skip
            save_predictor(predictor_dir, predictor, self.encoder, training)
        # no barrier: the other ranks are done and would only risk the collective timeout while rank 0 evaluates
        return TrainResult(predictor_dir, step, seconds, last_loss, rows)

    def evaluate(
        self, predictor: ACPredictor, clips: FeatureClips, on_batch: Callable[[int], None] | None = None
    ) -> list[HorizonRow]:
        """The horizon table (1..4) on ``clips``: the held-out episodes' windows of 5 frames."""
        predictor.eval()
        try:
            return horizon_errors(predictor, clips, self.ctx.device, on_batch=on_batch)
        finally:
            predictor.train()

    def _fixed_indices(self, n: int, k: int) -> list[int]:
        rng = np.random.default_rng(self.config.seed + 7919)
        return sorted(rng.choice(n, size=min(n, k), replace=False).tolist())

    @torch.no_grad()
    def _validate(
        self, predictor: ACPredictor, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> dict[str, float]:
        predictor.eval()
        try:
            losses = ac_losses(predictor, *batch, rollout_steps=self.config.rollout_steps)
        finally:
            predictor.train()
        return {"val_loss": float(losses["loss"]), "val_teacher_forcing": float(losses["teacher_forcing"]),
                "val_rollout": float(losses["rollout"])}  # fmt: skip
