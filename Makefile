# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# torch is pinned first (a CPU build on this machine's disk); unpinned, pip would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: install demo test lint bench bench-peers clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/autoopt run examples/digits_full.yaml --out runs/demo

# The whole suite, after lint and types (ruff, mypy with the pydantic plugin; both must be clean).
test: lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python benchmarks/hpo_suite.py

# Issue 10: autoopt vs Keras Tuner / Optuna / Hyperopt, in their own venv (never autoopt's dependencies).
PEERS_VENV := benchmarks/peers/.venv
PEERS_STAMP := $(PEERS_VENV)/.installed-stamp
$(PEERS_STAMP): pyproject.toml
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check $(TORCH)
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check 'keras>=3,<4' keras-tuner six \
		hyperopt optuna matplotlib -e .
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)
	KERAS_BACKEND=torch nice -n 10 $(PEERS_VENV)/bin/python benchmarks/peers/run.py $(if $(QUICK),--quick) $(PEERS_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
