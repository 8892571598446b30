"""The driver interface every agent acts through, in sim and on a real robot.

Life cycle: ``connect()``, then ``reset()`` (or ``home()``), ``get_observation()`` and ``send_action()`` once per
control step, ``stop()`` whenever motion must end now, ``disconnect()`` (``close()`` also releases whatever the
driver owns). :meth:`RobotDriver.features` describes a driver without connecting to anything.

The safety clamp cannot be bypassed: :meth:`RobotDriver.send_action` is implemented here once, is final (a
subclass that defines ``send_action`` is refused when the class is created), and runs
:func:`agents.safety.clamp_action` against the driver's current state and its :attr:`RobotDriver.limits` before
handing the safe action to the driver's :meth:`RobotDriver._execute`. The clamp's decision is kept in
:attr:`RobotDriver.last_safety`; what was executed is returned.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from agents.safety import SafetyLimits, SafetyResult, clamp_action

log = logging.getLogger(__name__)

ACTION_CONVENTION = (
    "7 floats: dx, dy, dz (m, robot base frame), droll, dpitch, dyaw (rad, Euler xyz, R_new = R_delta R_cur), "
    "dgripper (change of the gripper closedness, 0 open .. 1 closed)"
)
STATE_CONVENTION = (
    "7 floats: tool x, y, z (m, robot base frame), tool Euler xyz (rad), gripper closedness (0 open .. 1 closed)"
)


class RobotDriverError(RuntimeError):
    """Base class of the errors drivers report (lost links, failed motions)."""


class RobotConnectionError(RobotDriverError):
    """The robot is not connected, could not be reached, or stopped answering."""


class RobotMotionError(RobotDriverError):
    """A motion or gripper command failed (robot reflex, rejected command, timeout); motion has stopped."""


@dataclass
class Observation:
    image: NDArray[np.uint8]
    """exterior camera, uint8 (H, W, 3)"""
    state: NDArray[np.float64]
    """(7,) tool xyz, Euler xyz, gripper closedness (jepa_sim.geometry)"""
    time: float
    """seconds since the episode started"""
    extras: dict[str, Any] = field(default_factory=dict)
    """what only some drivers know (the simulator's privileged state, for oracles)"""
    wrist_image: NDArray[np.uint8] | None = None
    """wrist camera, uint8 (H, W, 3), when the driver has one (DROID's rig)"""

    def views(self) -> dict[str, NDArray[np.uint8]]:
        """The camera images by view name: ``exterior``, and ``wrist`` when there is one."""
        if self.wrist_image is None:
            return {"exterior": self.image}
        return {"exterior": self.image, "wrist": self.wrist_image}


class RobotDriver(ABC):
    """Resets to a start, observes, and executes one clamped action per control step.

    Subclasses implement :meth:`reset`, :meth:`get_observation`, :meth:`_execute` and :meth:`close` (and
    override :meth:`_clamp_reference`, :meth:`connect`, :meth:`home`, :meth:`stop`, :meth:`disconnect` where the
    defaults do not fit). They never define ``send_action``.
    """

    name: str = "robot"
    """short name of the driver kind (``features()["name"]``)"""
    limits: SafetyLimits = SafetyLimits()
    """the safety clamp's limits; every action is clamped against them before it reaches ``_execute``"""
    control_period: float | None = None
    """seconds per action when the driver has a fixed period; None when each action runs to completion"""
    last_safety: SafetyResult | None = None
    """the clamp's decision on the last action sent (what was changed and why)"""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "send_action" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} defines send_action; implement _execute instead: RobotDriver.send_action runs the "
                "safety clamp on every action and must not be overridden"
            )

    # ---- connection ---------------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the link to the robot or simulator (a no-op where there is nothing to connect to)."""
        return None  # nothing to do by default

    def disconnect(self) -> None:
        """Stop motion (best effort) and drop the link; safe to call twice (a no-op by default)."""
        return None  # nothing to do by default

    def close(self) -> None:
        """Release the robot or simulator (disconnects)."""
        self.disconnect()

    # ---- episodes and observations ------------------------------------------------------------------------
    @abstractmethod
    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode (in sim: a seeded layout; on a robot: home) and return the first observation."""

    def home(self) -> None:
        """Move to the home pose (the default starts a new episode with :meth:`reset`)."""
        self.reset()

    def stop(self) -> None:
        """Stop any motion now (a no-op for drivers whose actions finish before ``send_action`` returns)."""
        return None  # nothing to do by default

    @abstractmethod
    def get_observation(self) -> Observation: ...

    def get_state(self) -> NDArray[np.float64]:
        """The measured 7-float state (:data:`STATE_CONVENTION`); by default from :meth:`get_observation`."""
        return np.asarray(self.get_observation().state, np.float64)

    def joint_positions(self) -> NDArray[np.float64]:
        """The 7 measured arm joint angles (rad) in libfranka's convention (the real Franka's joint zeros), for
        drivers that know them (the digital-twin camera needs them)."""
        raise NotImplementedError(f"{type(self).__name__} does not report joint positions")

    def goal_images(self) -> list[NDArray[np.uint8]]:
        """Goal image(s) of the current episode, when the driver can make them (sim); else []."""
        return []

    def goal_views(self) -> list[dict[str, NDArray[np.uint8]]]:
        """The goal chain with every view the driver renders ({view: image} per (sub)goal); else []."""
        return [{"exterior": image} for image in self.goal_images()]

    # ---- acting -------------------------------------------------------------------------------------------
    @final
    def send_action(self, action: ArrayLike) -> NDArray[np.float64]:
        """Clamp ``action`` (7,) against the current state and :attr:`limits`, execute it, and return the action
        actually executed. The clamp's decision is kept in :attr:`last_safety`.

        Raises:
            agents.safety.UnsafeActionError: NaN, inf or a wrong shape; nothing is executed.
        """
        reference = np.asarray(self._clamp_reference(), np.float64)
        safety = clamp_action(action, reference, self.limits)
        self.last_safety = safety
        if safety.clamped:
            log.info("%s: action clamped: %s", self.name, "; ".join(safety.reasons))
        executed = self._execute(safety.action, reference)
        return np.array(executed, dtype=np.float64)

    def _clamp_reference(self) -> NDArray[np.float64]:
        """The state the action's deltas are applied to, for the clamp: the measured tool pose and the gripper
        closedness the gripper delta is added to. Default: :meth:`get_state`."""
        return self.get_state()

    @abstractmethod
    def _execute(self, action: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
        """Execute an already clamped ``action`` (clamped against ``reference``, the output of
        :meth:`_clamp_reference`); returns the action actually executed. Only :meth:`send_action` calls this."""

    # ---- description --------------------------------------------------------------------------------------
    def camera_features(self) -> dict[str, Any] | None:
        """What the driver's camera is (None: the driver has none)."""
        return None

    def features(self) -> dict[str, Any]:
        """A JSON-able description of the driver that needs no connection: name, control period, safety limits,
        camera, action and state conventions."""
        return {
            "name": self.name,
            "driver": type(self).__name__,
            "control_period": self.control_period,
            "limits": asdict(self.limits),
            "camera": self.camera_features(),
            "action": ACTION_CONVENTION,
            "state": STATE_CONVENTION,
        }
