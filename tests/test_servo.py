"""Visual servoing on the observed energy (agents.servo): the compass search finds the bottom of a bowl, ends at
the best pose it saw within its move budget, and the MPC agent runs it on its servo sub-goals only."""

import numpy as np
import pytest
from test_encoders import tiny_vjepa2
from test_grasping import _ConstantModel

from agents.mpc import MPCAgent, MPCConfig
from agents.servo import AxisSearch, CompassSearch, GridSearch
from jepa_sim.encoders import load_encoder
from jepa_sim.planning import CEM, CEMConfig

TARGET = np.array([0.004, -0.003, 0.0])


def bowl(position: np.ndarray) -> float:
    return float(np.linalg.norm(position - TARGET))


def search(start: np.ndarray, method=CompassSearch, **kwargs):
    """Runs a search on the bowl from ``start``; returns it, the final position and the distances observed."""
    cs = method(bowl(start), **{"step": 0.01, "min_step": 0.005, "max_steps": 30, **kwargs})
    position, seen = start.copy(), [bowl(start)]
    while (move := cs.next(seen[-1])) is not None:
        position = position + move
        seen.append(bowl(position))
    return cs, position, seen


@pytest.mark.parametrize("start", [(0.02, 0.015, 0.0), (-0.013, 0.008, 0.0), (0.004, -0.003, 0.0)])
def test_the_search_ends_at_the_best_pose_it_saw_near_the_bottom(start):
    cs, position, seen = search(np.array(start))
    assert cs.done and cs.moves <= 30
    assert bowl(position) == pytest.approx(min(seen)) == pytest.approx(cs.best)  # ends where it was best
    np.testing.assert_allclose(position, np.array(start) + cs.offset, atol=1e-12)
    assert np.all(np.abs(position - TARGET)[:2] <= 0.005 / 2 + 1e-9)  # within half the last step per axis
    assert position[2] == start[2]  # horizontal only


@pytest.mark.parametrize("start", [(0.012, 0.008, 0.0), (-0.006, -0.009, 0.0), (0.004, -0.003, 0.0)])
def test_the_axis_search_lands_near_the_bottom_in_six_moves_a_round(start):
    cs, position, _ = search(np.array(start), AxisSearch, min_step=0.01, max_steps=6)
    assert cs.done and cs.moves == 6  # one round: +s, -s, to the parabola's bottom, per axis
    np.testing.assert_allclose(position, np.array(start) + cs.offset, atol=1e-12)
    assert bowl(position) < 0.004 and position[2] == start[2]
    two, position2, _ = search(np.array(start), AxisSearch, min_step=0.005, max_steps=12)
    assert two.moves == 12 and bowl(position2) <= bowl(position) + 1e-9  # a second round at half the step
    with pytest.raises(ValueError, match="max_steps"):
        AxisSearch(1.0, 0.01, 0.005, 2)


def test_the_search_keeps_to_its_move_budget_and_still_ends_at_its_best_pose():
    for budget in (2, 3, 5):
        cs, position, seen = search(np.array([0.03, 0.03, 0.0]), max_steps=budget)
        assert cs.moves <= budget
        assert bowl(position) == pytest.approx(min(seen))
    with pytest.raises(ValueError, match="max_steps"):
        CompassSearch(1.0, 0.01, 0.005, 1)
    with pytest.raises(ValueError, match="min_step"):
        CompassSearch(1.0, 0.01, 0.02, 10)


def test_a_nan_distance_counts_as_no_gain():
    cs = CompassSearch(0.5, 0.01, 0.01, 10)
    first = cs.next(0.5)
    assert first is not None
    second = cs.next(float("nan"))
    assert second is not None
    np.testing.assert_allclose(second, -2 * first)  # undone, and the opposite direction probed in the same move


