"""`jepa-sim deploy`: the MPC agent (tiny random models) through the drivers, end to end.

Against franky-sim on loopback (started by the tests, as in tests/test_franky.py; skipped only when franky
or franky-sim is not installed): 10 steps through FrankyDriver with the digital-twin camera, recorded and
loaded back; a dry run that does not move the robot; a server killed mid-run. And through the simulator
driver: clamping reported, the episode recorded with the simulator's privileged state; a served simulator
whose episode ends; the robot server's errors.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from robot_threads import kill
from test_encoders import tiny_vjepa2
from test_franky import assert_reached, franky_sim, make_driver

from jepa_sim.cli.main import main
from jepa_sim.data.dataset import EpisodeDataset
from jepa_sim.data.episode import read_episode
from jepa_sim.geometry import apply_action

GRIPPER_TOL = 0.1  # closedness


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Flags for a tiny random encoder and a predictor folder saved for it, and a small planner."""
    from jepa_sim.encoders import load_encoder
    from jepa_sim.predictor import ACPredictor, PredictorConfig
    from jepa_sim.predictor.checkpoint import save_predictor

    root = tmp_path_factory.mktemp("models")
    tiny_vjepa2(root / "encoder")
    encoder = load_encoder(str(root / "encoder"), device="cpu")
    torch.manual_seed(0)
    predictor = ACPredictor(PredictorConfig(token_dim=32, grid=(4, 4), width=32, depth=2, heads=2, merge=2))
    save_predictor(root / "predictor", predictor, encoder.describe(), {"note": "random weights, for tests"})
    return ["--encoder", str(root / "encoder"), "--predictor", str(root / "predictor"), "--samples", "16",
            "--topk", "4", "--iterations", "2", "--device", "cpu", "--image-size", "64"]  # fmt: skip


