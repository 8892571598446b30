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

from agents.drivers.base import Observation, RobotConnectionError
from agents.drivers.remote import ProtocolError, RemoteDriver, decode, encode, serve
from agents.safety import SafetyLimits, UnsafeActionError, clamp_action

pytest.importorskip("zmq", reason="pyzmq is not installed")

START_TIMEOUT = 120.0
TIMEOUT = 3.0  # the client's per-request timeout in these tests
ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import sys, time
import envs
from agents.drivers.remote import serve
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
    lines: queue.Queue[bytes] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic())).decode(errors="replace")
            except queue.Empty:
                pytest.fail(f"the robot server did not come up in {START_TIMEOUT} s: {''.join(seen)[-2000:]}")
            seen.append(line)
            if line.startswith("READY "):
                break
        yield line.split()[1], proc
    finally:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_messages_round_trip_arrays_and_observations() -> None:
    obs = Observation(np.arange(12, dtype=np.uint8).reshape(2, 2, 3), np.linspace(0, 1, 7), 1.5, {"dropped": 1})
    message = {"a": np.eye(3, dtype=np.float32), "b": (1, np.float64(2.5), np.bool_(True)), "obs": obs, "n": None}
    out = decode(encode(message))
    np.testing.assert_array_equal(out["a"], np.eye(3))
    assert out["a"].dtype == np.float32
    assert out["b"] == [1, 2.5, True] and out["n"] is None
    assert isinstance(out["obs"], Observation) and out["obs"].extras == {} and out["obs"].time == 1.5
    np.testing.assert_array_equal(out["obs"].image, obs.image)
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


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # reported to the test
            box["error"] = e
        box["end"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_a_server_killed_mid_action_is_reported_at_once_and_nothing_hangs() -> None:
    with sim_server(action_delay=20.0) as (endpoint, proc):  # each action takes 20 s on the server
        driver = RemoteDriver(endpoint, timeout=30.0, motion_timeout=60.0)
        driver.connect()
        driver.timeout = TIMEOUT
        thread, box = _in_thread(lambda: driver.send_action(np.array([0.02, 0, 0, 0, 0, 0, 0])))
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
        thread, box = _in_thread(driver.get_observation)
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
