"""What every training loop here shares: a run folder that refuses a different config, a metrics log that a
resumed run truncates to its checkpoint, atomic checkpoints, per-step random streams that make resuming
exact, a Ctrl-C that finishes the current step, and AdamW parameter groups."""

from __future__ import annotations

import json
import pickle
import platform
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jepa_sim.atomic import atomic_write

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
RUN = "run.json"


class RunError(RuntimeError):
    """A training run cannot start or resume; the message says why."""


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one training step: the same on a fresh and on a resumed run."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def hardware() -> dict[str, Any]:
    """What a model card records about the machine that trained it."""
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, no_decay: tuple[str, ...] = ()) -> torch.optim.AdamW:
    """AdamW (0.9, 0.999) with weight decay on matrices only: never on norms, biases, positional tables or
    parameters whose name contains one of ``no_decay``."""
    decay: list[torch.nn.Parameter] = []
    plain: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        (plain if p.ndim < 2 or any(key in name for key in no_decay) else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999))


class RunFolder:
    """A training run's folder: ``run.json`` (what the run is), ``metrics.jsonl``, ``checkpoint.pt``."""

    def __init__(self, out: Path, info: dict[str, Any], identity: tuple[str, ...]) -> None:
        """``info`` is written to ``run.json``; the keys in ``identity`` must match an existing run's."""
        self.out, self.info, self.identity = Path(out), info, identity

    def check(self) -> None:
        """A clear error when the folder holds a different run (naming the changed settings)."""
        path = self.out / RUN
        if not path.is_file():
            return
        old = json.loads(path.read_text())
        diffs = [k for k in self.identity if old.get(k) != self.info[k]]
        if diffs:
            detail = ""
            if "config" in diffs:
                changed = [k for k in self.info["config"] if old["config"].get(k) != self.info["config"][k]]
                detail = f" (changed: {', '.join(changed)})"
            raise RunError(
                f"{self.out} holds a run with different {' and '.join(diffs)}{detail}; pass another --out, "
                "or delete the folder to start over"
            )

    def create(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        if not (self.out / RUN).is_file():
            with atomic_write(self.out / RUN) as tmp:
                tmp.write_text(json.dumps(self.info, indent=1))

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT

    def load_checkpoint(self, device: torch.device | str) -> dict[str, Any] | None:
        """The saved state, or None when there is none; a corrupt file is a :class:`RunError`."""
        if not self.checkpoint.is_file():
            return None
        try:
            state: dict[str, Any] = torch.load(self.checkpoint, map_location=device, weights_only=True)
            int(state["step"])
        except (RuntimeError, KeyError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as exc:
            raise RunError(f"cannot resume from {self.checkpoint}: {exc}; delete it to start over") from exc
        return state

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_write(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def truncate_metrics(self, step: int) -> None:
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

    def append_metrics(self, metrics: dict[str, float]) -> None:
        with open(self.out / METRICS, "a") as fh:
            fh.write(json.dumps(metrics) + "\n")


def read_metrics(out: Path) -> list[dict[str, float]]:
    """The metrics log of a run folder."""
    path = Path(out) / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class StopFlag:
    """Set by the first Ctrl-C while :func:`graceful_sigint` is active; the loop checks it between steps."""

    def __init__(self) -> None:
        self.set = False


@contextmanager
def graceful_sigint() -> Iterator[StopFlag]:
    """A first Ctrl-C only sets the flag (the loop finishes its step, checkpoints and stops); a second one
    raises ``KeyboardInterrupt`` at once. Outside the main thread signals cannot be caught: a no-op."""
    flag = StopFlag()

    def on_sigint(signum: int, frame: Any) -> None:
        if flag.set:
            raise KeyboardInterrupt
        flag.set = True

    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class StepReport:
    step: int
    steps: int
    metrics: dict[str, float]


def run_steps(
    start: int,
    steps: int,
    train_step: Callable[[int], dict[str, float]],
    save: Callable[[int], None],
    log: Callable[[dict[str, float]], None],
    on_step: Callable[[StepReport], None] | None = None,
    every: int = 100,
    agree: Callable[[bool], bool] | None = None,
) -> int:
    """Run ``train_step(step)`` for ``step = start .. steps - 1``, logging its metrics and calling
    ``save(step_count)`` every ``every`` steps and at the end. A first Ctrl-C (or a ``KeyboardInterrupt`` from
    ``on_step``) lets the current step finish, saves and re-raises, so a checkpoint always holds whole steps.
    Returns the number of steps done. ``agree(flag)`` makes the stop decision common to all data-parallel
    ranks (true when any rank's flag is), so they all stop after the same step; under data parallelism an
    ``on_step`` that raises must do so on every rank at the same step."""
    step, at_boundary = start, True
    with graceful_sigint() as stop:
        try:
            while step < steps:
                if agree(stop.set) if agree is not None else stop.set:
                    raise KeyboardInterrupt
                at_boundary = False
                metrics = train_step(step)
                step += 1
                log(metrics)
                if step % every == 0 or step == steps:
                    save(step)
                at_boundary = True
                if on_step is not None:
                    on_step(StepReport(step, steps, metrics))
        except KeyboardInterrupt:
            if at_boundary:
                save(step)
            raise
    return step
