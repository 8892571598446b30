"""Cartesian control of the Panda: delta tool pose -> damped least-squares IK -> joint position targets."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from numpy.typing import NDArray

from envs.config import ControlConfig
from envs.panda import ARM_JOINTS, FINGER_JOINTS, FINGER_MAX_OPENING, TCP_SITE
from jepa_sim.geometry import ACTION_DIM, euler_to_mat, mat_to_euler

PREFIX = "panda/"


class ActionError(ValueError):
    """An action that cannot be executed: wrong shape, NaN or inf."""


def validate_action(action: object) -> NDArray[np.float64]:
    """Return ``action`` as a float64 vector of 7, or raise :class:`ActionError` naming the problem."""
    try:
        a = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"action must be {ACTION_DIM} numbers, got {action!r}") from exc
    if a.shape != (ACTION_DIM,):
        raise ActionError(
            f"action must have shape ({ACTION_DIM},) = dx, dy, dz, droll, dpitch, dyaw, dgripper; got {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        bad = [i for i in range(ACTION_DIM) if not np.isfinite(a[i])]
        raise ActionError(f"action has NaN or inf in component(s) {bad}: {a.tolist()}")
    return a


@dataclass(frozen=True)
class IKResult:
    qpos: NDArray[np.float64]
    """arm joint targets (7,)"""
    position_error: float
    """distance between the solution's tool position and ``target_pos`` (m)"""
    rotation_error: float
    iterations: int
    target_pos: NDArray[np.float64]
    """the tool position that was solved for"""


