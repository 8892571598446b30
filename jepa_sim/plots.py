"""Training-curve plots (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jepa_sim.atomic import atomic_write


def plot_curves(
    metrics: Sequence[dict[str, Any]], keys: Sequence[str], path: Path, title: str, log_y: bool = True
) -> Path:
    """One line per metric key against ``step`` (points where a key is missing are skipped); PNG or SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        for key in keys:
            points = [(m["step"], m[key]) for m in metrics if key in m]
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, label=key, marker="o" if len(points) < 30 else None, markersize=3)
        ax.set_xlabel("step")
        ax.set_title(title)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        with atomic_write(Path(path)) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return Path(path)