@pytest.fixture(scope="module")
def two_view(models: list[str], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The flags of `models` with a tiny random predictor that observes the exterior and the wrist view."""
    from jepa_sim.encoders import load_encoder
    from jepa_sim.predictor import ACPredictor, PredictorConfig
    from jepa_sim.predictor.checkpoint import save_predictor

    encoder_folder = models[models.index("--encoder") + 1]
    encoder = load_encoder(encoder_folder, device="cpu")
    torch.manual_seed(1)
    config = PredictorConfig(
        token_dim=32, grid=(4, 4), width=32, depth=2, heads=2, merge=2, views=("exterior", "wrist")
    )
    folder = tmp_path_factory.mktemp("two_view") / "predictor"
    save_predictor(folder, ACPredictor(config), encoder.describe(), {"note": "random weights, for tests"})
    flags = list(models)
    flags[flags.index("--predictor") + 1] = str(folder)
    return flags


@pytest.fixture(scope="module")
def goal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A goal image of the twin's scene: the arm turned a little at its base (a wider PNG: it gets cropped)."""
    import imageio.v3 as iio

    from agents.drivers.camera import DigitalTwinCamera
    from agents.drivers.franky import HOME_JOINTS

    twin = DigitalTwinCamera(image_size=96)
    joints = np.array(HOME_JOINTS)
    joints[0] += 0.3
    image = twin.render(joints, 0.0)
    twin.close()
    path = tmp_path_factory.mktemp("goal") / "goal.png"
    iio.imwrite(path, np.concatenate([image, image[:, :32]], axis=1))  # 96 x 128
    return path


@pytest.fixture(scope="module")
def server() -> Any:
    with franky_sim() as (host, _):
        yield host


def franky_flags(host: str) -> list[str]:
    return ["deploy", "--driver", "franky", "--robot-ip", host, "--camera", "twin", "--relative-dynamics-factor", "0.3"]


def check_moved_as_commanded(episode: Any) -> None:
    """Each measured state is the one before with the executed action applied (pose and gripper)."""
    states, applied = episode["states"], episode["applied"]
    for t in range(episode.steps):
        assert_reached(apply_action(states[t], applied[t]), states[t + 1])
        expected = float(np.clip(states[t][6] + applied[t][6], 0.0, 1.0))
        assert abs(states[t + 1][6] - expected) < GRIPPER_TOL, (t, states[t], applied[t], states[t + 1])


def test_deploy_runs_the_agent_on_franky_sim_and_records_the_episode(
    server: str, models: list[str], goal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "real"
    args = [*franky_flags(server), "--goal", str(goal), "--max-steps", "10", "--record", str(record), *models]
    assert main(args) == 0
    out = capsys.readouterr().out
    for expected in ("driver features:", "start-up check:", "robot state", "safety limits: max translation 0.075",
                     "camera frame: (64, 64, 3) uint8", "recorded 10 steps", "done: 10 steps sent"):  # fmt: skip
        assert expected in out, (expected, out[-3000:])
    assert out.count(" executed [") == 10

    dataset = EpisodeDataset(record)  # the dataset loader reads it back, fully checked
    assert len(dataset) == 1 and dataset.image_size == 64 and dataset.validate() == []
    episode = read_episode(dataset.path(0))
    assert episode.steps == 10 and episode["frames"].shape == (11, 64, 64, 3)
    assert episode.metadata["env_id"] == "deploy/franky" and episode.metadata["outcome"] == "finished"
    np.testing.assert_array_equal(episode["goal_image"].shape, (64, 64, 3))
    check_moved_as_commanded(episode)
    assert np.abs(episode["applied"][:, :3]).max() > 0.01  # it did move
    assert np.abs(episode["frames"][-1].astype(int) - episode["frames"][0]).mean() > 0.1  # and the twin saw it

    # the same robot's gripper closes and opens on command (the hand the agent used)
    driver = make_driver()
    driver.connect(server)
    try:
        driver.send_action(np.array([0, 0, 0, 0, 0, 0, 1.0]))
        assert driver.get_state()[6] > 0.9
        driver.send_action(np.array([0, 0, 0, 0, 0, 0, -1.0]))
        assert driver.get_state()[6] < 0.1
    finally:
        driver.disconnect()

    assert main(args) == 0  # a second run adds a second episode
    assert len(EpisodeDataset(record)) == 2


def _printed_state(out: str, label: str) -> NDArray[np.float64]:
    line = next(line for line in out.splitlines() if label in line)
    return np.array([float(v) for v in line.split("[", 1)[1].rstrip("]").split()])


def test_a_dry_run_plans_but_does_not_move_the_robot(
    server: str, models: list[str], goal: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.drivers.franky import FrankyDriver

    commands: list[str] = []  # every way FrankyDriver moves the robot, watched
    for name in ("_run_motion", "_command_gripper", "home", "_execute"):
        original = getattr(FrankyDriver, name)

        def spy(self: Any, *args: Any, _name: str = name, _original: Any = original) -> Any:
            commands.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(FrankyDriver, name, spy)
    assert main([*franky_flags(server), "--goal", str(goal), "--max-steps", "3", "--dry-run", *models]) == 0
    out = capsys.readouterr().out
    assert commands == []  # nothing that moves the robot was called
    assert "DRY RUN" in out and out.count("(dry run: not sent)") == 3 and " executed [" not in out
    assert "homing" not in out and "dry run done: 3 steps planned" in out
    start, final = _printed_state(out, "robot state (x y z"), _printed_state(out, "final robot state")
    np.testing.assert_allclose(final, start, atol=2e-3)  # measured on the same connection: it stood still


def test_a_server_killed_mid_run_stops_reports_and_keeps_the_recording(
    models: list[str], goal: Path, tmp_path: Path
) -> None:
    """The deploy runs in its own process, as a user runs it: franky's native threads that still work on the dead
    link end with that process instead of living on in the test process."""
    import os
    import subprocess
    import sys

    record, log = tmp_path / "killed", tmp_path / "deploy.log"
    with franky_sim() as (host, server), log.open("wb") as sink:
        args = [*franky_flags(host), "--goal", str(goal), "--max-steps", "200", "--record", str(record), *models]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        deploy = subprocess.Popen([sys.executable, "-m", "jepa_sim.cli.main", *args], env=env, stdout=sink,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while "step   3" not in log.read_text() and deploy.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "step   3" in log.read_text(), log.read_text()[-3000:]
            kill(server)
            killed = time.monotonic()
            try:
                rc = deploy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"deploy hangs after the robot died: {log.read_text()[-3000:]}")
            assert time.monotonic() - killed < 15
        finally:
            kill(deploy)
    out = log.read_text()
    assert rc == 1, out[-3000:]
    assert "jepa-sim deploy: error: RobotConnectionError" in out and "lost the connection" in out, out[-3000:]
    assert "could not send stop" in out  # the link is gone; it says so instead of pretending
    episode = read_episode(EpisodeDataset(record).path(0))
    assert episode.steps >= 3 and episode.metadata["outcome"].startswith("error: RobotConnectionError")
    check_moved_as_commanded(episode)


def test_deploy_in_the_simulator_reports_clamped_actions_and_records_privileged_state(
    models: list[str], goal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "sim"
    args = ["deploy", "--driver", "sim", "--max-steps", "3", "--max-xyz", "0.3", "--record", str(record), *models]
    assert main(args) == 0  # goal images from the simulator; planned steps up to 0.3 m get clamped to 0.075 m
    out = capsys.readouterr().out
    clamped = [line.strip() for line in out.splitlines() if line.strip().startswith("clamped:")]
    assert any("translation" in line and "limit" in line for line in clamped), out[-3000:]
    assert "starting a simulated episode (seed 0)" in out
    dataset = EpisodeDataset(record)
    assert dataset.validate() == []
    episode = read_episode(dataset.path(0))
    assert episode.metadata["task"] == "reach" and episode.metadata["success_known"] is True
    assert np.abs(episode["applied"][:, :3]).max() <= 0.075 + 1e-12
    assert np.abs(episode["commanded"][:, :3]).max() > 0.075
    assert np.any(episode["object_pose"][:, :3] != 0)

    # a folder of simulated episodes is refused for a robot run before the robot is even connected (nothing
    # listens at this address: a connection attempt would end in a RobotConnectionError, not this)
    refused = ["deploy", "--driver", "franky", "--robot-ip", "127.0.0.1", "--camera", "none", "--goal", str(goal),
               "--record", str(record), *models]  # fmt: skip
    with pytest.raises(SystemExit, match=r"--record .* already holds episodes recorded with different settings "
                       r"\(driver: 'sim' -> 'franky'.*choose another --record folder"):  # fmt: skip
        main(refused)
    assert "connect" not in capsys.readouterr().out


def test_deploy_refuses_what_cannot_work(models: list[str], goal: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="needs --goal"):
        main(["deploy", "--driver", "franky", "--robot-ip", "127.0.0.1", *models])
    with pytest.raises(SystemExit, match="do not go together"):
        main(["deploy", "--driver", "sim", "--dry-run", "--record", str(tmp_path / "r"), *models])
    with pytest.raises(SystemExit, match="needs --robot-ip"):
        main(["deploy", "--driver", "franky", "--goal", str(goal), *models])
    with pytest.raises(SystemExit, match="cannot read the image"):
        main(["deploy", "--driver", "franky", "--goal", str(tmp_path / "nope.png"), *models])
    with pytest.raises(SystemExit, match="unknown wrist camera 'webcam'"):
        main(["deploy", "--driver", "sim", "--wrist-camera", "webcam", *models])
    with pytest.raises(SystemExit, match="the franky driver has no wrist camera: pass --wrist-camera opencv:N or twin"):
        main(["deploy", "--driver", "franky", "--robot-ip", "127.0.0.1", "--goal", str(goal), "--wrist-camera",
              "driver", *models])  # fmt: skip
    with pytest.raises(SystemExit, match=r"takes the wrist images the robot server sends .* \(--camera auto\)"):
        main(["deploy", "--driver", "remote", "--goal", str(goal), "--camera", "opencv:0", "--wrist-camera", "driver",
              *models])  # fmt: skip
    with pytest.raises(SystemExit, match="simulator's own wrist camera"):
        main(["deploy", "--driver", "sim", "--wrist-camera", "twin", *models])


def test_deploy_through_a_robot_server(
    models: list[str], goal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jepa-sim robot-server --driver sim` in its own process, `jepa-sim deploy --driver remote` here."""
    import os
    import queue
    import signal
    import subprocess
    import sys

    pytest.importorskip("zmq", reason="pyzmq is not installed")
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "jepa_sim.cli.main", "robot-server", "--driver", "sim", "--image-size", "64",
               "--address", "tcp://127.0.0.1:*"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
    # started as a shell starts a background job (`robot-server &`, nohup): SIGINT ignored; Ctrl-C must still stop it
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line.decode(errors="replace")) for line in stdout], daemon=True).start()
    try:
        seen = ""
        while "serving on" not in seen:
            seen += lines.get(timeout=120)
        endpoint = seen.rsplit("serving on ", 1)[1].split()[0]
        record = tmp_path / "remote"
        args = ["deploy", "--driver", "remote", "--address", endpoint, "--goal", str(goal), "--max-steps", "3",
                "--record", str(record), *models]  # fmt: skip
        assert main(args) == 0
        out = capsys.readouterr().out
        assert 'name: "sim"' in out and "camera frame: (64, 64, 3)" in out and out.count(" executed [") == 3
        episode = read_episode(EpisodeDataset(record).path(0))
        assert episode.steps == 3 and episode.metadata["env_id"] == "deploy/remote"
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops the robot and exits cleanly
        try:
            assert proc.wait(timeout=30) == 0
        except subprocess.TimeoutExpired:  # where it hangs: SIGABRT makes faulthandler print every thread's stack
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=10)
            time.sleep(0.5)
            output = "".join(lines.get() for _ in range(lines.qsize()))
            pytest.fail(f"the robot server did not exit within 30 s of SIGINT:\n{seen}{output[-6000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_a_robot_server_stops_cleanly_on_sigterm() -> None:
    """A service manager's stop (SIGTERM) ends `jepa-sim robot-server` as Ctrl-C does: robot stopped, exit 0."""
    import os
    import subprocess
    import sys

    from robot_threads import wait_for_line

    pytest.importorskip("zmq", reason="pyzmq is not installed")
    command = [sys.executable, "-m", "jepa_sim.cli.main", "robot-server", "--driver", "sim", "--image-size", "64",
               "--address", "tcp://127.0.0.1:*"]  # fmt: skip
    proc = subprocess.Popen(command, env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        wait_for_line(proc, lambda line: "serving on" in line, 120, "robot-server")
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        kill(proc)


def test_deploy_through_a_served_simulator_ends_cleanly_when_its_episode_ends(
    models: list[str], goal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The end of a served simulator's episode reaches `jepa-sim deploy --driver remote`: it stops there with
    success, instead of failing on the next action ("the episode is over")."""
    from robot_threads import served_reach_sim

    pytest.importorskip("zmq", reason="pyzmq is not installed")
    with served_reach_sim(max_episode_steps=2, start_timeout=120) as endpoint:
        args = ["deploy", "--driver", "remote", "--address", endpoint, "--goal", str(goal), "--max-steps", "5",
                *models]  # fmt: skip
        assert main(args) == 0
        out = capsys.readouterr().out
        assert out.count(" executed [") == 2 and "episode ended (success: False)" in out, out[-3000:]
        assert "done: 2 steps sent" in out


def test_deploy_through_a_robot_server_observes_the_wrist_view_it_sends(
    two_view: list[str], goal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A served simulator with its wrist camera sends both views; a server without one is a clear error."""
    from robot_threads import served_reach_sim

    pytest.importorskip("zmq", reason="pyzmq is not installed")
    args = ["--driver", "remote", "--goal", str(goal), "--wrist-goal", str(goal), "--wrist-camera", "auto",
            "--max-steps", "2", "--precision", "fp32", *two_view]  # fmt: skip
    with served_reach_sim(max_episode_steps=5, start_timeout=120, wrist_camera=True) as endpoint:
        assert main(["deploy", "--address", endpoint, *args]) == 0  # --wrist-camera auto: the server's
        out = capsys.readouterr().out
        for expected in ("wrist camera: driver (observed); the predictor observes exterior, wrist",
                         "wrist frame: (64, 64, 3) uint8", "done: 2 steps sent"):  # fmt: skip
            assert expected in out, (expected, out[-3000:])
    with served_reach_sim(max_episode_steps=5, start_timeout=120) as endpoint:
        assert main(["deploy", "--address", endpoint, *args]) == 1
        out = capsys.readouterr().out
        assert "the robot server sends no wrist images: start it with --wrist-camera" in out, out[-3000:]
        assert " executed [" not in out  # refused at the start-up check, before any action


def test_robot_server_errors_are_its_own_and_clear(tmp_path: Path) -> None:
    from jepa_sim.cli.deploy_cmd import DeployArgs
    from jepa_sim.cli.robot_server_cmd import RobotServerArgs

    assert RobotServerArgs().address == "tcp://127.0.0.1:5555"  # loopback unless asked: it is unauthenticated
    from agents.drivers.franky import SIM_TCP_OFFSET

    assert DeployArgs().tcp_offset == RobotServerArgs().tcp_offset == SIM_TCP_OFFSET
    with pytest.raises(SystemExit, match=r"^jepa-sim robot-server: --driver franky needs --robot-ip$"):
        main(["robot-server", "--driver", "franky"])
    with pytest.raises(SystemExit, match=r"^jepa-sim robot-server: unknown camera 'webcam'"):
        main(["robot-server", "--driver", "franky", "--robot-ip", "127.0.0.1", "--camera", "webcam"])
    with pytest.raises(SystemExit, match=r"^jepa-sim robot-server: the franky driver has no wrist camera to serve"):
        main(["robot-server", "--driver", "franky", "--robot-ip", "127.0.0.1", "--wrist-camera"])
    pytest.importorskip("franky", reason="franky-control is not installed")
    from test_franky import _free_loopback_address

    host = _free_loopback_address()  # nothing listens there
    with pytest.raises(SystemExit, match=rf"^jepa-sim robot-server: cannot connect the franky driver: cannot "
                       rf"connect to the Franka at {host}"):  # fmt: skip
        main(["robot-server", "--driver", "franky", "--robot-ip", host, "--camera", "none"])


def test_a_stop_that_cannot_be_sent_is_reported_accurately() -> None:
    """After a lost link to a robot server, deploy tries stop once more on a new connection and says what the
    server does on its own (not that the robot stops on a communication timeout: a healthy server does not)."""
    import socket

    from agents.drivers.remote import RemoteDriver
    from jepa_sim.cli.robot_args import stop_robot

    pytest.importorskip("zmq", reason="pyzmq is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = stop_robot(RemoteDriver(f"tcp://127.0.0.1:{port}", timeout=0.5), "remote")
    assert message.startswith("could not send stop (RobotConnectionError: not connected"), message
    assert "on a new connection: sent stop, but the robot server did not acknowledge it within 0.5 s" in message
    assert "ends or stops the running action on its own timeouts" in message and "check the robot" in message


def test_real_time_checks_are_required_unless_the_robot_is_on_loopback():
    from jepa_sim.cli.robot_args import realtime_required

    assert realtime_required(None, "172.16.0.2") is True and realtime_required(None, "robot.lab") is True
    assert realtime_required(None, "127.0.0.1") is False and realtime_required(None, "127.249.70.60") is False
    assert realtime_required(None, "localhost") is False
    assert realtime_required(False, "172.16.0.2") is False and realtime_required(True, "127.0.0.1") is True


def test_deploy_in_the_simulator_observes_and_records_the_wrist_view_of_a_two_view_predictor(
    two_view: list[str], models: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jepa_sim.data.features import FeatureCache
    from jepa_sim.data.manifest import read_manifest

    record = tmp_path / "two_view"
    args = ["deploy", "--driver", "sim", "--max-steps", "2", "--record", str(record), "--precision", "fp32",
            *two_view]  # fmt: skip
    assert main(args) == 0  # both views' goal images from the simulator (driver.goal_views()); wrist camera: auto
    out = capsys.readouterr().out
    for expected in ("agent: next sub-goal below 0.25 x its start (0.1 on 5), after 2 steps without progress "
                     "(2, 3% new lows on 4,5,6), from 6 when the arm stops on its way down, after 10 steps, "
                     "back to sub-goal 1 when the last stalls (2x at most); gripper snapped at 0.15, changed only "
                     "when it lowers the energy by 5%; visual servoing on 1; the exterior view alone on 5,6; "
                         "predictor arithmetic fp32",
                     "wrist camera: driver (observed); the predictor observes exterior, wrist",
                     "camera frame: (64, 64, 3) uint8", "wrist frame: (64, 64, 3) uint8",
                     "wrist goal images: 1 x (64, 64, 3)", "recorded 2 steps", "done: 2 steps sent"):  # fmt: skip
        assert expected in out, (expected, out[-3000:])
    dataset = EpisodeDataset(record)
    assert dataset.validate() == []
    episode = read_episode(dataset.path(0))
    assert episode["wrist_frames"].shape == episode["frames"].shape == (3, 64, 64, 3)
    assert not np.array_equal(episode["wrist_frames"], episode["frames"])  # another camera
    assert episode.metadata["wrist_camera"] == "driver"
    manifest = read_manifest(record)
    assert manifest["spec"]["wrist_camera"] is True and manifest["cameras"]["wrist"]["name"] == "panda/wrist"

    # the recorded episodes encode with both views, as collected ones do
    encoder = two_view[two_view.index("--encoder") + 1]
    assert main(["encode", "--data", str(record), "--encoder", encoder, "--device", "cpu", "--views",
                 "exterior,wrist"]) == 0  # fmt: skip
    cache = FeatureCache(record, load_encoder_description(encoder))
    assert cache.path(0, "wrist").is_file() and cache.path(0, "exterior").is_file()

    # a folder recorded with the wrist view refuses a run without it (and the other way round), before connecting
    capsys.readouterr()
    with pytest.raises(SystemExit, match=r"already holds episodes recorded with different settings "
                       r"\(wrist_camera: True -> None\)"):  # fmt: skip
        main(["deploy", "--driver", "sim", "--max-steps", "1", "--record", str(record), *models])
    assert capsys.readouterr().out == ""


def load_encoder_description(folder: str) -> dict[str, Any]:
    from jepa_sim.encoders import load_encoder

    return load_encoder(folder, device="cpu").describe()


def test_a_two_view_predictor_needs_a_wrist_camera_and_wrist_goals_before_anything_connects(
    two_view: list[str], models: list[str], goal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    franky = ["deploy", "--driver", "franky", "--robot-ip", "127.0.0.1", "--camera", "none", "--goal", str(goal)]
    # nothing listens at this address: a connection attempt would end in a RobotConnectionError, not these
    with pytest.raises(SystemExit, match=r"^jepa-sim deploy: the predictor observes exterior and wrist: pass "
                       r"--wrist-camera opencv:N \(a camera on the hand\) or twin; or deploy the exterior camera "
                       r"alone with --agent paper \(the one-view predictor\)$"):  # fmt: skip
        main([*franky, "--wrist-camera", "none", *two_view])
    with pytest.raises(SystemExit, match=r"the predictor observes exterior and wrist: pass --wrist-camera driver"):
        main(["deploy", "--driver", "sim", "--wrist-camera", "none", *two_view])
    for wrist in ("opencv:7", "auto"):  # auto: the twin for franky
        with pytest.raises(SystemExit, match=r"the predictor observes exterior and wrist: give --wrist-goal .* "
                           r"or deploy the exterior camera alone with --agent paper"):  # fmt: skip
            main([*franky, "--wrist-camera", wrist, *two_view])
    with pytest.raises(SystemExit, match=r"the predictor observes exterior only: --wrist-goal and --wrist-subgoals "
                       r"are not used"):  # fmt: skip
        main([*franky, "--wrist-camera", "twin", "--wrist-goal", str(goal), *models])
    # one wrist image per exterior goal, counted before anything is loaded
    with pytest.raises(SystemExit, match=r"3 exterior goal image\(s\) \(--subgoals, --goal\) but 2 wrist goal "
                       r"image\(s\) \(--wrist-subgoals, --wrist-goal\)"):  # fmt: skip
        main([*franky, "--subgoals", str(goal), str(goal), "--wrist-goal", str(goal), "--wrist-subgoals", str(goal),
              *two_view])  # fmt: skip
    with pytest.raises(SystemExit, match=r"1 exterior goal image\(s\) .* but 2 wrist goal image\(s\)"):
        main([*franky, "--wrist-goal", str(goal), "--wrist-subgoals", str(goal), *two_view])
    with pytest.raises(SystemExit, match="--wrist-subgoals come before a final --wrist-goal"):
        main([*franky, "--wrist-subgoals", str(goal), *two_view])
    with pytest.raises(SystemExit, match="give --goal too"):
        main(["deploy", "--driver", "sim", "--wrist-goal", str(goal), *two_view])
    assert capsys.readouterr().out == ""  # nothing was connected, nothing printed


def test_deploy_on_franky_sim_with_the_twin_wrist_camera(
    server: str, two_view: list[str], goal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The digital twin renders the simulated wrist camera posed by the measured joints: a two-view agent on
    franky-sim, wrist goal images from files."""
    import imageio.v3 as iio

    from agents.drivers.camera import DigitalTwinCamera
    from agents.drivers.franky import HOME_JOINTS

    twin = DigitalTwinCamera(image_size=96, camera="panda/wrist")
    joints = np.array(HOME_JOINTS)
    joints[0] += 0.3
    wrist_goal = tmp_path / "wrist_goal.png"
    iio.imwrite(wrist_goal, twin.render(joints, 0.0))
    twin.close()
    record = tmp_path / "real"
    args = [*franky_flags(server), "--wrist-camera", "twin", "--goal", str(goal), "--wrist-goal", str(wrist_goal),
            "--max-steps", "2", "--record", str(record), *two_view]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "wrist frame: (64, 64, 3) uint8" in out and "done: 2 steps sent" in out, out[-3000:]
    episode = read_episode(EpisodeDataset(record).path(0))
    assert episode["wrist_frames"].shape == (3, 64, 64, 3) and episode.metadata["wrist_goals"] == [str(wrist_goal)]
    assert np.abs(episode["wrist_frames"][-1].astype(int) - episode["wrist_frames"][0]).mean() > 0.1  # it moved
