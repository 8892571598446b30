"""The observation-driven refinement (agents.refine) on a synthetic energy, and its place in the agent's chain."""

from __future__ import annotations

import numpy as np
import pytest

from agents.refine import PatternSearch, RefineConfig
from jepa_sim.cli.planner_args import parse_refine


def search(
    start: np.ndarray, target: np.ndarray, axes: tuple[int, ...], config: RefineConfig
) -> tuple[np.ndarray, int]:
    """Run a pattern search on the distance |p - target| (L1, plus a floor); returns the end point and the moves."""
    pos = start.astype(float).copy()
    distance = lambda: float(np.abs(pos - target).sum()) + 0.01  # noqa: E731
    ps = PatternSearch(config)
    action, moves = ps.start(axes, distance()), 0
    while action is not None:
        assert np.count_nonzero(action) <= 1 and action[3:].tolist() == [0.0] * 4  # one translation axis at a time
        assert np.abs(action).max() <= config.max_step + 1e-12
        pos += action[:3]
        moves += 1
        action = ps.next_action(distance())
    assert not ps.active
    return pos, moves


@pytest.mark.parametrize("offset", [(0.012, -0.008, 0.0), (-0.02, 0.015, 0.0), (0.0, 0.0, 0.0), (0.003, 0.0, 0.0)])
def test_the_search_aligns_x_and_y_within_a_step(offset):
    target = np.array([0.5, 0.1, 0.12])
    end, moves = search(target + np.array(offset), target, (0, 1), RefineConfig(step=0.005, max_steps=12))
    assert np.abs(end[:2] - target[:2]).max() <= 0.005 + 1e-9 and end[2] == pytest.approx(target[2] + offset[2])
    assert moves <= 16


def test_along_z_it_descends_straight_and_fast():
    start, target = np.array([0.5, 0.1, 0.135]), np.array([0.5, 0.1, 0.055])  # 8 cm down, from *over* to *around*
    end, moves = search(start, target, (2,), RefineConfig(step=0.005, max_step=0.02, max_steps=12))
    assert abs(end[2] - target[2]) <= 0.005 + 1e-9 and end[:2].tolist() == start[:2].tolist()
    assert moves <= 9  # 0.5 + 1 + 2 + 2 + 2 cm down, one more that overshoots, undone


def test_the_budget_ends_the_search_and_bad_settings_are_refused():
    ps = PatternSearch(RefineConfig(step=0.005, max_steps=2))
    pos = 0.05  # far along x: every probe toward 0 helps, the budget stops it
    action = ps.start((0,), pos)
    while action is not None:
        pos += action[0]
        action = ps.next_action(abs(pos))
    assert ps.steps == 2 and not ps.active
    with pytest.raises(ValueError, match="max_step"):
        RefineConfig(step=0.03, max_step=0.02)
    with pytest.raises(ValueError, match="translation axes"):
        PatternSearch(RefineConfig()).start((3,), 0.1)


def test_the_refine_flag_names_sub_goals_and_axes():
    assert parse_refine("1:xy,2:z") == ((1, (0, 1)), (2, (2,)))
    assert parse_refine("") == ()
    for bad in ("1:xw", "x:1", "1:xx", "1:xy,1:z", "1"):
        with pytest.raises(ValueError, match="--refine"):
            parse_refine(bad)
