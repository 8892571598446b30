#!/bin/bash
# The learned two-view agent with --gripper-margin 0.05 and --retry-from 1 --retries 2 (2026-11-30, third session).
# Seeds 1000-1009, bf16, one thread per evaluation, two evaluations sharing the 2 cores.
# cup.json, box.json and rwo.json are the results.json of these three commands.
set -e
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
AGENT="--methods mpc --predictor two-view --goal-chain grasp --stall-steps 2 --max-steps-per-subgoal 10 --max-yaw 0.15
       --gripper-snap 0.15 --advance-ratio 0.25 --gripper-margin 0.05 --retry-from 1 --retries 2 --device cpu --videos 0"
.venv/bin/jepa-sim eval $AGENT --tasks grasp,pick_and_place --objects cup --trials 10 --out runs/s9/retry
.venv/bin/jepa-sim eval $AGENT --tasks grasp,pick_and_place --objects box --trials 10 --out runs/s9/retry_box
.venv/bin/jepa-sim eval $AGENT --tasks reach_with_object --objects cup,box --trials 10 --out runs/s9/rwo
# margin_only_seeds1000-1005.json: the same without --retry-from/--retries, --trials 6, both objects
# no_margin_pnp_seeds1000-1001.json: the session-8 agent (no margin, no retry), pick-and-place box seeds 1000-1001
# descent_check.txt: .venv/bin/python benchmarks/descent_check.py
