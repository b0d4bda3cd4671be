# The two commands of the README:
#   make demo   set up (if needed), split the embedded sample, train a tiny detector on CPU, test it, print AP
#   make test   set up (if needed) and run the test suite
PY := .venv/bin/python
CONFIG ?= configs/baselines/rotated-faster-rcnn_tiny_sample.py

.PHONY: setup demo test
setup:
	bash tools/setup_env.sh

demo: setup
	bash tools/demo_sample.sh $(CONFIG)

test: setup
	$(PY) -m pytest -q tests
