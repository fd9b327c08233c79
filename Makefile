# `make test` and `make demo` each work on a fresh machine: they create .venv if missing,
# install torch==2.13.0 first (the CPU wheel; an unpinned torch pulls GBs of CUDA packages),
# then this package with its test extras under a constraints file that keeps torch pinned.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.dcase_tk_installed
PYTEST_ARGS ?=
# Two pytest-xdist workers: a module runs on one worker (its fixtures once), the modules that
# start a test cluster share one, and the recipe modules go first (tests/conftest.py).
TEST_WORKERS ?= 2

.PHONY: install test demo bench clean-venv

install: $(STAMP)

$(STAMP): setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	echo "torch==2.13.0" > $(VENV)/constraints.txt
	$(PY) -m pip install -q -c $(VENV)/constraints.txt -e '.[test]'
	touch $@

test: install
	$(PY) -m pytest -ra -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS) tests

demo: install
	cd egs/dcase2018_task1 && ./run.sh

bench: install
	$(PY) bench/feats.py
	$(PY) bench/train.py
	$(PY) bench/gmm.py
	$(PY) bench/scale.py

clean-venv:
	rm -rf $(VENV)
