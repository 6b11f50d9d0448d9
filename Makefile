# The two commands a newcomer needs (see README.md):
#   make verify   set up, then verify the reference stack on the embedded moto and print the report
#   make test     set up, then run the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VERIFY_ARGS ?= terraform --var-file terraform/environments/prod.tfvars --teardown-var allow_destroy_for_tests=true \
	--prerequisites terraform/prerequisites/public-zone --app-dir app --container "api=python -m modelserve.api --host 127.0.0.1" --container "worker=python -m modelserve.worker"

.PHONY: setup verify test unit integration lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

verify: setup
	$(BIN)/stackprobe verify $(VERIFY_ARGS)

# Four xdist workers, grouped so that each stack is applied once: the reference stack (integration and
# mutants), the legacy audits, the scenario plans, and the harness tests spread over what is left.
PYTEST_WORKERS ?= 4
test: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15

unit: setup
	$(BIN)/pytest -m unit

integration: setup
	$(BIN)/pytest -m integration

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
