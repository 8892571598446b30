"""FrankyDriver end to end against franky-sim on loopback (the real libfranka client, a MuJoCo FR3 server).

Each server runs as its own process on a random 127.x.y.z address (ports 1337/1338), so that parallel runs do
not collide and a test can kill it. Skipped, with the reason, only when franky (``import franky``) or the
franky-sim executable is missing; with both installed, a server that does not come up fails the test.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from robot_threads import in_thread, kill, wait_for_line

from agents.drivers import franky as franky_driver
from agents.drivers.franky import (
    HOME_POSE,
    SIM_TCP_OFFSET,
    FrankyDriver,
    RobotConnectionError,
    RobotMotionError,
)
from agents.safety import SafetyLimits, UnsafeActionError, clamp_action
from jepa_sim.geometry import apply_action, rotation_delta

POS_TOL = 2e-3  # m
ROT_TOL = 1e-2  # rad
SERVER_START_TIMEOUT = 60.0
LOST_LINK_TIMEOUT = 5.0  # a dead server must be reported within this many seconds (libfranka's UDP timeout is 1 s)


def _free_loopback_address() -> str:
    """A random 127.x.y.z on which the robot and gripper ports are free."""
    rng = random.Random()
    for _ in range(50):
        host = f"127.{rng.randint(100, 250)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        try:
            for port in (1337, 1338):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((host, port))
        except OSError:
            continue
        return host
    pytest.fail("no free loopback address for franky-sim (ports 1337/1338 taken on 50 random 127.x.y.z)")


def _server_executable() -> str:
    exe = Path(sys.executable).parent / "franky-sim"
    if not exe.exists():
        pytest.skip(f"franky-sim is not installed next to {sys.executable} (pip install franky-sim)")
    return str(exe)


@contextmanager
def franky_sim() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``franky-sim -s mujoco --hostname 127.x.y.z`` and yield (address, process); kill it afterwards.
    Skips when franky or the franky-sim executable is missing; fails when the installed server does not start."""
    pytest.importorskip("franky", reason="franky-control is not installed")
    executable = _server_executable()
    host = _free_loopback_address()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # "-s mujoco": franky-sim 1.0.4's default "auto" fails when the optional genesis backend is missing
    proc = subprocess.Popen(
        [executable, "-s", "mujoco", "--hostname", host],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group, so that killing it kills nothing else
    )
    try:
        wait_for_line(proc, lambda line: "Connect to the server" in line, SERVER_START_TIMEOUT, "franky-sim")
        yield host, proc
    finally:
        kill(proc)


def make_driver(**kwargs: Any) -> FrankyDriver:
    return FrankyDriver(
        relative_dynamics_factor=kwargs.pop("relative_dynamics_factor", 0.3), motion_timeout=20.0, **kwargs
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with franky_sim() as (host, _):
        yield host


@pytest.fixture
def driver(server: str) -> Iterator[FrankyDriver]:
    d = make_driver()
    d.connect(server)
    try:
        d.home()
        yield d
    finally:
        d.disconnect()


def assert_reached(expected: NDArray[np.float64], state: NDArray[np.float64]) -> None:
    pos_err = float(np.linalg.norm(state[:3] - expected[:3]))
    rot_err = float(np.linalg.norm(rotation_delta(expected[3:6], state[3:6])))
    assert pos_err < POS_TOL and rot_err < ROT_TOL, (expected, state, pos_err, rot_err)


# ---- tests ------------------------------------------------------------------------------------------------


def test_importing_the_driver_does_not_import_franky() -> None:
    code = "import sys, agents.drivers.franky; assert 'franky' not in sys.modules, 'franky was imported'"
    cwd = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, timeout=300)


