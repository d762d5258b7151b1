SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install test-deps browser run test bench clean

## install: the virtual environment and the project (runtime extras included)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3]'
	touch $@

## test-deps: what the test suite needs on top of the project
test-deps: $(VENV)/.test-installed browser

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3,test]'
	touch $@

## browser: Debian's Chromium for the browser tests (never a downloaded build)
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

## run: database, demo data, a worker of two processes and the web server; Ctrl-C stops both
run: install
	$(FLASK) init-db
	$(FLASK) seed-demo
	@echo "Serving on http://$(HOST):$(PORT) — sign in as manager@demo.ami / demo-manager"
	@$(FLASK) worker -w 2 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

## test: the whole suite (SQLite, and PostgreSQL where reachable; required under CI=true)
test: test-deps
	$(BIN)/pytest

## bench: grouping, hostile-input and station-delete benchmarks (print ratios against a floor and a baseline)
bench: install
	$(BIN)/python -m benchmarks.regroup
	$(BIN)/python -m benchmarks.bounded_input
	$(BIN)/python -m benchmarks.station_delete

clean:
	rm -rf $(VENV) *.egg-info
