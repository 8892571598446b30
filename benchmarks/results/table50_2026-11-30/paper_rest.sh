#!/bin/bash
# wait for paper50's grasp cup cell, stop it, then the rest of the paper agent's cells at 20 trials
export OMP_NUM_THREADS=1 MUJOCO_GL=egl
while true; do
  n=$(.venv/bin/python -c "import json; r=json.load(open('runs/s12/paper50/results.json')); print(sum(1 for t in r['_trials'] if t['task']=='grasp' and t['object']=='cup'))" 2>/dev/null)
  [ "${n:-0}" -ge 50 ] && break
  sleep 15
done
pkill -INT -f "out runs/s12/paper50" ; sleep 20
A="--agent paper --methods mpc --device cpu --videos 1 --trials 20"
.venv/bin/jepa-sim eval $A --tasks grasp --objects box --out runs/s12/paper20_gbox > runs/s12/paper20_gbox.log 2>&1
.venv/bin/jepa-sim eval $A --tasks reach_with_object,pick_and_place --objects cup,box --out runs/s12/paper20_rest > runs/s12/paper20_rest.log 2>&1
