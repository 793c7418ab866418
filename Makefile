# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
VENV   ?= .venv
PY     := $(VENV)/bin/python
MASH   := $(VENV)/bin/mash
STAMP  := $(VENV)/.installed

# Debian packages the tests drive for real: headless Chromium (console) and Prometheus.
SYSTEM_PACKAGES := chromium prometheus
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck docs unit integration schemas bench system-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(MASH) dev

test: system-deps lint typecheck docs
	$(PY) -m pytest

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# lint-imports: the layers of docs/architecture.md, as contracts in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy docs/hooks.py
	# The in-memory Kafka and the real adapters must both satisfy the ports.
	$(VENV)/bin/mypy tests/support/memory_kafka.py tests/integration/test_adapter_contract.py

# The documentation site, into site/. --strict: a warning, a broken link or anchor, or a page
# missing from the nav fails it. Browse it while editing with `$(VENV)/bin/mkdocs serve`.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

bench: $(STAMP)
	$(PY) -m benchmarks --json bench.json

schemas: $(STAMP)
	$(MASH) schemas write

clean:
	rm -rf $(VENV) .mash site .pytest_cache .mypy_cache .ruff_cache .hypothesis
