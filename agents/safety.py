"""The safety clamp between every agent and every driver (DESIGN.md, "Safety on hardware").

:func:`clamp_action` is a pure function: it reads an action and the current state in the
:mod:`jepa_sim.geometry` convention and returns the action that is safe to send, whether it had to change
it, and why. It rejects what cannot be made safe (NaN, inf, wrong shapes) with :class:`UnsafeActionError`.

The order of the clamps:

1. per axis, the translation to ``±max_translation`` (m), the Euler rotation delta to ``±max_rotation``
   (rad) and the gripper change to ``±max_gripper_delta``;
2. per axis, the tool target ``state[:3] + action[:3]`` into the workspace box (the same per-axis clip of
   the commanded position as the simulator's controller). On an axis where the tool is already outside the
   box, only motion toward the box is kept; motion further out is cut to zero;
3. the gripper target ``state[6] + action[6]`` into ``[gripper_low, gripper_high]``; from a measured
   closedness outside that range, only change toward it (as for the box).

Clamps 2 and 3 only ever shorten a delta, so the per-step limits of 1 still hold at the end.

Guarantees (checked by a fuzz test): every component of the returned action is within its per-step limit;
when the state is inside the box, ``state[:3] + action[:3]`` (evaluated in float64) is inside it too, and
likewise for the gripper range; an action that is already within every limit comes back bit-for-bit
unchanged with ``clamped=False``. Orientation has no workspace limit here, only the per-step one.

No import of the simulator: this module must load on a robot workstation without MuJoCo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

ACTION_DIM = 7
STATE_DIM = 7
_TRANSLATION_AXES = ("x", "y", "z")
_ROTATION_AXES = ("roll", "pitch", "yaw")

# These mirror envs.config.ControlConfig's defaults (tests/test_safety.py checks that they agree); they are
# spelled out here so that importing the clamp does not import the simulator.
DEFAULT_MAX_TRANSLATION = 0.075
DEFAULT_MAX_ROTATION = 0.15
DEFAULT_MAX_GRIPPER_DELTA = 1.0
DEFAULT_WORKSPACE_LOW: tuple[float, float, float] = (0.3, -0.3, 0.02)
DEFAULT_WORKSPACE_HIGH: tuple[float, float, float] = (0.62, 0.3, 0.3)


class UnsafeActionError(ValueError):
    """An action or state that cannot be made safe by clamping (NaN, inf, wrong shape, not numbers)."""


class ControlLimits(Protocol):
    """What :meth:`SafetyLimits.from_control` reads (``envs.config.ControlConfig`` has it)."""

    @property
    def max_translation(self) -> float: ...
    @property
    def max_rotation(self) -> float: ...
    @property
    def max_gripper_delta(self) -> float: ...
    @property
    def workspace_low(self) -> tuple[float, float, float]: ...
    @property
    def workspace_high(self) -> tuple[float, float, float]: ...


@dataclass(frozen=True)
class SafetyLimits:
    """Per-step and absolute limits of a commanded action (units as in :mod:`jepa_sim.geometry`)."""

    max_translation: float = DEFAULT_MAX_TRANSLATION
    """largest |dx|, |dy|, |dz| per step (m)"""
    max_rotation: float = DEFAULT_MAX_ROTATION
    """largest |droll|, |dpitch|, |dyaw| per step (rad)"""
    workspace_low: tuple[float, float, float] = DEFAULT_WORKSPACE_LOW
    """lowest commanded tool position (m, base frame)"""
    workspace_high: tuple[float, float, float] = DEFAULT_WORKSPACE_HIGH
    """highest commanded tool position (m, base frame)"""
    gripper_low: float = 0.0
    """lowest commanded gripper closedness (0 = open)"""
    gripper_high: float = 1.0
    """highest commanded gripper closedness (1 = closed)"""
    max_gripper_delta: float = DEFAULT_MAX_GRIPPER_DELTA
    """largest |dgripper| per step"""

    def __post_init__(self) -> None:
        for name in ("max_translation", "max_rotation", "max_gripper_delta"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        low, high = tuple(self.workspace_low), tuple(self.workspace_high)
        if len(low) != 3 or len(high) != 3:
            raise ValueError(f"the workspace corners must be xyz triples, got {low} / {high}")
        if not all(math.isfinite(v) for v in (*low, *high)) or any(lo >= hi for lo, hi in zip(low, high, strict=True)):
            raise ValueError(f"the workspace needs finite corners with low < high on every axis, got {low} / {high}")
        if not (math.isfinite(self.gripper_low) and math.isfinite(self.gripper_high)):
            raise ValueError(f"the gripper range must be finite, got [{self.gripper_low}, {self.gripper_high}]")
        if not 0.0 <= self.gripper_low < self.gripper_high <= 1.0:
            got = f"[{self.gripper_low}, {self.gripper_high}]"
            raise ValueError(f"the gripper range must satisfy 0 <= low < high <= 1, got {got}")

    @classmethod
    def from_control(cls, control: ControlLimits) -> SafetyLimits:
        """The limits of a ``ControlConfig`` (so that sim and hardware clamp alike)."""
        return cls(
            max_translation=float(control.max_translation),
            max_rotation=float(control.max_rotation),
            workspace_low=_xyz(control.workspace_low),
            workspace_high=_xyz(control.workspace_high),
            max_gripper_delta=float(control.max_gripper_delta),
        )


def _xyz(values: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = values
    return float(x), float(y), float(z)


@dataclass(frozen=True)
class SafetyResult:
    """What :func:`clamp_action` decided."""

    action: NDArray[np.float64]
    """the safe action (7,), float64, a new array"""
    clamped: bool
    """whether ``action`` differs from the requested one"""
    reasons: tuple[str, ...]
    """one human-readable line per change, empty when nothing was clamped"""


def _as_vector(value: ArrayLike, name: str, size: int) -> NDArray[np.float64]:
    """A finite float64 copy of ``value`` with shape ``(size,)``, or UnsafeActionError."""
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as e:
        raise UnsafeActionError(f"{name} must be {size} real numbers, got {value!r} ({e})") from e
    if arr.shape != (size,):
        raise UnsafeActionError(f"{name} must have shape ({size},), got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        listed = ", ".join(f"[{i}]={arr[i]}" for i in np.flatnonzero(bad))
        raise UnsafeActionError(f"{name} has non-finite entries: {listed}")
    return arr


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _toward(start: float, delta: float, low: float, high: float) -> float:
    """``delta`` shortened toward zero so that ``start + delta`` lies in ``[low, high]`` in float64.

    From ``start`` outside ``[low, high]`` only a delta toward the interval is kept (decided by its sign, so that
    a step too small to change a huge ``start`` in float64 is not let through), ending at most at the far side.
    Shortening, not recomputing, keeps ``|delta|`` from growing by rounding; ``delta = 0`` always satisfies the
    bound. An in-bound ``delta`` is returned unchanged.
    """
    if start > high:
        delta, low, high = min(delta, 0.0), low, start
    elif start < low:
        delta, low, high = max(delta, 0.0), start, high
    if low <= start + delta <= high:
        return delta
    target = min(max(start + delta, low), high)
    delta = float(np.clip(target - start, -abs(delta), abs(delta)))
    for _ in range(8):  # target - start is off by an ulp or two at most
        if low <= start + delta <= high:
            return delta
        delta = float(np.nextafter(delta, 0.0))
    return 0.0


def _clip_per_step(value: float, limit: float, label: str, unit: str, reasons: list[str]) -> float:
    if value > limit:
        reasons.append(f"{label} {_fmt(value)}{unit} > {_fmt(limit)}{unit} limit")
        return limit
    if value < -limit:
        reasons.append(f"{label} {_fmt(value)}{unit} < -{_fmt(limit)}{unit} limit")
        return -limit
    return value


def clamp_action(action: ArrayLike, state: ArrayLike, limits: SafetyLimits | None = None) -> SafetyResult:
    """Make ``action`` safe to apply at ``state`` under ``limits`` (default :class:`SafetyLimits`).

    Args:
        action: (7,) delta ``dx, dy, dz`` (m), ``droll, dpitch, dyaw`` (rad), ``dgripper``.
        state: (7,) current ``x, y, z`` (m), ``roll, pitch, yaw`` (rad), gripper closedness.
        limits: the limits; ``SafetyLimits()`` if None.

    Returns:
        The safe action, whether it was changed and a reason for each change.

    Raises:
        UnsafeActionError: a NaN or inf in ``action`` or ``state``, a shape other than (7,), or values that
            are not real numbers.
    """
    limits = SafetyLimits() if limits is None else limits
    requested = _as_vector(action, "action", ACTION_DIM)
    current = _as_vector(state, "state", STATE_DIM)
    out = requested.copy()
    reasons: list[str] = []

    # 1. Per-step limits, per axis.
    for i, axis in enumerate(_TRANSLATION_AXES):
        out[i] = _clip_per_step(float(out[i]), limits.max_translation, f"{axis} translation", " m", reasons)
    for i, axis in enumerate(_ROTATION_AXES, start=3):
        out[i] = _clip_per_step(float(out[i]), limits.max_rotation, f"{axis} rotation", " rad", reasons)
    out[6] = _clip_per_step(float(out[6]), limits.max_gripper_delta, "gripper change", "", reasons)

    # 2. Workspace box, per axis; outside the box only motion toward it.
    for i, axis in enumerate(_TRANSLATION_AXES):
        pos, low, high = float(current[i]), float(limits.workspace_low[i]), float(limits.workspace_high[i])
        delta = float(out[i])
        safe = _toward(pos, delta, low, high)
        if safe != delta:
            change = f"{axis} translation {_fmt(delta)} m cut to {_fmt(safe)} m"
            if pos < low or pos > high:
                side = (
                    f"below the workspace low {_fmt(low)} m"
                    if pos < low
                    else f"above the workspace high {_fmt(high)} m"
                )
                reasons.append(f"tool {axis} {_fmt(pos)} m is already {side}, only motion toward the box: {change}")
            else:
                side = (
                    f"below the workspace low {_fmt(low)} m"
                    if pos + delta < low
                    else f"above the workspace high {_fmt(high)} m"
                )
                reasons.append(f"{axis} target {_fmt(pos + delta)} m {side}: {change}")
            out[i] = safe

    # 3. Gripper range; from outside it (a measurement can be), only change toward it.
    grip, dgrip = float(current[6]), float(out[6])
    g_low, g_high = limits.gripper_low, limits.gripper_high
    safe = _toward(grip, dgrip, g_low, g_high)
    if safe != dgrip:
        change = f"gripper change {_fmt(dgrip)} cut to {_fmt(safe)}"
        if g_low <= grip <= g_high:
            reasons.append(f"gripper target {_fmt(grip + dgrip)} outside [{_fmt(g_low)}, {_fmt(g_high)}]: {change}")
        else:
            reasons.append(f"gripper {_fmt(grip)} is already outside [{_fmt(g_low)}, {_fmt(g_high)}]: {change}")
        out[6] = safe

    clamped = not np.array_equal(out, requested)
    return SafetyResult(action=out, clamped=clamped, reasons=tuple(reasons))
