"""The driver interface (the unavoidable safety clamp, features), SimDriver through it, and the cameras."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from numpy.typing import NDArray

from agents.drivers.base import Observation, RobotDriver
from agents.drivers.camera import (
    CameraError,
    DigitalTwinCamera,
    OpenCVCamera,
    crop_resize,
    load_image,
    model_to_franka_joints,
)
from agents.drivers.sim import SimDriver
from agents.safety import SafetyLimits, UnsafeActionError
from envs.config import ControlConfig, EnvConfig
from envs.franka_env import FrankaTableEnv
from envs.scene import EXTERIOR_CAMERA


@pytest.fixture
def sim() -> Any:
    driver = SimDriver.make("JepaSim/FrankaReach-v0", "cup", image_size=64)
    yield driver
    driver.close()


class _Recorder(RobotDriver):
    """A driver that only records what reaches its _execute."""

    name = "recorder"

    def __init__(self, state: NDArray[np.float64], limits: SafetyLimits) -> None:
        self.state, self.limits, self.executed = state, limits, []

    def reset(self, seed: int | None = None) -> Observation:
        return self.get_observation()

    def get_observation(self) -> Observation:
        return Observation(np.zeros((8, 8, 3), np.uint8), self.state.copy(), 0.0)

    def _execute(self, action: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
        self.executed.append(action.copy())
        return action


def test_send_action_cannot_be_overridden() -> None:
    with pytest.raises(TypeError, match="implement _execute instead"):

        class Sneaky(_Recorder):  # defining it is the test
            def send_action(self, action: Any) -> NDArray[np.float64]:  # type: ignore[misc]
                return np.asarray(action, np.float64)


def test_every_action_reaches_the_driver_clamped_and_the_decision_is_kept() -> None:
    state = np.array([0.6, 0.0, 0.05, 0.0, 0.0, 0.0, 0.9])
    driver = _Recorder(state, SafetyLimits())
    sent = driver.send_action([0.2, -0.01, -0.1, 0.0, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(sent, [0.02, -0.01, -0.03, 0.0, 0.0, 0.15, 0.1], atol=1e-12)
    np.testing.assert_array_equal(driver.executed[-1], sent)
    assert driver.last_safety is not None and driver.last_safety.clamped and len(driver.last_safety.reasons) >= 4
    ok = driver.send_action([0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert driver.last_safety is not None and not driver.last_safety.clamped and ok[0] == 0.01
    with pytest.raises(UnsafeActionError, match="non-finite"):
        driver.send_action([np.nan, 0, 0, 0, 0, 0, 0])
    assert len(driver.executed) == 2  # nothing reached the robot
    features = driver.features()
    assert features["name"] == "recorder" and features["limits"]["max_translation"] == 0.075
    json.dumps(features)


def test_sim_driver_features_need_no_episode_and_use_the_env_limits() -> None:
    control = ControlConfig(max_translation=0.05, workspace_high=(0.6, 0.3, 0.3))
    driver = SimDriver(gym.make("JepaSim/FrankaReach-v0", object="cup", image_size=64, control=control))
    try:
        features = driver.features()  # before any reset
        json.dumps(features)
        assert driver.limits == SafetyLimits.from_control(control)
        assert features["limits"]["max_translation"] == 0.05 and features["control_period"] == 0.25
        assert features["camera"]["shape"] == [64, 64, 3] and features["env_id"] == "JepaSim/FrankaReach-v0"
        with pytest.raises(RuntimeError, match="reset the driver before acting"):
            driver.send_action(np.zeros(7))
        driver.connect()  # starts a first episode
        assert driver.get_observation().image.shape == (64, 64, 3)
        assert driver.joint_positions().shape == (7,)
    finally:
        driver.close()


def test_the_sim_driver_clamps_oversized_actions_and_reports_it(sim: SimDriver) -> None:
    obs = sim.reset(seed=0)
    executed = sim.send_action(np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    assert executed[0] == pytest.approx(0.075)
    assert sim.last_safety is not None and sim.last_safety.clamped
    assert any("x translation" in r for r in sim.last_safety.reasons)
    assert sim.get_state()[0] > obs.state[0] + 0.05
    sim.send_action(np.array([0, 0, 0, 0, 0, 0, 1.0]))  # close: the command is now 1
    again = sim.send_action(np.array([0, 0, 0, 0, 0, 0, 0.5]))  # nothing more to close
    assert again[6] == 0.0 and sim.last_safety is not None and sim.last_safety.clamped
    down = sim.send_action(np.array([0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0]))
    assert down[2] == pytest.approx(-0.075)


def test_in_the_workspace_the_clamp_changes_nothing_the_env_would_not(sim: SimDriver) -> None:
    """Through the driver (clamp, then env) the episode is bit-identical to stepping the env directly."""
    env = gym.make("JepaSim/FrankaReach-v0", object="cup", image_size=64)
    actions = [  # over the per-step limits in x and yaw, gripper changes beyond [0, 1]; all inside the box
        [0.1, 0.0, -0.02, 0.0, 0.0, 0.1, 1.0],
        [-0.1, 0.05, -0.02, 0.0, 0.0, -0.2, -1.0],
        [0.02, -0.1, 0.0, 0.0, 0.0, 0.05, 0.4],
        [0.0, 0.05, -0.03, 0.0, 0.0, 0.0, 0.8],
        [-0.03, 0.0, 0.01, 0.0, 0.0, 0.0, -0.5],
    ]
    obs, _ = env.reset(seed=5)
    sim.reset(seed=5)
    try:
        command = 0.0
        for action in actions:
            obs, *_, info = env.step(np.array(action))
            executed = sim.send_action(np.array(action))
            np.testing.assert_array_equal(executed[:6], info["applied_action"][:6])
            np.testing.assert_array_equal(sim.get_observation().state, obs["state"])
            sim_info = sim.get_observation().extras["info"]
            assert sim_info["gripper_command"] == info["gripper_command"]
            # the reported gripper change is the one that happened (the env reports it before its range clip)
            assert command + executed[6] == pytest.approx(info["gripper_command"], abs=1e-12)
            command = info["gripper_command"]
    finally:
        env.close()


# ---- cameras ----------------------------------------------------------------------------------------------


def test_crop_resize_crops_the_centre_instead_of_squashing() -> None:
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 200  # the centred 40x40 square
    out = crop_resize(image, 20)
    assert out.shape == (20, 20, 3) and out.dtype == np.uint8 and int(out.min()) == 200
    same = np.full((20, 20, 3), 7, np.uint8)
    np.testing.assert_array_equal(crop_resize(same, 20), same)
    with pytest.raises(ValueError, match="uint8"):
        crop_resize(image.astype(np.float32), 20)


def test_goal_images_load_cropped_to_the_camera_size(tmp_path: Any) -> None:
    import imageio.v3 as iio

    path = tmp_path / "goal.png"
    iio.imwrite(path, np.full((48, 64, 3), 90, np.uint8))
    image = load_image(str(path), 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and int(image.mean()) == 90
    with pytest.raises(ValueError, match="cannot read the image"):
        load_image(str(tmp_path / "missing.png"), 32)


def test_an_opencv_camera_that_cannot_open_says_why() -> None:
    with pytest.raises(CameraError, match=r"opencv|cannot open camera"):
        OpenCVCamera("/dev/video-that-does-not-exist", image_size=64, warmup=0)


@pytest.fixture(scope="module")
def twin() -> Any:
    camera = DigitalTwinCamera(image_size=64)
    yield camera
    camera.close()


def test_the_twin_image_follows_the_joints(twin: DigitalTwinCamera) -> None:
    from envs.panda import HOME_QPOS

    home_joints = model_to_franka_joints(HOME_QPOS)
    home = twin.render(home_joints, 0.0)
    assert home.shape == (64, 64, 3) and home.dtype == np.uint8
    turned = home_joints.copy()
    turned[0] += 0.4  # the base joint: the arm swings sideways
    swung = twin.render(turned, 0.0)
    closed = twin.render(home_joints, 1.0)
    assert np.abs(swung.astype(int) - home).mean() > 1.0
    assert np.abs(closed.astype(int) - home).sum() > 0  # the fingers moved
    np.testing.assert_array_equal(twin.render(home_joints, 0.0), home)  # deterministic
    with pytest.raises(ValueError, match="7 finite joint angles"):
        twin.render(np.zeros(6), 0.0)
    with pytest.raises(RuntimeError, match="no joint source"):
        twin.read()
    described = twin.describe()
    assert described["kind"] == "digital_twin" and described["camera"] == EXTERIOR_CAMERA
    json.dumps(described)


def test_the_twin_at_the_sims_home_looks_like_the_sim(twin: DigitalTwinCamera) -> None:
    env = FrankaTableEnv(EnvConfig(image_size=64, start_noise=0.0, start_yaw_noise=0.0))
    try:
        obs, _ = env.reset(seed=2)
        joints = env.data.qpos[env.controller.arm_qpos_adr].copy()
        closedness = env.controller.gripper_closedness(env.data)
        for name in ("cup", "box"):
            adr = env.model.joint(f"{name}_joint").qposadr[0]
            twin.place_object(name, env.data.qpos[adr : adr + 3], env.data.qpos[adr + 3 : adr + 7])
        image = twin.render(model_to_franka_joints(joints), closedness)
        difference = np.abs(image.astype(int) - obs["image"].astype(int))
        assert difference.mean() < 1.0, difference.mean()
        np.testing.assert_allclose(twin.tool_state()[:3], obs["state"][:3], atol=2e-3)
        far = twin.render(model_to_franka_joints(joints) + 0.2, closedness)
        assert np.abs(far.astype(int) - obs["image"]).mean() > 5 * difference.mean() + 0.5
    finally:
        env.close()
        for name, pos in (("cup", (0.5, 0.15, 0.045)), ("box", (0.5, -0.15, 0.03))):
            twin.place_object(name, pos)


def test_the_twin_follows_a_driver(sim: SimDriver) -> None:
    obs = sim.reset(seed=4)
    camera = DigitalTwinCamera.following(sim, image_size=64)
    try:
        first = camera.read()
        np.testing.assert_allclose(camera.tool_state()[:3], obs.state[:3], atol=2e-3)
        sim.send_action(np.array([0.07, 0.07, 0.0, 0.0, 0.0, 0.0, 0.0]))
        assert np.abs(camera.read().astype(int) - first).mean() > 0.5
        np.testing.assert_allclose(camera.tool_state()[:3], sim.get_state()[:3], atol=2e-3)
    finally:
        camera.close()


def _franka_end_effector(q: NDArray[np.float64]) -> NDArray[np.float64]:
    """libfranka's O_T_EE for the Franka Hand (its documented modified-DH parameters, EE 0.1034 m past the
    flange, turned -pi/4): an independent model of the real robot's kinematics."""

    def dh(a: float, d: float, alpha: float, theta: float) -> NDArray[np.float64]:
        ca, sa, ct, st = np.cos(alpha), np.sin(alpha), np.cos(theta), np.sin(theta)
        return np.array([[ct, -st, 0, a], [st * ca, ct * ca, -sa, -d * sa], [st * sa, ct * sa, ca, d * ca],
                         [0, 0, 0, 1]])  # fmt: skip

    a = (0, 0, 0, 0.0825, -0.0825, 0, 0.088)
    d = (0.333, 0, 0.316, 0, 0.384, 0, 0)
    alpha = (0, -np.pi / 2, np.pi / 2, np.pi / 2, -np.pi / 2, np.pi / 2, np.pi / 2)
    pose = np.eye(4)
    for i in range(7):
        pose = pose @ dh(a[i], d[i], alpha[i], q[i])
    return pose @ dh(0, 0.107 + 0.1034, 0, -np.pi / 4)


