"""The stage-1 pretraining loop: sampling, AdamW with warmup-stable-decay, EMA target, checkpoints that a
killed run resumes from exactly, a metrics log, and the export of a ``save_pretrained`` encoder folder."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from jepa_sim.atomic import atomic_folder
from jepa_sim.data.clips import split_episodes
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.features import check_views
from jepa_sim.encoders.base import resolve_device
from jepa_sim.pretrain.frames import FrameBank, clips_to_pixels
from jepa_sim.pretrain.jepa import (
    ModelSize,
    build_model,
    ema_update,
    export_model,
    jepa_loss,
    load_model,
    make_target_encoder,
)
from jepa_sim.pretrain.masks import DEFAULT_GROUPS, BlockSpec, MaskPair, MultiBlockMasker
from jepa_sim.runs import (
    RunError,
    RunFolder,
    StepReport,
    adamw,
    hardware,
    read_metrics,
    run_steps,
    step_generator,
)
from jepa_sim.schedules import check_warmup_stable_decay, linear, warmup_stable_decay

__all__ = ["PretrainConfig", "PretrainError", "PretrainResult", "Pretrainer", "StepReport", "read_metrics"]

ENCODER_DIR = "encoder"
TRAINING_CARD = "training.json"


PretrainError = RunError
"""A pretraining run cannot start or resume; the message says why."""


@dataclass(frozen=True)
class PretrainConfig:
    size: ModelSize = field(default_factory=ModelSize)
    clip_frames: int = 1
    """distinct video frames per sample: 1 = single frames repeated to fill the clip (how the frozen encoder
    is used), or ``size.frames_per_clip`` consecutive frames ``frame_stride`` apart"""
    frame_stride: int = 1
    views: tuple[str, ...] = ("exterior",)
    """camera views whose frames are pretrained on (``wrist`` needs a dataset collected with the wrist camera)"""
    groups: tuple[BlockSpec, ...] = DEFAULT_GROUPS
    steps: int = 2000
    batch_size: int = 64
    lr: float = 5e-4
    final_lr: float = 0.01
    """decayed rate at the last step, as a fraction of ``lr``"""
    warmup: float = 0.05
    decay: float = 0.2
    weight_decay: float = 0.04
    grad_clip: float = 1.0
    ema: tuple[float, float] = (0.996, 1.0)
    """EMA momentum at the first and last step (linear in between)"""
    holdout: float = 0.1
    """fraction of episodes held out of pretraining (validation loss, probe)"""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.clip_frames not in (1, self.size.frames_per_clip):
            raise ValueError(f"clip_frames must be 1 or frames_per_clip ({self.size.frames_per_clip})")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("steps must be >= 1 and batch_size >= 2")
        check_warmup_stable_decay(self.lr, self.warmup, self.decay, self.final_lr)
        check_views(self.views)
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout}")
        if not (0.0 <= self.ema[0] <= self.ema[1] <= 1.0):
            raise ValueError(f"ema must be (start, end) with 0 <= start <= end <= 1, got {self.ema}")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


@dataclass
class PretrainResult:
    encoder_dir: Path
    steps: int
    train_seconds: float
    final_loss: float


class Pretrainer:
    """One pretraining run in folder ``out``; rerunning with the same config resumes from its checkpoint."""

    def __init__(
        self, data: Path, out: Path, config: PretrainConfig, device: str = "auto", init: Path | None = None
    ) -> None:
        """``init``: an exported encoder folder (encoder and pretraining predictor) to continue pretraining from,
        in place of fresh weights; part of the run's identity like the config. A bad one fails here, before
        minutes of frame loading."""
        self.data, self.out, self.config = Path(data), Path(out), config
        self.init = Path(init) if init is not None else None
        self._init_model: Any = None
        if self.init is not None:
            try:
                self._init_model = load_model(self.init, config.size)
            except (OSError, ValueError) as exc:
                raise PretrainError(f"cannot start from --init {self.init}: {exc}") from exc
        self.device = resolve_device(device)
        dataset = EpisodeDataset(self.data)
        if len(dataset) < 2:
            raise PretrainError(f"{self.data} has {len(dataset)} episodes; pretraining needs at least 2")
        self.train_episodes, self.heldout_episodes = split_episodes(dataset.indices, config.holdout, config.seed)
        self.run_info: dict[str, Any] = {
            "config": config.to_dict(),
            "data": str(self.data),
            "data_spec": dataset.manifest.get("spec"),
            "train_episodes": self.train_episodes,
            "heldout_episodes": self.heldout_episodes,
            "init": str(self.init) if self.init is not None else None,
        }
        identity = ("config", "data_spec", "train_episodes", "heldout_episodes", "init")
        self.folder = RunFolder(self.out, self.run_info, identity)
        self.folder.check()

    def run(
        self,
        on_start: Callable[[int, int, int], None] | None = None,
        on_step: Callable[[StepReport], None] | None = None,
        on_load: Callable[[int], None] | None = None,
    ) -> PretrainResult:
        """Train to ``config.steps`` (resuming if a checkpoint exists) and export the encoder folder.

        ``on_start(start_step, train_frames, heldout_frames)`` is called once the frames are loaded. A first
        Ctrl-C (SIGINT, when run from the main thread) lets the current step finish, checkpoints it and then
        raises ``KeyboardInterrupt``, so the checkpoint always holds whole steps; so does a
        ``KeyboardInterrupt`` raised by ``on_step``.
        """
        cfg = self.config
        self.folder.create()
        views = self.config.views
        train = FrameBank(self.data, self.train_episodes, on_load, views)
        heldout = FrameBank(self.data, self.heldout_episodes, on_load, views) if self.heldout_episodes else None

        model = build_model(cfg.size, cfg.seed) if self._init_model is None else self._init_model
        model = model.to(self.device).train()
        target = make_target_encoder(model)
        optimizer = adamw(model, cfg.lr, cfg.weight_decay, no_decay=("mask_tokens",))
        step, seconds = 0, 0.0
        state = self.folder.load_checkpoint(self.device)
        if state is not None:
            try:
                model.load_state_dict(state["model"])
                target.load_state_dict(state["target"])
                optimizer.load_state_dict(state["optimizer"])
                step, seconds = int(state["step"]), float(state["seconds"])
            except (RuntimeError, KeyError, ValueError) as exc:
                ckpt = self.folder.checkpoint
                raise PretrainError(f"cannot resume from {ckpt}: {exc}; delete it to start over") from exc
        self.folder.truncate_metrics(step)
        if on_start is not None:
            on_start(step, len(train), len(heldout) if heldout is not None else 0)

        masker = MultiBlockMasker(cfg.size.grid, cfg.groups)
        validation = self._validation_batch(heldout, masker) if heldout is not None else None
        length = cfg.clip_frames
        logged = read_metrics(self.out)
        last_loss = float(logged[-1]["loss"]) if logged else math.nan

        def train_step(step: int) -> dict[str, float]:
            nonlocal seconds, last_loss
            t0 = time.perf_counter()
            gen = step_generator(cfg.seed, step)
            lr = warmup_stable_decay(step, cfg.steps, cfg.lr, cfg.warmup, cfg.decay, cfg.final_lr)
            momentum = linear(step, cfg.steps, *cfg.ema)
            for group in optimizer.param_groups:
                group["lr"] = lr
            clips = train.sample(cfg.batch_size, length, cfg.frame_stride, gen)
            pixels = clips_to_pixels(clips, cfg.size.image_size, cfg.size.frames_per_clip).to(self.device)
            loss, stats = jepa_loss(model, target, pixels, masker(cfg.batch_size, gen))
            if not torch.isfinite(loss):
                raise PretrainError(f"loss became {loss.item()} at step {step}; lower --lr or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(
                model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            )
            optimizer.step()
            ema_update(target, model.encoder, momentum)
            seconds += time.perf_counter() - t0
            last_loss = float(loss.detach())
            metrics = {"step": step + 1, "loss": last_loss, "lr": lr, "ema": momentum,
                       "grad_norm": float(grad_norm), "seconds": seconds, **stats}  # fmt: skip
            if validation is not None and ((step + 1) % 50 == 0 or step + 1 == cfg.steps):
                metrics["val_loss"] = self.validation_loss(model, target, *validation)
            return metrics

        def save(done: int) -> None:
            self._save(model, target, optimizer, done, seconds)

        step = run_steps(step, cfg.steps, train_step, save, self.folder.append_metrics, on_step)
        encoder_dir = self.export(model, target, step, seconds, len(train))
        return PretrainResult(encoder_dir, step, seconds, last_loss)

    def _validation_batch(self, frames: FrameBank, masker: MultiBlockMasker) -> tuple[torch.Tensor, list[MaskPair]]:
        """One fixed batch of held-out clips with fixed masks, so the validation loss is comparable across steps."""
        cfg = self.config
        gen = step_generator(cfg.seed + 7919, 0)
        clips = frames.sample(min(64, max(2, len(frames))), cfg.clip_frames, cfg.frame_stride, gen)
        pixels = clips_to_pixels(clips, cfg.size.image_size, cfg.size.frames_per_clip).to(self.device)
        return pixels, masker(pixels.shape[0], gen)

    @torch.no_grad()
    def validation_loss(self, model: Any, target: Any, pixels: torch.Tensor, masks: list[MaskPair]) -> float:
        model.eval()
        try:
            loss, _ = jepa_loss(model, target, pixels, masks)
        finally:
            model.train()
        return float(loss)

    def _save(self, model: Any, target: Any, optimizer: Any, step: int, seconds: float) -> None:
        state = {"model": model.state_dict(), "target": target.state_dict(), "optimizer": optimizer.state_dict(),
                 "step": step, "seconds": seconds, "config": self.config.to_dict()}  # fmt: skip
        self.folder.save_checkpoint(state)

    def export(self, model: Any, target: Any, step: int, seconds: float, train_frames: int) -> Path:
        """Write ``out/encoder``: the ``save_pretrained`` folder (EMA encoder + predictor) and
        ``training.json`` (config, data, split, steps, time, hardware), replacing any older export."""
        folder = self.out / ENCODER_DIR
        exported = export_model(model, target)
        card = {
            **self.run_info,
            "steps": step,
            "train_seconds": round(seconds, 1),
            "train_frames": train_frames,
            "encoder_parameters": sum(p.numel() for p in exported.encoder.parameters()),
            "predictor_parameters": sum(p.numel() for p in exported.predictor.parameters()),
            "hardware": hardware(),
            "device": str(self.device),
        }
        with atomic_folder(folder) as staging:  # a crash leaves the old export or the new one
            exported.save_pretrained(staging)
            (staging / TRAINING_CARD).write_text(json.dumps(card, indent=1))
        return folder
