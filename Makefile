# vmswap: `make run` serves the app, `make test` runs every test. Both set up what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5006
ADDRESS ?= 127.0.0.1
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# Compile the numba kernels now (cached in engine/hotpath/__pycache__), not on first use.
	$(PY) -m engine.hotpath.warm
	touch $(STAMP)

install: $(STAMP)

# --setup: the shipped scenarios' runs are computed at start (the default one first), so the
# first visitor and a switch of scenario are served from memory (webapp/warmup.py).
run: $(STAMP)
	VMSWAP_WARM=$${VMSWAP_WARM:-all} $(PY) -m panel serve webapp/app.py --address $(ADDRESS) --port $(PORT) \
		--allow-websocket-origin $(ADDRESS):$(PORT) --allow-websocket-origin localhost:$(PORT) \
		--setup webapp/warmup.py

# Debian's Chromium for the browser tests; installed only where missing and we are root.
chromium:
	@if [ -x /usr/bin/chromium ] || [ -n "$$CHROMIUM" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	else echo "chromium not found and not root: the browser tests will say they were skipped"; fi

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The suite must stay under 8 minutes on a quiet 2-core machine: every run lists its 15
# slowest tests, so a new slow one shows where it lands (mark it `slow`, say why it costs: a
# unit holding a slow test is also sent to a worker before the quick ones).
# Two worker processes, one per core (TEST_WORKERS=0 runs it in one process); tests that share
# a served app or an expensive run stay in one worker (tests/conftest.py: group_of).
TEST_WORKERS ?= 2
test: $(STAMP) chromium lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=15

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
