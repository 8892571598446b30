"""Learning-rate and momentum schedules shared by stage-1 pretraining and predictor training."""

from __future__ import annotations

import math


def check_warmup_stable_decay(peak: float, warmup: float, decay: float, final: float) -> None:
    """A clear ``ValueError`` for settings :func:`warmup_stable_decay` cannot follow: a non-positive peak, a
    final rate that is not a fraction of it, or warmup and decay fractions that do not fit in the run."""
    if not (peak > 0 and 0.0 <= final <= 1.0):
        raise ValueError(f"lr must be positive and final_lr a fraction of it, got {peak}, {final}")
    _check_fractions(warmup, decay)


def _check_fractions(warmup: float, decay: float) -> None:
    if not (warmup >= 0.0 and decay >= 0.0 and warmup + decay <= 1.0):
        raise ValueError(f"warmup ({warmup}) and decay ({decay}) must be fractions summing to <= 1")


def warmup_stable_decay(
    step: int, total: int, peak: float, warmup: float = 0.05, decay: float = 0.2, final: float = 0.0
) -> float:
    """Warmup-stable-decay: linear warmup over the first ``warmup`` fraction of ``total`` steps, ``peak``
    until the last ``decay`` fraction, then a linear decay to ``final * peak`` at the last step.

    ``step`` counts from 0; values past ``total`` stay at the final rate.
    """
    if total < 1:
        raise ValueError(f"total steps must be at least 1, got {total}")
    _check_fractions(warmup, decay)
    n_warm = math.ceil(warmup * total)
    n_decay = math.ceil(decay * total)
    if step < n_warm:
        return peak * (step + 1) / n_warm
    start_decay = total - n_decay
    if step < start_decay or n_decay == 0:
        return peak
    progress = min(1.0, (step - start_decay + 1) / n_decay)
    return peak * (1.0 - progress * (1.0 - final))


def linear(step: int, total: int, start: float, end: float) -> float:
    """``start`` at step 0 moving linearly to ``end`` at the last step (``total - 1``)."""
    if total <= 1:
        return end
    return start + (end - start) * min(1.0, max(0.0, step / (total - 1)))
