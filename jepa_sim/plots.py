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


AXIS_NAMES = ("x", "y", "z")


def draw_energy_landscape(
    ax: Any,
    first: Sequence[float],
    second: Sequence[float],
    energies: Any,
    axes: tuple[int, int] = (0, 1),
    true_action: Sequence[float] | None = None,
) -> tuple[float, float]:
    """Draw :func:`jepa_sim.planning.energy.energy_landscape`'s grid on a matplotlib ``ax`` (no backend
    change, so it works inline in notebooks): filled contours, the minimum as a star and, given the 7-float
    ``true_action``, its position as a cross. Returns the (first, second) action at the minimum."""
    import numpy as np

    grid = np.asarray(energies, dtype=float)
    xs, ys = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if grid.shape != (len(xs), len(ys)):
        raise ValueError(f"energies must be ({len(xs)}, {len(ys)}), got {grid.shape}")
    filled = ax.contourf(xs * 100, ys * 100, grid.T, levels=20, cmap="viridis")
    ax.figure.colorbar(filled, ax=ax, label="energy (latent L1 to goal)")
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    ax.plot(xs[i] * 100, ys[j] * 100, marker="*", color="red", markersize=14, linestyle="", label="minimum")
    if true_action is not None:
        ax.plot(true_action[axes[0]] * 100, true_action[axes[1]] * 100, marker="x", color="white",
                markersize=11, markeredgewidth=2.5, linestyle="", label="true action")  # fmt: skip
    ax.set_xlabel(f"Δ{AXIS_NAMES[axes[0]]} (cm)")
    ax.set_ylabel(f"Δ{AXIS_NAMES[axes[1]]} (cm)")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    return float(xs[i]), float(ys[j])
