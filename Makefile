SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
TEST_TOOLS := tests/tools
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install test-deps browser java run serve test bench load clean

## install: the virtual environment and the project (runtime extras included)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3]'
	touch $@

## test-deps: what the test suite needs on top of the project
test-deps: $(VENV)/.test-installed browser java $(TEST_TOOLS)/node_modules/.installed

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3,server,test]'
	touch $@

## test tools: the Nu HTML validator (run on the machine's JDK) and axe-core, pinned by
## tests/tools/package-lock.json; install scripts are skipped, so vnu-jar never fetches a JRE
$(TEST_TOOLS)/node_modules/.installed: $(TEST_TOOLS)/package.json $(TEST_TOOLS)/package-lock.json
	npm ci --prefix $(TEST_TOOLS) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## browser: Debian's Chromium for the browser tests (never a downloaded build)
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

## java: a Java runtime for the Nu HTML validator (Debian's package)
java:
	@command -v java >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q default-jre-headless; }

## run: database, demo data, a worker of two processes and the web server on $(HOST):$(PORT)
## (make run PORT=8000); once the server answers, the demo sign-in is printed in a box; Ctrl-C stops both
run: install
	$(FLASK) init-db
	$(FLASK) seed-demo
	@$(FLASK) worker -w 2 & worker=$$!; \
	  $(FLASK) announce --url http://$(HOST):$(PORT) & announce=$$!; \
	  trap 'kill $$worker $$announce 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

## serve: the production web server (gunicorn, 4 workers) against DATABASE_URL and HUEY_URL;
## run `flask --app wsgi worker` beside it (here or on other machines)
serve: $(VENV)/.server-installed
	$(FLASK) init-db
	$(BIN)/gunicorn --workers $${WEB_WORKERS:-4} --bind $(HOST):$(PORT) --access-logfile - wsgi:app

## test: the whole suite (SQLite, and PostgreSQL where reachable; required under CI=true)
test: test-deps
	$(BIN)/pytest

## bench: regroup, preview, thumbnail, hostile-input, station-delete, stations-list, sync and operation-calendar benchmarks; every verdict is a ratio against a floor, a baseline or a peer measured in the same run (benchmarks/report.py)
bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.regroup
	$(BIN)/python -m benchmarks.preview
	$(BIN)/python -m benchmarks.thumbnails
	$(BIN)/python -m benchmarks.bounded_input
	$(BIN)/python -m benchmarks.station_delete
	$(BIN)/python -m benchmarks.stations
	$(BIN)/python -m benchmarks.operation
	$(BIN)/python -m benchmarks.sync

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3,bench]'
	touch $@

## load: locust against a throw-away PostgreSQL site on 127.0.0.1 (1,000 stations, 1M captures;
## LOAD_USERS, LOAD_SECONDS); prints p50/p95/p99 and errors per route
load: $(VENV)/.load-installed
	$(BIN)/python -m benchmarks.load

$(VENV)/.server-installed: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3,server]'
	touch $@

$(VENV)/.load-installed: $(VENV)/.server-installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[pg,redis,s3,server,load]'
	touch $@

clean:
	rm -rf $(VENV) *.egg-info $(TEST_TOOLS)/node_modules
