"""Two `jepa-sim eval` folders compared trial by trial on the seeds they share: does a setting change help?

Evaluations are deterministic per seed, so two agents run on the same seeds form pairs. Per cell (task, object,
method): successes of A and of B on the common seeds, the seeds only one of them solved, and the exact two-sided
McNemar p-value (a binomial test on the discordant pairs: how likely a split at least this uneven is if neither
agent is better). The settings that differ between the two folders are listed first.

    .venv/bin/python benchmarks/eval_pair.py runs/t50_cup runs/xyz04_grasp_cup
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from agents.evaluate import TrialResult


def read(folder: Path) -> tuple[dict[str, Any], dict[tuple[str, str, str], dict[int, bool]]]:
    """The settings of ``folder`` and its outcomes per cell and seed; SystemExit names an unreadable folder."""
    try:
        payload = json.loads((folder / "results.json").read_text())
        trials = [TrialResult.from_json(row) for row in payload.get("_trials", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"eval_pair: {folder}/results.json is missing or unreadable: {exc!r}") from exc
    cells: dict[tuple[str, str, str], dict[int, bool]] = {}
    for t in trials:
        cells.setdefault((t.task, t.object, t.method), {})[t.seed] = t.success
    return payload.get("_meta", {}), cells


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``planner.max_xyz``-style keys (so that a difference names the setting, not its group)."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value for ``only_a`` and ``only_b`` discordant pairs."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare(a: Path, b: Path) -> list[str]:
    """The report's lines."""
    meta_a, cells_a = read(a)
    meta_b, cells_b = read(b)
    skip = {"trials", "finished", "interrupted", "tasks", "objects", "methods"}
    flat_a, flat_b = flatten({k: v for k, v in meta_a.items() if k not in skip}), flatten(
        {k: v for k, v in meta_b.items() if k not in skip})  # fmt: skip
    differ = sorted(k for k in set(flat_a) | set(flat_b) if flat_a.get(k) != flat_b.get(k))
    lines = [f"A = {a}, B = {b}", "settings that differ: " + (
        "; ".join(f"{k}: {flat_a.get(k)!r} -> {flat_b.get(k)!r}" for k in differ) or "none")]  # fmt: skip
    lines += ["", "| cell | seeds | A | B | both | only A | only B | McNemar p |", "|---|---|---|---|---|---|---|---|"]
    shared = [cell for cell in cells_a if cell in cells_b]
    if not shared:
        raise SystemExit(f"eval_pair: {a} and {b} share no evaluated cell")
    for cell in shared:
        seeds = sorted(set(cells_a[cell]) & set(cells_b[cell]))
        if not seeds:
            continue
        sa = [s for s in seeds if cells_a[cell][s]]
        sb = [s for s in seeds if cells_b[cell][s]]
        only_a, only_b = sorted(set(sa) - set(sb)), sorted(set(sb) - set(sa))
        lines.append(f"| {' '.join(cell)} | {len(seeds)} | {len(sa)} | {len(sb)} | {len(set(sa) & set(sb))} | "
                     f"{len(only_a)} | {len(only_b)} | {mcnemar_p(len(only_a), len(only_b)):.3f} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="an evaluation folder (the reference)")
    parser.add_argument("b", type=Path, help="an evaluation folder (the change)")
    args = parser.parse_args()
    print("\n".join(compare(args.a, args.b)))


if __name__ == "__main__":
    main()
