"""The simulated Franka tabletop environment (gymnasium API)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from envs.config import EnvConfig
from envs.controller import CartesianController, IKResult, validate_action
from envs.panda import FINGER_MAX_OPENING, FINGER_PADS, HOME_QPOS, HOME_TOOL_POS
from envs.rendering import CameraRenderer
from envs.scene import EXTERIOR_CAMERA, OBJECT_SPECS, WRIST_CAMERA, load_model
from envs.tasks import (
    CARRY_HEIGHT,
    GRASP_Z_OFFSET,
    LIFT_HEIGHT,
    Goal,
    LayoutError,
    grasp_yaw,
    is_success,
    sample_goal,
    sample_xy_apart,
)
from jepa_sim.geometry import ACTION_DIM, STATE_DIM, euler_to_mat, mat_to_euler, quat_to_mat, yaw_quat

PREFIX = "panda/"
EXTERIOR_VIEW = "exterior"
WRIST_VIEW = "wrist"
VIEWS: tuple[str, ...] = (EXTERIOR_VIEW, WRIST_VIEW)
VIEW_CAMERAS: dict[str, str] = {EXTERIOR_VIEW: EXTERIOR_CAMERA, WRIST_VIEW: PREFIX + WRIST_CAMERA}
"""the scene camera behind each view"""
"""the views an env observes, by name: the exterior (third-person) camera and, with ``wrist_camera``, the wrist"""
GRASP_CHAIN: tuple[str, ...] = ("above", "over", "around", "closed", "lifted")
"""``goal_chain="grasp"``: the names of the images that show a grasp step by step (every task that grasps starts
with them). An evaluation records them, so that one made with another chain is not resumed as if it were the same"""
CHAIN_HOVER = 0.10
"""``goal_chain="grasp"``: the first image (*above*) shows the open gripper this far above the grasp pose (m)"""
# The second image (*over*) shows the open gripper ``EnvConfig.chain_over`` above the grasp pose (default 0.05 m).
# The finger pads reach 2.2 cm below the tool point, so at 0.05 they are 7 mm below the cup's rim (measured from
# the model's pad geoms): the open pads already straddle the rim, 8 mm from it each side. The last sideways
# alignment happens there, where the wrist camera sees the object large, so that the descent to *around* is
# straight down; a sideways error over 8 mm at *over* already pushes the cup.
SETTLE_STEPS = 25
HELD_SETTLE_STEPS = 150
"""physics steps (0.3 s) for a grasp placed in the closed gripper at reset to settle (reach_with_object)"""
HELD_START_LOW = np.array([0.40, -0.18, 0.12])
HELD_START_HIGH = np.array([0.56, 0.18, 0.22])
"""reach_with_object: the tool starts, object held, uniformly in this box (m, base frame)"""
STATE_LOW = np.array([-1.5, -1.5, -0.5, -np.pi, -np.pi / 2, -np.pi, 0.0])
STATE_HIGH = np.array([1.5, 1.5, 1.5, np.pi, np.pi / 2, np.pi, 1.0])
"""bounds of the 7-float state: the arm's reach around its base, Euler ranges, gripper closedness"""


def _view_cameras(views: tuple[str, ...]) -> dict[str, str]:
    """{view: scene camera} for the named views, or a ValueError naming the views the env renders."""
    unknown = [v for v in views if v not in VIEW_CAMERAS]
    if unknown or not views:
        raise ValueError(f"unknown view(s) {unknown or views}; the env renders {', '.join(VIEW_CAMERAS)}")
    return {view: VIEW_CAMERAS[view] for view in views}


@dataclass(frozen=True)
class SimState:
    """A snapshot of the simulation (:meth:`FrankaTableEnv.save_state`)."""

    physics: mujoco.MjData
    """a full copy of the simulation data, derived quantities included (so that the next step's controller
    reads exactly what it would have read without the detour)"""
    gripper_command: float
    last_joint_targets: list[tuple[NDArray[np.float64], int]]
    last_image: NDArray[np.uint8] | None


