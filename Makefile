# `make install` once (idempotent), then `make train` / `make test`. ARGS passes Hydra overrides.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install train test test-quick lint format bench bench-real experiments clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile  # re-run when either changes (e.g. a new extra)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e ".[dev,yolo11]"
	touch $@

train: install  ## the main job: the default model (U-Net) on embedded synthetic data
	$(PY) train.py $(ARGS)

# Two xdist workers: the machine this is sized for has 2 cores and the slow tests start child processes
# (DDP ranks, joblib, submitit) of their own, so more workers would only contend. `loadgroup` keeps the
# tests that share a session-trained run (xdist_group) on one worker, so it is trained once.
XDIST ?= -n 2 --dist loadgroup

test: install  ## the whole test suite
	$(PY) -m pytest -q $(XDIST) --durations=25 $(PYTEST_ARGS)

test-quick: install  ## the quick set: unit, config, data, metric and loss tests (no training subprocess)
	$(PY) -m pytest -q $(XDIST) -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install  ## every benchmarks/*.py not starting with _ but the real-data one (tables + plots in benchmarks/results/); never in CI
	@set -e; start=$$(date +%s); for f in benchmarks/[!_]*.py; do \
		name=$$(basename $$f .py); case $$name in readme|real_*) continue;; esac; \
		echo "== benchmarks.$$name"; t0=$$(date +%s); \
		$(PY) -m benchmarks.$$name $(BENCH_ARGS); \
		echo "== benchmarks.$$name took $$(( $$(date +%s) - t0 )) s"; \
	done; echo "== make bench took $$(( $$(date +%s) - start )) s"; $(PY) -m benchmarks.readme

bench-real: install  ## time to quality and pretrain vs scratch on real images (fetch the package files first: see benchmarks/_real_data.py)
	$(PY) -m benchmarks.real_time_to_quality $(BENCH_ARGS)
	$(PY) -m benchmarks.real_pretrain_vs_scratch $(BENCH_ARGS)
	$(PY) -m benchmarks.readme

experiments: install  ## the five studies of experiments/ (each rewrites its table, plots and README results)
	$(PY) -m experiments.transposed_conv.run
	$(PY) -m experiments.margins.run
	$(PY) -m experiments.iou_thresholds.run
	$(PY) -m experiments.decoder_depth.run
	$(PY) -m experiments.pretraining.run

clean:
	rm -rf logs .pytest_cache .ruff_cache