def test_home_reaches_the_home_pose_with_the_gripper_open(driver: FrankyDriver) -> None:
    state = driver.get_state()
    assert state.shape == (7,) and state.dtype == np.float64
    assert_reached(np.array([*HOME_POSE, 0.0]), state)
    assert state[6] < 0.05  # open
    low, high = np.array(driver.limits.workspace_low), np.array(driver.limits.workspace_high)
    assert np.all((low <= state[:3]) & (state[:3] <= high))


@pytest.mark.parametrize(
    "action",
    [
        [0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, -0.04, -0.03, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.15, 0.0],
        [0.02, 0.02, 0.02, 0.1, -0.1, 0.05, 0.0],
        [0.3, 0.0, -0.5, 0.0, 0.0, 1.0, 0.0],  # over the per-step limits: executed clamped
    ],
)
def test_actions_move_the_tool_as_commanded(driver: FrankyDriver, action: list[float]) -> None:
    before = driver.get_state()
    sent = driver.send_action(np.array(action))
    np.testing.assert_array_equal(sent, clamp_action(action, before, driver.limits).action)
    assert driver.last_safety is not None and driver.last_safety.clamped == (not np.array_equal(sent, action))
    assert_reached(apply_action(before, sent), driver.get_state())


def test_a_few_steps_in_a_row_stay_in_the_workspace(driver: FrankyDriver) -> None:
    low, high = np.array(driver.limits.workspace_low), np.array(driver.limits.workspace_high)
    for _ in range(4):  # push down and forward past the box: the clamp stops the tool at its walls
        before = driver.get_state()
        sent = driver.send_action(np.array([0.075, 0.0, -0.075, 0.0, 0.0, 0.0, 0.0]))
        state = driver.get_state()
        assert_reached(apply_action(before, sent), state)
        assert np.all((low - POS_TOL <= state[:3]) & (state[:3] <= high + POS_TOL))
    assert driver.last_safety is not None and driver.last_safety.clamped  # by then the floor or the front wall


def test_gripper_closes_and_opens(driver: FrankyDriver) -> None:
    before = driver.get_state()
    sent = driver.send_action(np.array([0, 0, 0, 0, 0, 0, 1.0]))
    assert sent[6] == pytest.approx(1.0 - before[6])  # up to fully closed, not beyond
    assert driver.get_state()[6] > 0.9  # closed (nothing between the fingers)
    driver.send_action(np.array([0, 0, 0, 0, 0, 0, -1.0]))
    assert driver.get_state()[6] < 0.1  # open
    driver.send_action(np.array([0, 0, 0, 0, 0, 0, 0.5]))
    assert driver.get_state()[6] == pytest.approx(0.5, abs=0.1)  # half way


def test_an_unsafe_action_sends_nothing(driver: FrankyDriver) -> None:
    before = driver.get_state()
    with pytest.raises(UnsafeActionError, match="non-finite"):
        driver.send_action(np.array([0.05, np.nan, 0, 0, 0, 0, 0]))
    with pytest.raises(UnsafeActionError, match="shape"):
        driver.send_action(np.zeros(6))
    assert_reached(before, driver.get_state())
    assert driver.connected


def test_a_robot_error_is_recovered_once_reported_and_not_retried(driver: FrankyDriver) -> None:
    import franky

    class FailingRobot:
        """The real robot, except that every motion ends in a reflex."""

        def __init__(self, robot: Any) -> None:
            self.robot, self.moves, self.recoveries = robot, 0, 0

        def move(self, motion: Any, asynchronous: bool = False) -> None:
            self.moves += 1
            raise franky.ControlException(
                'libfranka: Move command aborted: motion aborted by reflex! ["cartesian_reflex"]'
            )

        def recover_from_errors(self) -> bool:
            self.recoveries += 1
            return bool(self.robot.recover_from_errors())

        def __getattr__(self, name: str) -> Any:
            return getattr(self.robot, name)

    real = driver._robot
    fake = FailingRobot(real)
    driver._robot = fake
    try:
        with pytest.raises(RobotMotionError, match=r"reflex.*recover_from_errors succeeded.*not retried"):
            driver.send_action(np.array([0.03, 0, 0, 0, 0, 0, 0]))
        assert (fake.moves, fake.recoveries) == (1, 1)
        assert driver.connected  # a robot error is not a lost link
        driver.auto_recover = False
        with pytest.raises(RobotMotionError, match="failed or not attempted"):
            driver.send_action(np.array([0.03, 0, 0, 0, 0, 0, 0]))
        assert (fake.moves, fake.recoveries) == (2, 1)
    finally:
        driver._robot = real
        driver.auto_recover = True
    driver.send_action(np.array([0.01, 0, 0, 0, 0, 0, 0]))  # usable again


