#!/bin/sh
# session 8: the learned two-view agent's grasping table: grasp chain with *over*, snap executed (0.15) and
# scored as the observed change, advance ratio 0.25, stall 2, bf16 (auto); 10 trials per cell from seed 1000
FLAGS="--methods mpc --predictor two-view --goal-chain grasp --stall-steps 2 --max-steps-per-subgoal 10 --max-yaw 0.15 --gripper-snap 0.15 --advance-ratio 0.25 --objects cup,box --trials ${TRIALS:-10} --videos 1 --device cpu"
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
.venv/bin/jepa-sim eval $FLAGS --tasks grasp,reach_with_object --out runs/s8/table_grasp_rwo > runs/s8/table_grasp_rwo.log 2>&1 &
.venv/bin/jepa-sim eval $FLAGS --tasks pick_and_place --out runs/s8/table_pnp > runs/s8/table_pnp.log 2>&1 &
wait
