"""Thread helpers the robot-driver tests share: a call run in the background, a simulator served in-process."""

from __future__ import annotations

import queue
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
def served_reach_sim(max_episode_steps: int, start_timeout: float) -> Iterator[str]:
    """A ``SimDriver`` (reach, cup, 64 px) served on a free loopback port from a thread; yields its endpoint."""
    from agents.drivers.remote import serve
    from agents.drivers.sim import SimDriver

    ready: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    def run() -> None:  # the driver is made in the serving thread (its GL context lives there)
        sim = SimDriver.make("JepaSim/FrankaReach-v0", "cup", image_size=64, max_episode_steps=max_episode_steps)
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