def test_a_motion_over_its_timeout_is_stopped_and_reported(driver: FrankyDriver) -> None:
    driver.relative_dynamics_factor = 0.02
    driver._robot.relative_dynamics_factor = 0.02  # a 7.5 cm step now takes seconds
    driver.motion_timeout = 0.3
    start = time.monotonic()
    try:
        with pytest.raises(RobotMotionError, match=r"did not finish within 0.3 s; the robot was stopped"):
            driver.send_action(np.array([0.075, 0, 0, 0, 0, 0, 0]))
        assert time.monotonic() - start < 5.0
        assert driver.connected
        stopped = driver.get_state()
        time.sleep(0.5)
        assert_reached(stopped, driver.get_state())  # it holds still after the stop
    finally:
        driver.relative_dynamics_factor = 0.3
        driver._robot.relative_dynamics_factor = 0.3
        driver.motion_timeout = 20.0
    before = driver.get_state()
    sent = driver.send_action(np.array([0.02, 0, 0, 0, 0, 0, 0]))  # usable again
    assert_reached(apply_action(before, sent), driver.get_state())


def test_connecting_to_nothing_fails_fast() -> None:
    pytest.importorskip("franky", reason="franky-control is not installed")
    d = make_driver()
    start = time.monotonic()
    with pytest.raises(RobotConnectionError, match="cannot connect"):
        d.connect(_free_loopback_address())
    assert time.monotonic() - start < LOST_LINK_TIMEOUT
    with pytest.raises(RobotConnectionError, match="not connected"):
        d.get_state()


def test_a_killed_server_is_reported_promptly_and_nothing_hangs() -> None:
    with franky_sim() as (host, proc):
        d = make_driver(relative_dynamics_factor=0.02)  # slow, so that the server dies mid-motion
        d.connect(host)
        robot = d._robot
        thread, box = in_thread(lambda: d.send_action(np.array([0.075, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])))
        time.sleep(0.5)
        assert thread.is_alive(), f"the motion should still run: {box}"
        kill(proc)
        killed = time.monotonic()
        thread.join(LOST_LINK_TIMEOUT + 5)
        assert not thread.is_alive(), "send_action hangs after the server died"
        latency = box["end"] - killed
        error = box.get("error")
        assert isinstance(error, RobotConnectionError), error
        assert "lost the connection" in str(error) and latency < LOST_LINK_TIMEOUT, (str(error), latency)
        assert not d.connected
        # the dead link's franky objects stay alive (destroying them under franky's threads can crash the process)
        assert any(link[0] is robot for link in franky_driver._LOST_LINKS)
        start = time.monotonic()  # afterwards: a clear error at once, not franky's follow-up errors
        for call in (d.get_state, lambda: d.send_action(np.zeros(7)), d.home, d.stop, d.recover):
            with pytest.raises(RobotConnectionError, match="not connected"):
                call()
        assert time.monotonic() - start < 0.5
        d.disconnect()  # harmless


