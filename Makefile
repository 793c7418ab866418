# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
VENV   ?= .venv
PY     := $(VENV)/bin/python
MASH   := $(VENV)/bin/mash
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit integration schemas clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(MASH) dev

test: lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

schemas: $(STAMP)
	$(MASH) schemas write

clean:
	rm -rf $(VENV) .mash .pytest_cache .mypy_cache .ruff_cache .hypothesis
