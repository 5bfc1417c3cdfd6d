# `make run` and `make test` work on a fresh clone with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

CHROMIUM := /usr/bin/chromium

.PHONY: run test lint bench chromium apt-chromium

run: $(VENV)/.installed
	$(BIN)/gateway db upgrade
	exec $(BIN)/gateway run

# Up to 4 test processes (one per core); browser tests share one, fault tests another.
test: lint chromium
	$(BIN)/pytest --numprocesses=auto --maxprocesses=4 --dist loadgroup

# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
# Installed only when missing: as root or with passwordless sudo through apt-get; otherwise
# a message says how (the browser tests then skip, or fail when CI is set).
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory apt-chromium SUDO=; \
	elif sudo -n true 2>/dev/null; then $(MAKE) --no-print-directory apt-chromium SUDO="sudo -n"; \
	else \
		echo "$(CHROMIUM) is missing: run 'sudo apt-get install -y chromium' for the browser tests" \
		     "(without it they are skipped, or fail when CI is set)" >&2; \
	fi

apt-chromium:
	@echo "installing Debian's chromium for the browser tests"
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
	|| { $(SUDO) apt-get update >/dev/null \
	     && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Starts its own Redis, database, emulator, web and worker; prints one table, writes bench/RESULTS.md.
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml changes (or the venv is new).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.installed
