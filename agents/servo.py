"""Visual servoing on the energy: a compass search that moves the real arm and reads the *observed* distance.

Near the object the learned predictor's energy is nearly flat: a 1 cm sideways error raises the predicted distance
to the chain's *over* image by 0.001-0.023, while the frames the cameras actually see move it by 0.024-0.088
(README, *Success in sim*). The encoder sees the error; the predictor does not. So where a sub-goal needs
millimetres (the last alignment over the cup, whose fingers have 8 mm to spare), the agent can stop imagining and
measure: move a little, encode what the cameras see, keep the move if the distance to the sub-goal image fell,
undo it otherwise. :class:`CompassSearch` is that loop (a pattern search, Hooke and Jeeves' simplest form): it
probes +x, -x, +y, -y in turn with one step size, keeps going in a direction while it helps, halves the step when
no direction helps, and ends below ``min_step`` or after ``max_steps`` moves, back at the best pose it saw.

Each probe costs one control step. It uses nothing but the images and the sub-goal image: the energy stays
visual. An undo and the next probe are one move (back ``-s d_i`` plus ``+s d_{i+1}``: from +x straight to -x).

:class:`AxisSearch` spends its moves differently: per horizontal axis it observes the distance at ``+s`` and
``-s`` of where it is and moves to the bottom of the parabola through the three (within ``+-s``): three moves per
axis, six per round, each round at half the last step while ``min_step`` and the budget allow. Where the
compass search spends 9 moves to confirm that a pose that is already centred is centred, this one spends 6 and
lands between its probes.

:class:`GridSearch` averages instead of trusting single observations: the observed distance at one pose varies by
up to 0.015 between visits (the arm reaches it in a slightly different configuration), as much as a 5 mm probe's
contrast, so a record low is partly luck (pick-and-place cup seed 1104: the compass search ended 2 cm off the cup
and the close knocked it away). It walks a 3 x 3 grid of ``step`` spacing around the start (8 moves, a spiral),
fits a quadratic surface to the 9 distances by least squares and moves to its bottom (within the grid), or to the
lowest of the 9 when the fit is no bowl: 9 moves.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
from numpy.typing import NDArray

DIRECTIONS: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0))
"""the probe directions in order: horizontal only (the height comes from the sub-goal's own descent)"""


class _Search:
    """What both searches share: their bounds, the moves made, where they have moved the arm, and whether they are
    over. ``least``: the fewest moves a search needs to make sense."""

    least = 2

    def __init__(self, start_distance: float, step: float, min_step: float, max_steps: int) -> None:
        if not 0.0 < min_step <= step:
            raise ValueError(f"need 0 < min_step <= step, got {min_step}, {step}")
        if max_steps < self.least:
            raise ValueError(f"max_steps must be >= {self.least}, got {max_steps}")
        if not np.isfinite(start_distance):
            raise ValueError(f"the start distance must be finite, got {start_distance}")
        self.best = float(start_distance)
        """the distance observed at the pose the search has settled on (the compass search: the lowest seen)"""
        self.step, self.min_step, self.max_steps = step, min_step, max_steps
        self.moves = 0
        """moves returned so far"""
        self.offset = np.zeros(3)
        """the pose the search has settled on, relative to the start (m)"""
        self._finished = False

    @property
    def done(self) -> bool:
        return self._finished


class CompassSearch(_Search):
    """One search: ``next(distance)`` after every move (the distance observed at the pose it led to) returns the
    next translation (3,) in metres, or None when the search is over and the arm is at the best pose seen."""

    least = 2  # a probe and its undo

    def __init__(self, start_distance: float, step: float, min_step: float, max_steps: int) -> None:
        super().__init__(start_distance, step, min_step, max_steps)
        self._direction = 0
        self._failures = 0  # directions tried without a gain at this step size
        self._pending: NDArray[np.float64] | None = None  # the probe made by the last move

    def next(self, distance: float) -> NDArray[np.float64] | None:
        """The next move after observing ``distance`` at the pose the last move led to (None: the search is over)."""
        if self._finished:
            return None
        undo = np.zeros(3)
        if self._pending is not None:
            if np.isfinite(distance) and distance < self.best:  # keep it, go on that way
                self.best = float(distance)
                self.offset = self.offset + self._pending
                self._failures = 0
            else:  # undo it, try the next direction
                undo = -self._pending
                self._failures += 1
                self._direction = (self._direction + 1) % len(DIRECTIONS)
                if self._failures >= len(DIRECTIONS):  # no direction helps at this size
                    self.step /= 2.0
                    self._failures = 0
            self._pending = None
        if self.step < self.min_step - 1e-12 or self.moves + 2 > self.max_steps:  # a probe keeps a move to undo it
            self._finished = True
            if undo.any():  # back to the best pose, then over
                self.moves += 1
                return undo
            return None
        probe = self.step * np.asarray(DIRECTIONS[self._direction], dtype=np.float64)
        self._pending = probe
        self.moves += 1
        return undo + probe


class AxisSearch(_Search):
    """The same interface as :class:`CompassSearch`: ``next(distance)`` after every move returns the next move (3,)
    or None when the search is over. Per axis: probe ``+s``, probe ``-s``, move to the parabola's bottom."""

    least = 3  # one axis: two probes and the move to the bottom

    def __init__(self, start_distance: float, step: float, min_step: float, max_steps: int) -> None:
        super().__init__(start_distance, step, min_step, max_steps)
        self._search = self._run()
        self._started = False

    def next(self, distance: float) -> NDArray[np.float64] | None:
        if self._finished:
            return None
        try:
            move = self._search.send(float(distance)) if self._started else next(self._search)
        except StopIteration:
            self._finished = True
            return None
        self._started = True
        self.moves += 1
        return move

    def _run(self) -> Generator[NDArray[np.float64], float, None]:
        step, here = self.step, self.best
        while step >= self.min_step - 1e-12 and self.moves + 3 <= self.max_steps:
            for axis in (0, 1):
                if self.moves + 3 > self.max_steps:
                    return
                unit = np.zeros(3)
                unit[axis] = 1.0
                plus = yield step * unit
                minus = yield -2.0 * step * unit
                plus, minus = (v if np.isfinite(v) else np.inf for v in (plus, minus))
                curvature = plus - 2.0 * here + minus
                if np.isfinite(curvature) and curvature > 0:  # a bowl: its bottom, within the probes
                    t = float(np.clip(step * (minus - plus) / (2.0 * curvature), -step, step))
                else:  # no bowl: the lowest of the three
                    t = min(((here, 0.0), (plus, step), (minus, -step)))[1]
                here = yield (t + step) * unit  # from -s to t
                self.offset = self.offset + t * unit
                self.best = here if np.isfinite(here) else self.best
            step /= 2.0


GRID: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
""":class:`GridSearch`'s poses in steps from the start, in the order visited (a spiral: one step between each)"""


class GridSearch(_Search):
    """The same interface as :class:`CompassSearch`. Visits :data:`GRID` (``min_step`` is not used: one size),
    then moves to the bottom of the quadratic fitted to what it saw there."""

    least = len(GRID)  # 8 moves over the grid and the move to the bottom

    def __init__(self, start_distance: float, step: float, min_step: float, max_steps: int) -> None:
        super().__init__(start_distance, step, min_step, max_steps)
        self.seen = [float(start_distance)]
        """the distances observed at the poses of :data:`GRID`, in order"""
        self._ended = False  # the move to the bottom is made: the next distance is the last

    def next(self, distance: float) -> NDArray[np.float64] | None:
        if self._finished:
            return None
        if self._ended:
            self.best = float(distance) if np.isfinite(distance) else self.best
            self._finished = True
            return None
        if self.moves > 0:
            self.seen.append(float(distance) if np.isfinite(distance) else np.inf)
        here = np.array(GRID[len(self.seen) - 1], dtype=np.float64)
        if len(self.seen) < len(GRID):
            target = np.array(GRID[len(self.seen)], dtype=np.float64)
        else:
            target = self.bottom()
            self._ended = True
            self.offset = np.array([target[0], target[1], 0.0]) * self.step
        self.moves += 1
        return np.array([*(target - here) * self.step, 0.0])

    def bottom(self) -> NDArray[np.float64]:
        """Where the quadratic fitted to :attr:`seen` is lowest, in steps from the start within +-1 per axis; the
        lowest pose seen when fewer than 6 distances are finite or the fit is not a bowl."""
        poses, values = np.array(GRID[: len(self.seen)], dtype=np.float64), np.array(self.seen)
        finite = np.isfinite(values)
        lowest = poses[int(np.argmin(values))]
        if finite.sum() < 6:
            return lowest
        x, y = poses[finite, 0], poses[finite, 1]
        design = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)
        _, bx, by, cxx, cyy, cxy = np.linalg.lstsq(design, values[finite], rcond=None)[0]
        hessian = np.array([[2 * cxx, cxy], [cxy, 2 * cyy]])
        if cxx <= 0 or cyy <= 0 or np.linalg.det(hessian) <= 0:
            return lowest
        return np.clip(np.linalg.solve(hessian, -np.array([bx, by])), -1.0, 1.0)


Search = CompassSearch | AxisSearch | GridSearch
SEARCHES: dict[str, type[Search]] = {"compass": CompassSearch, "axis": AxisSearch, "grid": GridSearch}
"""the searches by the name ``MPCConfig.servo_method`` gives them"""
