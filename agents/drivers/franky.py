"""The real Franka (or franky-sim) behind the driver interface, through franky-control.

``franky`` is imported inside the methods that need it, so importing this module works without it.

Conventions (see :mod:`jepa_sim.geometry`): the state is the tool position (m, robot base frame), the tool's
extrinsic Euler xyz angles and the gripper closedness (0 open .. 1 closed). franky reports the pose of the
end-effector frame ``O_T_EE`` (z axis along the fingers, pointing down at the usual home); our tool frame is
that frame turned by pi about its x axis (pointing straight down with the fingers closing along y is Euler
(0, 0, 0), as in the simulator) and moved ``tcp_offset`` metres along the fingers. The default offset,
:data:`SIM_TCP_OFFSET` (0.02 m), is the simulator's tool point (the finger-pad centre of its fingers, 0.02 m
past libfranka's end-effector point), the convention the models are trained in, so that the states and actions
the driver reports mean what they mean in simulation. Closedness is ``1 - width / max_width`` of the Franka
Hand.

One action: the safety clamp (:func:`agents.safety.clamp_action`) against the measured state, then one
relative Cartesian motion to ``p + d, R_delta @ R`` (the geometry convention, expressed in franky's
end-effector frame) and, when the commanded closedness changes, one gripper command (``grasp`` with wide
tolerances to close, so that closing on an object holds it; ``move`` to open), run together; the call returns
once both have finished. Each action starts from rest and ends at rest (no blending between steps).

Error policy (DESIGN.md, "Safety on hardware": stop, report, never retry blindly):

* A robot error during a motion (a reflex such as a collision or a joint limit: ``franky.ControlException``)
  stops the robot (the robot itself does). The driver then calls ``recover_from_errors()`` once to clear the
  reflex (with ``auto_recover``, the default) and raises :class:`RobotMotionError` saying whether the recovery
  worked. The action is not retried; the caller decides what comes next.
* A motion or gripper command that does not finish within ``motion_timeout`` (each leg of :meth:`home`:
  ``home_timeout``) is stopped (``robot.stop()``) and reported with :class:`RobotMotionError`.
  :meth:`FrankyDriver.max_seconds` is the longest each moving call can take that way (a robot server's clients
  derive their own timeouts from it).
* Whenever an action or homing ends in an error (or an interrupt) while a gripper command of it may still run,
  the gripper is stopped too (best effort); :meth:`FrankyDriver.stop` and :meth:`FrankyDriver.disconnect` stop
  the hand even when stopping the arm fails.
* A lost connection (``franky.NetworkException``, or the ``RuntimeError`` franky raises from a state read
  after the link died; about 1 s after the robot stops answering, libfranka's UDP timeout) marks the driver
  disconnected and raises :class:`RobotConnectionError`. There is no automatic reconnection; later calls raise
  :class:`RobotConnectionError` at once instead of franky's misleading follow-up errors. ``connect`` again.
* An unsafe action (NaN, inf, wrong shape) raises :class:`agents.safety.UnsafeActionError` before anything is
  sent.
* ``connect`` clears errors left from before (``recover_from_errors()`` once; a failed recovery is an error)
  and sets the dynamics factor and collision thresholds before the driver counts as connected; if any of that
  fails, the link is dropped and :class:`RobotConnectionError` raised (never a connected driver running at
  franky's default full dynamics).

The clamp itself runs in :meth:`agents.drivers.base.RobotDriver.send_action` (final, shared by every driver);
this driver supplies the measured state it clamps against and executes the safe action. The error classes
live in :mod:`agents.drivers.base` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from agents.drivers.base import (
    Observation,
    RobotConnectionError,
    RobotDriver,
    RobotDriverError,
    RobotMotionError,
)
from agents.drivers.camera import Camera
from agents.safety import SafetyLimits
from jepa_sim.geometry import euler_to_mat, mat_to_euler

FLIP = np.diag([1.0, -1.0, -1.0])
"""rotation by pi about x: franky's end-effector frame (z along the fingers) to our tool frame and back"""
FRANKA_HAND_MAX_WIDTH = 0.08
"""fully open Franka Hand (m), used until the gripper reports its own maximum"""
HOME_JOINTS: tuple[float, ...] = (0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4)
"""Franka's usual ready posture (rad), the first leg of :meth:`FrankyDriver.home`"""
HOME_POSE: tuple[float, ...] = (0.45, 0.0, 0.25, 0.0, 0.0, 0.0)
"""tool x, y, z (m), roll, pitch, yaw (rad) after :meth:`FrankyDriver.home`: the simulator's home tool pose"""
GRIPPER_EPS = 1e-3
"""a gripper width change (m) smaller than this is not sent"""
SIM_TCP_OFFSET = 0.02
"""the simulator's tool point (m) along the fingers past libfranka's end-effector point: the default tool point"""


