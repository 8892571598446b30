#!/bin/bash
# The 50-trial table of the two-view agent, one object per process (one core each): OBJ
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
.venv/bin/jepa-sim eval --methods mpc,bc,random,oracle --predictor two-view-hover --bc two-view \
  --goal-chain grasp --stall-steps 2 --max-steps-per-subgoal 10 --max-yaw 0.15 --gripper-snap 0.15 \
  --advance-ratio 0.25 --gripper-margin 0.05 --retry-from 1 --retries 2 --device cpu \
  --tasks reach,grasp,reach_with_object,pick_and_place --objects $OBJ --trials 50 --out runs/s12/t50_$OBJ
