"""Typed, frozen configuration of the simulated Franka world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RenderPreset = Literal["fast", "pretty"]
ObjectName = Literal["cup", "box"]
TaskName = Literal["reach", "grasp", "reach_with_object", "grasp_and_carry", "pick_and_place"]

EXTERIOR_CAMERA_PRESETS: tuple[str, ...] = ("droid", "front")
"""names of ``envs.scene.EXTERIOR_CAMERAS`` (kept here so that the config imports no simulator)"""
GoalChain = Literal["paper", "grasp"]
GOAL_CHAINS: tuple[str, ...] = ("paper", "grasp")
RENDER_PRESETS: tuple[str, ...] = ("fast", "pretty")
OBJECTS: tuple[str, ...] = ("cup", "box")
TASKS: tuple[str, ...] = ("reach", "grasp", "reach_with_object", "grasp_and_carry", "pick_and_place")
GRASPING_TASKS: tuple[str, ...] = ("grasp", "grasp_and_carry", "pick_and_place")
"""tasks that start with the object on the table and must grasp it (reach_with_object starts with it held)"""


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not valid; allowed values: {', '.join(allowed)}")


def _check_box(name: str, low: tuple[float, ...], high: tuple[float, ...]) -> None:
    if len(low) != 3 or len(high) != 3 or any(lo >= hi for lo, hi in zip(low, high, strict=True)):
        raise ValueError(f"{name} must be two xyz corners with low < high on every axis, got {low} / {high}")


@dataclass(frozen=True)
class ControlConfig:
    """Cartesian control: per-step limits, workspace and timing.

    Actions are clipped to the per-step limits and the commanded pose to the workspace box; physics runs at
    ``physics_dt`` and the controller holds each action for ``control_period`` seconds.
    """

    control_period: float = 0.25
    """seconds per env step (the paper's 4 fps)"""
    physics_dt: float = 0.002
    """MuJoCo timestep in seconds"""
    max_translation: float = 0.075
    """largest |dx|, |dy|, |dz| per step (m), DROID's limit"""
    max_rotation: float = 0.15
    """largest |droll|, |dpitch|, |dyaw| per step (rad), DROID's limit"""
    max_gripper_delta: float = 1.0
    """largest |dgripper| per step"""
    workspace_low: tuple[float, float, float] = (0.3, -0.3, 0.02)
    """lowest commanded tool position (m, base frame); at z = 0.02 the fingertips touch the table"""
    workspace_high: tuple[float, float, float] = (0.62, 0.3, 0.3)
    """highest commanded tool position (m, base frame); the box is reachable pointing down at any yaw"""
    ik_damping: float = 1e-4
    """damping of the least-squares IK"""
    ik_nullspace_gain: float = 0.2
    """fraction of the way back to the home posture taken in the Jacobian's null space per step"""
    ik_iterations: int = 30
    """most IK iterations per step"""
    ik_tolerance: float = 5e-4
    """IK stops once the position error is below this (m)"""
    waypoints: int = 5
    """IK waypoints per control step along the straight line to the commanded pose"""
    ik_bisections: int = 5
    """for unreachable targets: bisection steps that shorten the motion to what IK can reach"""

    def __post_init__(self) -> None:
        for name in ("control_period", "physics_dt", "max_translation", "max_rotation", "max_gripper_delta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.control_period < self.physics_dt:
            raise ValueError(f"control_period={self.control_period} must be at least physics_dt={self.physics_dt}")
        _check_box("workspace", self.workspace_low, self.workspace_high)
        if not 1 <= self.waypoints <= self.substeps:
            raise ValueError(f"waypoints must be between 1 and substeps={self.substeps}, got {self.waypoints}")

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return max(1, round(self.control_period / self.physics_dt))


@dataclass(frozen=True)
class SuccessConfig:
    """Success thresholds (metres), from REFERENCES.md."""

    reach: float = 0.05
    """tool within this distance of the goal position"""
    lift: float = 0.04
    """object raised at least this much above its resting height"""
    carry: float = 0.05
    """held object within this distance of the goal position"""
    place: float = 0.05
    """object within this horizontal distance of the target"""
    place_height: float = 0.015
    """placed object's height above its resting height, at most"""
    at_rest_speed: float = 0.05
    """object speed (m/s) below which it counts as at rest"""


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines one simulated Franka task."""

    task: TaskName = "reach"
    object: ObjectName = "cup"
    """the object the task is about (both objects are always on the table)"""
    image_size: int = 128
    """square camera images, 64 to 256 px"""
    render_preset: RenderPreset = "fast"
    """``fast``: low-poly meshes, no shadows; ``pretty``: full visual meshes with shadows"""
    exterior_camera: str = "droid"
    """exterior camera preset (``envs.scene.EXTERIOR_CAMERAS``): ``droid`` (beside the robot, the default the
    shipped models were trained on) or ``front`` (facing the robot from above the far table edge: the object
    region larger in the frame, every reach goal still in view)"""
    wrist_camera: bool = False
    """also observe a wrist camera image under ``wrist_image``"""
    control: ControlConfig = field(default_factory=ControlConfig)
    success: SuccessConfig = field(default_factory=SuccessConfig)
    terminate_on_success: bool = True
    """end the episode (terminated=True) on the first successful step"""
    goal_chain: GoalChain = "paper"
    """the goal images of a trial (``FrankaTableEnv.goal_chain_names``): ``paper``, the paper's protocol (one
    goal image; pick-and-place: closed (on the object), carried, placed); ``grasp``, every task that grasps
    shows the grasp as a person would, step by step: above the object open, just over it open, around it
    open, closed, lifted, then the task's own steps (carried; pick-and-place: carried, lowered onto the target,
    placed)"""
    chain_over: float = 0.05
    """``goal_chain="grasp"``: how far above the grasp pose the *over* image shows the open gripper (m). At 0.05
    the finger pads (2.2 cm below the tool point) straddle the cup's rim by 7 mm, 8 mm from it each side; at 0.08
    they clear it by 2.3 cm, room for the last sideways alignment (measured on 47 trials: no better; README,
    *Success in sim*)"""
    place_over: float = 0.0
    """``goal_chain="grasp"``, pick-and-place: 0 = off; h > 0 adds an image, *lowering*, between *carried* and
    *lowered*: the object held h (m) above the place where it must rest. The descent from *carried* (15 cm up)
    then comes in two hops, each a short move that the energy can aim (README, *Success in sim*)"""
    start_noise: float = 0.05
    """half-range (m) of the random start offset of the tool around the home position"""
    start_yaw_noise: float = 0.3
    """half-range (rad) of the random start yaw of the tool"""

    def __post_init__(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("object", self.object, OBJECTS)
        _check_choice("render_preset", self.render_preset, RENDER_PRESETS)
        _check_choice("goal_chain", self.goal_chain, GOAL_CHAINS)
        _check_choice("exterior_camera", self.exterior_camera, EXTERIOR_CAMERA_PRESETS)
        if not 64 <= self.image_size <= 256:
            raise ValueError(f"image_size must be between 64 and 256 px, got {self.image_size}")
        if self.start_noise < 0 or self.start_yaw_noise < 0:
            raise ValueError("start_noise and start_yaw_noise must be >= 0")
        if not 0.0 < self.chain_over < 0.10:
            raise ValueError(f"chain_over must be in (0, 0.10) m (below the *above* image), got {self.chain_over}")
        if not 0.0 <= self.place_over < 0.15:  # envs.tasks.CARRY_HEIGHT
            raise ValueError(f"place_over must be in [0, 0.15) m (below the *carried* image), got {self.place_over}")
