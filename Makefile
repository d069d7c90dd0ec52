# Two commands on a fresh machine: `make run` (the embedded default) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/wiredesk run $(ARGS)

services:
	bash .ci/services

test: $(VENV)/.installed services
	$(PY) -m pytest $(ARGS)

bench: $(VENV)/.installed services
	$(PY) bench/run_all.py $(ARGS)

.PHONY: install run services test bench
