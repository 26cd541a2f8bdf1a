# Quick start: `make generate` writes out/, `make test` runs every test.
# Both create .venv on first use and install the project into it (pip install -e ".[test]"),
# again only when setup.cfg or pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ENV    ?= dev
ARGS   ?=

.PHONY: generate check lint test test-fast check-python plan deploy demo rehearse emulator bench clean

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the project and its test requirements into $(VENV)"
	@if ! $(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]" > $(VENV)/pip.log 2>&1; then \
	  grep -v "^WARNING: Location .* is ignored" $(VENV)/pip.log >&2; exit 1; \
	fi
	@# Byte-compiled like the dependencies pip installed: an environment with PYTHONDONTWRITEBYTECODE
	@# would otherwise compile the project's modules on every run (~90 ms of a generate).
	@$(BIN)/python -m compileall -q blueprints scripts > /dev/null
	@touch $(STAMP)

generate: $(STAMP)
	$(BIN)/fargate-generate

check: $(STAMP)
	$(BIN)/fargate-generate --check

lint: $(STAMP)
	$(BIN)/fargate-lint $(ARGS) out/*/*.json

# The Python under the same gates as the templates: lint, format and types.
check-python: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

# The inner loop (target: at most 0.2x the time of `make test`, which runs every test): all tests but
# those marked `deploy` (end-to-end against the local AWS endpoint) or `slow` (seconds each without an
# endpoint: the whole lint gate, i.e. cfn-lint with all its rules and checkov, or the AWS CLI or
# shellcheck as programs). A new test of either kind gets the mark; setup.cfg describes both.
# The bench (scripts/dev/figures.py) times the -m expression of the line below.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not deploy and not slow" $(ARGS)

plan: $(STAMP)
	$(BIN)/fargate-generate --check
	$(BIN)/fargate-deploy plan --env $(ENV) $(ARGS)

deploy: $(STAMP)
	$(BIN)/fargate-generate --check
	$(BIN)/fargate-deploy apply --env $(ENV) $(ARGS)

demo: $(STAMP)
	$(BIN)/fargate-generate
	$(BIN)/fargate-deploy demo --env $(ENV)

# The environment's release (build, scan gate, deploy actions) on an in-process emulator, from out/ only.
rehearse: $(STAMP)
	$(BIN)/fargate-deploy rehearse --env $(ENV) $(ARGS)

# The hand-off emulator the tests run out/<env>/deploy.sh against (tests/moto_server_patches.py), in the
# foreground on 127.0.0.1:$(PORT); it first copies out/<env>/ into .cache/handoff/ with templates adapted for moto.
PORT ?= 5000
emulator: $(STAMP)
	$(BIN)/python -m tests.moto_server_patches --port $(PORT)

# `make bench README=1` also writes the table into README.md; `ARGS=--skip-tests` for a quick run.
bench: $(STAMP)
	$(BIN)/python -m scripts.dev.bench $(if $(README),--readme) $(ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
