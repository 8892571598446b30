"""One success table from several `jepa-sim eval` folders, e.g. an evaluation run as one process per object.

Each cell: successes / trials, the success rate and its Wilson 95% interval, in the paper's column layout (reach
pools both objects), with the paper's real-robot V-JEPA 2-AC row beneath. The folders must hold different cells
(or the same cells with different seeds) evaluated with the same settings and checkpoints: folders whose
settings differ are refused; a trial found in two folders counts once if its outcome is the same in both (an
evaluation is deterministic) and is refused otherwise.

    .venv/bin/python benchmarks/eval_table.py runs/eval_cup runs/eval_box
    .venv/bin/python benchmarks/eval_table.py runs/eval_cup runs/eval_box --plot runs/table.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agents.evaluate import TrialResult, column_rate, evaluated_columns, plot_results, summarize, wilson_ci95

PAPER = {"Reach": 100, "Grasp cup": 65, "Grasp box": 25, "Reach w/ obj cup": 75, "Reach w/ obj box": 75,
         "Pick-&-place cup": 80, "Pick-&-place box": 65}  # fmt: skip
"""V-JEPA 2-AC on the real Franka, the paper's Table 2 (%)"""

PER_FOLDER = {"tasks", "objects", "methods", "trials", "finished", "interrupted"}
"""settings that may differ between the folders of one table"""


def load(folders: list[Path]) -> tuple[list[TrialResult], list[str]]:
    """Every trial of ``folders`` and the methods in order; SystemExit names a folder that does not fit."""
    trials: dict[tuple[str, str, str, int], TrialResult] = {}
    methods: list[str] = []
    reference: dict[str, Any] | None = None
    for folder in folders:
        try:
            payload = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"eval_table: {folder}/results.json is missing or unreadable: {exc}") from exc
        meta = {k: v for k, v in payload.get("_meta", {}).items() if k not in PER_FOLDER}
        if reference is None:
            reference = meta
        elif meta != reference:
            differ = sorted(k for k in set(meta) | set(reference) if meta.get(k) != reference.get(k))
            raise SystemExit(f"eval_table: {folder} was evaluated with other settings ({', '.join(differ)} differ)")
        for method in payload.get("_meta", {}).get("methods", []):
            if method not in methods:
                methods.append(method)
        for row in payload.get("_trials", []):
            trial = TrialResult.from_json(row)
            twin = trials.get(trial.key)
            if twin is not None and (twin.success, twin.steps) != (trial.success, trial.steps):
                raise SystemExit(
                    f"eval_table: {folder} holds trial {trial.key} with another outcome than an "
                    "earlier folder (evaluations are deterministic: were the settings the same?)"
                )
            trials[trial.key] = trial  # the same trial twice (an evaluation resumed elsewhere) counts once
    return list(trials.values()), methods


def table(summary: dict[str, Any], methods: list[str]) -> str:
    """Markdown: one row per method and the paper's, a cell per paper column that any method has."""
    columns = evaluated_columns(summary, methods)
    lines = ["| Method | " + " | ".join(label for *_, label in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for method in methods:
        cells = []
        for task, obj, _ in columns:
            rate = column_rate(summary, task, obj, method)
            if rate is None:
                cells.append("-")
                continue
            lo, hi = wilson_ci95(*rate)
            cells.append(f"{rate[0]}/{rate[1]} = {100 * rate[0] / rate[1]:.0f}% ({100 * lo:.0f}-{100 * hi:.0f}%)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    paper = [f"*{PAPER[label]}%*" if label in PAPER else "-" for *_, label in columns]
    lines.append("| *paper, V-JEPA 2-AC (real robot)* | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="`jepa-sim eval` output folders")
    parser.add_argument("--plot", type=Path, default=None, help="also draw the bars with 95%% intervals here")
    args = parser.parse_args()
    trials, methods = load(args.folders)
    summary = summarize(trials)
    print(table(summary, methods))
    if args.plot is not None:
        print(f"wrote {plot_results(summary, methods, args.plot)}")


if __name__ == "__main__":
    main()
