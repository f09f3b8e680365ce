# FairLens. `make run` starts everything on embedded defaults; `make test` runs the whole suite.
# With DATABASE_URL / REDIS_URL set, both use PostgreSQL / Redis instead.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 5050
export PORT

.DEFAULT_GOAL := help
.PHONY: help install install-dev run serve-prepare worker beat test lint fmt schema bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

install: $(VENV)/.runtime-installed ## Create the virtualenv with the runtime dependencies

install-dev: $(VENV)/.dev-installed ## Virtualenv with test and lint tools too

# The demo receiver's port: DEMO_RECEIVER_PORT if set, else this checkout's port from last time while it is
# free, else a free one (var/demo-receiver.port). Worked out once, and only by the targets that use it.
ifeq ($(origin DEMO_RECEIVER_PORT),undefined)
DEMO_RECEIVER_PORT = $(eval DEMO_RECEIVER_PORT := $(shell $(PYTHON) fairlens_site/demo_port.py var/demo-receiver.port))$(DEMO_RECEIVER_PORT)
endif

# Development defaults for `make run`: DEBUG on (local secrets are generated once into var/), SQLite and the
# embedded filesystem broker unless DATABASE_URL / REDIS_URL say otherwise.
# The demo is on: anonymous calls to the seed's demo endpoints, a drifting prediction stream for the demo model,
# and a local receiver (DEMO_RECEIVER_PORT) that verifies the webhooks of the default endpoint.
RUN_ENV = DJANGO_DEBUG=$${DJANGO_DEBUG:-true} \
	FAIRLENS_DEMO_ENDPOINTS=$${FAIRLENS_DEMO_ENDPOINTS:-true} \
	FAIRLENS_DEMO_STREAM=$${FAIRLENS_DEMO_STREAM:-true} \
	CHECK_DEBOUNCE_SECONDS=$${CHECK_DEBOUNCE_SECONDS:-20} \
	DEMO_RECEIVER_PORT=$(DEMO_RECEIVER_PORT) \
	WEBHOOK_URL=$${WEBHOOK_URL:-http://127.0.0.1:$(DEMO_RECEIVER_PORT)/webhooks} \
	WEBHOOK_ALLOWED_PRIVATE_TARGETS=$${WEBHOOK_ALLOWED_PRIVATE_TARGETS:-127.0.0.1:$(DEMO_RECEIVER_PORT)}

serve-prepare: install
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	# With DEBUG off, pages name the hashed files of the collected manifest; without it every page is a 500.
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py train_demo_model --samples 5000
	$(RUN_ENV) $(PY) manage.py demo_stream --reset

run: serve-prepare ## Migrate, seed demo users and model, start web + worker + beat on $$PORT (default 5050)
	$(RUN_ENV) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho -f Procfile start -p $(PORT)

worker: install ## Run only the Celery worker
	$(RUN_ENV) $(BIN)/celery -A fairlens_site worker --loglevel INFO

beat: install ## Run only Celery beat (django-celery-beat DatabaseScheduler)
	$(RUN_ENV) $(BIN)/celery -A fairlens_site beat --loglevel INFO

test: install-dev ## Run the whole test suite (pytest); PYTEST_ARGS adds options
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev ## Ruff lint and format check, import contracts (.importlinter), migrations check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DJANGO_DEBUG=true $(PY) manage.py makemigrations --check --dry-run

fmt: install-dev ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install ## Write and validate the OpenAPI schema (var/schema.yaml)
	DJANGO_DEBUG=true $(PY) manage.py spectacular --validate --fail-on-warn --file var/schema.yaml

bench: install-dev ## Run the benchmarks (ingest/window need PostgreSQL); results go to bench/results/*.jsonl
	$(PY) -m bench.metrics --rows 1000000
	$(PY) -m bench.metrics --rows 10000000 --skip-fairlearn
	$(PY) -m bench.ingest --rows 1000000
	$(PY) -m bench.window --rows 1000000
	$(PY) -m bench.alerting

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
