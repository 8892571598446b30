"""``jepa-sim``: one command, one subcommand per stage of the pipeline."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin

import tyro

from jepa_sim.cli import (
    collect_cmd,
    dataset_cmd,
    deploy_cmd,
    encode_cmd,
    envs_cmd,
    eval_cmd,
    predict_eval_cmd,
    pretrain_cmd,
    probe_cmd,
    robot_server_cmd,
    rollout_cmd,
    train_bc_cmd,
    train_cmd,
)
from jepa_sim.cli.planner_args import AGENT_PRESETS, AgentArgs, preset_in, with_preset

# name -> (argument dataclass, function that runs it); later stages add their entries here.
COMMANDS: dict[str, tuple[type[Any], Callable[[Any], int]]] = {
    "envs": (envs_cmd.EnvsArgs, envs_cmd.run),
    "rollout": (rollout_cmd.RolloutArgs, rollout_cmd.run),
    "collect": (collect_cmd.CollectArgs, collect_cmd.run),
    "dataset": (dataset_cmd.DatasetArgs, dataset_cmd.run),  # type: ignore[dict-item]
    "encode": (encode_cmd.EncodeArgs, encode_cmd.run),
    "pretrain": (pretrain_cmd.PretrainArgs, pretrain_cmd.run),
    "probe": (probe_cmd.ProbeArgs, probe_cmd.run),
    "train": (train_cmd.TrainArgs, train_cmd.run),
    "predict-eval": (predict_eval_cmd.PredictEvalArgs, predict_eval_cmd.run),
    "train-bc": (train_bc_cmd.TrainBCArgs, train_bc_cmd.run),
    "eval": (eval_cmd.EvalArgs, eval_cmd.run),
    "deploy": (deploy_cmd.DeployArgs, deploy_cmd.run),
    "robot-server": (robot_server_cmd.RobotServerArgs, robot_server_cmd.serve_robot),
}


def _classes(annotation: Any) -> tuple[type, ...]:
    """The dataclasses behind an argument annotation (a class, or a union of annotated subcommands)."""
    if isinstance(annotation, type):
        return (annotation,)
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        return _classes(args[0])
    return tuple(cls for arg in args for cls in _classes(arg))


def _subcommands(argv: list[str]) -> Any:
    """The union of subcommands for tyro. The agent commands (eval, deploy) take their defaults from the agent
    preset the command line names (``--agent paper``), so flags given explicitly still win and ``--help`` shows
    the preset's values."""
    chosen = argv[0] if argv else None
    preset = preset_in(argv[1:]) if chosen in COMMANDS else None
    options = []
    for name, (cls, _) in COMMANDS.items():
        default = None
        if name == chosen and preset in AGENT_PRESETS and issubclass(cls, AgentArgs):
            default = with_preset(cls, preset)  # an unknown preset is left to tyro, which names the choices
        options.append(Annotated[cls, tyro.conf.subcommand(name=name, default=default)])
    return Union[tuple(options)]  # noqa: UP007  (a runtime union of annotated types)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen subcommand; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = tyro.cli(
        _subcommands(argv),
        args=argv,
        description="jepa-sim: action-conditioned world models for simulated and real Franka arms.",
    )
    for annotation, run in COMMANDS.values():
        if isinstance(args, _classes(annotation)):
            return run(args)
    raise AssertionError(f"no command for {type(args).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
