# pizzeria: `make` lists the targets. Needs GNU make, python3 with venv, and,
# for the tests, Debian's rabbitmq-server and postgresql (`make test` installs them).

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
BUDGET ?= 120
VISITS ?= 4
CHAOS ?= 200

# apt-get needs root; everyone else goes through sudo.
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: help venv demo helpdesk test lint coverage mutation chaos simulate bench retention servers up clean

help: ## List the targets
	@echo "make TARGET, where TARGET is one of:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create .venv with pizzeria and its test tools (again when pyproject.toml changes)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -e '.[test]'
	touch $@

demo: venv ## Run one visit of the pizza house (pizzeria demo)
	$(VENV)/bin/pizzeria demo

helpdesk: venv ## Run the helpdesk, a second application on the messaging core (examples/helpdesk)
	$(VENV)/bin/python -m examples.helpdesk demo

lint: venv ## ruff, mypy (strict on the messaging core) and the import rules (lint-imports)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint servers ## The checks of make lint, then every test (starts private servers)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

coverage: venv servers ## Every test with branch coverage; HTML report in var/coverage
	$(VENV)/bin/pytest --cov --cov-report=term --cov-report=html $(PYTEST_ARGS)

mutation: venv ## mutmut over the saga and the messaging core, with the fast tests
	$(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

chaos: venv servers ## Chaos at full size: 1000 visits on a 3-node cluster (kill -9 a node), 200 on one, 100 embedded
	PIZZERIA_CHAOS_VISITS=200 PIZZERIA_CHAOS_CLUSTER_VISITS=1000 $(VENV)/bin/pytest tests/e2e/test_chaos.py -s $(PYTEST_ARGS)

simulate: venv ## Simulate the pizza house for BUDGET seconds (120); SEED=n [VISITS= CHAOS=] replays one run
	$(VENV)/bin/python -m pizzeria.devtools.simulate --visits $(VISITS) --chaos $(CHAOS) \
		$(if $(SEED),--seed $(SEED),--seconds $(BUDGET))

bench: venv servers ## Benchmark pizzeria beside bare kombu on a private RabbitMQ (see BENCHMARKS.md)
	$(VENV)/bin/python benchmarks/run.py

retention: venv servers ## Benchmark the purge: messages/s while 100,000 finished visits go (see BENCHMARKS.md)
	$(VENV)/bin/python benchmarks/purge.py $(if $(EMBEDDED),--embedded)

servers: ## Install rabbitmq-server, postgresql and chromium (for the browser tests) with apt-get if missing
	@missing=""; \
	command -v rabbitmq-server >/dev/null || test -x /usr/lib/rabbitmq/bin/rabbitmq-server \
		|| missing="$$missing rabbitmq-server"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null \
		|| missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then echo "servers: rabbitmq-server, postgresql and chromium are installed"; exit 0; fi; \
	echo "servers: installing$$missing"; \
	set -x; $(APT_GET) update && $(APT_GET) install -y --no-install-recommends $$missing

up: ## Run the whole pizza house with RabbitMQ in Docker (docker compose up --build)
	docker compose up --build

clean: ## Remove ./var (the demo's databases and logs)
	rm -rf var
