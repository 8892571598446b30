# Every target creates (once) and reuses the local virtual environment .venv.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: demo test test-slow lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: its CPU wheel; a looser requirement resolved first would pull CUDA packages.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,robot]"
	@touch $(STAMP)

## The main job: the shipped agent (two cameras, the two-view predictor, CEM, grasps shown step by step) on the
## paper's four tasks and both objects, beside the two-view BC baseline and the scripted oracle: success table,
## bar plot and videos in runs/demo (1m55s measured on 2 cores, 2026-12-01).
demo: $(STAMP)
	$(BIN)/jepa-sim eval --methods mpc,bc,oracle --tasks reach,grasp,reach_with_object,pick_and_place --trials 3 \
		--out runs/demo --overwrite

## Unit and integration tests (CPU, offline, a few minutes).
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## Long statistical checks (expert success over 100 seeds per task and object).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow --timeout=0

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Speed benchmarks: print tables side by side with the raw limits measured in the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_env.py
	$(BIN)/python benchmarks/bench_collect.py
	$(BIN)/python benchmarks/bench_encoder.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_plan.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
