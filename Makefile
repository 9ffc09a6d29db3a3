# `make run` and `make test` do the whole set-up on a fresh machine: a virtual environment with
# tformer installed in editable mode, and the Debian packages the built-in data sets come from.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test setup system-packages clean

run: setup
	$(BIN)/tformer-train experiment=vit_fashion_mnist trainer.max_epochs=3 data.num_workers=1

test: setup
	$(BIN)/python -m pytest -q

setup: $(STAMP) system-packages

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 'setuptools<82' wheel
	$(BIN)/python -m pip install -q -e '.[test,export]'
	touch $(STAMP)

system-packages:
	@scripts/system-packages.sh

clean:
	rm -rf $(VENV) .pytest_cache
