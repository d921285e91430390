# The two commands: `make run` (the console on demo data) and `make test`.
# Each sets itself up: system libraries (as root), a virtual environment, packages.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run exercise test lint unit bench bundle check-bundle system-deps clean

run: system-deps $(STAMP)
	$(BIN)/mimdesk --demo

# A scenario played by its reference response at 60 times real speed, in the
# console with the wall beside it; the debrief PDF is written at the end.
exercise: system-deps $(STAMP)
	$(BIN)/mimdesk exercise run ledger-payments --speed 60 --autopilot --wall

test: system-deps $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check mimdesk tests bench
	$(BIN)/ruff check mimdesk tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: system-deps $(STAMP)
	$(BIN)/python bench/journal.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/startup.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/wall.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/wall.py --soak 2000
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/idle.py --seconds 60
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/outbox.py
	$(BIN)/python bench/seats.py

# The one-folder PyInstaller bundle in dist/mimdesk (see packaging/README.md),
# then the check that it starts with no Python around and draws the DEMO wall.
bundle: system-deps $(STAMP)
	VENV=$(VENV) scripts/build-bundle.sh

check-bundle: bundle
	scripts/check-bundle.sh dist/mimdesk

system-deps:
	@EXTRA_DEBS="$(EXTRA_DEBS)" scripts/system-deps.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "MIMDesk needs Python 3.11 or newer; set PYTHON=python3.12 (or similar)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
