"""``jepa-sim``: one command, one subcommand per stage of the pipeline."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import tyro

from jepa_sim.cli import envs_cmd, rollout_cmd

# name -> (argument dataclass, function that runs it); later stages add their entries here.
COMMANDS: dict[str, tuple[type[Any], Callable[[Any], int]]] = {
    "envs": (envs_cmd.EnvsArgs, envs_cmd.run),
    "rollout": (rollout_cmd.RolloutArgs, rollout_cmd.run),
}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen subcommand; returns the exit code."""
    args = tyro.extras.subcommand_cli_from_dict(
        {name: cls for name, (cls, _) in COMMANDS.items()},
        args=sys.argv[1:] if argv is None else argv,
        description="jepa-sim: action-conditioned world models for simulated and real Franka arms.",
    )
    for cls, run in COMMANDS.values():
        if isinstance(args, cls):
            return run(args)
    raise AssertionError(f"no command for {type(args).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
