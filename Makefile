# The two commands a newcomer needs (see README.md):
#   make verify   set up, then verify the reference stack on the embedded moto and print the report
#   make test     set up, then run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The exact versions, with hashes, that setup and CI install (pyproject.toml keeps ranges, for users):
# `make lock` refreshes both files from pyproject.toml.
LOCK       := requirements/dev.lock
FLOOR_LOCK := requirements/moto-floor.lock
UV_COMPILE  = $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
# The reference stack's database behind a real local PostgreSQL (--datastore): the newest major this machine has
# (the stack deploys 16; Debian 12 ships 15, which the evidence then names as another major), with the operator's
# one-off roles script run as its master (--datastore-sql), so the API's job records and pool run for real.
REFERENCE_DB := module.database.aws_db_instance.this
VERIFY_ARGS ?= terraform --var-file terraform/environments/prod.tfvars \
	--prerequisites terraform/prerequisites/public-zone --app-dir app --container "api=python -m modelserve.api --host 127.0.0.1" --container "worker=python -m modelserve.worker" \
	--datastore "$(REFERENCE_DB)=postgres:installed" --datastore-sql "$(REFERENCE_DB)=app/sql/postgres-roles.sql"

.PHONY: setup bytecode datastore-servers lock verify test test-latest unit integration lint clean

setup: $(STAMP) bytecode datastore-servers

# stackprobe's own modules, compiled: pip compiles the modules of a regular install, but nothing compiles an editable
# one's where PYTHONDONTWRITEBYTECODE is set (these machines set it), and each `stackprobe` or pytest process then
# compiled them again (0.3 CPU-s of a `stackprobe --help`). compileall writes only what changed since.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q src

# The servers --datastore runs behind the emulated RDS and ElastiCache endpoints (stackprobe.datastores): Debian's
# postgresql and redis-server, installed with apt-get when their binaries are missing (root, or sudo without a
# password); elsewhere the tests that need them skip, naming the package. Idempotent: nothing runs when present.
DATASTORE_PACKAGES = $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,$(if $(shell command -v initdb),,postgresql)) \
	$(if $(wildcard /usr/bin/redis-server),,$(if $(shell command -v redis-server),,redis-server))
datastore-servers:
	@missing="$(strip $(DATASTORE_PACKAGES))"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt=""; elif sudo -n true 2>/dev/null; then apt="sudo"; else apt="none"; fi; \
		if [ "$$apt" = none ] || ! command -v apt-get >/dev/null; then \
			echo "datastore servers missing: $$missing (install them for --datastore; their tests skip)"; \
		else \
			$$apt env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			$$apt env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		fi; \
	fi

# Installs from the lock only (--require-hashes: nothing unpinned, nothing altered in transit), then stackprobe
# itself without its dependencies, then the supported range's lowest moto beside the venv's own (the canaries
# show each patch a newer moto made obsolete still mends it).
$(STAMP): pyproject.toml $(LOCK) $(FLOOR_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -rf $(VENV)/moto-floor
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps --target $(VENV)/moto-floor -r $(FLOOR_LOCK)
	touch $(STAMP)

lock: setup
	$(UV_COMPILE) --upgrade pyproject.toml requirements/build.in --extra dev -o $(LOCK)
	$(UV_COMPILE) --no-deps requirements/moto-floor.in -o $(FLOOR_LOCK)

verify: setup
	$(BIN)/stackprobe verify $(VERIFY_ARGS)

# Four xdist workers, grouped so that each stack is applied once: the reference stack (integration and
# mutants), the legacy audits, the scenario plans, and the harness tests spread over what is left.
PYTEST_WORKERS ?= 4
test: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15

# Upstream drift, apart from everyone's build: the newest versions pyproject.toml's ranges allow (moto, boto3 and
# botocore, pytest, ...; the provider mirror holds one AWS provider, 5.100.0), in a venv of their own, running
# the moto canaries and the reference stack. The scheduled workflow .github/workflows/upstream.yml runs this.
LATEST       := .venv-latest
LATEST_TESTS ?= tests/harness/test_compat_canaries.py tests/harness/test_compat_framework.py tests/integration/test_reference_stack.py
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST)/bin/python -m pip install --quiet --require-hashes --no-deps --target $(LATEST)/moto-floor -r $(FLOOR_LOCK)
	$(LATEST)/bin/python -m pip list --format=freeze | grep -iE '^(moto|boto3|botocore|pytest|tftest)=='
	$(LATEST)/bin/stackprobe compat
	$(LATEST)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup -p no:cacheprovider $(LATEST_TESTS)

unit: setup
	$(BIN)/pytest -m unit

integration: setup
	$(BIN)/pytest -m integration

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .mypy_cache .ruff_cache
