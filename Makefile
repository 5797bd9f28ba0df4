# The two promises of the README, plus lint. Each target makes its own virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/watchdesk: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/watchdesk

demo: $(BIN)/watchdesk
	$(BIN)/watchdesk demo

test: $(BIN)/watchdesk
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/watchdesk
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/watchdesk
	$(BIN)/python bench/recheck.py

clean:
	rm -rf $(VENV) watchdesk-demo .pytest_cache
