# The two commands of the README:
#   make demo   set up (if needed), split the embedded sample, train a tiny detector on CPU, test it, print AP
#   make test   set up (if needed), lint, and run the whole test suite (the slow end-to-end tests included)
# and for the development loop:
#   make lint        ruff (pyflakes, pycodestyle, import order; ruff.toml)
#   make test-quick  the tests not marked slow (pytest -m "not slow")
PY := .venv/bin/python
CONFIG ?= configs/baselines/rotated-faster-rcnn_tiny_sample.py

.PHONY: setup demo test lint test-quick
setup:
	bash tools/setup/setup_env.sh

demo: setup
	bash tools/misc/demo_sample.sh $(CONFIG)

lint: setup
	.venv/bin/ruff check .

test: lint
	$(PY) -m pytest -q tests

test-quick: setup
	$(PY) -m pytest -q -m "not slow" tests
