"""`jepa-sim eval`: seeded trials through the sim driver, results.json / results.md / plot / videos."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.evaluate import TrialResult, results_markdown, summarize, wilson_ci95
from jepa_sim.cli.main import main


def test_wilson_interval_matches_known_values():
    assert wilson_ci95(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_ci95(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_ci95(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_the_table_pools_reach_over_objects_and_keeps_the_other_columns_apart():
    rows = [TrialResult("reach", "cup", "m", 0, True, 2, 0.1), TrialResult("reach", "box", "m", 0, False, 30, 0.1),
            TrialResult("grasp", "box", "m", 0, True, 9, 0.2)]  # fmt: skip
    summary = summarize(rows)
    assert summary["grasp"]["box"]["m"]["n"] == 1 and summary["reach"]["cup"]["m"]["success_rate"] == 1.0
    table = results_markdown(summary, ["m"])
    assert table.startswith("| Method | Reach | Grasp box |\n")  # columns nothing was evaluated on are left out
    assert "| m | 50% (2) | 100% (1) |" in table
    rows.append(TrialResult("grasp", "cup", "n", 0, False, 40, 0.2))
    assert "| m | 50% (2) | - | 100% (1) |" in results_markdown(summarize(rows), ["m", "n"])


def test_the_plot_draws_all_failed_and_all_succeeded_cells(tmp_path):
    from agents.evaluate import plot_results

    rows = [TrialResult("reach", "cup", "m", 0, False, 30, 0.1), TrialResult("grasp", "cup", "m", 0, True, 9, 0.1)]
    assert plot_results(summarize(rows), ["m"], tmp_path / "p.png").stat().st_size > 0


def test_eval_with_one_trial_writes_valid_results(tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["eval", "--methods", "mpc,random,oracle,simmpc", "--tasks", "reach", "--objects", "cup", "--trials", "1",
            "--samples", "8", "--topk", "2", "--iterations", "1", "--out", str(out), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| Method | Reach |" in printed and "mpc planning time per step" in printed
    assert "simmpc planning time per step" in printed
    results = json.loads((out / "results.json").read_text())
    for method in ("mpc", "random", "oracle", "simmpc"):
        cell = results["reach"]["cup"][method]
        assert cell["n"] == 1 and cell["success_rate"] in (0.0, 1.0)
        lo, hi = cell["ci95"]
        assert 0.0 <= lo <= cell["success_rate"] <= hi <= 1.0
        assert (out / f"reach_cup_{method}_seed1000.mp4").stat().st_size > 0
    assert results["reach"]["cup"]["oracle"]["success_rate"] == 1.0
    assert len(results["_trials"]) == 4 and results["_meta"]["planner"]["samples"] == 8
    for t in results["_trials"]:  # the planning agents trace the distance they advance on, the others have none
        distances = t["distance_trace"]
        planned = t["method"] in ("mpc", "simmpc")
        assert len(distances) == (t["steps"] if planned else 0) and all(0.0 < d < 10.0 for d in distances)
    assert (out / "results.md").read_text().startswith("| Method |") and (out / "results.png").stat().st_size > 0


def test_unknown_methods_tasks_and_objects_are_named(tmp_path):
    for flag, value in (("--methods", "octo"), ("--tasks", "pour"), ("--objects", "mug")):
        with pytest.raises(SystemExit, match=f"unknown .*{value}"):
            main(["eval", flag, value, "--out", str(tmp_path)])


def test_eval_runs_the_mppi_planner_too(tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--methods", "mpc", "--planner", "mppi", "--tasks", "reach", "--objects", "box", "--trials", "1",
            "--samples", "8", "--iterations", "1", "--videos", "0", "--no-outcome-videos", "--out", str(out),
            "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["_meta"]["planner"]["name"] == "mppi" and results["reach"]["box"]["mpc"]["n"] == 1
    assert results["_meta"]["finished"] is True and not list(out.glob("*.mp4"))


def test_an_earlier_evaluation_is_resumed_with_the_same_settings_and_never_replaced_without_overwrite(tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--methods", "oracle", "--tasks", "reach", "--objects", "cup", "--trials", "1", "--out", str(out)]
    assert main(args) == 0
    before = json.loads((out / "results.json").read_text())
    assert main(args) == 0  # the same command: nothing left to run, nothing lost
    assert json.loads((out / "results.json").read_text())["_trials"] == before["_trials"]
    with pytest.raises(SystemExit, match=r"other settings or checkpoints \(seed differ\)"):
        main([*args, "--seed", "5"])
    with pytest.raises(SystemExit, match=r"\(goal_chain, grasp_chain differ\)"):  # the grasp chain's images too
        main([*args, "--goal-chain", "paper"])
    assert json.loads((out / "results.json").read_text())["_trials"] == before["_trials"]
    assert main([*args, "--overwrite", "--videos", "0", "--no-outcome-videos"]) == 0
    assert not list(out.glob("*.mp4"))


def test_each_cell_keeps_a_video_of_its_first_success_and_its_first_failure(tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--methods", "oracle,random", "--tasks", "grasp", "--objects", "box", "--trials", "3",
            "--videos", "0", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    trials = json.loads((out / "results.json").read_text())["_trials"]
    expected = set()
    for method in ("oracle", "random"):
        for success in (True, False):
            seeds = [t["seed"] for t in trials if t["method"] == method and t["success"] is success]
            if seeds:
                expected.add(f"grasp_box_{method}_seed{seeds[0]}.mp4")
    assert {p.name for p in out.glob("*.mp4")} == expected and len(expected) >= 2
    held = [t for t in trials if t["method"] == "oracle" and t["success"]]
    assert held and all(t["grasped_trace"][-1] and max(t["gripper_trace"]) > 0 for t in held)  # grasped by a close


def test_a_killed_evaluation_resumes_where_it_stopped_with_the_same_trials_as_a_fresh_run(tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--methods", "random,oracle", "--tasks", "reach", "--objects", "cup", "--trials", "5",
            "--videos", "0", "--out", str(out)]  # fmt: skip
    code = f"import sys; from jepa_sim.cli.main import main; sys.exit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "MUJOCO_GL": "egl"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        trials: list = []
        while time.monotonic() < deadline and len(trials) < 1:
            time.sleep(0.1)
            try:
                trials = json.loads((out / "results.json").read_text())["_trials"]
            except (OSError, ValueError, KeyError):
                trials = []
        assert trials, "the evaluation wrote no trial within 120 s"
    finally:
        proc.kill()
        proc.wait()
    first = json.loads((out / "results.json").read_text())
    assert first["_meta"]["finished"] is False and 1 <= len(first["_trials"]) < 10
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["_meta"]["finished"] is True and len(results["_trials"]) == 10
    for t in results["_trials"]:  # per step: the commanded gripper change and whether the object was held
        assert len(t["gripper_trace"]) == len(t["grasped_trace"]) == t["steps"] == len(t["goal_trace"])
        assert all(-1.0 <= g <= 1.0 for g in t["gripper_trace"])
    kept = {(t["method"], t["seed"]): t for t in results["_trials"]}
    for t in first["_trials"]:
        assert kept[t["method"], t["seed"]] == t  # finished trials were kept, not rerun
    fresh = tmp_path / "fresh"
    assert main([*args[:-1], str(fresh)]) == 0

    def outcomes(folder):
        rows = json.loads((folder / "results.json").read_text())["_trials"]
        return sorted((t["method"], t["seed"], t["success"], t["steps"], tuple(t["goal_trace"])) for t in rows)

    assert outcomes(out) == outcomes(fresh)  # resuming changes no trial, the random baseline's included
    with pytest.raises(SystemExit, match="would drop some"):
        main([*args[:-4], "--trials", "3", "--videos", "0", "--out", str(out)])
    assert main([*args[:-4], "--trials", "6", "--videos", "0", "--out", str(out)]) == 0  # more trials extend it
    assert len(json.loads((out / "results.json").read_text())["_trials"]) == 12


def test_the_agent_presets_set_the_defaults_and_explicit_flags_win():
    import tyro

    from jepa_sim.cli.deploy_cmd import DeployArgs
    from jepa_sim.cli.eval_cmd import EvalArgs
    from jepa_sim.cli.main import _subcommands
    from jepa_sim.cli.planner_args import AGENT_PRESETS

    def parse(*argv: str):
        return tyro.cli(_subcommands(list(argv)), args=list(argv))

    grasp, paper = AGENT_PRESETS["grasp"], AGENT_PRESETS["paper"]
    assert set(grasp) == set(paper)
    for cls in (EvalArgs, DeployArgs):  # the dataclasses' own defaults are the shipped (grasp) agent
        plain = cls()
        assert plain.agent == "grasp"
        assert all(getattr(plain, k) == v for k, v in grasp.items() if hasattr(plain, k))
    assert parse("eval") == EvalArgs()
    args = parse("eval", "--agent", "paper", "--stall-steps", "3", "--trials", "7")
    assert args.agent == "paper" and args.stall_steps == 3 and args.trials == 7  # given flags win
    assert all(getattr(args, k) == v for k, v in paper.items() if k != "stall_steps")
    assert parse("eval", "--agent=paper").predictor == "one-view"
    deploy = parse("deploy", "--agent", "paper", "--goal", "g.png")
    assert (deploy.predictor, deploy.gripper_snap, deploy.max_yaw) == ("one-view", 0.0, 0.0)
    assert parse("deploy").predictor == "two-view-hover"
    with pytest.raises(SystemExit):
        parse("eval", "--agent", "octo")
    with pytest.raises(SystemExit):  # no subcommand: tyro's message, not an error of the preset scan
        main([])
    # the paper preset's views follow its predictor: the exterior camera alone
    from jepa_sim.cli.eval_cmd import default_views

    assert default_views(["mpc"], paper["predictor"]) == ("exterior",)
    assert default_views(["mpc"], grasp["predictor"]) == ("exterior", "wrist")


def test_eval_table_merges_folders_of_one_evaluation_and_refuses_others(tmp_path, capsys):
    import importlib.util

    from agents.evaluate import write_results

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_table.py"
    spec = importlib.util.spec_from_file_location("eval_table", script)
    assert spec is not None and spec.loader is not None
    eval_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eval_table)
    meta = {"methods": ["mpc"], "seed": 1000, "predictor": "two-view-hover"}
    cup = [TrialResult("grasp", "cup", "mpc", 1000 + i, i < 1, 20, 0.2) for i in range(4)]
    box = [TrialResult("grasp", "box", "mpc", 1000 + i, i < 3, 20, 0.2) for i in range(4)]
    write_results(cup, ["mpc"], tmp_path / "cup", {**meta, "objects": ["cup"]}, plot=False)
    write_results(box, ["mpc"], tmp_path / "box", {**meta, "objects": ["box"]}, plot=False)
    write_results(box[:2], ["mpc"], tmp_path / "again", {**meta, "objects": ["box"]}, plot=False)  # the same trials
    trials, methods = eval_table.load([tmp_path / "cup", tmp_path / "box", tmp_path / "again"])
    assert len(trials) == 8 and methods == ["mpc"]
    table = eval_table.table(summarize(trials), methods)
    assert "| mpc | 1/4 = 25% (5-70%) | 3/4 = 75% (30-95%) |" in table and "*65%* | *25%*" in table
    write_results(box[:1], ["mpc"], tmp_path / "other", {**meta, "predictor": "one-view"}, plot=False)
    with pytest.raises(SystemExit, match="other settings \\(predictor differ\\)"):
        eval_table.load([tmp_path / "cup", tmp_path / "other"])
    flipped = [TrialResult("grasp", "box", "mpc", 1000, False, 20, 0.2)]
    write_results(flipped, ["mpc"], tmp_path / "flipped", {**meta, "objects": ["box"]}, plot=False)
    with pytest.raises(SystemExit, match="another outcome"):
        eval_table.load([tmp_path / "box", tmp_path / "flipped"])


def test_eval_pair_compares_two_agents_seed_by_seed(tmp_path):
    import importlib.util

    from agents.evaluate import write_results

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_pair.py"
    spec = importlib.util.spec_from_file_location("eval_pair", script)
    assert spec is not None and spec.loader is not None
    eval_pair = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eval_pair)
    meta = {"methods": ["mpc"], "seed": 1000, "planner": {"name": "cem", "max_xyz": 0.075}}
    a = [TrialResult("grasp", "cup", "mpc", 1000 + i, i in (0, 1), 20, 0.2) for i in range(10)]
    b = [TrialResult("grasp", "cup", "mpc", 1000 + i, i in (1, 2, 3, 4, 5, 6, 7), 20, 0.2) for i in range(8)]
    write_results(a, ["mpc"], tmp_path / "a", meta, plot=False)
    write_results(b, ["mpc"], tmp_path / "b", {**meta, "planner": {"name": "cem", "max_xyz": 0.04}}, plot=False)
    lines = eval_pair.compare(tmp_path / "a", tmp_path / "b")
    assert "settings that differ: planner.max_xyz: 0.075 -> 0.04" in lines
    # 8 common seeds: A 2, B 7, both 1, only A 1 (1000), only B 6; McNemar: 2 * P(X <= 1 | 7, 1/2) = 16/128
    assert "| grasp cup mpc | 8 | 2 | 7 | 1 | 1 | 6 | 0.125 |" in lines
    assert eval_pair.mcnemar_p(0, 0) == 1.0 and eval_pair.mcnemar_p(3, 3) == 1.0
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")
    with pytest.raises(SystemExit, match="unreadable"):
        eval_pair.compare(tmp_path / "a", tmp_path / "broken")


def test_fine_sub_goal_flags_become_the_agents_scale():
    from dataclasses import replace

    from jepa_sim.cli.eval_cmd import EvalArgs

    args = replace(EvalArgs(), max_xyz=0.075, fine_subgoals="1,2,3", fine_xyz=0.03)
    config = args.agent_config(("exterior", "wrist"))
    assert config.fine_subgoals == (1, 2, 3) and config.fine_scale == pytest.approx(0.4)
    assert args.agent_settings(("exterior", "wrist"))["fine_subgoals"] == [1, 2, 3]
    assert EvalArgs().agent_settings(("exterior", "wrist"))["fine_subgoals"] == [3, 7]  # the grasp preset's
    off = replace(EvalArgs(), fine_subgoals="", servo_subgoals="", descent_subgoals="")
    recorded = off.agent_settings(("exterior", "wrist"))
    assert not {"fine_subgoals", "servo_subgoals", "descent_subgoals"} & set(recorded)  # off: not recorded
    with pytest.raises(ValueError, match="--fine-xyz must be in"):
        replace(args, fine_xyz=0.1).agent_config(("exterior",))
    with pytest.raises(ValueError, match="--fine-subgoals must be"):
        replace(args, fine_subgoals="1,x").agent_config(("exterior",))


def test_patient_sub_goal_flags_reach_the_agent_and_its_record():
    from dataclasses import replace

    from jepa_sim.cli.eval_cmd import EvalArgs

    shipped = EvalArgs().agent_config(("exterior", "wrist"))  # the grasp preset: patient on the long moves
    assert shipped.patient_subgoals == (4, 5, 6) and shipped.stall_steps_on(5) == 2
    assert shipped.min_progress_on(5) == 0.03 and shipped.min_progress_on(3) == 0.1
    args = replace(EvalArgs(), patient_subgoals="5", patient_stall=5, patient_progress=-1.0)
    config = args.agent_config(("exterior", "wrist"))
    assert config.patient_subgoals == (5,) and config.stall_steps_on(5) == 5 and config.stall_steps_on(4) == 2
    settings = args.agent_settings(("exterior", "wrist"))
    assert settings["patient_subgoals"] == [5] and settings["patient_stall"] == 5
    assert "patient_progress" not in settings and config.patient_progress is None  # -1: the usual 10%
    off = replace(EvalArgs(), patient_subgoals="").agent_settings(("exterior", "wrist"))
    assert "patient_subgoals" not in off and "patient_progress" not in off  # off: not recorded
    assert EvalArgs().agent_settings(("exterior",))["patient_progress"] == 0.03
    precise = replace(EvalArgs(), precise_subgoals="5", precise_ratio=0.05)
    strict = precise.agent_config(("exterior",))
    assert strict.advance_ratio_on(5) == 0.05 and strict.advance_ratio_on(4) == 0.25  # the precise sub-goals only
    assert precise.agent_settings(("exterior",))["precise_subgoals"] == [5]
    assert precise.agent_settings(("exterior",))["precise_ratio"] == 0.05
    usual = replace(EvalArgs(), precise_subgoals="").agent_settings(("exterior",))
    assert "precise_subgoals" not in usual and "precise_ratio" not in usual  # off: not recorded
    with pytest.raises(ValueError, match="--precise-subgoals must be"):
        replace(EvalArgs(), precise_subgoals="x").agent_config(("exterior",))
    with pytest.raises(ValueError, match="--patient-subgoals must be"):
        replace(args, patient_subgoals="four").agent_config(("exterior",))


def test_holding_sub_goal_flags_reach_the_agent_and_its_record():
    from dataclasses import replace

    from jepa_sim.cli.eval_cmd import EvalArgs

    args = replace(EvalArgs(), holding_subgoals="3,4,5,6", empty_closedness=0.95)
    config = args.agent_config(("exterior", "wrist"))
    assert config.holding_subgoals == (3, 4, 5, 6) and config.empty_closedness == 0.95 and config.retry_from == 1
    assert args.agent_settings(("exterior",))["holding_subgoals"] == [3, 4, 5, 6]
    assert "or the gripper closes on nothing" in args.agent_summary()
    with pytest.raises(ValueError, match="holding_subgoals need retry_from"):
        replace(args, retry_from=-1).agent_config(("exterior",))
    close = replace(EvalArgs(), close_subgoal=3)
    assert close.agent_config(("exterior",)).close_subgoal == 3
    assert close.agent_settings(("exterior",))["close_subgoal"] == 3
    assert "when the fingers stop" in close.agent_summary()
    assert EvalArgs(agent="paper", close_subgoal=-1).agent_config(("exterior",)).close_subgoal is None
    set_down = replace(EvalArgs(), set_down_subgoal=6)
    assert set_down.agent_config(("exterior",)).set_down_subgoal == 6
    assert set_down.agent_settings(("exterior",))["set_down_subgoal"] == 6
    assert "when the arm stops on its way down" in set_down.agent_summary()
    from jepa_sim.cli.planner_args import with_preset

    assert "set_down_subgoal" not in with_preset(EvalArgs, "paper").agent_settings(("exterior",))
    assert EvalArgs().agent_settings(("exterior",))["set_down_subgoal"] == 6  # the grasp preset's


def test_descent_and_no_open_flags_become_the_agents_settings():
    from dataclasses import replace

    from jepa_sim.cli.eval_cmd import EvalArgs

    args = replace(EvalArgs(), descent_subgoals="2,3,6,7", descent_xy=0.01, no_open_subgoals="3,4,5,6")
    config = args.agent_config(("exterior", "wrist"))
    assert config.descent_subgoals == (2, 3, 6, 7) and config.descent_scale == pytest.approx(0.25)
    assert config.no_open_subgoals == (3, 4, 5, 6)
    settings = args.agent_settings(("exterior", "wrist"))
    assert settings["descent_subgoals"] == [2, 3, 6, 7] and settings["no_open_subgoals"] == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="--descent-xy must be in"):
        replace(args, descent_xy=0.05).agent_config(("exterior",))
    with pytest.raises(ValueError, match="--no-open-subgoals must be"):
        replace(args, no_open_subgoals="3,x").agent_config(("exterior",))