class FrankaTableEnv(gym.Env[dict[str, NDArray[Any]], NDArray[np.float64]]):
    """A Franka Panda on a table with a cup and a box, controlled by delta end-effector poses.

    ## Description
    One of five tasks about one of two objects (``config.task``, ``config.object``): ``reach`` (move the
    tool to a goal position), ``grasp`` (grasp the object and lift it), ``reach_with_object`` (the trial starts
    with the object held in the closed gripper, as in the paper; carry it to a goal position),
    ``grasp_and_carry`` (grasp it from the table, then carry it to a goal position) and ``pick_and_place``
    (grasp, carry, place it at a target on the table and let go). Both objects are always in the scene; the
    other one is a distractor on the table. Goals are given as images, rendered by putting the simulator in
    each goal configuration: ``info["goal_image"]``, and, for a chain of several, ``info["subgoal_images"]``
    in order with their names in ``info["subgoal_names"]``. ``config.goal_chain`` picks the chain: ``paper``
    (one goal image; pick-and-place: grasped, carried, placed) or ``grasp`` (above the object open, just over it
    open, around it open, closed, lifted: ``GRASP_CHAIN``, then carried; pick-and-place: carried, lowered,
    placed). With ``wrist_camera=True`` the same chain from the wrist camera is in ``info["wrist_goal_image"]``
    / ``info["wrist_subgoal_images"]``.

    The world frame is the robot base frame: x forward, y left, z up, the table top at z = 0.
    The tool frame sits between the finger pads; with the gripper pointing straight down and the fingers
    closing along the y axis its Euler angles are (0, 0, 0).

    ## Action space: ``Box(-limit, limit, (7,), float64)``
    | index | meaning                                   | unit | default limit |
    |-------|-------------------------------------------|------|---------------|
    | 0-2   | dx, dy, dz of the tool, base frame        | m    | 0.075         |
    | 3-5   | droll, dpitch, dyaw: R_new = R_delta R_cur | rad  | 0.15          |
    | 6     | change of the commanded gripper closedness | -    | 1.0           |

    The delta is applied to the measured tool pose; the target position is clipped into the workspace box,
    solved by damped least-squares IK and tracked by the joint position controllers for one control period
    (0.25 s by default, physics at 2 ms). Out-of-range actions are clipped (``info["action_clipped"]``); a
    NaN, inf or wrongly shaped action raises :class:`envs.controller.ActionError`. The gripper command is
    kept by the env between steps (0 open .. 1 closed) and the action changes it.

    ## Observation space: ``Dict``
    | key           | shape             | dtype   | meaning                                          |
    |---------------|-------------------|---------|--------------------------------------------------|
    | ``image``     | (S, S, 3)         | uint8   | RGB from the exterior (third-person) camera      |
    | ``state``     | (7,)              | float64 | tool x, y, z (m), roll, pitch, yaw (rad), gripper closedness |
    | ``wrist_image`` | (S, S, 3)       | uint8   | only with ``wrist_camera=True``                  |

    ``info`` holds privileged state for oracles: ``tool_pos``, ``object_pos``, ``object_yaw``, ``object_quat``,
    ``object_speed``, ``other_object_pos``, ``goal_pos``, ``grasped``, ``is_success``, ``gripper_command``,
    ``applied_action``, ``action_clipped``, ``commanded_pos`` (the tool target after the workspace clip,
    shortened if unreachable), ``ik_error`` and ``time``.

    ## Rewards
    Sparse: 1.0 on a step where the task succeeds, else 0.0.

    ## Success
    Thresholds in :class:`envs.config.SuccessConfig`: reach, tool within 5 cm of the goal; grasp, object held
    by both pads and raised >= 4 cm; reach_with_object and grasp_and_carry, object held and within 5 cm of the
    goal;
    pick_and_place, object on the table within 5 cm (xy) of the target, at rest, released.

    ## Starting state
    Object positions, yaws and the goal are sampled from ``self.np_random``; the tool starts near
    (0.45, 0, 0.25) with uniform noise of ``start_noise`` m per axis and ``start_yaw_noise`` rad of yaw,
    gripper open. reach_with_object instead starts with the tool uniformly in x 0.40-0.56, y +-0.18,
    z 0.12-0.22 m, the object between the closed fingers (settled for 0.3 s; the gripper command is 1).

    ## Episode end
    ``terminated`` on success (unless ``terminate_on_success=False``); ``truncated`` by the registered
    ``max_episode_steps``.

    ## Version history
    - v0: first release. Later within v0: goal chains, wrist goal images, the ``grasp_and_carry`` task.
    - ``FrankaReachWithObject-v1``: reach_with_object starts with the object held, as in the paper (v0 was
      the grasp-then-carry task, now ``FrankaGraspAndCarry-v0``); time limit 30 steps.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012  (gymnasium convention)

    def __init__(self, config: EnvConfig | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        cfg = replace(config or EnvConfig(), **overrides) if overrides else (config or EnvConfig())
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r} is not supported; use 'rgb_array' or None")
        self.config = cfg
        self.render_mode = render_mode
        self.metadata = {"render_modes": ["rgb_array"], "render_fps": round(1.0 / cfg.control.control_period)}
        pretty = cfg.render_preset == "pretty"
        self.model = load_model(pretty, cfg.exterior_camera)
        self.model.opt.timestep = cfg.control.physics_dt
        self.data = mujoco.MjData(self.model)
        self.controller = CartesianController(self.model, cfg.control)
        self._renderer = CameraRenderer(self.model, cfg.image_size, shadows=pretty)
        self._obj = OBJECT_SPECS[cfg.object]
        self._other = OBJECT_SPECS["box" if cfg.object == "cup" else "cup"]
        self._obj_joint = self.model.joint(f"{cfg.object}_joint")
        self._other_joint = self.model.joint(f"{self._other.name}_joint")
        self._obj_geom = self.model.geom(f"{cfg.object}_body").id
        self._pad_geoms = {self.model.geom(PREFIX + p).id for p in FINGER_PADS}
        self._home = self._solve_home()
        self.controller.set_home(self._home)

        s = cfg.image_size
        obs_spaces: dict[str, spaces.Space[Any]] = {
            "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
            "state": spaces.Box(STATE_LOW, STATE_HIGH, (STATE_DIM,), np.float64),
        }
        if cfg.wrist_camera:
            obs_spaces["wrist_image"] = spaces.Box(0, 255, (s, s, 3), np.uint8)
        self.observation_space = spaces.Dict(obs_spaces)  # type: ignore[assignment]
        limit = self.controller.clip_action(np.full(ACTION_DIM, np.inf))
        self.action_space = spaces.Box(-limit, limit, (ACTION_DIM,), np.float64)

        self.goal = Goal(HOME_TOOL_POS.copy())
        self._gripper_command = 0.0
        control = cfg.control
        self._waypoint_steps = (
            np.diff(np.linspace(0, control.substeps, control.waypoints + 1).round()).astype(int).tolist()
        )
        """physics steps spent tracking each IK waypoint of a control step"""
        self.last_joint_targets: list[tuple[NDArray[np.float64], int]] = []
        """(arm joint targets, physics steps) of each waypoint of the last step"""
        self._last_image: NDArray[np.uint8] | None = None

    # ---- set-up helpers -----------------------------------------------------------------------------
    def _solve_home(self) -> NDArray[np.float64]:
        qpos = self.data.qpos.copy()
        qpos[self.controller.arm_qpos_adr] = HOME_QPOS
        self.controller.set_home(HOME_QPOS)
        return self.controller.solve_ik(qpos, HOME_TOOL_POS, np.eye(3), iterations=200).qpos

    def _place_object(
        self, joint: mujoco._structs._MjModelJointViews, xy: NDArray[np.float64], z: float, yaw: float
    ) -> None:
        adr = joint.qposadr[0]
        self.data.qpos[adr : adr + 3] = (xy[0], xy[1], z)
        self.data.qpos[adr + 3 : adr + 7] = yaw_quat(yaw)
        self.data.qvel[joint.dofadr[0] : joint.dofadr[0] + 6] = 0.0

    def _object_pose(self, joint: mujoco._structs._MjModelJointViews) -> tuple[NDArray[np.float64], float]:
        adr = joint.qposadr[0]
        pos = self.data.qpos[adr : adr + 3].copy()
        yaw = float(mat_to_euler(quat_to_mat(self.data.qpos[adr + 3 : adr + 7]))[2])
        return pos, yaw

    # ---- gymnasium API ------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        m, d, cfg = self.model, self.data, self.config
        mujoco.mj_resetData(m, d)
        held = cfg.task == "reach_with_object"
        if held:  # the paper's protocol: the trial starts with the object in the closed gripper
            start = rng.uniform(HELD_START_LOW, HELD_START_HIGH)
        else:
            start = HOME_TOOL_POS + rng.uniform(-cfg.start_noise, cfg.start_noise, 3)
        start_yaw = rng.uniform(-cfg.start_yaw_noise, cfg.start_yaw_noise)
        start_mat = euler_to_mat(np.array([0.0, 0.0, start_yaw]))
        for _ in range(100):  # object, goal, then the distractor apart from both; resample if it does not fit
            if held:
                obj_pos = start - np.array([0.0, 0.0, GRASP_Z_OFFSET])
                obj_xy = obj_pos[:2]
            else:
                obj_xy = sample_xy_apart(rng, [])
                obj_pos = np.array([obj_xy[0], obj_xy[1], self._obj.half_height])
            self.goal = sample_goal(cfg.task, rng, obj_pos, start, self._obj.half_height)
            try:
                other_xy = sample_xy_apart(rng, [obj_pos, self.goal.position])
                break
            except LayoutError:
                continue
        else:
            raise LayoutError("could not lay out the objects and the goal; is the object region too small?")
        obj_yaw = start_yaw - self._obj.grasp_yaw_offset if held else rng.uniform(-np.pi / 4, np.pi / 4)
        self._place_object(self._obj_joint, obj_xy, float(obj_pos[2]), obj_yaw)
        self._place_object(self._other_joint, other_xy, self._other.half_height, rng.uniform(-np.pi, np.pi))

        qpos = d.qpos.copy()
        qpos[self.controller.arm_qpos_adr] = self._home
        arm = self.controller.solve_ik(qpos, start, start_mat, iterations=100).qpos
        # Held: fingers placed on the object's sides, then squeezed (command closed) while the grasp settles.
        self._gripper_command = 1.0 if held else 0.0
        self.controller.set_arm(d, arm, self._held_closedness if held else 0.0)
        self.controller.set_gripper(d, self._gripper_command)
        mujoco.mj_forward(m, d)
        mujoco.mj_step(m, d, nstep=HELD_SETTLE_STEPS if held else SETTLE_STEPS)
        d.time = 0.0
        if held and not self.is_grasped():
            raise RuntimeError(
                f"reach_with_object: the {cfg.object} did not settle in the gripper (a bug; seed {seed})"
            )

        info = self._info()
        views = (EXTERIOR_VIEW, WRIST_VIEW) if cfg.wrist_camera else (EXTERIOR_VIEW,)
        goals = self.render_goal_views(views)
        info["goal_image"] = goals[EXTERIOR_VIEW][-1]
        info["subgoal_names"] = self.goal_chain_names()
        if len(goals[EXTERIOR_VIEW]) > 1:
            info["subgoal_images"] = goals[EXTERIOR_VIEW]
        if cfg.wrist_camera:
            info["wrist_goal_image"] = goals[WRIST_VIEW][-1]
            info["wrist_subgoal_images"] = goals[WRIST_VIEW]
        return self._observation(), info

    def step(self, action: NDArray[np.float64]) -> tuple[dict[str, NDArray[Any]], float, bool, bool, dict[str, Any]]:
        a = validate_action(action)
        clipped, ik = self._advance(a)
        info = self._info()
        info["applied_action"] = clipped
        info["action_clipped"] = bool(np.any(clipped != a))
        info["ik_error"] = ik.position_error
        info["commanded_pos"] = ik.target_pos
        success = bool(info["is_success"])
        terminated = success and self.config.terminate_on_success
        return self._observation(), float(success), terminated, False, info

    def _advance(self, action: NDArray[np.float64]) -> tuple[NDArray[np.float64], IKResult]:
        """One control step of physics for a validated action (no rendering): (the clipped action, its IK)."""
        clipped = self.controller.clip_action(action)
        self._gripper_command = float(np.clip(self._gripper_command + clipped[6], 0.0, 1.0))
        targets, ik = self.controller.plan(self.data, clipped)
        self.controller.set_gripper(self.data, self._gripper_command)
        self.last_joint_targets = list(zip(targets, self._waypoint_steps, strict=True))
        for target, nstep in self.last_joint_targets:
            self.data.ctrl[self.controller.arm_act] = target
            mujoco.mj_step(self.model, self.data, nstep=nstep)
        return clipped, ik

    # ---- the simulator as a model (planning with perfect dynamics) ----------------------------------------
    def save_state(self) -> SimState:
        """Everything :meth:`restore_state` needs to bring the simulation back to this instant."""
        physics = mujoco.MjData(self.model)
        mujoco.mj_copyData(physics, self.model, self.data)
        return SimState(physics, self._gripper_command, list(self.last_joint_targets), self._last_image)

    def restore_state(self, state: SimState) -> None:
        mujoco.mj_copyData(self.data, self.model, state.physics)
        self._gripper_command = state.gripper_command
        self.last_joint_targets = list(state.last_joint_targets)
        self._last_image = state.last_image

    def preview(self, actions: NDArray[np.float64]) -> NDArray[np.uint8]:
        """The camera frame after executing ``actions`` (H, 7) from now, with the real dynamics; the simulation
        is left exactly as it was. Intermediate frames are not rendered."""
        return self.preview_views(actions, (EXTERIOR_VIEW,))[EXTERIOR_VIEW]

    def preview_views(self, actions: NDArray[np.float64], views: tuple[str, ...]) -> dict[str, NDArray[np.uint8]]:
        """:meth:`preview` from each named view (``exterior``, ``wrist``): {view: frame}."""
        cameras = _view_cameras(views)
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[0] < 1:
            raise ValueError(f"preview needs actions of shape (H, {ACTION_DIM}) with H >= 1, got {actions.shape}")
        checked = [validate_action(a) for a in actions]
        saved = self.save_state()
        try:
            for a in checked:
                self._advance(a)
            return {view: self._renderer.render(self.data, cameras[view]) for view in views}
        finally:
            self.restore_state(saved)

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode != "rgb_array":
            return None
        return self._last_image if self._last_image is not None else self._renderer.render(self.data, EXTERIOR_CAMERA)

    def close(self) -> None:
        if hasattr(self, "_renderer"):
            self._renderer.close()

    # ---- observations and privileged state -----------------------------------------------------------
    def _observation(self) -> dict[str, NDArray[Any]]:
        image = self._renderer.render(self.data, EXTERIOR_CAMERA)
        self._last_image = image
        obs: dict[str, NDArray[Any]] = {"image": image, "state": self.controller.state(self.data)}
        if self.config.wrist_camera:
            obs["wrist_image"] = self._renderer.render(self.data, VIEW_CAMERAS[WRIST_VIEW])
        return obs

    def is_grasped(self) -> bool:
        """Both finger pads touch the task object."""
        touching: set[int] = set()
        for i in range(self.data.ncon):
            con = self.data.contact[i]
            pair = {int(con.geom1), int(con.geom2)}
            if self._obj_geom in pair:
                touching |= pair & self._pad_geoms
        return touching == self._pad_geoms

    def _info(self) -> dict[str, Any]:
        tool_pos, _ = self.controller.tool_pose(self.data)
        obj_pos, obj_yaw = self._object_pose(self._obj_joint)
        adr = self._obj_joint.qposadr[0]
        obj_quat = self.data.qpos[adr + 3 : adr + 7].copy()
        other_pos, _ = self._object_pose(self._other_joint)
        dof = self._obj_joint.dofadr[0]
        speed = float(np.linalg.norm(self.data.qvel[dof : dof + 3]))
        grasped = self.is_grasped()
        success = is_success(
            self.config.task, tool_pos, obj_pos, speed, self._obj.half_height, grasped, self.goal, self.config.success
        )
        return {
            "task": self.config.task,
            "object": self.config.object,
            "time": float(self.data.time),
            "tool_pos": tool_pos,
            "object_pos": obj_pos,
            "object_yaw": obj_yaw,
            "object_quat": obj_quat,
            "object_speed": speed,
            "object_rest_height": self._obj.half_height,
            "other_object_pos": other_pos,
            "goal_pos": self.goal.position.copy(),
            "grasped": grasped,
            "is_success": success,
            "gripper_command": self._gripper_command,
        }

    # ---- goal images --------------------------------------------------------------------------------
    def _pose_arm(self, tool_pos: NDArray[np.float64], yaw: float, closedness: float) -> None:
        arm = self.controller.solve_ik(
            self.data.qpos.copy(), tool_pos, euler_to_mat(np.array([0.0, 0.0, yaw])), iterations=100
        ).qpos
        self.controller.set_arm(self.data, arm, closedness)

    @property
    def _held_closedness(self) -> float:
        """The gripper closedness at which the finger pads touch the task object's grasped sides."""
        return 1.0 - self._obj.grasp_width / (2 * FINGER_MAX_OPENING)

    def goal_chain_names(self) -> list[str]:
        """The names of this task's goal images in order (the last is the task's goal); see ``goal_chain``."""
        return [name for name, *_ in self._goal_configurations()]

    def _goal_configurations(self) -> list[tuple[str, NDArray[np.float64], NDArray[np.float64] | None, float]]:
        """(name, tool position, object centre or None to leave it, gripper closedness) of each (sub)goal."""
        obj_pos, _ = self._object_pose(self._obj_joint)
        goal = self.goal.position
        lift = np.array([0.0, 0.0, GRASP_Z_OFFSET])
        held = self._held_closedness
        task, chain = self.config.task, self.config.goal_chain
        if task == "reach":
            return [("goal", goal, None, 0.0)]
        if task == "reach_with_object":  # starts held: only where to carry it
            return [("carried", goal + lift, goal, held)]
        Config = tuple[str, NDArray[np.float64], NDArray[np.float64] | None, float]
        grasped: list[Config] = [("closed", obj_pos + lift, obj_pos, held)]
        if chain == "grasp":
            above, over, around, closed, lifted = GRASP_CHAIN
            raised = obj_pos + np.array([0.0, 0.0, LIFT_HEIGHT])
            grasped = [
                (above, obj_pos + lift + np.array([0.0, 0.0, CHAIN_HOVER]), obj_pos, 0.0),
                (over, obj_pos + lift + np.array([0.0, 0.0, self.config.chain_over]), obj_pos, 0.0),
                (around, obj_pos + lift, obj_pos, 0.0),
                (closed, obj_pos + lift, obj_pos, held),
                (lifted, raised + lift, raised, held),
            ]
        if task == "grasp":
            return grasped if chain == "grasp" else [("lifted", goal + lift, goal, held)]
        if task == "grasp_and_carry":
            return [*(grasped if chain == "grasp" else []), ("carried", goal + lift, goal, held)]
        carry = np.array([goal[0], goal[1], CARRY_HEIGHT])
        put_down = [("lowered", goal + lift, goal, held)] if chain == "grasp" else []  # on the target, still held
        if put_down and self.config.place_over > 0:  # held just above it first
            over_place = goal + np.array([0.0, 0.0, self.config.place_over])
            put_down.insert(0, ("lowering", over_place + lift, over_place, held))
        return [
            *grasped,
            ("carried", carry + lift, carry, held),
            *put_down,
            ("placed", goal + np.array([0.0, 0.0, 0.1]), goal, 0.0),
        ]

    def render_goal_images(self) -> list[NDArray[np.uint8]]:
        """The exterior camera's goal chain (:meth:`render_goal_views`)."""
        return self.render_goal_views((EXTERIOR_VIEW,))[EXTERIOR_VIEW]

    def render_goal_views(self, views: tuple[str, ...] = (EXTERIOR_VIEW,)) -> dict[str, list[NDArray[np.uint8]]]:
        """Render every (sub)goal configuration from each named view (``exterior``, ``wrist``): {view: chain}.
        The simulation state is left untouched."""
        cameras = _view_cameras(views)
        m, d = self.model, self.data
        saved = self.save_state()
        _, obj_yaw = self._object_pose(self._obj_joint)
        tool_yaw = float(self.controller.state(d)[5])
        yaw = grasp_yaw(obj_yaw, self._obj.grasp_yaw_offset, self._obj.yaw_symmetry, tool_yaw)
        images: dict[str, list[NDArray[np.uint8]]] = {view: [] for view in views}
        try:
            for _, tool_pos, obj_pos, closedness in self._goal_configurations():
                if obj_pos is not None:
                    self._place_object(self._obj_joint, obj_pos[:2], float(obj_pos[2]), obj_yaw)
                self._pose_arm(tool_pos, yaw, closedness)
                mujoco.mj_forward(m, d)
                for view in views:
                    images[view].append(self._renderer.render(d, cameras[view]))
        finally:
            self.restore_state(saved)
        return images
