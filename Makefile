# The two commands: `make demo` runs the nightly job on generated logs, `make test` runs the suite.
# Both create the environment (.venv, pinned by requirements.lock) when it is missing.
# `make stack` starts the production stack as local processes (Airflow 3 + Celery + PostgreSQL);
# `make stack-down` stops exactly what it started.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Python processes keep their compiled bytecode in the environment. A shell that sets
# PYTHONDONTWRITEBYTECODE would otherwise make every process (each test worker, and every ztad,
# Airflow or server process a test starts) compile pandas, scikit-learn, TensorFlow and Airflow
# from source again: about 5 CPU seconds each.
RUN    := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache

.PHONY: demo test venv lock clean stack stack-down

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: venv
	$(RUN) PYTHONPATH=plugins $(BIN)/python -m tests.support.demo

# Two workers, each test module kept on one worker (its module fixtures are built once): much of
# the suite waits on PostgreSQL, Airflow, subprocesses and the browser, and the other worker
# uses that time. `pytest tests/...` alone still runs in one process.
test: venv
	$(RUN) $(BIN)/python -m pytest --numprocesses 2 --dist loadfile

stack: venv
	$(RUN) $(BIN)/python -m tests.support.stack up

stack-down:
	$(BIN)/python -m tests.support.stack down

# Re-resolve the pinned set after changing dependencies in pyproject.toml.
lock: venv
	$(BIN)/uv pip compile pyproject.toml --extra dl --extra airflow --extra geoip --extra dev \
		--python-version 3.11 -o requirements.lock

clean:
	rm -rf ztad-home .pytest_cache