def test_a_server_killed_while_idle_is_reported_on_the_next_call() -> None:
    with franky_sim() as (host, proc):
        d = make_driver()
        d.connect(host)
        d.get_state()
        kill(proc)
        killed = time.monotonic()
        thread, box = in_thread(d.get_state)
        thread.join(LOST_LINK_TIMEOUT + 5)
        assert not thread.is_alive(), "get_state hangs after the server died"
        assert isinstance(box.get("error"), RobotConnectionError), box
        assert box["end"] - killed < LOST_LINK_TIMEOUT
        assert not d.connected


def test_connect_sets_the_dynamics_and_refuses_a_robot_it_cannot_set_up(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed recovery or a refused setting is a failed connect (not a connected driver at franky's default
    full dynamics); a good connect has the driver's dynamics factor."""
    import franky

    real = franky.Robot

    class NoRecovery:
        """The real robot, except that recover_from_errors() fails (a user stop pressed)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            object.__setattr__(self, "robot", real(*args, **kwargs))

        def recover_from_errors(self) -> bool:
            return False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.robot, name)

        def __setattr__(self, name: str, value: Any) -> None:
            setattr(self.robot, name, value)

    class RefusesCollisionSettings(NoRecovery):
        def recover_from_errors(self) -> bool:
            return bool(self.robot.recover_from_errors())

        def set_collision_behavior(self, *args: Any) -> None:
            raise franky.CommandException("libfranka: Set Collision Behavior command rejected")

    for fake, reason in ((NoRecovery, "recover_from_errors"), (RefusesCollisionSettings, "Collision Behavior")):
        monkeypatch.setattr(franky, "Robot", fake)
        d = make_driver()
        with pytest.raises(RobotConnectionError, match=f"could not set it up, so disconnected again.*{reason}"):
            d.connect(server)
        assert not d.connected
        with pytest.raises(RobotConnectionError, match="not connected"):
            d.get_state()
    monkeypatch.setattr(franky, "Robot", real)
    d = make_driver(relative_dynamics_factor=0.25)
    d.connect(server)
    try:
        assert d._robot.relative_dynamics_factor.velocity == pytest.approx(0.25)
    finally:
        d.disconnect()


def test_homing_has_its_own_timeout(driver: FrankyDriver) -> None:
    driver.send_action(np.array([0.075, 0.05, -0.05, 0.0, 0.0, 0.1, 0.0]))
    driver.motion_timeout = 0.2  # far too short for homing, which does not use it
    try:
        driver.home()
        assert_reached(np.array([*HOME_POSE, 0.0]), driver.get_state())
        driver.motion_timeout = 20.0
        driver.send_action(np.array([0.075, 0.05, -0.05, 0.0, 0.0, 0.1, 0.0]))
        driver.home_timeout = 0.2
        with pytest.raises(RobotMotionError, match=r"homing \(joints\) did not finish within 0.2 s"):
            driver.home()
    finally:
        driver.motion_timeout, driver.home_timeout = 20.0, 60.0
    driver.home()  # usable again
    assert driver.features()["home_timeout"] == 60.0


# ---- the gripper is stopped whenever a motion ends badly (fakes; franky itself only for its classes) ---------


class _FakeFuture:
    def __init__(self, finishes: bool) -> None:
        self.finishes = finishes

    def wait(self, timeout: float) -> bool:
        return self.finishes

    def get(self) -> bool:
        return True


class _FakeGripper:
    max_width = 0.08

    def __init__(self, finishes: bool = True) -> None:
        self.width, self.finishes, self.stops = 0.08, finishes, 0

    def grasp_async(self, *args: Any) -> _FakeFuture:
        return _FakeFuture(self.finishes)

    def move_async(self, *args: Any) -> _FakeFuture:
        return _FakeFuture(self.finishes)

    def stop(self) -> bool:
        self.stops += 1
        return True


class _FakeRobot:
    """At the home pose (tool pointing down); ``failure`` is raised by stop() and by join_motion()."""

    def __init__(self, failure: BaseException | None = None, tcp_offset: float = 0.02) -> None:
        from types import SimpleNamespace

        ee = np.eye(4)
        ee[:3, :3] = np.diag([1.0, -1.0, -1.0])
        ee[:3, 3] = [0.45, 0.0, 0.25 + tcp_offset]
        self.current_cartesian_state = SimpleNamespace(
            pose=SimpleNamespace(end_effector_pose=SimpleNamespace(matrix=ee))
        )
        self.failure, self.stops, self.moves = failure, 0, 0

    def move(self, motion: Any, asynchronous: bool = False) -> None:
        self.moves += 1

    def join_motion(self, timeout: float | None = None) -> bool:
        if self.failure is not None:
            raise self.failure
        return True

    def stop(self) -> None:
        self.stops += 1
        if self.failure is not None:
            raise self.failure

    def recover_from_errors(self) -> bool:
        return True


def _faked(robot: _FakeRobot, gripper: _FakeGripper) -> FrankyDriver:
    pytest.importorskip("franky", reason="franky-control is not installed")
    d = FrankyDriver()
    d._robot, d._gripper = robot, gripper  # connected, to fakes
    return d


def test_stop_stops_the_gripper_even_when_stopping_the_arm_fails() -> None:
    import franky

    gripper = _FakeGripper()
    d = _faked(_FakeRobot(franky.ControlException("libfranka: stop failed")), gripper)
    with pytest.raises(RobotMotionError, match="stop failed"):
        d.stop()
    assert gripper.stops == 1
    gripper = _FakeGripper()
    d = _faked(_FakeRobot(), gripper)
    d.stop()
    assert d._robot.stops == 1 and gripper.stops == 1


@pytest.mark.parametrize("failure", ["interrupt", "reflex", "gripper timeout"])
def test_an_action_that_ends_badly_stops_the_gripper(failure: str) -> None:
    import franky

    raised: BaseException | None = {
        "interrupt": KeyboardInterrupt(),  # Ctrl-C while waiting for the arm
        "reflex": franky.ControlException("libfranka: motion aborted by reflex"),
        "gripper timeout": None,
    }[failure]
    gripper = _FakeGripper(finishes=failure != "gripper timeout")
    d = _faked(_FakeRobot(raised), gripper)
    expected: type[BaseException] = KeyboardInterrupt if failure == "interrupt" else RobotMotionError
    with pytest.raises(expected):
        d.send_action(np.array([0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))  # move and close
    assert gripper.stops == 1, failure
    d._robot.failure = None
    gripper.finishes = True
    d.send_action(np.array([0.02, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]))  # a good action does not stop the gripper
    assert gripper.stops == 1


def test_disconnect_stops_a_running_gripper_command_but_not_a_held_grasp() -> None:
    import franky

    gripper = _FakeGripper(finishes=True)
    d = _faked(_FakeRobot(), gripper)
    d.send_action(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))  # a finished grasp: it keeps holding
    d.disconnect()
    assert gripper.stops == 0 and not d.connected
    gripper = _FakeGripper(finishes=True)
    robot = _FakeRobot()
    d = _faked(robot, gripper)
    d._command_gripper(1.0)  # a command still running (as when a motion is cut short by a lost link)
    robot.failure = franky.NetworkException("libfranka: connection lost")
    d.disconnect()  # the arm's stop fails; the hand is stopped anyway
    assert robot.stops == 1 and gripper.stops == 1 and not d.connected


def test_limits_are_the_drivers() -> None:
    limits = SafetyLimits(max_translation=0.01)
    assert FrankyDriver(limits).limits is limits
    assert FrankyDriver().tcp_offset == SIM_TCP_OFFSET == 0.02  # the simulator's tool point by default
    with pytest.raises(ValueError, match="relative_dynamics_factor"):
        FrankyDriver(relative_dynamics_factor=0.0)
    with pytest.raises(ValueError, match="home_pose"):
        FrankyDriver(home_pose=(0.45, 0.0, 0.25))
