# Guichet task runner. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)

# Python 3.10 from pyenv (never downloaded); PYTHON310=... overrides.
PYTHON310 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))
UV ?= $(shell uv --version >/dev/null 2>&1 && command -v uv || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/guichet.tar.gz
ACTIONS_PORT ?= 5055
SHELL_PORT ?= 5006
export SANIC_HOST := 127.0.0.1
TRAINING_INPUTS := $(shell find bot/data -name '*.yml' 2>/dev/null) config.yml domain.yml bot/nlu.py

.PHONY: help setup train run run-scaled shell test lint eval bench clean mediator

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m pip install --quiet --target $(CURDIR)/.tools uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@test -n "$(PYTHON310)" || { echo "Python 3.10 introuvable : installez-le (pyenv install 3.10.13) ou passez PYTHON310=/chemin/python3.10" >&2; exit 1; }
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON310)
	@touch $@

# Debian packages the tests and the kiosk use: the browser, and espeak-ng, the voice of
# « Lire à voix haute » when the browser has none; PostgreSQL, Redis and HAProxy for
# `make run-scaled` and its tests (bot/services.py starts servers of their own on free
# loopback ports: the packages' system services are neither needed nor used).
CHROMIUM := /usr/bin/chromium
ESPEAK := /usr/bin/espeak-ng
PG_CTL := $(firstword $(wildcard /usr/lib/postgresql/*/bin/pg_ctl) /usr/lib/postgresql/15/bin/pg_ctl)
REDIS_SERVER := /usr/bin/redis-server
HAPROXY := /usr/sbin/haproxy
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

$(CHROMIUM) $(ESPEAK):
	@command -v apt-get >/dev/null || { echo "Installez les paquets Debian chromium et espeak-ng." >&2; exit 1; }
	$(APT) update -qq
	$(APT) install -y -qq chromium espeak-ng

$(PG_CTL) $(REDIS_SERVER) $(HAPROXY):
	@command -v apt-get >/dev/null || { echo "Installez les paquets Debian postgresql, redis-server et haproxy." >&2; exit 1; }
	$(APT) update -qq
	$(APT) install -y -qq postgresql redis-server haproxy

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

setup: $(VENV)/.synced node_modules/.package-lock.json $(CHROMIUM) $(ESPEAK) $(PG_CTL) $(REDIS_SERVER) $(HAPROXY) ## Install uv, the venv, browser packages, Chromium, espeak-ng, PostgreSQL, Redis, HAProxy (idempotent)

$(MODEL): $(TRAINING_INPUTS) $(VENV)/.synced
	$(RASA) train --fixed-model-name guichet --out models --domain domain.yml --data bot/data --config config.yml
	@touch $@

train: $(MODEL) ## Train the model if bot/data, config.yml or domain.yml changed

run: setup train ## Start and watch the Rasa server, the action server and the web app on 127.0.0.1 (Ctrl-C stops)
	$(PY) -m bot.stack run

run-scaled: setup train ## Start PostgreSQL, Redis, several Rasa processes and web copies behind HAProxy (Ctrl-C stops)
	$(PY) -m bot.scaled run

shell: setup train ## Chat with the bot in this terminal (action server started alongside)
	@set -m; umask 077; export ACTIONS_PORT=$(ACTIONS_PORT); \
	$(PY) -m bot.action_server --actions actions --port $(ACTIONS_PORT) --quiet & pid=$$!; \
	trap "kill $$pid" EXIT; \
	$(PY) -m bot.rasa_server shell --model $(MODEL) --endpoints endpoints.yml --port $(SHELL_PORT)

test: setup train ## Run the whole test suite (data validation, pytest, conversation tests)
	$(RASA) data validate --domain domain.yml --data bot/data --config config.yml --fail-on-warnings
	$(PY) -m bot.guides check
	$(PY) -m pytest
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --out var/results/core --fail-on-prediction-errors

lint: setup ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bot actions tests

eval: setup train ## Route ../shared/eval/dev_routing.tsv (or EVAL_FILE=...) through the live REST channel
	$(PY) -m bot.eval $(EVAL_FILE)

bench: setup train ## Measure understanding and serving; writes docs/benchmarks.md and var/bench/results.json
	$(PY) -m bot.bench $(BENCH_ARGS)

mediator: setup ## Create a mediator account: make mediator NAME=camille (password asked)
	@test -n "$(NAME)" || { echo "Usage : make mediator NAME=prenom" >&2; exit 1; }
	$(PY) -m bot.accounts add $(NAME)

clean: ## Remove trained models and test results (keeps var/ data)
	rm -rf models var/results
