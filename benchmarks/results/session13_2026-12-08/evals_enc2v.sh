#!/bin/bash
# the new stack (encoder pretrained further on both cameras + the warm-started predictor), 50 trials per cell,
# two evaluations at a time, one thread each
cd /work/main
export MUJOCO_GL=egl OMP_NUM_THREADS=1
S="--encoder runs/s19/enc2v/encoder --predictor runs/s19/pred2v/predictor"
run() { .venv/bin/jepa-sim eval --methods mpc --device cpu --trials 50 --tasks $1 --objects $2 $S --out runs/s19/new_$1_$2 > runs/s19/new_$1_$2.log 2>&1; }
run grasp cup & run grasp box & wait
run pick_and_place cup & run pick_and_place box & wait
run reach cup & run reach box & wait
run reach_with_object cup & run reach_with_object box & wait
echo done > runs/s19/evals_new.done
