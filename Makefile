# The two commands: `make run` (embedded stack with demo journeys) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint format bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) devstack.py

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) benchmarks/history_events.py

# README pictures from the running product; needs Debian's chromium (apt-get install chromium).
screenshots: install
	$(PY) -m pip install --quiet -e ".[screenshots]"
	$(PY) scripts/ui_screenshots.py

clean:
	rm -rf $(VENV) .cellpath .pytest_cache .ruff_cache *.egg-info
