# The two commands of the quick start. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: screenshots demo test test-fast lint bench clean docs notebooks

demo: $(VENV)/.installed
	$(BIN)/scratchnn train

# The whole suite (under 5 minutes on 2 cores), as CI runs it: one pytest worker per core, each
# with one BLAS/OpenMP thread (two workers whose BLAS threads spin-wait on the same two cores
# spent a third more CPU: 5.5 min instead of 4).
TEST_THREADS := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
test: $(VENV)/.installed-dev
	$(TEST_THREADS) $(BIN)/python -m pytest -q -n auto

# The inner loop: all but the tests marked slow (end-to-end MNIST, benchmarks, browsers...),
# stopping at the first failure.
test-fast: $(VENV)/.installed-dev
	$(TEST_THREADS) $(BIN)/python -m pytest -q -n auto -m "not slow" -x

# Benchmarks against a hand-written loop, PyTorch and scikit-learn (see benchmarks/README.md).
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run.py

# The documentation site (mkdocs.yml) into site/, warnings as errors; every example on every page
# runs during the build. Preview with `.venv/bin/mkdocs serve`.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The learner's notebooks (notebooks/) in JupyterLab, with the jupyter extra installed on first use.
notebooks: | $(VENV)/bin/python
	test -f $(VENV)/.installed-jupyter || $(BIN)/python -m pip install --quiet -e ".[jupyter]"
	touch $(VENV)/.installed-jupyter
	$(BIN)/jupyter lab notebooks/

# The Playground's screenshots in docs/images/, taken by its browser tests.
screenshots: $(VENV)/.installed-dev
	SCRATCHNN_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/test_playground_browser.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[progress]"
	touch $@

# The dev extra: every user extra plus the test, lint and docs tools (torch pinned to 2.13.0,
# the CPU build that this project's machines provide).
$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache .hypothesis
