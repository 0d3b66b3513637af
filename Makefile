# Two commands: `make run` starts a working local receiver, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench chaos clean

install: $(STAMP)

# The locks: exact versions and the hash of every file of each, made by `uv pip compile` from setup.cfg's ranges.
# runtime.txt is what a user installs (deploy/README.md); dev.txt adds the test and dev extras, with every
# package the two share held to runtime.txt's version (--constraint), so tests run what users get.
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt

# A fresh venv (--clear) from the locks each time they change: exactly the locked packages, nothing left over.
$(STAMP): $(RUNTIME_LOCK) $(DEV_LOCK) setup.cfg pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	@# The project goes in without its deps, built by the locked setuptools: nothing the lock did not name and hash.
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@# The tests and `up` use the redis-server on PATH (Debian's redis-server).
	command -v redis-server >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server)
	@# The sql sink's tests and bench start a private PostgreSQL with initdb and pg_ctl (Debian's postgresql).
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)
	@# tests/system/test_deploy.py and tests/system/test_scale_out.py run the shipped deploy/nginx.conf with a
	@# certificate from openssl.
	(command -v nginx || test -x /usr/sbin/nginx) >/dev/null && command -v openssl >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx openssl)
	@# The alerting rules are checked with promtool (deploy/prometheus-alerts.yml; Debian's prometheus).
	command -v promtool >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus)
	touch $@

# Regenerate the locks from setup.cfg's ranges, moving a pin only where a range now excludes it.
# --universal: one lock for every Python from 3.11 and every platform, each entry with the markers under which
# it is needed (redis needs async-timeout below Python 3.11.3, Debian 12's 3.11.2): pip skips what does not apply.
# uv comes from the dev lock itself (the dev extra), so the tool that writes the locks is locked too.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_OPTIONS)
# A lock is replaced only when its text changes, so an unchanged lock does not rebuild the venv.
define compile_lock
	cp $(1) $(1).new 2>/dev/null || true  # uv keeps the pins of the file it writes: start from the current ones
	$(UV_COMPILE) $(2) --output-file $(1).new setup.cfg
	cmp -s $(1).new $(1) && rm $(1).new || mv $(1).new $(1)
endef
.PHONY: lock upgrade
# Needs only the venv's uv, not a venv that fits setup.cfg: new ranges may not fit the old lock (pip check fails).
lock: | $(BIN)/uv
	$(call compile_lock,$(RUNTIME_LOCK),)
	$(call compile_lock,$(DEV_LOCK),--extra test --extra dev --constraints $(RUNTIME_LOCK))
$(BIN)/uv:
	$(MAKE) install

# Every pin to the newest version setup.cfg's ranges allow, then the whole suite on the new venv.
upgrade:
	$(MAKE) lock LOCK_OPTIONS=--upgrade
	$(MAKE) test

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
	$(BIN)/python -m tests.system.chaos --duration $(DURATION) $(if $(SEED),--seed $(SEED))
