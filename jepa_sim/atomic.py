"""Atomic file writes: write a temporary sibling, fsync it, rename it over the target.

A crash or kill at any moment leaves either the old file or the new one, never half of one; leftovers of
interrupted writes match :data:`LEFTOVER_GLOB` and are safe to delete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LEFTOVER_GLOB = ".*.tmp.*"


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written first: hidden, with the same suffix (so imageio still picks the format)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``path`` only if the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files that interrupted writes left in ``folder``; returns them."""
    leftovers = sorted(Path(folder).glob(LEFTOVER_GLOB))
    for leftover in leftovers:
        leftover.unlink()
    return leftovers


@contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """Yield an empty staging folder to fill; it replaces ``folder`` (by renames) only if the block finishes
    without error, so a crash leaves the old folder or the new one (or ``.NAME.old`` beside it), never a mix."""
    folder = Path(folder)
    staging, old = folder.with_name(f".{folder.name}.tmp"), folder.with_name(f".{folder.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