class CartesianController:
    """Turns 7-float delta-pose actions into joint and finger position targets for one ``MjModel``."""

    def __init__(self, model: mujoco.MjModel, config: ControlConfig) -> None:
        self.model = model
        self.config = config
        self._scratch = mujoco.MjData(model)
        joints = [model.joint(PREFIX + name) for name in ARM_JOINTS]
        self.arm_qpos_adr = np.array([j.qposadr[0] for j in joints])
        self.arm_dof_adr = np.array([j.dofadr[0] for j in joints])
        self.arm_range = np.array([j.range for j in joints])
        self.arm_act = np.array([model.actuator(PREFIX + "act_" + n).id for n in ARM_JOINTS])
        self.finger_qpos_adr = np.array([model.joint(PREFIX + n).qposadr[0] for n in FINGER_JOINTS])
        self.finger_act = np.array([model.actuator(PREFIX + "act_" + n).id for n in FINGER_JOINTS])
        self.tcp_id = model.site(PREFIX + TCP_SITE).id
        self.home_qpos = self.arm_range.mean(axis=1)  # replaced by set_home
        self._jac = np.zeros((6, model.nv))
        self._eye6, self._eye7 = np.eye(6), np.eye(7)
        self._low = np.asarray(config.workspace_low)
        self._high = np.asarray(config.workspace_high)
        self._step_limit = np.array(
            [config.max_translation] * 3 + [config.max_rotation] * 3 + [config.max_gripper_delta]
        )

    # ---- measurements -------------------------------------------------------------------------------
    def tool_pose(self, data: mujoco.MjData) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Tool position (3,) and rotation matrix (3, 3) in the base frame."""
        return data.site_xpos[self.tcp_id].copy(), data.site_xmat[self.tcp_id].reshape(3, 3).copy()

    def gripper_closedness(self, data: mujoco.MjData) -> float:
        opening = float(np.mean(data.qpos[self.finger_qpos_adr]))
        return float(np.clip(1.0 - opening / FINGER_MAX_OPENING, 0.0, 1.0))

    def state(self, data: mujoco.MjData) -> NDArray[np.float64]:
        """The 7-float state: tool xyz, tool Euler xyz, gripper closedness."""
        pos, mat = self.tool_pose(data)
        return np.concatenate([pos, mat_to_euler(mat), [self.gripper_closedness(data)]])

    # ---- action -> targets --------------------------------------------------------------------------
    def clip_action(self, action: NDArray[np.float64]) -> NDArray[np.float64]:
        """Clip an action to the per-step limits."""
        return np.clip(action, -self._step_limit, self._step_limit)

    def target_pose(
        self, data: mujoco.MjData, action: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Commanded tool pose for a (clipped) action, relative to the measured pose, kept in the workspace."""
        pos, mat = self.tool_pose(data)
        target_pos = np.clip(pos + action[:3], self._low, self._high)
        target_mat = euler_to_mat(action[3:6]) @ mat
        return target_pos, target_mat

    def solve_ik(
        self,
        qpos: NDArray[np.float64],
        target_pos: NDArray[np.float64],
        target_mat: NDArray[np.float64],
        iterations: int | None = None,
    ) -> IKResult:
        """Damped least-squares IK for the tool site, with a null-space pull toward the home posture.

        ``qpos`` is the full model qpos to start from (objects included, only the arm joints change).
        """
        cfg = self.config
        m, d = self.model, self._scratch
        d.qpos[:] = qpos
        q = qpos[self.arm_qpos_adr].copy()
        err = np.zeros(6)
        quat_err = np.zeros(4)
        cur_quat = np.zeros(4)
        target_quat = np.zeros(4)
        mujoco.mju_mat2Quat(target_quat, np.ascontiguousarray(target_mat).ravel())
        n_iter = cfg.ik_iterations if iterations is None else iterations
        it = 0
        for it in range(1, n_iter + 1):
            d.qpos[self.arm_qpos_adr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            err[:3] = target_pos - d.site_xpos[self.tcp_id]
            mujoco.mju_mat2Quat(cur_quat, d.site_xmat[self.tcp_id])
            mujoco.mju_negQuat(quat_err, cur_quat)
            mujoco.mju_mulQuat(quat_err, target_quat, quat_err)
            mujoco.mju_quat2Vel(err[3:], quat_err, 1.0)
            if np.linalg.norm(err[:3]) < cfg.ik_tolerance and np.linalg.norm(err[3:]) < 10 * cfg.ik_tolerance:
                break
            # Bounded error per iteration keeps the linearisation valid for far or unreachable targets.
            err[:3] *= min(1.0, 0.05 / max(float(np.linalg.norm(err[:3])), 1e-12))
            err[3:] *= min(1.0, 0.3 / max(float(np.linalg.norm(err[3:])), 1e-12))
            mujoco.mj_jacSite(m, d, self._jac[:3], self._jac[3:], self.tcp_id)
            jac = self._jac[:, self.arm_dof_adr]
            pinv = jac.T @ np.linalg.inv(jac @ jac.T + cfg.ik_damping * self._eye6)
            # Null-space pull toward home keeps the redundant elbow away from limits; it is applied on the
            # first iteration only, so it cannot fight convergence of the tool pose.
            dq = pinv @ err
            if it == 1:
                dq += (self._eye7 - pinv @ jac) @ (cfg.ik_nullspace_gain * (self.home_qpos - q))
            q = np.clip(q + dq, self.arm_range[:, 0], self.arm_range[:, 1])
        else:
            d.qpos[self.arm_qpos_adr] = q
            mujoco.mj_kinematics(m, d)
            err[:3] = target_pos - d.site_xpos[self.tcp_id]
        rot_err = float(np.linalg.norm(err[3:]))
        return IKResult(q.copy(), float(np.linalg.norm(err[:3])), rot_err, it, np.array(target_pos, dtype=np.float64))

    def plan(self, data: mujoco.MjData, action: NDArray[np.float64]) -> tuple[list[NDArray[np.float64]], IKResult]:
        """Joint targets along a straight Cartesian line to the commanded pose, and the final IK result.

        Tracking joint targets directly would swing the tool along an arc in joint space; ``waypoints``
        intermediate IK solutions keep it on the straight line, as a real Cartesian controller does. If the
        commanded pose cannot be reached (outside the arm's reach or joint limits), the motion is shortened by
        bisection to the farthest fraction of the delta that IK solves, so the arm stops at the boundary
        instead of folding into a compromise posture.
        """
        pos, mat = self.tool_pose(data)
        target_pos, target_mat = self.target_pose(data, action)
        delta_pos = target_pos - pos
        delta_rot = mat_to_euler(target_mat @ mat.T)
        final = self.solve_ik(data.qpos, target_pos, target_mat)
        reach = 1.0
        if not self._converged(final):
            low, high = 0.0, 1.0
            final = self.solve_ik(data.qpos, pos, mat)  # holding still is always reachable
            for _ in range(self.config.ik_bisections):
                mid = 0.5 * (low + high)
                trial = self.solve_ik(data.qpos, pos + mid * delta_pos, euler_to_mat(mid * delta_rot) @ mat)
                if self._converged(trial):
                    low, final = mid, trial
                else:
                    high = mid
            reach = low
        qpos = data.qpos.copy()
        targets = []
        n = self.config.waypoints
        for i in range(1, n):
            frac = reach * i / n
            step = self.solve_ik(qpos, pos + frac * delta_pos, euler_to_mat(frac * delta_rot) @ mat)
            qpos[self.arm_qpos_adr] = step.qpos
            targets.append(step.qpos)
        targets.append(final.qpos)
        return targets, final

    def set_gripper(self, data: mujoco.MjData, closedness: float) -> None:
        """Finger position targets for a commanded closedness (0 open .. 1 closed)."""
        data.ctrl[self.finger_act] = (1.0 - closedness) * FINGER_MAX_OPENING

    def _converged(self, result: IKResult) -> bool:
        return result.position_error < 5 * self.config.ik_tolerance and result.rotation_error < 0.02

    def set_home(self, qpos: NDArray[np.float64]) -> None:
        """Posture the IK null space pulls toward."""
        self.home_qpos = np.asarray(qpos, dtype=np.float64).copy()

    def set_arm(self, data: mujoco.MjData, arm_qpos: NDArray[np.float64], closedness: float) -> None:
        """Teleport the arm and fingers (resets, goal rendering) and hold them there."""
        data.qpos[self.arm_qpos_adr] = arm_qpos
        data.qvel[self.arm_dof_adr] = 0.0
        opening = (1.0 - closedness) * FINGER_MAX_OPENING
        data.qpos[self.finger_qpos_adr] = opening
        data.ctrl[self.arm_act] = arm_qpos
        data.ctrl[self.finger_act] = opening