@pytest.mark.parametrize("start", [(0.012, 0.008, 0.0), (-0.006, -0.009, 0.0), (0.004, -0.003, 0.0)])
def test_the_grid_search_fits_a_bowl_through_noise(start):
    rng = np.random.default_rng(1)

    def noisy(position):  # a quadratic bowl, 0.03 per cm^2, with noise as large as a 5 mm contrast (README)
        return 3e2 * float(np.sum((position - TARGET)[:2] ** 2)) + rng.normal(scale=0.005)

    start = np.array(start)
    gs = GridSearch(noisy(start), 0.01, 0.005, 10)
    position = start.copy()
    while (move := gs.next(noisy(position))) is not None:
        assert move[2] == 0.0 and np.all(np.abs(move) <= 0.02 + 1e-12)
        position = position + move
    assert gs.done and gs.moves == 9 and len(gs.seen) == 9
    np.testing.assert_allclose(position, start + gs.offset, atol=1e-12)
    assert np.linalg.norm((position - TARGET)[:2]) < 0.003  # within 3 mm, though single readings differ by 0.005
    flat = GridSearch(1.0, 0.01, 0.005, 10)  # one low reading among equal ones: it ends there
    for value in [1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        move = flat.next(value)
    assert np.allclose(flat.offset, [0.01, 0.0, 0.0])
    with pytest.raises(ValueError, match="max_steps"):
        GridSearch(1.0, 0.01, 0.005, 8)


@pytest.mark.parametrize("method", ["compass", "axis", "grid"])
def test_the_agent_servos_on_its_servo_sub_goals_then_moves_on(tmp_path, method):
    tiny_vjepa2(tmp_path)
    encoder = load_encoder(str(tmp_path), device="cpu")
    config = MPCConfig(advance_ratio=0.5, stall_steps=2, servo_subgoals=(1,), servo_step=0.01, servo_min_step=0.005,
                       servo_method=method)  # fmt: skip
    agent = MPCAgent(encoder, _ConstantModel(), CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
    rng = np.random.default_rng(0)
    agent.reset([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)])
    position = np.array([0.012, 0.0, 0.0])
    arrivals = {0: iter([1.0, 0.1]), 2: iter([1.0] * 40)}

    def distance(z, index):  # sub-goal 1 is a bowl around TARGET, reached at once by the ratio rule
        if index == 1:
            return 1.0 if not agent.history or agent.subgoal != 1 else bowl(position)
        return next(arrivals[index])

    agent.distance = distance
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for _ in range(25):
        action = agent.act(frame, np.zeros(7))
        if agent.log[-1].subgoal == 1 and agent.servo is not None:
            assert np.all(action[3:] == 0)  # a pure translation, the gripper unchanged
            position = position + action[:3]
    subgoals = [log.subgoal for log in agent.log]
    assert subgoals[:2] == [0, 1] and subgoals[-1] == 2 and 2 not in subgoals[: subgoals.index(2)]
    assert subgoals.count(1) >= 3  # it probed before it moved on
    assert np.all(np.abs(position - TARGET)[:2] <= 0.0025 + 1e-9)
    assert agent.servo is None and agent.servoed == {1}
    with pytest.raises(ValueError, match="servo_subgoals"):
        MPCConfig(servo_subgoals=(1,), servo_step=0.001, servo_min_step=0.005)
    with pytest.raises(ValueError, match="servo_method"):
        MPCConfig(servo_subgoals=(1,), servo_method="newton")
    for method, too_few in (("compass", 1), ("axis", 2), ("grid", 8)):  # each search's least moves
        with pytest.raises(ValueError, match="servo_steps at least the method's"):
            MPCConfig(servo_subgoals=(1,), servo_method=method, servo_steps=too_few)


def test_the_servo_can_compare_one_view_alone(tmp_path):
    tiny_vjepa2(tmp_path)
    encoder = load_encoder(str(tmp_path), device="cpu")
    model = _ConstantModel()
    model.views = ("exterior", "wrist")
    rng = np.random.default_rng(0)

    def image():
        return rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)

    goals = [{"exterior": image(), "wrist": image()} for _ in range(3)]
    frame = {"exterior": image(), "wrist": image()}
    z = {view: encoder.encode(frame[view][None])[0] for view in frame}
    distances = {}
    for servo_view in (None, "wrist"):
        config = MPCConfig(views=("exterior", "wrist"), stall_steps=2, servo_subgoals=(1,), servo_view=servo_view)
        agent = MPCAgent(encoder, model, CEM(CEMConfig(horizon=1, samples=4, topk=2, iterations=1)), config)
        agent.reset(goals)
        agent.subgoal = 1
        distances[servo_view] = agent._servo_distance(z)
    goal = encoder.encode(goals[1]["wrist"][None])[0]
    assert distances["wrist"] == pytest.approx(float((z["wrist"] - goal).abs().mean()), rel=1e-5)
    assert distances[None] == pytest.approx(agent.distance(z, 1), rel=1e-5) and distances[None] != distances["wrist"]
    with pytest.raises(ValueError, match="servo_view 'top'"):
        MPCConfig(views=("exterior", "wrist"), servo_subgoals=(1,), servo_view="top")
