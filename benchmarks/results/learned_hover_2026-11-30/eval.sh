#!/bin/bash
# The learned two-view agent with the hover-fine-tuned predictor; same settings as the session-9 table.
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
P=${P:-runs/s10/pred-hover/predictor}
AGENT="--methods mpc --predictor $P --goal-chain grasp --stall-steps 2 --max-steps-per-subgoal 10 --max-yaw 0.15
       --gripper-snap 0.15 --advance-ratio 0.25 --gripper-margin 0.05 --retry-from 1 --retries 2 --device cpu --videos 0"
.venv/bin/jepa-sim eval $AGENT --tasks ${TASKS:-grasp} --objects cup --trials ${N:-10} --out runs/s10/${TAG:-hv}_cup > runs/s10/${TAG:-hv}_cup.log 2>&1 &
.venv/bin/jepa-sim eval $AGENT --tasks ${TASKS:-grasp} --objects box --trials ${N:-10} --out runs/s10/${TAG:-hv}_box > runs/s10/${TAG:-hv}_box.log 2>&1 &
wait
