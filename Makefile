# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test install install-test lint bench contract

run: $(VENV)/.installed
	$(BIN)/outreach run --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

demo: $(VENV)/.installed
	$(BIN)/outreach demo --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(VENV)/.installed $@

test:
	bash scripts/test.sh

lint: install-test
	$(BIN)/ruff check .

# Each benchmark prints its figures and compares with its peer in the same run.
BENCHES := ui crawl http_client prospecting send verify
bench: install-test
	for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

contract: install
	python3 ../shared/checks/cli_contract.py --outreach $(BIN)/outreach
