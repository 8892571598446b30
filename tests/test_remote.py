"""The robot server and its client over ZeroMQ: a SimDriver served in its own process on loopback, then killed."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from robot_threads import in_thread, kill, served_reach_sim, wait_for_line

from agents.drivers.base import Observation, RobotConnectionError, RobotDriver, RobotMotionError
from agents.drivers.remote import RemoteDriver
from agents.drivers.robot_server import serve
from agents.drivers.wire import ProtocolError, decode, encode
from agents.safety import SafetyLimits, UnsafeActionError, clamp_action

pytest.importorskip("zmq", reason="pyzmq is not installed")

START_TIMEOUT = 120.0
TIMEOUT = 3.0  # the client's per-request timeout in these tests
ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import sys, time
import envs
from agents.drivers.robot_server import serve
from agents.drivers.sim import SimDriver

class SlowSim(SimDriver):
    def _execute(self, action, reference):
        time.sleep(float(sys.argv[2]))
        return super()._execute(action, reference)

driver = SlowSim.make("JepaSim/FrankaReach-v0", "cup", image_size=64)
driver.reset(seed=0)
serve(driver, sys.argv[1], on_ready=lambda endpoint: print("READY", endpoint, flush=True))
"""


@contextmanager
def sim_server(action_delay: float = 0.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A SimDriver served in its own process group on a free loopback port: (endpoint, process)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, "tcp://127.0.0.1:*", str(action_delay)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        line = wait_for_line(proc, lambda line: line.startswith("READY "), START_TIMEOUT, "the robot server")
        yield line.split()[1], proc
    finally:
        kill(proc)


def test_messages_round_trip_arrays_and_observations() -> None:
    obs = Observation(np.arange(12, dtype=np.uint8).reshape(2, 2, 3), np.linspace(0, 1, 7), 1.5, {"dropped": 1})
    message = {"a": np.eye(3, dtype=np.float32), "b": (1, np.float64(2.5), np.bool_(True)), "obs": obs, "n": None}
    out = decode(encode(message))
    np.testing.assert_array_equal(out["a"], np.eye(3))
    assert out["a"].dtype == np.float32
    assert out["b"] == [1, 2.5, True] and out["n"] is None
    assert isinstance(out["obs"], Observation) and out["obs"].extras == {} and out["obs"].time == 1.5
    np.testing.assert_array_equal(out["obs"].image, obs.image)
    assert out["obs"].wrist_image is None
    wrist = Observation(obs.image, obs.state, 2.0, wrist_image=255 - obs.image)  # DROID's second view travels too
    np.testing.assert_array_equal(decode(encode(wrist)).wrist_image, 255 - obs.image)
    with pytest.raises(ProtocolError):
        decode([b"{not json"])
    with pytest.raises(ProtocolError, match="bad array reference"):
        decode([b'{"__nd__": 3, "dtype": "<f8", "shape": [1]}'])


def test_a_served_sim_driver_observes_acts_and_clamps_remotely() -> None:
    with sim_server() as (endpoint, _):
        driver = RemoteDriver(endpoint, timeout=30.0, motion_timeout=30.0)
        described = driver.features()  # before connecting: the client's own settings
        assert described["remote"] is None and described["connected"] is False
        driver.connect()
        try:
            assert driver.remote_features is not None and driver.remote_features["name"] == "sim"
            assert driver.limits == SafetyLimits()  # the sim's default control limits, from the server
            assert driver.control_period == 0.25
            assert driver.ping() < TIMEOUT
            obs = driver.reset(seed=3)
            assert obs.image.shape == (64, 64, 3) and obs.image.dtype == np.uint8 and obs.state.shape == (7,)
            assert len(driver.goal_images()) == 1 and driver.joint_positions().shape == (7,)
            before = driver.get_state()
            executed = driver.send_action(np.array([0.04, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
            np.testing.assert_array_equal(executed, [0.04, 0, 0, 0, 0, 0, 0])
            assert driver.last_safety is not None and not driver.last_safety.clamped
            assert driver.get_state()[0] == pytest.approx(before[0] + 0.04, abs=5e-3)
            # an oversized action is clamped (client side, with the robot's limits) and reported
            before = driver.get_state()
            executed = driver.send_action(np.array([0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
            np.testing.assert_array_equal(executed, clamp_action([0.5, 0, 0, 0, 0, 0, 0], before).action)
            assert driver.last_safety is not None and driver.last_safety.clamped
            assert any("x translation" in reason for reason in driver.last_safety.reasons)
            # nothing unsafe leaves the workstation; the server's own errors come back by class
            with pytest.raises(UnsafeActionError, match="non-finite"):
                driver.send_action(np.array([np.inf, 0, 0, 0, 0, 0, 0]))
        finally:
            driver.disconnect()
        assert not driver.connected
        with pytest.raises(RobotConnectionError, match="not connected"):
            driver.get_state()


def test_server_side_errors_come_back_as_the_same_class_and_the_server_keeps_serving() -> None:
    from agents.drivers.sim import SimDriver

    ready: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    served: dict[str, Any] = {}

    def run() -> None:  # the driver is made in the serving thread (its GL context lives there)
        driver = SimDriver.make("JepaSim/FrankaReach-v0", "cup", image_size=64)
        try:
            served["count"] = serve(driver, "tcp://127.0.0.1:*", stop=stop, on_ready=ready.put)
        finally:
            driver.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    endpoint = ready.get(timeout=START_TIMEOUT)
    driver = RemoteDriver(endpoint, timeout=30.0, motion_timeout=30.0)
    try:
        driver.connect()
        with pytest.raises(RuntimeError, match="robot server: reset the driver before"):
            driver.get_observation()  # the sim has no episode yet
        assert driver.connected  # a robot-side error is not a lost link
        assert driver.reset(seed=1).state.shape == (7,)
        with pytest.raises(RuntimeError, match="already connected"):
            driver.connect()
    finally:
        driver.disconnect()
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and served["count"] == 3  # features, get_observation, reset


def test_a_server_killed_mid_action_is_reported_at_once_and_nothing_hangs() -> None:
    with sim_server(action_delay=20.0) as (endpoint, proc):  # each action takes 20 s on the server
        driver = RemoteDriver(endpoint, timeout=30.0, motion_timeout=60.0)
        driver.connect()
        driver.timeout = TIMEOUT
        thread, box = in_thread(lambda: driver.send_action(np.array([0.02, 0, 0, 0, 0, 0, 0])))
        time.sleep(1.0)
        assert thread.is_alive(), f"the action should still run: {box}"
        kill(proc)
        killed = time.monotonic()
        thread.join(TIMEOUT + 5)
        assert not thread.is_alive(), "send_action hangs after the server died"
        error = box.get("error")
        assert isinstance(error, RobotConnectionError), error
        assert "lost the connection" in str(error) and box["end"] - killed < TIMEOUT, (str(error), box["end"] - killed)
        assert not driver.connected
        start = time.monotonic()
        for call in (driver.get_state, lambda: driver.send_action(np.zeros(7)), driver.stop, driver.home):
            with pytest.raises(RobotConnectionError, match="not connected"):
                call()
        assert time.monotonic() - start < 0.5
        driver.disconnect()  # harmless


def test_a_server_killed_while_idle_is_reported_within_the_timeout() -> None:
    with sim_server() as (endpoint, proc):
        driver = RemoteDriver(endpoint, timeout=30.0)
        driver.connect()
        driver.timeout = TIMEOUT
        driver.get_state()
        kill(proc)
        killed = time.monotonic()
        thread, box = in_thread(driver.get_observation)
        thread.join(TIMEOUT + 5)
        assert not thread.is_alive(), "get_observation hangs after the server died"
        assert isinstance(box.get("error"), RobotConnectionError), box
        assert box["end"] - killed <= TIMEOUT + 0.5
        assert not driver.connected


def test_nothing_listening_is_a_clear_error_within_the_timeout() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    driver = RemoteDriver(f"tcp://127.0.0.1:{port}", timeout=1.0)
    start = time.monotonic()
    with pytest.raises(RobotConnectionError, match="did not answer features within 1 s"):
        driver.connect()
    assert time.monotonic() - start < 3.0 and not driver.connected


# ---- stopping a running action, timeouts, episode ends ------------------------------------------------------


class SlowArm(RobotDriver):
    """A fake robot whose actions take ``duration`` seconds unless ``stop()`` ends them (as franky's
    ``robot.stop()`` ends a running motion); records when ``stop()`` arrived."""

    name = "slow-arm"

    def __init__(self, duration: float = 30.0) -> None:
        self.duration = duration
        self.started = threading.Event()
        self.stop_requested = threading.Event()
        self.stop_times: list[float] = []
        self.executed: list[NDArray[np.float64]] = []
        self.state = np.array([0.45, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0])

    def reset(self, seed: int | None = None) -> Observation:
        return self.get_observation()

    def get_observation(self) -> Observation:
        return Observation(np.zeros((8, 8, 3), np.uint8), self.state.copy(), 0.0)

    def stop(self) -> None:
        self.stop_times.append(time.monotonic())
        self.stop_requested.set()

    def _execute(self, action: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
        self.started.set()
        if self.stop_requested.wait(self.duration):
            raise RobotMotionError("the motion was stopped")
        self.executed.append(action.copy())
        return action

    def features(self) -> dict[str, Any]:
        return {**super().features(), "max_seconds": {"send_action": 30.0, "home": 40.0, "reset": 40.0}}


@contextmanager
def served(driver: RobotDriver) -> Iterator[str]:
    """``driver`` served on a free loopback port by a thread of this process: the endpoint."""
    ready: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: serve(driver, "tcp://127.0.0.1:*", stop=stop, on_ready=ready.put), daemon=True
    )
    thread.start()
    try:
        yield ready.get(timeout=30)
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the server did not end"


ACTION = np.array([0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def test_a_stop_reaches_the_driver_at_once_while_an_action_runs() -> None:
    arm = SlowArm()
    with served(arm) as endpoint:
        driver = RemoteDriver(endpoint, timeout=TIMEOUT)
        driver.connect()
        try:
            thread, box = in_thread(lambda: driver.send_action(ACTION))
            assert arm.started.wait(10)
            time.sleep(0.2)
            asked = time.monotonic()
            other = RemoteDriver(endpoint, timeout=TIMEOUT)  # e.g. an operator's second client
            assert other.send_stop() == "sent stop; the robot server acknowledged it"
            assert arm.stop_times and arm.stop_times[0] - asked < 1.0, "the stop queued behind the action"
            thread.join(10)
            assert isinstance(box.get("error"), RobotMotionError), box  # the stopped action reports it
            assert "the motion was stopped" in str(box["error"]) and driver.connected
            arm.stop_requested.clear()
            arm.duration = 0.0
            np.testing.assert_array_equal(driver.send_action(ACTION), ACTION)  # usable again
        finally:
            driver.disconnect()


def test_ctrl_c_during_a_remote_action_stops_the_robot_and_keeps_the_link() -> None:
    arm = SlowArm()
    with served(arm) as endpoint:
        driver = RemoteDriver(endpoint, timeout=TIMEOUT)
        driver.connect()
        sent: dict[str, float] = {}

        def interrupt() -> None:  # Ctrl-C once the server is busy with the action
            if arm.started.wait(10):
                time.sleep(0.3)
                sent["at"] = time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)

        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            threading.Thread(target=interrupt, daemon=True).start()
            with pytest.raises(KeyboardInterrupt):
                driver.send_action(ACTION)
            assert arm.stop_times and arm.stop_times[0] - sent["at"] < 1.0, (arm.stop_times, sent)
            assert driver.connected  # the stuck socket was replaced
            driver.stop()  # what deploy does next: it works (before the fix: "Operation cannot be accomplished")
            assert len(arm.stop_times) == 2
            arm.stop_requested.clear()
            arm.duration = 0.0
            assert driver.get_state().shape == (7,)
            np.testing.assert_array_equal(driver.send_action(ACTION), ACTION)
        finally:
            signal.signal(signal.SIGINT, previous)
            driver.disconnect()


def test_a_moving_request_that_times_out_sends_stop_and_says_so() -> None:
    arm = SlowArm()
    with served(arm) as endpoint:
        driver = RemoteDriver(endpoint, timeout=TIMEOUT, motion_timeout=1.0)
        driver.connect()
        start = time.monotonic()
        with pytest.raises(RobotConnectionError, match=r"did not answer send_action within 1 s; sent stop; the "
                           r"robot server acknowledged it; the link is considered lost"):  # fmt: skip
            driver.send_action(ACTION)
        assert arm.stop_times and arm.stop_times[0] - start < 1.0 + TIMEOUT
        assert not driver.connected


def test_moving_requests_wait_as_long_as_the_servers_driver_may_take() -> None:
    from agents.drivers.franky import FrankyDriver
    from agents.drivers.remote import DEFAULT_MOTION_TIMEOUT, moving_timeouts

    franky = FrankyDriver(motion_timeout=10.0, home_timeout=60.0).features()  # no robot needed
    assert franky["max_seconds"] == {"send_action": 20.0, "home": 180.0, "reset": 180.0}
    assert moving_timeouts(franky, 5.0) == {"send_action": 25.0, "home": 185.0, "reset": 185.0}
    legs = moving_timeouts({"motion_timeout": 10.0}, 5.0)  # a driver that reports only its per-leg timeout
    assert legs == {"send_action": 25.0, "home": 35.0, "reset": 35.0}
    assert moving_timeouts({"control_period": 0.25}, 5.0) == dict.fromkeys(legs, DEFAULT_MOTION_TIMEOUT)

    with served(SlowArm(duration=0.0)) as endpoint:
        driver = RemoteDriver(endpoint, timeout=TIMEOUT)
        driver.connect()
        try:
            assert driver.request_timeout("send_action") == 30.0 + TIMEOUT
            assert driver.request_timeout("home") == 40.0 + TIMEOUT
            assert driver.request_timeout("get_state") == TIMEOUT
            assert driver.features()["moving_timeouts"]["reset"] == 40.0 + TIMEOUT
        finally:
            driver.disconnect()


def test_a_served_simulators_episode_end_reaches_the_client() -> None:
    with served_reach_sim(max_episode_steps=2, start_timeout=START_TIMEOUT) as endpoint:
        driver = RemoteDriver(endpoint, timeout=30.0)
        try:
            driver.connect()
            driver.reset(seed=0)
            assert driver.episode_known and not driver.done
            driver.send_action(np.zeros(7))
            assert not driver.done
            driver.send_action(np.zeros(7))
            assert driver.done and driver.success is False  # truncated after 2 steps, the goal not reached
            with pytest.raises(RuntimeError, match="the episode is over"):
                driver.send_action(np.zeros(7))
            driver.reset(seed=1)
            assert not driver.done
        finally:
            driver.disconnect()


def test_a_stop_ends_a_served_franky_motion_at_once() -> None:
    """Against franky-sim: the server's I/O thread calls FrankyDriver.stop() while the serving thread waits for
    a slow motion (franky's join_motion), and the motion ends at once with a RobotMotionError."""
    pytest.importorskip("franky", reason="franky-control is not installed")
    from test_franky import assert_reached, franky_sim, make_driver

    with franky_sim() as (host, _):
        arm = make_driver(relative_dynamics_factor=0.02)  # a 7.5 cm step takes seconds
        arm.connect(host)
        try:
            with served(arm) as endpoint:
                driver = RemoteDriver(endpoint, timeout=TIMEOUT)
                driver.connect()
                try:
                    assert driver.request_timeout("send_action") == 2 * arm.motion_timeout + TIMEOUT
                    thread, box = in_thread(lambda: driver.send_action(np.array([0.075, 0, 0, 0, 0, 0, 0])))
                    time.sleep(1.0)
                    assert thread.is_alive(), f"the motion should still run: {box}"
                    asked = time.monotonic()
                    assert driver.send_stop() == "sent stop; the robot server acknowledged it"
                    thread.join(10)
                    assert not thread.is_alive() and box["end"] - asked < 2.0, box
                    assert isinstance(box.get("error"), RobotMotionError), box
                    stopped = driver.get_state()
                    time.sleep(0.5)
                    assert_reached(stopped, driver.get_state())  # it holds still
                finally:
                    driver.disconnect()
        finally:
            arm.disconnect()
