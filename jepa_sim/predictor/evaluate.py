"""Prediction quality: latent L1 of autoregressive rollouts at horizons 1..H on held-out episodes, beside the
copy-the-last-frame baseline (predict that nothing changes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from jepa_sim.data.feature_clips import FeatureClips
from jepa_sim.predictor.model import ACPredictor


@dataclass(frozen=True)
class HorizonRow:
    horizon: int
    model: float
    """mean |z_hat_{t+h} - z_{t+h}| of the rollout from the true frame t"""
    copy_last: float
    """mean |z_t - z_{t+h}|"""

    @property
    def ratio(self) -> float:
        return self.model / self.copy_last if self.copy_last > 0 else float("inf")


@torch.no_grad()
def horizon_errors(
    predictor: ACPredictor,
    clips: FeatureClips,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
    on_batch: Callable[[int], None] | None = None,
) -> list[HorizonRow]:
    """Roll the predictor out from the first frame of every clip (``clips.clip_len - 1`` steps, with the
    clip's actions and states) and average the L1 error per horizon over all clips."""
    horizons = clips.clip_len - 1
    if horizons < 1 or len(clips) == 0:
        raise ValueError(f"need clips of at least 2 frames and at least one clip, got {len(clips)} of {clips.clip_len}")
    predictor = predictor.to(device).eval()
    model_sum = torch.zeros(horizons, dtype=torch.float64)
    copy_sum = torch.zeros(horizons, dtype=torch.float64)
    count = 0
    for batch in DataLoader(clips, batch_size=batch_size, shuffle=False):
        z = batch["z"].to(device)
        preds = predictor.rollout(z[:, 0], batch["actions"].to(device), batch["states"][:, :-1].to(device))
        future = z[:, 1:]
        model_sum += (preds - future).abs().mean(dim=(2, 3)).sum(0).double().cpu()
        copy_sum += (z[:, :1] - future).abs().mean(dim=(2, 3)).sum(0).double().cpu()
        count += z.shape[0]
        if on_batch is not None:
            on_batch(z.shape[0])
    return [HorizonRow(h + 1, float(model_sum[h] / count), float(copy_sum[h] / count)) for h in range(horizons)]


def horizon_table(rows: list[HorizonRow]) -> str:
    """A markdown table of the rows."""
    lines = ["| horizon | predictor L1 | copy-last-frame L1 | ratio |", "|---|---|---|---|"]
    lines += [f"| {r.horizon} | {r.model:.4f} | {r.copy_last:.4f} | {r.ratio:.2f} |" for r in rows]
    return "\n".join(lines)
