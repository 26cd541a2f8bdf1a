# Quick start: `make generate` writes out/, `make test` runs every test.
# Both create .venv on first use and reinstall only when setup.cfg changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ENV    ?= dev
ARGS   ?=

.PHONY: generate check lint test test-fast plan deploy demo bench clean

# The stamp is remade when setup.cfg changes, but pip runs only when the list of
# requirements itself changed (or nothing was installed yet).
$(STAMP): setup.cfg scripts/requirements.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) scripts/requirements.py test > $(VENV)/requirements.new
	@if ! cmp -s $(VENV)/requirements.new $(VENV)/requirements.txt; then \
	  echo "installing the requirements of setup.cfg into $(VENV)"; \
	  if ! $(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.new \
	      > $(VENV)/pip.log 2>&1; then \
	    grep -v "^WARNING: Location .* is ignored" $(VENV)/pip.log >&2; exit 1; \
	  fi; \
	  mv $(VENV)/requirements.new $(VENV)/requirements.txt; \
	fi
	@touch $(STAMP)

generate: $(STAMP)
	$(PY) generate.py

check: $(STAMP)
	$(PY) generate.py --check

lint: $(STAMP)
	$(PY) scripts/lint.py $(ARGS) out/*/*.json

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

plan: $(STAMP)
	$(PY) scripts/deploy.py plan --env $(ENV) $(ARGS)

deploy: $(STAMP)
	$(PY) scripts/deploy.py apply --env $(ENV) $(ARGS)

demo: $(STAMP)
	$(PY) generate.py
	$(PY) scripts/deploy.py demo --env $(ENV)

bench: $(STAMP)
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
