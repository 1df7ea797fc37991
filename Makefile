# The two commands a new user needs (see README.md): `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bootstrap lint typecheck unit clean

demo: bootstrap
	$(PY) bin/demo

test: bootstrap lint typecheck unit

bootstrap:
	bin/bootstrap

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy

unit:
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-state
	find . -name __pycache__ -prune -exec rm -rf {} +
	find . -name '*.egg-info' -prune -exec rm -rf {} +
