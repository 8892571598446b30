"""Seeded trials of agents on the simulated tasks, and the success table in the layout of the paper's Table 2.

Trial i of every (task, object) cell uses env seed ``seed + i`` for every method, so all methods face the
same object positions, goals and start poses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.drivers.sim import SimDriver
from agents.policies import Agent, MPCPolicy
from jepa_sim.atomic import atomic_write
from jepa_sim.media import side_by_side

COLUMNS: tuple[tuple[str, str | None, str], ...] = (
    ("reach", None, "Reach"),
    ("grasp", "cup", "Grasp cup"),
    ("grasp", "box", "Grasp box"),
    ("reach_with_object", "cup", "Reach w/ obj cup"),
    ("reach_with_object", "box", "Reach w/ obj box"),
    ("pick_and_place", "cup", "Pick-&-place cup"),
    ("pick_and_place", "box", "Pick-&-place box"),
    ("grasp_and_carry", "cup", "Grasp & carry cup"),
    ("grasp_and_carry", "box", "Grasp & carry box"),
)
"""the paper's columns (reach pools both objects; reach with object starts held, as in the paper), then
grasp-and-carry, which has no paper cell (it is the grasp followed by the carry)"""


@dataclass
class TrialResult:
    task: str
    object: str
    method: str
    seed: int
    success: bool
    steps: int
    plan_seconds: float
    """mean time to choose one action"""
    goal_trace: list[int] = field(default_factory=list)
    """the (sub)goal the agent pursued at each step (``Agent.goal_index``; -1 = the last): where a chain stops"""
    gripper_trace: list[float] = field(default_factory=list)
    """the gripper change the agent commanded at each step (+1 close, -1 open with a snapped gripper)"""
    grasped_trace: list[bool] = field(default_factory=list)
    """whether the simulator saw the object held after each step (privileged; for diagnosis, never for the
    agent): where a grasp was made and where it was lost"""
    distance_trace: list[float] = field(default_factory=list)
    """the MPC agent's distance to the (sub)goal it pursued at each step (the energy it advances on; empty for
    agents without one): why it moved on, or went back"""
    frames: list[NDArray[np.uint8]] = field(default_factory=list, repr=False)
    """camera | current goal image, one per step (recorded trials only)"""

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.task, self.object, self.method, self.seed)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> TrialResult:
        """A finished trial as ``results.json`` stores it."""
        return cls(row["task"], row["object"], row["method"], int(row["seed"]), bool(row["success"]),
                   int(row["steps"]), float(row["plan_seconds"]), list(row.get("goal_trace", [])),
                   [float(g) for g in row.get("gripper_trace", [])],
                   [bool(g) for g in row.get("grasped_trace", [])],
                   [float(d) for d in row.get("distance_trace", [])])  # fmt: skip


def run_trial(driver: SimDriver, agent: Agent, seed: int, record: bool = False) -> TrialResult:
    """One closed-loop episode until the env ends it (task, object and method left blank for the caller)."""
    obs = driver.reset(seed)
    goals = driver.goal_views()
    agent.reset(goals, obs, seed=seed)

    def frame() -> NDArray[np.uint8]:  # the camera views beside the current (sub)goal's
        return side_by_side(*obs.views().values(), *goals[agent.goal_index].values())

    frames = [frame()] if record else []
    trace: list[int] = []
    gripper: list[float] = []
    grasped: list[bool] = []
    distances: list[float] = []
    while not driver.done:
        action = agent.act(obs)
        trace.append(int(agent.goal_index))
        if isinstance(agent, MPCPolicy):
            distances.append(round(agent.distance, 4))
        gripper.append(round(float(action[6]), 3))
        driver.send_action(action)
        obs = driver.get_observation()
        grasped.append(bool(obs.extras.get("info", {}).get("grasped", False)))
        if record:
            frames.append(frame())
    seconds = float(np.mean(agent.plan_seconds)) if agent.plan_seconds else 0.0
    return TrialResult("", "", "", seed, driver.success, driver.steps, seconds, trace, gripper, grasped, distances,
                       frames)  # fmt: skip


def wilson_ci95(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95%)."""
    if n == 0:
        return (0.0, 1.0)
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(results: Sequence[TrialResult]) -> dict[str, Any]:
    """``{task: {object: {method: {"success_rate", "n", "ci95", "mean_plan_seconds"}}}}``."""
    cells: dict[tuple[str, str, str], list[TrialResult]] = {}
    for r in results:
        cells.setdefault((r.task, r.object, r.method), []).append(r)
    summary: dict[str, Any] = {}
    for (task, obj, method), rows in cells.items():
        k = sum(r.success for r in rows)
        summary.setdefault(task, {}).setdefault(obj, {})[method] = {
            "success_rate": k / len(rows),
            "n": len(rows),
            "ci95": list(wilson_ci95(k, len(rows))),
            "mean_plan_seconds": float(np.mean([r.plan_seconds for r in rows])),
        }
    return summary


