"""Helpers the robot-driver tests share: a call run in the background, a simulator served in-process, server
subprocesses waited for and killed."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``fn`` in a daemon thread; the box gets its ``value`` or ``error`` and the ``end`` time."""
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


@contextmanager
def served_reach_sim(max_episode_steps: int, start_timeout: float, wrist_camera: bool = False) -> Iterator[str]:
    """A ``SimDriver`` (reach, cup, 64 px; with ``wrist_camera``, its wrist camera too) served on a free loopback
    port from a thread; yields its endpoint."""
    from agents.drivers.robot_server import serve
    from agents.drivers.sim import SimDriver

    ready: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    def run() -> None:  # the driver is made in the serving thread (its GL context lives there)
        sim = SimDriver.make("JepaSim/FrankaReach-v0", "cup", image_size=64, max_episode_steps=max_episode_steps,
                             wrist_camera=wrist_camera)  # fmt: skip
        try:
            serve(sim, "tcp://127.0.0.1:*", stop=stop, on_ready=ready.put)
        finally:
            sim.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=start_timeout)
    finally:
        stop.set()
        thread.join(10)


def wait_for_line(proc: subprocess.Popen[bytes], is_ready: Callable[[str], bool], timeout: float, what: str) -> str:
    """The first line of ``proc``'s output for which ``is_ready`` holds; the test fails (with the output so far)
    when none comes within ``timeout`` seconds or the process exits first."""
    import pytest

    lines: queue.Queue[bytes] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:  # read the output on a thread, so that waiting for it can time out
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic())).decode(errors="replace")
        except queue.Empty:
            pytest.fail(f"{what} did not come up in {timeout} s: {''.join(seen)[-2000:]}")
        seen.append(line)
        if is_ready(line):
            return line
        if proc.poll() is not None and lines.empty():
            pytest.fail(f"{what} exited with {proc.returncode}: {''.join(seen)[-2000:]}")


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of ``proc`` (started with its own session) and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
