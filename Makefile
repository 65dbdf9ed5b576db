# mlobs: `make test` works on a fresh machine (it installs what the tests need).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: all install run test test-fast bench clean

all: test

$(STAMP): pyproject.toml scripts/system-deps.sh
	scripts/system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## The native run: train if needed, serve the sentiment model on :$(PORT).
run: $(STAMP)
	$(VENV)/bin/mlobs serve sentiment --host 127.0.0.1 --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest

## Unit tests only (no real servers).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not integration"

## Benchmarks write their numbers into README.md.
bench: $(STAMP)
	$(PY) benchmarks/telemetry_overhead.py --write-readme

clean:
	rm -rf $(VENV) build *.egg-info
