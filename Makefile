# The commands of the README and docs/runbook.md. Each target sets up what it needs from nothing (bootstrap.sh).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: help bootstrap test lint unit demo demo-rerun airflow shell screenshots soak constraints clean bench-% bench-xml-mapping lineage-graph

help:
	@echo "make test      lint + the whole test suite on real MariaDB, PostgreSQL, moto and a Slack sink"
	@echo "make demo      embedded Airflow under .airflow/, demo data, every DAG run once, summary table"
	@echo "make demo FAIL=appxml:1   the same with one partition failing for a real reason (docs/try-a-failure.md)"
	@echo "make demo-rerun FAIL=appxml:1   repair that fault and rerun the failed partition alone"
	@echo "make airflow   local Airflow on real components (UI http://127.0.0.1:8080) with the demo connections"
	@echo "make shell     a shell whose airflow CLI is the one of the running make airflow"
	@echo "make screenshots  the runbook's UI pictures in docs/, taken by a test in headless chromium"
	@echo "make soak      the e2e tests 5 times in a row with one core kept busy"
	@echo "make bench-X   benchmark X (see BENCHMARKS.md)"
	@echo "make lineage-graph  the lineage graph of the events of 'make demo LINEAGE=1' (docs/observability.md)"

bootstrap:
	@scripts/bootstrap.sh

lint: bootstrap
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest

unit: bootstrap
	$(PY) -m pytest tests/unit tests/dags

# FAIL=<family>:<target> breaks one partition or table for a real reason (docs/try-a-failure.md).
demo: bootstrap
	$(PY) scripts/demo.py run $(if $(FAIL),--fail $(FAIL))

demo-rerun: bootstrap
	@test -n "$(FAIL)" || { echo "make demo-rerun: say which failure, e.g. make demo-rerun FAIL=appxml:1" >&2; exit 1; }
	$(PY) scripts/demo.py rerun $(FAIL)

airflow: bootstrap
	$(PY) scripts/demo.py serve

# One demo night's lineage graph from the events `make demo LINEAGE=1` captured (DOT; SVG with graphviz).
lineage-graph:
	python3 scripts/lineage_graph.py $(EVENTS)

# The env file is written by `make airflow` (its connections point at that process's moto server) and removed
# when it stops; a file left by a killed one is refused when its api-server does not answer.
shell:
	@test -f .airflow/airflow.env || { echo "make shell: start 'make airflow' first (it writes .airflow/airflow.env)" >&2; exit 1; }
	@. .airflow/airflow.env && curl -sf -o /dev/null --max-time 5 "$$AIRFLOW_URL/api/v2/monitor/health" \
	  || { echo "make shell: the local Airflow does not answer at $$AIRFLOW_URL; start 'make airflow' first" >&2; exit 1; }
	@echo "airflow CLI of the local Airflow (.airflow/airflow.env); exit to leave"
	@bash --rcfile <(printf '%s\n' '[ -f ~/.bashrc ] && . ~/.bashrc' '. .airflow/airflow.env' 'PS1="(airflow) $$PS1"') -i

# The runbook's pictures of the UI (docs/ui-*.png), taken by the UI runbook test in headless chromium.
screenshots: bootstrap
	PIPELINES_SCREENSHOTS_DIR=$(CURDIR)/docs $(PY) -m pytest -q tests/e2e/test_local_airflow_e2e.py -k ui

# The e2e tests 5 times in a row with one core kept busy (ROUNDS=, BUSY= to change): the flakiness check.
soak: bootstrap
	@scripts/e2e_soak.sh

bench-%: bootstrap
	$(PY) benchmarks/bench_$*.py

bench-xml-mapping: bootstrap
	$(PY) benchmarks/bench_xml_mapping.py

constraints: bootstrap
	{ echo "# Full resolved dependency set (pip freeze of requirements-dev.txt); regenerate with: make constraints"; \
	  $(VENV)/bin/pip freeze --exclude-editable | grep -v -E "^(pip|setuptools|wheel)=="; } > constraints.txt

clean:
	rm -rf .airflow .pytest_cache .ruff_cache
