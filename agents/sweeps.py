"""Planning-budget sweeps: success and planning time of the MPC agent against horizon and sample budget.

Every setting faces the same seeded layouts (trial i of a cell uses env seed ``seed + i``), so differences come
from the planner's budget alone. Used by ``notebooks/planning_horizons.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agents.drivers.sim import SimDriver
from agents.evaluate import TrialResult, evaluate, wilson_ci95
from agents.mpc import MPCAgent, MPCConfig
from agents.policies import Agent, MPCPolicy
from envs.registration import ENV_IDS
from jepa_sim.encoders.base import FrozenEncoder
from jepa_sim.planning import CEM, ActionBounds, CEMConfig
from jepa_sim.predictor.model import ACPredictor


@dataclass(frozen=True)
class Budget:
    """One planner setting of a sweep (CEM; ``topk`` = the paper's elite fraction, samples // 6, at least 2)."""

    horizon: int
    samples: int
    iterations: int = 3

    @property
    def label(self) -> str:
        return f"H{self.horizon} K{self.samples} I{self.iterations}"

    def planner(self, bounds: ActionBounds) -> CEM:
        topk = max(2, self.samples // 6)
        return CEM(CEMConfig(horizon=self.horizon, samples=self.samples, topk=topk, iterations=self.iterations), bounds)


@dataclass(frozen=True)
class SweepPoint:
    task: str
    object: str
    budget: Budget
    successes: int
    trials: int
    plan_seconds: float
    """mean time per replanning step (encode + plan)"""

    @property
    def success_rate(self) -> float:
        return self.successes / self.trials

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_ci95(self.successes, self.trials)


def planning_sweep(
    encoder: FrozenEncoder,
    predictor: ACPredictor,
    budgets: Sequence[Budget],
    cells: Sequence[tuple[str, str]],
    trials: int,
    seed: int = 1000,
    bounds: ActionBounds | None = None,
    image_size: int = 128,
    on_trial: Callable[[TrialResult], None] | None = None,
) -> list[SweepPoint]:
    """Run ``trials`` episodes of the MPC agent for every budget on every (task, object) cell."""
    if trials < 1 or not budgets or not cells:
        raise ValueError(f"need trials >= 1, budgets and cells; got {trials}, {list(budgets)}, {list(cells)}")
    for budget in budgets:
        if not 1 <= budget.horizon <= predictor.config.max_steps:
            raise ValueError(f"horizon {budget.horizon} is outside 1..{predictor.config.max_steps} of the predictor")
    by_label = {b.label: b for b in budgets}
    if len(by_label) != len(budgets):
        raise ValueError("the budgets repeat a setting")
    bounds = bounds or ActionBounds()

    def make_agent(label: str, task: str, obj: str, driver: SimDriver) -> Agent:
        config = MPCConfig(views=predictor.config.views)  # the predictor's views (the shipped one: exterior)
        return MPCPolicy(MPCAgent(encoder, predictor, by_label[label].planner(bounds), config))

    results = evaluate(
        [(ENV_IDS[task], task, obj) for task, obj in cells],
        list(by_label),
        trials,
        seed,
        lambda env_id, obj: SimDriver.make(
            env_id, obj, image_size=image_size, wrist_camera="wrist" in predictor.config.views
        ),
        make_agent,
        record=0,
        on_trial=on_trial,
    )
    points = []
    for task, obj in cells:
        for label, budget in by_label.items():
            rows = [r for r in results if (r.task, r.object, r.method) == (task, obj, label)]
            seconds = sum(r.plan_seconds for r in rows) / len(rows)
            points.append(SweepPoint(task, obj, budget, sum(r.success for r in rows), len(rows), seconds))
    return points


def sweep_markdown(points: Sequence[SweepPoint]) -> str:
    """One row per cell and budget: success (with the 95% interval) and planning time per step."""
    lines = ["| task | object | horizon | samples | iterations | success | 95% CI | s/step |", "|---" * 8 + "|"]
    for p in points:
        lo, hi = p.ci95
        lines.append(
            f"| {p.task} | {p.object} | {p.budget.horizon} | {p.budget.samples} | {p.budget.iterations} | "
            f"{p.successes}/{p.trials} | {100 * lo:.0f}-{100 * hi:.0f}% | {p.plan_seconds:.3f} |"
        )
    return "\n".join(lines) + "\n"
