"""Refining a sub-goal by observation: small probing moves kept when the observed distance to the sub-goal image
falls (a pattern search on the encoder's energy of the real camera frames, no model).

Why: at the image just over the object the learned predictor sees only 15-25% of the energy contrast of a 1 cm
sideways error (``benchmarks/descent_check.py``), so the planner stops 1-2 cm off centre and the descent knocks the
cup over. The encoder itself sees it sharply: posed 5 mm to the side of the *over* image the observed distance is
0.06, 1 cm to the side 0.09-0.13, against 0.01 on the spot (``runs/s13/over_landscape.py``, README). Probing uses
what the encoder sees, one real step per probe: the energy stays visual, nothing privileged.

The search, per axis (in the order given; robot base frame): a step of ``step`` metres one way; while the observed
distance keeps falling (by the fraction ``min_gain``) the next step goes on, twice as long (up to ``max_step``);
when the first step does not help, the other way (two steps back: one past the start); the move that did not help
is undone. Along z from an image over the object to one around it, that is a straight descent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class RefineConfig:
    step: float = 0.005
    """the first probe step (m); each further step that keeps helping doubles, up to ``max_step``"""
    max_step: float = 0.02
    """the largest step (m)"""
    max_steps: int = 12
    """probing moves at most per refinement (undoing a move that did not help is not counted)"""
    min_gain: float = 0.02
    """a move counts as better when the observed distance falls by at least this fraction"""

    def __post_init__(self) -> None:
        if not 0.0 < self.step <= self.max_step <= 0.05 or self.max_steps < 1 or not 0.0 <= self.min_gain < 1.0:
            raise ValueError(f"need 0 < step <= max_step <= 0.05 m, max_steps >= 1 and 0 <= min_gain < 1, got "
                             f"{self.step}, {self.max_step}, {self.max_steps}, {self.min_gain}")  # fmt: skip


class PatternSearch:
    """The probing moves of one refinement: :meth:`start` with the axes and the observed distance, then
    :meth:`next_action` with the distance observed after each executed move, until it returns None (done)."""

    def __init__(self, config: RefineConfig) -> None:
        self.config = config
        self.best = float("inf")
        self.steps = 0
        self._axes: tuple[int, ...] = ()
        self._axis = 0
        self._last = 0.0
        self._phase = "done"

    @property
    def active(self) -> bool:
        return self._phase != "done"

    def start(self, axes: tuple[int, ...], distance: float) -> NDArray[np.float64] | None:
        """Begin probing the translation ``axes`` (0 = x, 1 = y, 2 = z, in order) at the observed ``distance``;
        returns the first move (None if there is nothing to do)."""
        if any(a not in (0, 1, 2) for a in axes):
            raise ValueError(f"axes must be translation axes among 0, 1, 2, got {axes}")
        self.best, self.steps, self._axes, self._axis = distance, 0, tuple(axes), 0
        if not self._axes:
            self._phase = "done"
            return None
        self._phase = "probe"
        return self._move(self.config.step)

    def next_action(self, distance: float) -> NDArray[np.float64] | None:
        """The next move after one that led to the observed ``distance``; None when the search is over."""
        cfg = self.config
        improved = distance < (1.0 - cfg.min_gain) * self.best
        if improved:
            self.best = distance
        if self._phase in ("probe", "probe_back", "go") and improved:  # keep going that way, faster
            self._phase = "go"
            return self._move(float(np.sign(self._last)) * min(2 * abs(self._last), cfg.max_step))
        if self._phase == "probe":  # the first step did not help: the other way, one step past the start
            self._phase = "probe_back"
            action = self._move(-2 * cfg.step)
            self._last = -cfg.step  # where it stands now, seen from the start: one step the other way
            return action
        if self._phase in ("probe_back", "go"):  # undo the move that did not help (back to the best place seen)
            self._phase = "undo"
            return self._move(-self._last, undo=True)
        # an undo was executed: back where the best distance was seen, measured again; then the next axis
        self.best = distance
        self._axis += 1
        if self._axis >= len(self._axes):
            self._phase = "done"
            return None
        self._phase = "probe"
        return self._move(cfg.step)

    def _move(self, size: float, undo: bool = False) -> NDArray[np.float64] | None:
        """A move of ``size`` metres along the current axis; a probe once the budget is spent ends the search
        instead (None). Undoing is always allowed."""
        if not undo and self.steps >= self.config.max_steps:
            self._phase = "done"
            return None
        if not undo:
            self.steps += 1
        self._last = size
        action = np.zeros(7)
        action[self._axes[self._axis]] = size
        return action
