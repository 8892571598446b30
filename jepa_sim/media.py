"""Writing videos and side-by-side frames for people to look at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jepa_sim.atomic import atomic_write


def write_video(path: Path, frames: Sequence[NDArray[Any]], fps: int) -> None:
    """An mp4 of uint8 (H, W, 3) frames, written atomically."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        imageio.mimsave(tmp, list(frames), fps=fps, macro_block_size=1)


def side_by_side(*images: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Images of the same height next to each other."""
    return np.concatenate(images, axis=1)
