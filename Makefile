# `make run` and `make test` do the whole set-up on a fresh machine: uv (the installer of the lock),
# a virtual environment holding exactly what uv.lock pins, tformer in editable mode, and the
# Debian packages the built-in data sets come from. `make lock` re-resolves uv.lock from the
# ranges in pyproject.toml; `uv sync --locked` refuses a lock that pyproject.toml no longer matches.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= --extra test --extra export

.PHONY: run test setup system-packages lock clean

run: setup
	@echo "tformer: training the default recipe (ViT on Fashion-MNIST, 3 epochs); the first run also prepares the data set"
	$(BIN)/tformer-train experiment=vit_fashion_mnist trainer.max_epochs=3 data.num_workers=1

test: setup
	@echo "tformer: running the test suite on the CPU"
	$(BIN)/python -m pytest -q

setup: $(STAMP) system-packages

$(UV):
	@echo "tformer: installing uv $(UV_VERSION) into $(TOOLS)/ (it installs the locked environment)"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	@echo "tformer: installing the locked environment into $(VENV)/ (first time: about 5 GB to download)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --compile-bytecode --python $(PYTHON) $(EXTRAS)
	touch $(STAMP)

system-packages:
	@scripts/system-packages.sh

lock: | $(UV)
	$(UV) lock --python $(PYTHON)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache
