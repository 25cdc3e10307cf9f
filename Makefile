# Two commands do everything on a fresh machine:
#   make demo   run the demo (creates .venv and installs on first use)
#   make test   run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): requirements.txt constraints.txt setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" wheel
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps "quantus==0.6.0"
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -c "import tensorflow as tf, keras, numpy; assert tf.__version__ == '2.14.1' and keras.__version__.startswith('2.14') and numpy.__version__ < '2'"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m xaibench demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/analyzer_overhead.py
	$(PY) benchmarks/evaluate_throughput.py --jit
	$(PY) benchmarks/perturbation_throughput.py
	$(PY) benchmarks/pattern_fit.py

clean:
	rm -rf $(VENV) build *.egg-info
