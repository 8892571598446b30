"""Multi-block 3D masks: rectangular blocks of the token grid, spanning every temporal slice of the clip.

A mask group (e.g. 8 blocks at spatial scale 0.15) gives each clip a *target* set (the union of its blocks,
what the predictor must predict) and a *context* set (everything else, what the context encoder sees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BlockSpec:
    """``num_blocks`` blocks per clip, each covering ``spatial_scale`` of a frame's token grid with an
    aspect ratio (height / width) drawn from ``aspect_ratio``, over a ``temporal_scale`` fraction of the
    clip's temporal slices (1.0: every slice, the V-JEPA default)."""

    num_blocks: int
    spatial_scale: float
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    temporal_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.num_blocks < 1:
            raise ValueError(f"num_blocks must be at least 1, got {self.num_blocks}")
        if not 0.0 < self.spatial_scale <= 1.0:
            raise ValueError(f"spatial_scale must be in (0, 1], got {self.spatial_scale}")
        if not 0.0 < self.temporal_scale <= 1.0:
            raise ValueError(f"temporal_scale must be in (0, 1], got {self.temporal_scale}")
        low, high = self.aspect_ratio
        if not 0.0 < low <= high:
            raise ValueError(f"aspect_ratio must be (low, high) with 0 < low <= high, got {self.aspect_ratio}")


DEFAULT_GROUPS: tuple[BlockSpec, ...] = (BlockSpec(8, 0.15), BlockSpec(2, 0.7))
"""V-JEPA's short-range (8 blocks at 0.15) and long-range (2 blocks at 0.7) groups (REFERENCES.md)"""


def block_shape(
    spec: BlockSpec, grid: tuple[int, int, int], generator: torch.Generator | None = None
) -> tuple[int, int, int]:
    """(depth, height, width) of one block: area ``spatial_scale`` of the frame grid, random aspect ratio."""
    depth, rows, cols = grid
    low, high = spec.aspect_ratio
    u = float(torch.rand((), generator=generator))
    aspect = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    area = spec.spatial_scale * rows * cols
    h = min(rows, max(1, round(math.sqrt(area * aspect))))
    w = min(cols, max(1, round(area / h)))
    d = min(depth, max(1, round(spec.temporal_scale * depth)))
    return d, h, w


def sample_target_mask(
    spec: BlockSpec, grid: tuple[int, int, int], batch: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Boolean ``(batch, depth, rows, cols)``: True where a token is masked (a target). All clips of the batch
    share one block shape (so their token counts are close); every clip places its blocks on its own."""
    depth, rows, cols = grid
    d, h, w = block_shape(spec, grid, generator)
    mask = torch.zeros(batch, depth, rows, cols, dtype=torch.bool)
    for b in range(batch):
        for _ in range(spec.num_blocks):
            t0 = int(torch.randint(0, depth - d + 1, (), generator=generator))
            r0 = int(torch.randint(0, rows - h + 1, (), generator=generator))
            c0 = int(torch.randint(0, cols - w + 1, (), generator=generator))
            mask[b, t0 : t0 + d, r0 : r0 + h, c0 : c0 + w] = True
    return mask


def _indices(selected: torch.Tensor, keep: int, generator: torch.Generator | None) -> torch.Tensor:
    """``keep`` sorted token indices per row of the boolean ``(batch, N)`` tensor, a random subset where a row
    has more (so every clip of a batch has the same count, as the encoder's batched attention needs)."""
    rows = []
    for row in selected:
        idx = row.nonzero().flatten()
        if idx.numel() > keep:
            idx = idx[torch.randperm(idx.numel(), generator=generator)[:keep]].sort().values
        rows.append(idx)
    return torch.stack(rows)


@dataclass(frozen=True)
class MaskPair:
    context: torch.Tensor
    """(B, Nc) token indices the context encoder sees"""
    target: torch.Tensor
    """(B, Nt) token indices the predictor predicts"""


class MultiBlockMasker:
    """One :class:`MaskPair` per block group for a batch of clips with a ``(depth, rows, cols)`` token grid.

    Tokens are numbered ``t * rows * cols + r * cols + c``, the order of ``transformers``' V-JEPA 2 patch
    embedding and of its 3D RoPE. A group that would leave fewer than ``min_context`` visible tokens drops
    blocks from the union until that many are visible.
    """

    def __init__(
        self, grid: tuple[int, int, int], groups: tuple[BlockSpec, ...] = DEFAULT_GROUPS, min_context: int = 4
    ) -> None:
        if not groups:
            raise ValueError("at least one mask group is needed")
        if min(grid) < 1:
            raise ValueError(f"token grid must be positive, got {grid}")
        total = grid[0] * grid[1] * grid[2]
        if not 1 <= min_context < total:
            raise ValueError(f"min_context must be in [1, {total}), got {min_context}")
        self.grid = grid
        self.groups = groups
        self.min_context = min_context

    def __call__(self, batch: int, generator: torch.Generator | None = None) -> list[MaskPair]:
        pairs = []
        for spec in self.groups:
            masked = sample_target_mask(spec, self.grid, batch, generator).flatten(1)  # (B, N)
            for b in range(batch):
                visible = int((~masked[b]).sum())
                if visible < self.min_context:  # unmask a random few so the context is never empty
                    hidden = masked[b].nonzero().flatten()
                    free = hidden[torch.randperm(hidden.numel(), generator=generator)[: self.min_context - visible]]
                    masked[b, free] = False
            n_context = int((~masked).sum(1).min())
            n_target = int(masked.sum(1).min())
            pairs.append(
                MaskPair(_indices(~masked, n_context, generator), _indices(masked, max(1, n_target), generator))
            )
        return pairs
