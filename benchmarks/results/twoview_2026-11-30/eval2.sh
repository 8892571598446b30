#!/bin/sh
FLAGS="--methods mpc --goal-chain grasp --stall-steps 2 --max-steps-per-subgoal 10 --max-yaw 0.15 --gripper-snap 0.3 --device cpu --trials 5"
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
( .venv/bin/jepa-sim eval $FLAGS --tasks grasp --objects box --predictor runs/predictor-2v/predictor --out runs/twoview/eval_2v_grasp_box > runs/twoview/eval_2v_gb.log 2>&1
  .venv/bin/jepa-sim eval $FLAGS --tasks reach_with_object --objects cup,box --predictor runs/predictor-2v/predictor --out runs/twoview/eval_2v_rwo > runs/twoview/eval_2v_rwo.log 2>&1 ) &
( .venv/bin/jepa-sim eval $FLAGS --tasks reach_with_object --objects cup,box --predictor default --out runs/twoview/eval_1v_rwo > runs/twoview/eval_1v_rwo.log 2>&1 ) &
wait
