"""Pose conventions shared by the simulator, the real-robot drivers and the planners.

State (7 floats): ``x, y, z`` (m, robot base frame), ``roll, pitch, yaw`` (rad, extrinsic Euler xyz of the
tool frame, i.e. ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``), ``gripper`` (closedness, 0 open .. 1 closed).

Action (7 floats): ``dx, dy, dz`` (m, base frame), ``droll, dpitch, dyaw`` (rad, the rotation delta as
extrinsic Euler xyz, applied on the left: ``R_new = R_delta @ R_cur``), ``dgripper`` (change of the
commanded closedness).

Everything here works on arrays with any leading batch shape and has no simulator dependency.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

STATE_DIM = 7
ACTION_DIM = 7


def euler_to_mat(euler: NDArray[np.floating]) -> FloatArray:
    """Extrinsic xyz Euler angles ``(..., 3)`` to rotation matrices ``(..., 3, 3)``."""
    e = np.asarray(euler, dtype=np.float64)
    cr, cp, cy = np.cos(e[..., 0]), np.cos(e[..., 1]), np.cos(e[..., 2])
    sr, sp, sy = np.sin(e[..., 0]), np.sin(e[..., 1]), np.sin(e[..., 2])
    m = np.empty((*e.shape[:-1], 3, 3))
    m[..., 0, 0] = cy * cp
    m[..., 0, 1] = cy * sp * sr - sy * cr
    m[..., 0, 2] = cy * sp * cr + sy * sr
    m[..., 1, 0] = sy * cp
    m[..., 1, 1] = sy * sp * sr + cy * cr
    m[..., 1, 2] = sy * sp * cr - cy * sr
    m[..., 2, 0] = -sp
    m[..., 2, 1] = cp * sr
    m[..., 2, 2] = cp * cr
    return m


def mat_to_euler(mat: NDArray[np.floating]) -> FloatArray:
    """Rotation matrices ``(..., 3, 3)`` to extrinsic xyz Euler angles ``(..., 3)``, pitch in [-pi/2, pi/2]."""
    m = np.asarray(mat, dtype=np.float64)
    pitch = -np.arcsin(np.clip(m[..., 2, 0], -1.0, 1.0))
    roll = np.arctan2(m[..., 2, 1], m[..., 2, 2])
    yaw = np.arctan2(m[..., 1, 0], m[..., 0, 0])
    # Gimbal lock (|pitch| = pi/2): put all of the rotation about z into yaw.
    locked = np.abs(m[..., 2, 0]) > 1.0 - 1e-9
    if np.any(locked):
        roll = np.where(locked, 0.0, roll)
        yaw = np.where(locked, np.arctan2(-m[..., 0, 1], m[..., 1, 1]), yaw)
    return np.stack([roll, pitch, yaw], axis=-1)


def wrap_angle(angle: NDArray[np.floating] | float) -> FloatArray:
    """Wrap angles to [-pi, pi)."""
    return np.asarray((np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi, dtype=np.float64)


def rotation_delta(euler_from: NDArray[np.floating], euler_to: NDArray[np.floating]) -> FloatArray:
    """The Euler delta ``d`` with ``euler_to_mat(d) @ R_from == R_to`` (the paper's action label)."""
    r_from = euler_to_mat(euler_from)
    r_to = euler_to_mat(euler_to)
    return mat_to_euler(r_to @ np.swapaxes(r_from, -1, -2))


def apply_action(state: NDArray[np.floating], action: NDArray[np.floating]) -> FloatArray:
    """Integrate an action onto a state analytically: the planner's next-state model.

    Position adds, rotation composes on the left, gripper adds and is clipped to [0, 1].
    """
    s = np.asarray(state, dtype=np.float64)
    a = np.asarray(action, dtype=np.float64)
    out = np.empty(np.broadcast_shapes(s.shape, a.shape))
    out[..., :3] = s[..., :3] + a[..., :3]
    out[..., 3:6] = mat_to_euler(euler_to_mat(a[..., 3:6]) @ euler_to_mat(s[..., 3:6]))
    out[..., 6] = np.clip(s[..., 6] + a[..., 6], 0.0, 1.0)
    return out


def state_delta(state_from: NDArray[np.floating], state_to: NDArray[np.floating]) -> FloatArray:
    """The achieved state change between two states: the action label stored in datasets."""
    s0 = np.asarray(state_from, dtype=np.float64)
    s1 = np.asarray(state_to, dtype=np.float64)
    out = np.empty(np.broadcast_shapes(s0.shape, s1.shape))
    out[..., :3] = s1[..., :3] - s0[..., :3]
    out[..., 3:6] = rotation_delta(s0[..., 3:6], s1[..., 3:6])
    out[..., 6] = s1[..., 6] - s0[..., 6]
    return out


def quat_to_mat(quat: NDArray[np.floating]) -> FloatArray:
    """Unit quaternions ``(..., 4)`` in MuJoCo's (w, x, y, z) order to rotation matrices."""
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty((*q.shape[:-1], 3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - z * w)
    m[..., 0, 2] = 2 * (x * z + y * w)
    m[..., 1, 0] = 2 * (x * y + z * w)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - x * w)
    m[..., 2, 0] = 2 * (x * z - y * w)
    m[..., 2, 1] = 2 * (y * z + x * w)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def yaw_quat(yaw: float) -> FloatArray:
    """Quaternion (w, x, y, z) of a rotation by ``yaw`` about z."""
    return np.array([np.cos(yaw / 2.0), 0.0, 0.0, np.sin(yaw / 2.0)])
