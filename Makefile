# Fenxiao: `make demo` runs the whole system, `make test` runs every test, `make bench` measures.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: install install-dev demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-runtime: requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	touch $@

# Front-end packages (WeUI), exactly as package-lock.json says; never from a CDN.
node_modules/.stamp: package-lock.json package.json
	bash bin/setup-system.sh runtime
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt requirements.txt $(VENV)/.stamp-runtime
	$(PIP) -r requirements-dev.txt
	touch $@

install: $(VENV)/.stamp-runtime node_modules/.stamp
	bash bin/setup-system.sh runtime
	$(BIN)/pybabel compile -d translations --statistics

install-dev: install $(VENV)/.stamp-dev
	bash bin/setup-system.sh test

demo: install
	FENXIAO_MODE=demo $(BIN)/flask --app web demo

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# pytest exits 5 when it collects nothing, and make treats any non-zero exit as a failure.
test: install-dev lint
	$(BIN)/python -m pytest -n auto --durations=15

# Every benchmark runs even when one misses its goal; the exit status says if any did.
bench: install
	@failed=""; for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || failed="$$failed $$f"; \
	done; if [ -n "$$failed" ]; then echo "goals missed or errors in:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