def column_rate(summary: dict[str, Any], task: str, obj: str | None, method: str) -> tuple[int, int] | None:
    """(successes, trials) of one paper column for one method, or None when it was not run."""
    objects = [obj] if obj is not None else list(summary.get(task, {}))
    cells = [summary[task][o][method] for o in objects if method in summary.get(task, {}).get(o, {})]
    if not cells:
        return None
    return round(sum(c["success_rate"] * c["n"] for c in cells)), sum(c["n"] for c in cells)


def evaluated_columns(summary: dict[str, Any], methods: Sequence[str]) -> list[tuple[str, str | None, str]]:
    """The paper's columns (:data:`COLUMNS`) that any of ``methods`` was evaluated on (all of them when none was)."""
    return [c for c in COLUMNS if any(column_rate(summary, c[0], c[1], m) for m in methods)] or list(COLUMNS)


def results_markdown(summary: dict[str, Any], methods: Sequence[str]) -> str:
    """The success table in the paper's layout, one row per method (success % and trials); columns no method was
    evaluated on are left out."""
    columns = evaluated_columns(summary, methods)
    header = "| Method | " + " | ".join(label for _, _, label in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for method in methods:
        cells = []
        for task, obj, _ in columns:
            rate = column_rate(summary, task, obj, method)
            cells.append("-" if rate is None else f"{100 * rate[0] / rate[1]:.0f}% ({rate[1]})")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_results(summary: dict[str, Any], methods: Sequence[str], path: Path) -> Path:
    """Grouped bars: success per paper column, one bar per method, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / max(1, len(methods))
    for m, method in enumerate(methods):
        xs, ys, lo, hi = [], [], [], []
        for c, (task, obj, _) in enumerate(COLUMNS):
            rate = column_rate(summary, task, obj, method)
            if rate is None:
                continue
            p = rate[0] / rate[1]
            low, high = wilson_ci95(*rate)
            xs.append(c + (m - (len(methods) - 1) / 2) * width)
            ys.append(100 * p)
            lo.append(100 * max(0.0, p - low))  # the interval holds p; rounding may put it a hair outside
            hi.append(100 * max(0.0, high - p))
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=method)
    ax.set_xticks(range(len(COLUMNS)), [label for _, _, label in COLUMNS], rotation=15)
    ax.set_ylabel("success %")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_results(
    results: Sequence[TrialResult], methods: Sequence[str], out: Path, meta: dict[str, Any], plot: bool = True
) -> None:
    """``results.json`` (summary, per-trial rows, settings), ``results.md`` and (``plot``) ``results.png``."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    trials = [{k: v for k, v in asdict(r).items() if k != "frames"} for r in results]
    payload = {**summary, "_meta": meta, "_trials": trials}
    with atomic_write(out / "results.json") as tmp:
        tmp.write_text(json.dumps(payload, indent=1) + "\n")
    with atomic_write(out / "results.md") as tmp:
        tmp.write_text(results_markdown(summary, methods))
    if plot:
        plot_results(summary, methods, out / "results.png")


def evaluate(
    cells: Sequence[tuple[str, str, str]],
    methods: Sequence[str],
    trials: int,
    seed: int,
    make_driver: Callable[[str, str], SimDriver],
    make_agent: Callable[[str, str, str, SimDriver], Agent],
    record: int = 1,
    on_trial: Callable[[TrialResult], None] | None = None,
    done: Sequence[TrialResult] = (),
    record_all: bool = False,
) -> list[TrialResult]:
    """Run ``trials`` seeded trials of every method on every ``(env_id, task, object)`` cell; the first
    ``record`` trials of each cell and method keep their frames (every trial with ``record_all``, for a caller
    that picks which to keep in ``on_trial``). ``make_agent(method, task, object, driver)`` is called once per
    cell and method. Trials in ``done`` (a resumed evaluation) are kept, not rerun."""
    finished = {r.key: r for r in done}
    results: list[TrialResult] = []
    for env_id, task, obj in cells:
        todo = [(m, i) for m in methods for i in range(trials) if (task, obj, m, seed + i) not in finished]
        results += [finished[task, obj, m, seed + i] for m in methods for i in range(trials)
                    if (task, obj, m, seed + i) in finished]  # fmt: skip
        if not todo:
            continue
        driver = make_driver(env_id, obj)
        try:
            for method in methods:
                runs = [i for m, i in todo if m == method]
                if not runs:
                    continue
                agent = make_agent(method, task, obj, driver)
                for i in runs:
                    result = run_trial(driver, agent, seed + i, record=record_all or i < record)
                    result.task, result.object, result.method = task, obj, method
                    results.append(result)
                    if on_trial is not None:
                        on_trial(result)
        finally:
            driver.close()
    return results