def test_the_twin_uses_the_real_frankas_joint_convention(twin: DigitalTwinCamera) -> None:
    """Posed from libfranka joint angles, the twin's tool sits where the real robot's kinematics put it: on the
    fingers' axis, 0.02 m past libfranka's end-effector point (our tool point is the finger-pad centre), and
    with the end-effector frame turned by pi about x (our tool frame)."""
    from agents.drivers.franky import FLIP, HOME_JOINTS

    rng = np.random.default_rng(0)
    for q in [np.array(HOME_JOINTS), *(np.array(HOME_JOINTS) + rng.uniform(-0.4, 0.4, 7) for _ in range(4))]:
        twin.render(q, 0.0)
        pos, rot = twin.controller.tool_pose(twin.data)
        ee = _franka_end_effector(q)
        np.testing.assert_allclose(pos, ee[:3, 3] + 0.02 * ee[:3, 2], atol=1e-3)
        np.testing.assert_allclose(rot, ee[:3, :3] @ FLIP, atol=3e-3)


def test_the_robot_side_drivers_import_without_the_simulator() -> None:
    """agents.drivers.remote and .franky load on a robot PC without MuJoCo, gymnasium or envs (and leave MUJOCO_GL
    alone); SimDriver is still importable from the package."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import os, sys\n"
        "os.environ.pop('MUJOCO_GL', None)\n"
        "import agents.drivers.remote, agents.drivers.franky, agents.drivers.camera, agents.drivers\n"
        "loaded = sorted(m for m in ('mujoco', 'gymnasium', 'envs', 'torch') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
        "assert 'MUJOCO_GL' not in os.environ, os.environ['MUJOCO_GL']\n"
        "from agents.drivers import SimDriver\n"
        "assert SimDriver.__name__ == 'SimDriver' and 'mujoco' in sys.modules\n"
    )
    cwd = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, timeout=300)


class _QueuedCapture:
    """A fake ``cv2.VideoCapture`` of a device that keeps a queue of frames (V4L2-like: while the queue is full,
    new frames are dropped, so queued frames are the old ones). Frame k is filled with k; ``tick(n)`` lets n
    frame periods pass."""

    def __init__(self, device: Any, honours_buffer_size: bool) -> None:
        self.honours, self.size, self.queue, self.clock = honours_buffer_size, 4, [], 0
        self.grabbed: int | None = None

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        if prop == _FakeCV2.CAP_PROP_BUFFERSIZE and self.honours:
            self.size = int(value)
            return True
        return False

    def tick(self, n: int) -> None:
        for _ in range(n):
            self.clock += 1
            if len(self.queue) < self.size:
                self.queue.append(self.clock)

    def grab(self) -> bool:
        if not self.queue:
            self.tick(1)  # waits for the sensor's next frame
        self.grabbed = self.queue.pop(0)
        return True

    def retrieve(self) -> tuple[bool, NDArray[np.uint8]]:
        assert self.grabbed is not None
        return True, np.full((16, 16, 3), self.grabbed, np.uint8)

    def read(self) -> tuple[bool, NDArray[np.uint8]]:
        self.grab()
        return self.retrieve()

    def release(self) -> None:
        pass


class _FakeCV2:
    CAP_PROP_FRAME_WIDTH, CAP_PROP_FRAME_HEIGHT, CAP_PROP_BUFFERSIZE, COLOR_BGR2RGB = 3, 4, 38, 4

    def __init__(self, honours_buffer_size: bool) -> None:
        self.honours, self.captures = honours_buffer_size, []

    def VideoCapture(self, device: Any) -> _QueuedCapture:
        self.captures.append(_QueuedCapture(device, self.honours))
        return self.captures[-1]

    def cvtColor(self, frame: NDArray[np.uint8], code: int) -> NDArray[np.uint8]:
        return frame


@pytest.mark.parametrize("honours_buffer_size", [True, False])
def test_an_opencv_camera_returns_a_fresh_frame_not_a_queued_one(
    honours_buffer_size: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    cv2 = _FakeCV2(honours_buffer_size)
    monkeypatch.setitem(sys.modules, "cv2", cv2)
    camera = OpenCVCamera(0, image_size=16, warmup=3)
    capture = cv2.captures[0]
    assert camera.grabs == (2 if honours_buffer_size else 5)
    for _ in range(3):
        capture.tick(30)  # a second passes while the agent plans and the robot moves
        frame = camera.read()
        assert int(frame[0, 0, 0]) == capture.clock, "read() returned a frame taken before it was called"
    assert camera.describe()["grabs_per_read"] == camera.grabs
    camera.close()
