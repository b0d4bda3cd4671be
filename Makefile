# The two commands of the README:
#   make demo   set up (if needed), split the embedded sample, train a tiny detector on CPU, test it, print AP
#   make test   set up (if needed), lint, and run the whole test suite (the slow end-to-end tests included)
# and for the development loop:
#   make lint        ruff (pyflakes, pycodestyle, import order; ruff.toml)
#   make test-quick  the tests not marked slow (pytest -m "not slow")
PY := .venv/bin/python
CONFIG ?= configs/baselines/rotated-faster-rcnn_tiny_sample.py
# test worker processes (pytest-xdist; each file runs whole in one worker, one thread per worker): TEST_JOBS=1
# runs the suite in this process, as plain pytest does
TEST_JOBS ?= 2
XDIST = $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

.PHONY: setup demo test lint test-quick
setup:
	bash tools/setup/setup_env.sh

demo: setup
	bash tools/misc/demo_sample.sh $(CONFIG)

lint: setup
	.venv/bin/ruff check .

test: lint
	$(PY) -m pytest -q $(XDIST) tests

test-quick: setup
	$(PY) -m pytest -q $(XDIST) -m "not slow" tests
