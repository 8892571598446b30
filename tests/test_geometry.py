import numpy as np
import pytest

from jepa_sim.geometry import apply_action, euler_to_mat, mat_to_euler, rotation_delta, state_delta, wrap_angle


def test_euler_round_trip_and_orthonormal():
    rng = np.random.default_rng(0)
    euler = rng.uniform([-np.pi, -1.5, -np.pi], [np.pi, 1.5, np.pi], (200, 3))
    mats = euler_to_mat(euler)
    np.testing.assert_allclose(mats @ np.swapaxes(mats, -1, -2), np.broadcast_to(np.eye(3), mats.shape), atol=1e-12)
    np.testing.assert_allclose(mat_to_euler(mats), euler, atol=1e-9)


def test_euler_is_extrinsic_xyz():
    # Extrinsic xyz: R = Rz(yaw) Ry(pitch) Rx(roll); a pure yaw of 90 deg maps x to y.
    np.testing.assert_allclose(euler_to_mat(np.array([0, 0, np.pi / 2])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    roll, pitch = 0.3, 0.2
    rx = np.array([[1, 0, 0], [0, np.cos(roll), -np.sin(roll)], [0, np.sin(roll), np.cos(roll)]])
    ry = np.array([[np.cos(pitch), 0, np.sin(pitch)], [0, 1, 0], [-np.sin(pitch), 0, np.cos(pitch)]])
    np.testing.assert_allclose(euler_to_mat(np.array([roll, pitch, 0.0])), ry @ rx, atol=1e-12)


def test_state_delta_inverts_apply_action():
    rng = np.random.default_rng(1)
    state = np.concatenate(
        [rng.uniform(-1, 1, (50, 3)), rng.uniform(-0.5, 0.5, (50, 3)), rng.uniform(0, 1, (50, 1))], 1
    )
    action = np.concatenate([rng.uniform(-0.05, 0.05, (50, 3)), rng.uniform(-0.1, 0.1, (50, 3)), np.zeros((50, 1))], 1)
    action[:, 6] = rng.uniform(-state[:, 6], 1 - state[:, 6])  # stays within [0, 1]
    np.testing.assert_allclose(state_delta(state, apply_action(state, action)), action, atol=1e-9)


def test_rotation_delta_composes_on_the_left():
    a, b = np.array([0.1, -0.2, 0.3]), np.array([-0.3, 0.1, 1.0])
    d = rotation_delta(a, b)
    np.testing.assert_allclose(euler_to_mat(d) @ euler_to_mat(a), euler_to_mat(b), atol=1e-12)


@pytest.mark.parametrize("angle,expected", [(np.pi + 0.1, -np.pi + 0.1), (-np.pi - 0.1, np.pi - 0.1), (0.5, 0.5)])
def test_wrap_angle(angle, expected):
    assert wrap_angle(angle) == pytest.approx(expected)
