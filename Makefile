# mlobs: `make test` works on a fresh machine (it installs what the tests need).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: all install run local generate check lint docs test test-fast bench clean

all: test

$(STAMP): pyproject.toml scripts/system-deps.sh
	scripts/system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,test]'
	touch $(STAMP)

install: $(STAMP)

## The native run: train if needed, serve the sentiment model on :$(PORT).
run: $(STAMP)
	$(VENV)/bin/mlobs serve sentiment --host 127.0.0.1 --port $(PORT)

## The native stack without Docker: services, drift exporter, on-call receiver, Prometheus, Alertmanager and
## traffic; it says on the terminal when the drift page reaches the receiver. Ctrl-C stops it.
local: $(STAMP)
	$(PY) -m mlobs.local $(LOCAL_ARGS)

## Write every generated file (rules, rule tests, Alertmanager, dashboards, Grafana provisioning).
generate: $(STAMP)
	$(PY) -m mlobs.stackgen generate

## Fail if generated files are stale; then promtool, amtool and the Kubernetes manifests; then `lint`.
check: lint
	$(PY) -m mlobs.stackgen check

## What pytest does not run: ruff, the compose file, the Dockerfiles and the docs site.
lint: $(STAMP) docs
	$(VENV)/bin/ruff check
	docker-compose -f docker-compose.yml config -q
	$(VENV)/bin/hadolint --failure-threshold warning stack/*/Dockerfile

## The docs site (MkDocs), built strictly: a broken link or a missing page fails. Output in build/site.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

## Everything: `lint`, then pytest, whose tests/stackgen make every check `make check` makes.
test: lint
	$(PY) -m pytest

## Unit tests only (no real servers, nothing slow).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not integration and not slow"

## Benchmarks (minutes each; run them on a quiet machine). Those given --write-docs rewrite their
## tables and figures (SVG in docs/img/) between the markers in docs/benchmarks*.md; the others print
## a table. The audit store runs on SQLite and on a throwaway PostgreSQL server.
bench: $(STAMP)
	$(PY) benchmarks/telemetry_overhead.py --write-docs
	$(PY) benchmarks/telemetry_inprocess.py --write-docs
	$(PY) benchmarks/audit_overhead.py --write-docs
	$(PY) benchmarks/audit/bench_append.py --postgres local --write-docs
	$(PY) benchmarks/audit/bench_million.py --postgres local --write-docs
	$(PY) benchmarks/audit/bench_proofs.py --write-docs
	$(PY) benchmarks/protect/flood.py --write-docs
	$(PY) benchmarks/drift/detection.py --trials 40 --write-docs
	$(PY) benchmarks/drift/detection.py --calibrated --write-docs
	$(PY) benchmarks/drift/agreement.py --write-docs
	$(PY) benchmarks/drift/time_to_page.py --write-docs
	$(PY) benchmarks/inference_cost.py
	$(PY) benchmarks/investigate_day.py

clean:
	rm -rf $(VENV) build *.egg-info
