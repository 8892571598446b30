"""The stage-1 pretraining loop: sampling, AdamW with warmup-stable-decay, EMA target, checkpoints that a
killed run resumes from exactly, a metrics log, and the export of a ``save_pretrained`` encoder folder."""

from __future__ import annotations

import json
import math
import pickle
import platform
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from jepa_sim.atomic import atomic_write
from jepa_sim.data.clips import split_episodes
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.encoders.base import resolve_device
from jepa_sim.pretrain.frames import FrameBank, clips_to_pixels
from jepa_sim.pretrain.jepa import ModelSize, build_model, ema_update, export_model, jepa_loss, make_target_encoder
from jepa_sim.pretrain.masks import DEFAULT_GROUPS, BlockSpec, MaskPair, MultiBlockMasker
from jepa_sim.schedules import linear, warmup_stable_decay

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
RUN = "run.json"
ENCODER_DIR = "encoder"
TRAINING_CARD = "training.json"


class PretrainError(RuntimeError):
    """A pretraining run cannot start or resume; the message says why."""


@dataclass(frozen=True)
class PretrainConfig:
    size: ModelSize = field(default_factory=ModelSize)
    clip_frames: int = 1
    """distinct video frames per sample: 1 = single frames repeated to fill the clip (how the frozen encoder
    is used), or ``size.frames_per_clip`` consecutive frames ``frame_stride`` apart"""
    frame_stride: int = 1
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
        if not (self.lr > 0 and 0.0 <= self.final_lr <= 1.0):
            raise ValueError(f"lr must be positive and final_lr a fraction of it, got {self.lr}, {self.final_lr}")
        if not (self.warmup >= 0.0 and self.decay >= 0.0 and self.warmup + self.decay <= 1.0):
            raise ValueError(f"warmup ({self.warmup}) and decay ({self.decay}) must be fractions summing to <= 1")
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout}")
        if not (0.0 <= self.ema[0] <= self.ema[1] <= 1.0):
            raise ValueError(f"ema must be (start, end) with 0 <= start <= end <= 1, got {self.ema}")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


@dataclass
class StepReport:
    step: int
    steps: int
    metrics: dict[str, float]


@dataclass
class PretrainResult:
    encoder_dir: Path
    steps: int
    train_seconds: float
    final_loss: float


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one training step: the same on a fresh and on a resumed run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _optimizer(model: torch.nn.Module, config: PretrainConfig) -> torch.optim.AdamW:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "mask_tokens" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999))


class Pretrainer:
    """One pretraining run in folder ``out``; rerunning with the same config resumes from its checkpoint."""

    def __init__(self, data: Path, out: Path, config: PretrainConfig, device: str = "auto") -> None:
        self.data, self.out, self.config = Path(data), Path(out), config
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
        }
        self._check_run_folder()

    def _check_run_folder(self) -> None:
        path = self.out / RUN
        if not path.is_file():
            return
        old = json.loads(path.read_text())
        keys = ("config", "data_spec", "train_episodes", "heldout_episodes")
        diffs = [k for k in keys if old.get(k) != self.run_info[k]]
        if diffs:
            detail = ""
            if "config" in diffs:
                changed = [k for k in self.run_info["config"] if old["config"].get(k) != self.run_info["config"][k]]
                detail = f" (changed: {', '.join(changed)})"
            raise PretrainError(
                f"{self.out} holds a run with different {' and '.join(diffs)}{detail}; pass another --out, "
                "or delete the folder to start over"
            )

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
        self.out.mkdir(parents=True, exist_ok=True)
        if not (self.out / RUN).is_file():
            with atomic_write(self.out / RUN) as tmp:
                tmp.write_text(json.dumps(self.run_info, indent=1))
        train = FrameBank(self.data, self.train_episodes, on_load)
        heldout = FrameBank(self.data, self.heldout_episodes, on_load) if self.heldout_episodes else None

        model = build_model(cfg.size, cfg.seed).to(self.device).train()
        target = make_target_encoder(model)
        optimizer = _optimizer(model, cfg)
        step, seconds = 0, 0.0
        ckpt_path = self.out / CHECKPOINT
        if ckpt_path.is_file():
            try:
                state = torch.load(ckpt_path, map_location=self.device, weights_only=True)
                model.load_state_dict(state["model"])
                target.load_state_dict(state["target"])
                optimizer.load_state_dict(state["optimizer"])
                step, seconds = int(state["step"]), float(state["seconds"])
            except (RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                raise PretrainError(f"cannot resume from {ckpt_path}: {exc}; delete it to start over") from exc
        self._truncate_metrics(step)
        if on_start is not None:
            on_start(step, len(train), len(heldout) if heldout is not None else 0)

        masker = MultiBlockMasker(cfg.size.grid, cfg.groups)
        validation = self._validation_batch(heldout, masker) if heldout is not None else None
        length = cfg.clip_frames
        logged = read_metrics(self.out)
        last_loss = float(logged[-1]["loss"]) if logged else math.nan
        interrupted = False

        def on_sigint(signum: int, frame: Any) -> None:
            nonlocal interrupted
            if interrupted:  # a second Ctrl-C stops at once, without a checkpoint of the half-done step
                raise KeyboardInterrupt
            interrupted = True

        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
        at_boundary = True
        try:
            while step < cfg.steps:
                if interrupted:
                    raise KeyboardInterrupt
                at_boundary = False
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
                step += 1
                seconds += time.perf_counter() - t0
                last_loss = float(loss.detach())
                metrics = {"step": step, "loss": last_loss, "lr": lr, "ema": momentum,
                           "grad_norm": float(grad_norm), "seconds": seconds, **stats}  # fmt: skip
                if validation is not None and (step % 50 == 0 or step == cfg.steps):
                    metrics["val_loss"] = self.validation_loss(model, target, *validation)
                self._append_metrics(metrics)
                if step % 100 == 0 or step == cfg.steps:
                    self._save(model, target, optimizer, step, seconds)
                at_boundary = True
                if on_step is not None:
                    on_step(StepReport(step, cfg.steps, metrics))
        except KeyboardInterrupt:
            if at_boundary:
                self._save(model, target, optimizer, step, seconds)
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
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
        with atomic_write(self.out / CHECKPOINT) as tmp:
            torch.save(state, tmp)

    def _truncate_metrics(self, step: int) -> None:
        """Drop log lines past the checkpoint a resumed run restarts from (they will be logged again)."""
        path = self.out / METRICS
        if not path.is_file():
            return
        kept = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                break  # a line cut by a kill: everything after it is redone
        with atomic_write(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))

    def _append_metrics(self, metrics: dict[str, float]) -> None:
        with open(self.out / METRICS, "a") as fh:
            fh.write(json.dumps(metrics) + "\n")

    def export(self, model: Any, target: Any, step: int, seconds: float, train_frames: int) -> Path:
        """Write ``out/encoder``: the ``save_pretrained`` folder (EMA encoder + predictor) and
        ``training.json`` (config, data, split, steps, time, hardware), replacing any older export."""
        folder = self.out / ENCODER_DIR
        staging, old = self.out / f".{ENCODER_DIR}.tmp", self.out / f".{ENCODER_DIR}.old"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        exported = export_model(model, target)
        exported.save_pretrained(staging)
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
        (staging / TRAINING_CARD).write_text(json.dumps(card, indent=1))
        if folder.exists():  # swap by renames: a crash leaves the old export or the new one (or .encoder.old)
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder


def read_metrics(out: Path) -> list[dict[str, float]]:
    """The metrics log of a run folder."""
    path = Path(out) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
