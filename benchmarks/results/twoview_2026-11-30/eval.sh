#!/bin/sh
# two evaluations side by side, one thread each: the two-view predictor and the shipped one-view predictor,
# both with the grasp chain and the ceiling's rule/snap settings
FLAGS="--methods mpc --goal-chain grasp --stall-steps 2 --max-steps-per-subgoal 10 --max-yaw 0.15 --gripper-snap 0.3 --tasks grasp,reach_with_object,pick_and_place --objects cup,box --trials ${TRIALS:-10} --device cpu"
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
.venv/bin/jepa-sim eval $FLAGS --predictor runs/predictor-2v/predictor --out runs/twoview/eval_2v > runs/twoview/eval_2v.log 2>&1 &
.venv/bin/jepa-sim eval $FLAGS --predictor default --out runs/twoview/eval_1v > runs/twoview/eval_1v.log 2>&1 &
wait
