"""The safety clamp: unit tests and a hypothesis fuzz over arbitrary finite floats."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from agents.safety import SafetyLimits, SafetyResult, UnsafeActionError, clamp_action
from envs.config import ControlConfig
from jepa_sim.geometry import apply_action

LIMITS = SafetyLimits()
LOW = np.array(LIMITS.workspace_low)
HIGH = np.array(LIMITS.workspace_high)
CENTRE = np.array([0.45, 0.0, 0.15, 0.0, 0.0, 0.3, 0.5])


def in_limits(action: NDArray[np.float64], state: NDArray[np.float64], limits: SafetyLimits) -> bool:
    """Whether ``action`` at ``state`` is within every limit (the clamp must then leave it alone)."""
    low, high = np.array(limits.workspace_low), np.array(limits.workspace_high)
    with np.errstate(over="ignore"):  # a huge state plus a huge action is inf: not in limits
        target = state[:3] + action[:3]
        grip = state[6] + action[6]
    return bool(
        np.all(np.abs(action[:3]) <= limits.max_translation)
        and np.all(np.abs(action[3:6]) <= limits.max_rotation)
        and abs(action[6]) <= limits.max_gripper_delta
        and np.all((low <= target) & (target <= high))
        and limits.gripper_low <= grip <= limits.gripper_high
    )


def check_safe(action: NDArray[np.float64], state: NDArray[np.float64], limits: SafetyLimits) -> SafetyResult:
    """Every guarantee of clamp_action for one (action, state)."""
    action_before, state_before = action.copy(), state.copy()
    result = clamp_action(action, state, limits)
    out = result.action
    low, high = np.array(limits.workspace_low), np.array(limits.workspace_high)

    # inputs untouched, a new finite float64 (7,) array
    assert np.array_equal(action, action_before) and np.array_equal(state, state_before)
    assert out is not action and out.dtype == np.float64 and out.shape == (7,) and np.all(np.isfinite(out))

    # per-step limits, always
    assert np.all(np.abs(out[:3]) <= limits.max_translation)
    assert np.all(np.abs(out[3:6]) <= limits.max_rotation)
    assert abs(out[6]) <= limits.max_gripper_delta

    # workspace: inside stays inside; outside never moves further out (per axis)
    target = state[:3] + out[:3]
    for i in range(3):
        if low[i] <= state[i] <= high[i]:
            assert low[i] <= target[i] <= high[i], (i, state[i], out[i])
        elif state[i] < low[i]:
            assert state[i] <= target[i] <= high[i] and out[i] >= 0
        else:
            assert low[i] <= target[i] <= state[i] and out[i] <= 0

    # gripper range, the same way
    grip = state[6] + out[6]
    if limits.gripper_low <= state[6] <= limits.gripper_high:
        assert limits.gripper_low <= grip <= limits.gripper_high
    elif state[6] < limits.gripper_low:
        assert out[6] >= 0
    else:
        assert out[6] <= 0

    # the rotation is only clipped per axis, never otherwise changed
    np.testing.assert_array_equal(out[3:6], np.clip(action[3:6], -limits.max_rotation, limits.max_rotation))

    # not more conservative than needed: from inside the box, the target is the clipped request's, clipped
    step = np.clip(action[:3], -limits.max_translation, limits.max_translation)
    inside = (low <= state[:3]) & (state[:3] <= high)
    expected = np.clip(state[:3] + step, low, high)
    with np.errstate(over="ignore"):  # spacing of ~1e308 overflows; those states are outside the box anyway
        tolerance = 4 * np.spacing(1.0 + np.abs(state[:3]))
    assert np.all(~inside | (np.abs(target - expected) <= tolerance))

    # an in-limit action comes back bit for bit; flags and reasons agree with what changed
    if in_limits(action, state, limits):
        assert np.array_equal(out, action) and not result.clamped and result.reasons == ()
    assert result.clamped == (not np.array_equal(out, action)) == bool(result.reasons)
    assert all(isinstance(r, str) and r for r in result.reasons)

    # clamping is idempotent: the safe action is itself within every limit
    again = clamp_action(out, state, limits)
    assert np.array_equal(again.action, out) and not again.clamped
    return result


# ---- unit tests --------------------------------------------------------------------------------------------


def test_defaults_match_the_simulators_control_config() -> None:
    control = ControlConfig()
    assert LIMITS.max_translation == control.max_translation == 0.075
    assert LIMITS.max_rotation == control.max_rotation == 0.15
    assert LIMITS.max_gripper_delta == control.max_gripper_delta == 1.0
    assert LIMITS.workspace_low == control.workspace_low and LIMITS.workspace_high == control.workspace_high
    assert (LIMITS.gripper_low, LIMITS.gripper_high) == (0.0, 1.0)
    assert SafetyLimits.from_control(control) == LIMITS
    other = ControlConfig(max_translation=0.05, workspace_low=(0.0, -1.0, 0.0), workspace_high=(1.0, 1.0, 1.0))
    from_other = SafetyLimits.from_control(other)
    assert from_other.max_translation == 0.05 and from_other.workspace_low == (0.0, -1.0, 0.0)


def test_in_limit_action_passes_unchanged() -> None:
    action = np.array([0.07, -0.075, 0.01, 0.15, -0.1, 0.0, 0.3])
    result = clamp_action(action, CENTRE)
    assert not result.clamped and result.reasons == ()
    assert np.array_equal(result.action, action) and result.action is not action
    # lists and ints are fine too; the default limits are SafetyLimits()
    assert np.array_equal(clamp_action([0, 0, 0, 0, 0, 0, 0], CENTRE.tolist()).action, np.zeros(7))


def test_per_step_limits_clip_each_axis_with_a_reason() -> None:
    result = clamp_action([0.2, -0.3, 0.0, 0.3, -1.0, 0.1, 0.0], CENTRE)
    np.testing.assert_array_equal(result.action, [0.075, -0.075, 0.0, 0.15, -0.15, 0.1, 0.0])
    assert result.clamped
    assert result.reasons == (
        "x translation 0.2 m > 0.075 m limit",
        "y translation -0.3 m < -0.075 m limit",
        "roll rotation 0.3 rad > 0.15 rad limit",
        "pitch rotation -1 rad < -0.15 rad limit",
    )


def test_workspace_shortens_the_translation_per_axis() -> None:
    state = np.array([0.6, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0])
    result = clamp_action([0.05, 0.05, -0.075, 0, 0, 0, 0], state)
    np.testing.assert_allclose(result.action[:3], [0.02, 0.05, -0.03], atol=1e-15)
    assert state[0] + result.action[0] <= 0.62 and state[2] + result.action[2] >= 0.02
    assert result.reasons == (
        "x target 0.65 m above the workspace high 0.62 m: x translation 0.05 m cut to 0.02 m",
        "z target -0.025 m below the workspace low 0.02 m: z translation -0.075 m cut to -0.03 m",
    )


def test_at_the_box_wall_only_inward_and_sideways_motion_is_kept() -> None:
    state = np.array([0.62, 0.3, 0.02, 0.0, 0.0, 0.0, 1.0])
    result = clamp_action([0.01, -0.02, -0.01, 0, 0, 0, 0], state)
    np.testing.assert_array_equal(result.action, [0.0, -0.02, 0.0, 0, 0, 0, 0])


def test_outside_the_box_only_motion_toward_it() -> None:
    state = np.array([0.45, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0])  # 0.2 m above the box
    away = clamp_action([0.0, 0.0, 0.05, 0, 0, 0, 0], state)
    assert away.action[2] == 0.0 and away.clamped
    assert away.reasons == (
        "tool z 0.5 m is already above the workspace high 0.3 m, only motion toward the box: "
        "z translation 0.05 m cut to 0 m",
    )
    toward = clamp_action([0.0, 0.0, -0.05, 0, 0, 0, 0], state)
    assert toward.action[2] == -0.05 and not toward.clamped
    below = np.array([0.1, 0.0, 0.15, 0.0, 0.0, 0.0, 0.0])  # in front of the box's x low
    assert clamp_action([-0.05, 0, 0, 0, 0, 0, 0], below).action[0] == 0.0
    assert clamp_action([0.05, 0, 0, 0, 0, 0, 0], below).action[0] == 0.05


def test_gripper_change_and_range() -> None:
    result = clamp_action([0, 0, 0, 0, 0, 0, 0.5], [0.45, 0, 0.15, 0, 0, 0, 0.8])
    assert result.action[6] == pytest.approx(0.2) and 0.8 + result.action[6] <= 1.0
    assert result.reasons == ("gripper target 1.3 outside [0, 1]: gripper change 0.5 cut to 0.2",)
    result = clamp_action([0, 0, 0, 0, 0, 0, -1.5], [0.45, 0, 0.15, 0, 0, 0, 0.3])
    assert result.action[6] == pytest.approx(-0.3) and 0.3 + result.action[6] >= 0.0
    assert result.reasons[0] == "gripper change -1.5 < -1 limit"
    # a narrower range and a smaller per-step change
    limits = SafetyLimits(gripper_low=0.1, gripper_high=0.9, max_gripper_delta=0.25)
    assert clamp_action([0, 0, 0, 0, 0, 0, 1.0], CENTRE, limits).action[6] == 0.25
    assert clamp_action([0, 0, 0, 0, 0, 0, 1.0], [0.45, 0, 0.15, 0, 0, 0, 0.8], limits).action[6] == pytest.approx(0.1)
    # measured outside the range: no change further out, change toward it is kept
    assert clamp_action([0, 0, 0, 0, 0, 0, 0.1], [0.45, 0, 0.15, 0, 0, 0, 0.95], limits).action[6] == 0.0
    assert clamp_action([0, 0, 0, 0, 0, 0, -0.1], [0.45, 0, 0.15, 0, 0, 0, 0.95], limits).action[6] == -0.1


def test_result_applied_with_geometry_stays_in_the_box() -> None:
    state = np.array([0.61, -0.29, 0.03, 0.1, -0.2, 1.0, 0.9])
    result = clamp_action([0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 0.5], state)
    nxt = apply_action(state, result.action)
    assert np.all((nxt[:3] >= LOW) & (nxt[:3] <= HIGH)) and 0.0 <= nxt[6] <= 1.0


@pytest.mark.parametrize("index", range(7))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_action_or_state_is_rejected(index: int, bad: float) -> None:
    action = np.zeros(7)
    action[index] = bad
    with pytest.raises(UnsafeActionError, match=rf"action has non-finite entries: \[{index}\]="):
        clamp_action(action, CENTRE)
    state = CENTRE.copy()
    state[index] = bad
    with pytest.raises(UnsafeActionError, match=rf"state has non-finite entries: \[{index}\]="):
        clamp_action(np.zeros(7), state)


@pytest.mark.parametrize(
    "action,match",
    [
        (np.zeros(6), r"action must have shape \(7,\), got \(6,\)"),
        (np.zeros(8), r"action must have shape \(7,\), got \(8,\)"),
        (np.zeros((1, 7)), r"action must have shape \(7,\), got \(1, 7\)"),
        (np.zeros((7, 1)), r"action must have shape \(7,\), got \(7, 1\)"),
        (0.0, r"action must have shape \(7,\), got \(\)"),
        (["a"] * 7, r"action must be 7 real numbers"),
        ([[0.0], [0.0, 0.0]] + [0.0] * 5, r"action must be 7 real numbers"),
        ([1j] * 7, r"action must be 7 real numbers"),
    ],
)
def test_malformed_actions_are_rejected(action: object, match: str) -> None:
    with pytest.raises(UnsafeActionError, match=match):
        clamp_action(action, CENTRE)  # type: ignore[arg-type]


def test_malformed_state_is_rejected_and_the_error_is_a_value_error() -> None:
    with pytest.raises(UnsafeActionError, match=r"state must have shape \(7,\), got \(6,\)"):
        clamp_action(np.zeros(7), np.zeros(6))
    with pytest.raises(ValueError):
        clamp_action(np.zeros(7), [math.nan] * 7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_translation": 0.0},
        {"max_rotation": -0.1},
        {"max_gripper_delta": math.inf},
        {"max_translation": math.nan},
        {"workspace_low": (0.7, -0.3, 0.02)},
        {"workspace_high": (0.62, 0.3, math.inf)},
        {"workspace_low": (0.3, -0.3)},
        {"gripper_low": 0.5, "gripper_high": 0.5},
        {"gripper_high": 1.5},
        {"gripper_low": -0.1},
    ],
)
def test_invalid_limits_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SafetyLimits(**kwargs)  # type: ignore[arg-type]


def test_limits_and_result_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        LIMITS.max_translation = 1.0  # type: ignore[misc]
    result = clamp_action(np.zeros(7), CENTRE)
    with pytest.raises(FrozenInstanceError):
        result.clamped = True  # type: ignore[misc]


def test_huge_values_are_clamped_not_overflowed() -> None:
    result = clamp_action([1e308, -1e308, 1e308, 1e308, -1e308, 5e-324, -1e308], CENTRE)
    np.testing.assert_array_equal(result.action[3:6], [0.15, -0.15, 5e-324])
    assert np.all(np.isfinite(result.action)) and result.action[6] == -0.5
    far = np.array([1e308, -1e308, 1e308, 0.0, 0.0, 0.0, 1e308])
    result = clamp_action([1e308] * 7, far)
    np.testing.assert_array_equal(result.action, [0.0, 0.075, 0.0, 0.15, 0.15, 0.15, 0.0])


# ---- fuzz ---------------------------------------------------------------------------------------------------

ANY_FLOAT = st.floats(allow_nan=False, allow_infinity=False)  # the whole finite float64 range, subnormals too
SMALL = st.floats(min_value=-0.3, max_value=0.3, allow_nan=False)
NEAR_LIMIT = st.sampled_from([0.0, -0.0, 0.075, -0.075, 0.15, -0.15, 1.0, -1.0, 0.0750000001, -0.1500000001])
COMPONENT = st.one_of(ANY_FLOAT, SMALL, NEAR_LIMIT)


@st.composite
def states(draw: st.DrawFn) -> NDArray[np.float64]:
    """Mostly inside or on the box and the gripper range, sometimes anywhere."""
    xyz = []
    for i in range(3):
        xyz.append(
            draw(
                st.one_of(
                    st.floats(min_value=LOW[i], max_value=HIGH[i]),
                    st.sampled_from([LOW[i], HIGH[i], np.nextafter(LOW[i], -1.0), np.nextafter(HIGH[i], 2.0)]),
                    ANY_FLOAT,
                )
            )
        )
    euler = [draw(st.one_of(st.floats(-math.pi, math.pi), ANY_FLOAT)) for _ in range(3)]
    grip = draw(st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0]), ANY_FLOAT))
    return np.array([*xyz, *euler, grip], dtype=np.float64)


actions = st.lists(COMPONENT, min_size=7, max_size=7).map(lambda v: np.array(v, dtype=np.float64))


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(action=actions, state=states())
def test_fuzz_default_limits_never_exceeded(action: NDArray[np.float64], state: NDArray[np.float64]) -> None:
    check_safe(action, state, LIMITS)


@st.composite
def limits_strategy(draw: st.DrawFn) -> SafetyLimits:
    pos = st.floats(min_value=1e-6, max_value=10.0)
    corners = [sorted(draw(st.lists(st.floats(-5.0, 5.0), min_size=2, max_size=2, unique=True))) for _ in range(3)]
    g = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2, unique=True)))
    return SafetyLimits(
        max_translation=draw(pos),
        max_rotation=draw(pos),
        workspace_low=(corners[0][0], corners[1][0], corners[2][0]),
        workspace_high=(corners[0][1], corners[1][1], corners[2][1]),
        gripper_low=g[0],
        gripper_high=g[1],
        max_gripper_delta=draw(pos),
    )


@settings(max_examples=3_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(action=actions, state=st.lists(ANY_FLOAT | SMALL, min_size=7, max_size=7), limits=limits_strategy())
def test_fuzz_random_limits_never_exceeded(
    action: NDArray[np.float64], state: list[float], limits: SafetyLimits
) -> None:
    check_safe(action, np.array(state, dtype=np.float64), limits)


@settings(max_examples=1_000, deadline=None)
@given(
    action=actions,
    state=states(),
    where=st.sampled_from(["action", "state"]),
    index=st.integers(0, 6),
    bad=st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_fuzz_non_finite_is_always_rejected(
    action: NDArray[np.float64], state: NDArray[np.float64], where: str, index: int, bad: float
) -> None:
    (action if where == "action" else state)[index] = bad
    with pytest.raises(UnsafeActionError, match=f"{where} has non-finite entries"):
        clamp_action(action, state)
