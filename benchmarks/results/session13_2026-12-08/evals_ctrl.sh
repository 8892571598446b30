#!/bin/bash
# control: the shipped encoder, two-view-hover warm-started on the same data (data/enc2v), pick-and-place only
# two evaluations at a time, one thread each
cd /work/main
export MUJOCO_GL=egl OMP_NUM_THREADS=1
S="--predictor runs/s19/pred2v_ctrl/predictor"
run() { .venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50 --tasks $1 --objects $2 $S --out runs/s19/ctrl_$1_$2 > runs/s19/ctrl_$1_$2.log 2>&1; }
run pick_and_place cup & run pick_and_place box & wait
echo done > runs/s19/evals_ctrl.done