FrankyDriverError = RobotDriverError
"""the base class of the errors this driver reports (:class:`RobotConnectionError`, :class:`RobotMotionError`)"""
__all__ = [
    "FRANKA_HAND_MAX_WIDTH",
    "HOME_JOINTS",
    "HOME_POSE",
    "SIM_TCP_OFFSET",
    "FrankyDriver",
    "FrankyDriverError",
    "RobotConnectionError",
    "RobotMotionError",
]


_LOST_LINKS: list[tuple[Any, Any, Any]] = []
"""franky objects (robot, gripper, gripper future) of links that died, kept alive until the process ends: destroying
them while one of franky's native threads (a motion, an asynchronous gripper command) still works on the dead link
can crash the whole process (seen as a segfault in a native thread when franky-sim was killed mid-run)"""


class FrankyDriver(RobotDriver):
    """A Franka arm and hand through ``franky``: Cartesian delta actions in the :mod:`jepa_sim.geometry` convention.

    Args:
        limits: the safety clamp's limits; every action is clamped against the measured state before sending.
        relative_dynamics_factor: franky's global scale (0, 1] of velocity, acceleration and jerk limits.
        collision_torque: joint torque thresholds (Nm) of the collision reflex, one value or seven.
        collision_force: Cartesian force thresholds (N) of the collision reflex, one value or six.
        gripper_speed: finger speed (m/s) of gripper commands.
        gripper_force: grasp force (N) when closing.
        motion_timeout: seconds the arm motion of one action may take before it is stopped and reported (and
            again the gripper command, for what is left of it once the arm has finished).
        home_timeout: the same for each leg of :meth:`home` (joints, Cartesian, gripper): homing at a low
            dynamics factor can take far longer than one action.
        tcp_offset: distance (m) along the fingers from franky's end-effector frame to our tool point; the
            default :data:`SIM_TCP_OFFSET` is the simulator's tool point (the models' convention).
        home_joints: joint posture of the first leg of :meth:`home`.
        home_pose: tool pose (x, y, z, roll, pitch, yaw) :meth:`home` ends at.
        realtime: require a real-time kernel (``RealtimeConfig.Enforce``); False for franky-sim or tests.
        auto_recover: call ``recover_from_errors()`` once after a robot error (the action is never retried).
        camera: the exterior camera for :meth:`get_observation`: an :class:`agents.drivers.camera.Camera` (its
            ``read()``) or a callable returning uint8 (H, W, 3); it can also be set later (``driver.camera``).
        ip: the robot's address, used by :meth:`connect` when it is given none.
    """

    name = "franky"

    def __init__(
        self,
        limits: SafetyLimits | None = None,
        *,
        relative_dynamics_factor: float = 0.1,
        collision_torque: float | Sequence[float] = 20.0,
        collision_force: float | Sequence[float] = 30.0,
        gripper_speed: float = 0.1,
        gripper_force: float = 20.0,
        motion_timeout: float = 10.0,
        home_timeout: float = 60.0,
        tcp_offset: float = SIM_TCP_OFFSET,
        home_joints: Sequence[float] = HOME_JOINTS,
        home_pose: Sequence[float] = HOME_POSE,
        realtime: bool = False,
        auto_recover: bool = True,
        camera: Camera | Callable[[], NDArray[np.uint8]] | None = None,
        ip: str | None = None,
    ) -> None:
        if not 0.0 < relative_dynamics_factor <= 1.0:
            raise ValueError(f"relative_dynamics_factor must be in (0, 1], got {relative_dynamics_factor}")
        if not (motion_timeout > 0 and home_timeout > 0 and gripper_speed > 0 and gripper_force > 0):
            raise ValueError("motion_timeout, home_timeout, gripper_speed and gripper_force must be > 0")
        if len(home_joints) != 7 or len(home_pose) != 6:
            raise ValueError("home_joints needs 7 joint angles and home_pose 6 numbers (x, y, z, roll, pitch, yaw)")
        self.limits = SafetyLimits() if limits is None else limits
        self.relative_dynamics_factor = float(relative_dynamics_factor)
        self.collision_torque = collision_torque
        self.collision_force = collision_force
        self.gripper_speed = float(gripper_speed)
        self.gripper_force = float(gripper_force)
        self.motion_timeout = float(motion_timeout)
        self.home_timeout = float(home_timeout)
        self.tcp_offset = float(tcp_offset)
        self.home_joints = tuple(float(q) for q in home_joints)
        self.home_pose = tuple(float(v) for v in home_pose)
        self.realtime = realtime
        self.auto_recover = auto_recover
        self.camera = camera
        self.ip: str | None = ip
        self._robot: Any = None
        self._gripper: Any = None
        self._gripper_future: Any = None
        """the future of the last gripper command while it may still run (None once it finished or failed)"""
        self._reference_rot: NDArray[np.float64] | None = None
        self._t0 = time.monotonic()

    # ---- connection ---------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._robot is not None

    def connect(self, ip: str | None = None) -> None:
        """Connect to the robot (and its hand) at ``ip`` (default: the constructor's), clear errors, set the
        dynamics factor and collision behaviour; the driver counts as connected only once all of that worked.

        Raises:
            RobotConnectionError: nothing answers at ``ip``, the handshake fails, the robot's errors cannot be
                cleared (``recover_from_errors()`` fails: e.g. the user stop is pressed) or the dynamics and
                collision settings are refused. The link is dropped again; nothing moved.
        """
        import franky

        if self.connected:
            raise RuntimeError(f"already connected to {self.ip}; disconnect first")
        ip = ip if ip is not None else self.ip
        if ip is None:
            raise ValueError("no robot address: pass connect(ip) or FrankyDriver(ip=...)")
        realtime = franky.RealtimeConfig.Enforce if self.realtime else franky.RealtimeConfig.Ignore
        try:
            robot = franky.Robot(ip, realtime_config=realtime)
            gripper = franky.Gripper(ip)
        except (franky.NetworkException, franky.IncompatibleVersionException, franky.RealtimeException) as e:
            raise RobotConnectionError(f"cannot connect to the Franka at {ip}: {type(e).__name__}: {e}") from e
        try:
            self._configure(robot)
        except Exception as e:  # not connected after all: drop the link (franky closes it with the objects)
            with contextlib.suppress(Exception):  # nothing was commanded; best effort
                robot.stop()
            del robot, gripper
            raise RobotConnectionError(
                f"connected to the Franka at {ip} but could not set it up, so disconnected again: "
                f"{type(e).__name__}: {e}"
            ) from e
        self._robot, self._gripper, self.ip = robot, gripper, ip
        self._gripper_future = None
        self._t0 = time.monotonic()

    def _configure(self, robot: Any) -> None:
        """Clear errors left over from before this session, then set the dynamics and the collision reflex."""
        if not robot.recover_from_errors():
            raise RobotMotionError(
                "recover_from_errors() failed: the robot stays in an error state (user stop pressed, or a fault "
                "that needs Desk); clear it and connect again"
            )
        robot.relative_dynamics_factor = self.relative_dynamics_factor
        torque, force = self.collision_torque, self.collision_force
        robot.set_collision_behavior(
            [float(torque)] * 7 if isinstance(torque, int | float) else [float(t) for t in torque],
            [float(force)] * 6 if isinstance(force, int | float) else [float(f) for f in force],
        )

    def disconnect(self) -> None:
        """Stop any motion (best effort: the arm, and a gripper command of ours that may still run; a finished
        grasp keeps holding) and drop the connection; safe to call twice or after a lost link."""
        self._drop(lost=False)

    def _drop(self, lost: bool) -> None:
        """:meth:`disconnect`; with ``lost`` (the link died) franky's objects are kept alive (:data:`_LOST_LINKS`)
        instead of being destroyed under its native threads."""
        robot, gripper, future = self._robot, self._gripper, self._gripper_future
        self._robot = self._gripper = self._gripper_future = None
        if robot is not None:
            with contextlib.suppress(Exception):  # the link may already be gone; nothing else to do
                robot.stop()
        if gripper is not None and future is not None:
            with contextlib.suppress(Exception):  # likewise, and independent of the arm's stop
                gripper.stop()
        if lost and robot is not None:
            _LOST_LINKS.append((robot, gripper, future))
        del robot, gripper, future

    def close(self) -> None:
        self.disconnect()

    # ---- state --------------------------------------------------------------------------------------------
    def get_state(self) -> NDArray[np.float64]:
        """The measured 7-float state: tool xyz, tool Euler xyz, gripper closedness."""
        return self._guard(self._read_state)

    def _read_state(self) -> NDArray[np.float64]:
        return self._measure()[0]

    def _measure(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The 7-float state and the tool's rotation matrix, from one reading."""
        pos, rot = self._tool_pose()
        return np.concatenate([pos, mat_to_euler(rot), [self._closedness()]]), rot

    def _tool_pose(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        ee = np.asarray(self._robot.current_cartesian_state.pose.end_effector_pose.matrix, dtype=np.float64)
        rot = ee[:3, :3] @ FLIP
        return ee[:3, 3] + ee[:3, 2] * self.tcp_offset, rot

    def _max_width(self) -> float:
        width = float(self._gripper.max_width)
        return width if width > 0 else FRANKA_HAND_MAX_WIDTH

    def _closedness(self) -> float:
        return float(np.clip(1.0 - float(self._gripper.width) / self._max_width(), 0.0, 1.0))

    def _ee_matrix(self, pos: NDArray[np.float64], rot: NDArray[np.float64]) -> NDArray[np.float64]:
        """franky's end-effector pose (4, 4) for a tool position and rotation."""
        ee = np.eye(4)
        ee[:3, :3] = rot @ FLIP
        ee[:3, 3] = pos - ee[:3, 2] * self.tcp_offset
        return ee

    # ---- RobotDriver ---------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        """Home the robot and observe (``seed`` is ignored: the real world has no seeded layout)."""
        self.home()
        return self.get_observation()

    def get_observation(self) -> Observation:
        if self.camera is None:
            raise RuntimeError("FrankyDriver has no camera; pass camera=... or use get_state()")
        state = self.get_state()
        image = self.camera.read() if isinstance(self.camera, Camera) else self.camera()
        return Observation(np.asarray(image, np.uint8), state, time.monotonic() - self._t0)

    def joint_positions(self) -> NDArray[np.float64]:
        """The 7 measured joint angles (rad): ``robot.current_joint_state.position``."""
        return self._guard(lambda: np.asarray(self._robot.current_joint_state.position, dtype=np.float64).copy())

    def camera_features(self) -> dict[str, Any] | None:
        if self.camera is None:
            return None
        describe = getattr(self.camera, "describe", None)
        return describe() if callable(describe) else {"kind": "callable", "repr": repr(self.camera)}

    def features(self) -> dict[str, Any]:
        """The driver's settings (no connection needed): limits, dynamics, collision thresholds, home, camera."""
        torque, force = self.collision_torque, self.collision_force
        return {
            **super().features(),
            "ip": self.ip,
            "connected": self.connected,
            "relative_dynamics_factor": self.relative_dynamics_factor,
            "collision_torque": [float(torque)] * 7 if isinstance(torque, int | float) else [float(t) for t in torque],
            "collision_force": [float(force)] * 6 if isinstance(force, int | float) else [float(f) for f in force],
            "gripper_speed": self.gripper_speed,
            "gripper_force": self.gripper_force,
            "motion_timeout": self.motion_timeout,
            "home_timeout": self.home_timeout,
            "max_seconds": self.max_seconds(),
            "tcp_offset": self.tcp_offset,
            "home_joints": list(self.home_joints),
            "home_pose": list(self.home_pose),
            "realtime": self.realtime,
            "auto_recover": self.auto_recover,
            "timing": "each action starts and ends at rest; its duration follows the dynamics factor",
        }

    def max_seconds(self) -> dict[str, float]:
        """The longest each moving call can take before the driver stops the robot and reports (time spent
        reading the state and the camera not counted): an action is an arm leg and a gripper leg of up to
        ``motion_timeout`` each (an arm leg over its timeout is stopped and waited for once more, at most as
        long, and then ends the action); homing is a joint leg, a Cartesian leg and a gripper leg of up to
        ``home_timeout`` each (likewise). A remote client waits this long, plus a margin, for a moving
        request."""
        home = 3 * self.home_timeout
        return {"send_action": 2 * self.motion_timeout, "home": home, "reset": home}

    # send_action (RobotDriver's, final) clamps against _clamp_reference() and calls _execute; it raises
    # UnsafeActionError (nothing sent), RobotMotionError (motion has stopped) or RobotConnectionError.
    def _clamp_reference(self) -> NDArray[np.float64]:
        """The measured state; its tool rotation matrix is kept for :meth:`_execute` (one reading for both)."""
        state, rot = self._guard(self._measure)
        self._reference_rot = rot
        return state

    def _execute(self, action: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
        rot = self._reference_rot
        self._reference_rot = None
        if rot is None:  # not after _clamp_reference (not expected): rebuild it from the Euler angles
            rot = euler_to_mat(reference[3:6])
        self._guard(lambda: self._move(reference, rot, action))
        return action.copy()

    def _move(self, state: NDArray[np.float64], rot: NDArray[np.float64], safe: NDArray[np.float64]) -> None:
        """Send ``safe`` (clamped against ``state``, whose tool rotation matrix is ``rot``)."""
        import franky

        pos = state[:3]
        target = self._ee_matrix(pos + safe[:3], euler_to_mat(safe[3:6]) @ rot)
        current = self._ee_matrix(pos, rot)
        relative = np.linalg.inv(current) @ target  # franky's relative targets live in the end-effector frame
        # the clamp kept state[6] + safe[6] in the gripper range; clip only against rounding
        closedness = float(np.clip(state[6] + safe[6], self.limits.gripper_low, self.limits.gripper_high))
        with self._stopping_gripper_on_failure():
            future = self._command_gripper(closedness)
            if np.any(safe[:6] != 0.0):
                motion = franky.CartesianMotion(franky.Affine(relative), franky.ReferenceType.Relative)
                self._run_motion(motion, "the Cartesian motion", self.motion_timeout)
            self._wait_gripper(future, self.motion_timeout)

    def home(self) -> None:
        """Move to ``home_joints``, then to the tool pose ``home_pose``, and open the gripper; each of the three
        legs may take ``home_timeout`` seconds before it is stopped and reported.

        Homing is an operator action: it is not limited per step (only by the dynamics factor), but its end
        pose must lie inside the workspace box.
        """
        import franky

        pos, euler = np.array(self.home_pose[:3]), np.array(self.home_pose[3:])
        low, high = np.array(self.limits.workspace_low), np.array(self.limits.workspace_high)
        if not np.all((low <= pos) & (pos <= high)):
            raise ValueError(f"home_pose position {pos.tolist()} is outside the workspace box {low} .. {high}")
        target = self._ee_matrix(pos, euler_to_mat(euler))

        def run() -> None:
            with self._stopping_gripper_on_failure():
                future = self._command_gripper(0.0)
                timeout = self.home_timeout
                self._run_motion(franky.JointMotion(list(self.home_joints)), "homing (joints)", timeout)
                motion = franky.CartesianMotion(franky.Affine(target), franky.ReferenceType.Absolute)
                self._run_motion(motion, "homing (Cartesian)", timeout)
                self._wait_gripper(future, timeout)

        self._guard(run)

    def stop(self) -> None:
        """Stop the arm and the gripper now (the arm decelerates and holds). The gripper is stopped even when
        stopping the arm fails; then the arm's error is raised."""

        def run() -> None:
            self._gripper_future = None
            try:
                self._robot.stop()
            except BaseException:  # stop the hand anyway (best effort), then report the arm's error
                with contextlib.suppress(Exception):
                    self._gripper.stop()
                raise
            self._gripper.stop()

        self._guard(run)

    def recover(self) -> bool:
        """Clear a robot error (``recover_from_errors``) by hand; returns whether it worked."""
        return bool(self._guard(lambda: self._robot.recover_from_errors()))

    # ---- internals ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _stopping_gripper_on_failure(self) -> Iterator[None]:
        """On any error or interrupt inside, stop a gripper command that may still run (best effort), then let
        the error through."""
        try:
            yield
        except BaseException:
            if self._gripper_future is not None and self._gripper is not None:
                self._gripper_future = None
                with contextlib.suppress(Exception):
                    self._gripper.stop()
            raise

    def _run_motion(self, motion: Any, what: str, timeout: float) -> None:
        import franky

        try:
            self._robot.move(motion, asynchronous=True)
            finished = self._robot.join_motion(timeout)
        except franky.ControlException as e:
            recovered = self._recover_after_error()
            raise RobotMotionError(
                f"{what} failed: {e} (robot stopped; recover_from_errors "
                f"{'succeeded' if recovered else 'failed or not attempted'}; the action was not retried)"
            ) from e
        if not finished:
            self._robot.stop()
            with contextlib.suppress(franky.ControlException):  # stop() preempts the motion with a ControlException
                self._robot.join_motion(timeout)
            raise RobotMotionError(f"{what} did not finish within {timeout:g} s; the robot was stopped")

    def _recover_after_error(self) -> bool:
        import franky

        if not self.auto_recover:
            return False
        try:
            return bool(self._robot.recover_from_errors())
        except franky.ControlException:
            return False
        except franky.CommandException:
            return False

    def _command_gripper(self, closedness: float) -> Any:
        """Start a gripper command toward ``closedness`` unless the width barely changes; returns its future or None.

        The change is taken from the measured width (as the clamp does), not from the last command: after a grasp
        stopped on an object, "open a little" opens from where the fingers are.
        """
        width = (1.0 - closedness) * self._max_width()
        now = float(self._gripper.width)
        if abs(width - now) < GRIPPER_EPS:
            return None
        if width < now:  # wide tolerances: wherever the fingers stop (on an object or closed) counts as done
            eps = self._max_width()
            future = self._gripper.grasp_async(width, self.gripper_speed, self.gripper_force, eps, eps)
        else:
            future = self._gripper.move_async(width, self.gripper_speed)
        self._gripper_future = future
        return future

    def _wait_gripper(self, future: Any, timeout: float) -> None:
        if future is None:
            return
        if not future.wait(timeout):
            raise RobotMotionError(f"the gripper command did not finish within {timeout:g} s; stopped it")
        self._gripper_future = None
        if not future.get():
            raise RobotMotionError("the gripper reported that its command failed")

    def _guard(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` against the robot; a lost link marks the driver disconnected and raises RobotConnectionError."""
        if not self.connected:
            raise RobotConnectionError("not connected to a Franka (connect first, or again after a lost link)")
        import franky

        try:
            return fn()
        except franky.NetworkException as e:
            self._lost(e)
        except franky.CommandException as e:
            raise RobotMotionError(f"the robot rejected a command: {e}") from e
        except franky.GripperException as e:
            raise RobotMotionError(f"gripper error: {e}") from e
        except franky.Exception as e:  # anything else franky raises (ControlException outside a motion, ...)
            raise RobotMotionError(f"robot error: {type(e).__name__}: {e}") from e
        except RuntimeError as e:
            if isinstance(e, FrankyDriverError):
                raise
            self._lost(e)  # franky raises a bare RuntimeError("Net Exception") from state reads after a lost link

    def _lost(self, error: BaseException) -> NoReturn:
        ip = self.ip
        self._drop(lost=True)
        raise RobotConnectionError(
            f"lost the connection to the Franka at {ip}: {type(error).__name__}: {error}"
        ) from error
