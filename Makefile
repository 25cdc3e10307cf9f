# Two commands do everything on a fresh machine:
#   make demo   run the demo on the default stack (creates .venv on first use)
#   make test   run the test suite on both stacks (creates .venv and .venv-legacy on first use)
#
# Stacks (each installed from its lock file, see locks/):
#   default  .venv         newest TensorFlow CPU build + Keras 3 + numpy 2
#   legacy   .venv-legacy  TensorFlow 2.14.1 + Keras 2.14 + numpy 1.26 + iNNvestigate 2.1.2
PYTHON ?= $(shell command -v python3.11 || command -v python3)
DEFAULT := .venv
LEGACY  := .venv-legacy

.PHONY: demo test test-default test-legacy install bench check-install locks clean

# $(1): venv folder, $(2): lock name, $(3): a Python assertion on the installed stack
define stack
$(1)/.installed: locks/$(2).txt setup.cfg setup.py
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade "pip>=23" wheel
	$(1)/bin/python -m pip install --quiet --no-deps -r locks/$(2).txt
	$(1)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	TF_CPP_MIN_LOG_LEVEL=3 $(1)/bin/python -c "import tensorflow as tf, keras, numpy; $(3)"
	touch $(1)/.installed
endef

$(eval $(call stack,$(DEFAULT),default,assert keras.__version__ >= '3' and numpy.__version__ >= '2'))
$(eval $(call stack,$(LEGACY),legacy,assert tf.__version__ == '2.14.1' and keras.__version__.startswith('2.14') and numpy.__version__ < '2'))

install: $(DEFAULT)/.installed $(LEGACY)/.installed

demo: $(DEFAULT)/.installed
	$(DEFAULT)/bin/python -m xaibench demo

test: test-default test-legacy

test-default: $(DEFAULT)/.installed
	@echo "== default stack: $$($(DEFAULT)/bin/python -c 'import importlib.metadata as m; print("tensorflow-cpu", m.version("tensorflow-cpu"), "keras", m.version("keras"), "numpy", m.version("numpy"))')"
	$(DEFAULT)/bin/python -m pytest

test-legacy: $(LEGACY)/.installed
	@echo "== legacy stack: TensorFlow 2.14.1, Keras 2.14, numpy 1.26, iNNvestigate 2.1.2"
	$(LEGACY)/bin/python -m pytest

# pip install of xaibench into an environment that has only the newest TensorFlow keeps
# the user's TensorFlow and Keras, and the README's example runs there (needs PyPI).
check-install:
	$(PYTHON) .ci/check_install.py

bench: $(DEFAULT)/.installed
	$(DEFAULT)/bin/python benchmarks/analyzer_overhead.py
	$(DEFAULT)/bin/python benchmarks/evaluate_throughput.py --jit
	$(DEFAULT)/bin/python benchmarks/perturbation_throughput.py
	$(DEFAULT)/bin/python benchmarks/pattern_fit.py

# Regenerate a lock after editing locks/NAME.in: make locks STACK=default (or legacy).
locks:
	rm -rf /tmp/xaibench-lock && $(PYTHON) -m venv /tmp/xaibench-lock
	/tmp/xaibench-lock/bin/python -m pip install --quiet --upgrade "pip>=23" wheel
	grep -vi '^quantus' locks/$(STACK).in > /tmp/xaibench-lock/req.txt
	/tmp/xaibench-lock/bin/python -m pip install --quiet -r /tmp/xaibench-lock/req.txt
	/tmp/xaibench-lock/bin/python -m pip install --quiet --no-deps "$$(grep -i '^quantus' locks/$(STACK).in)"
	(sed -n '1,/^[^#]/p' locks/$(STACK).txt | grep '^#'; /tmp/xaibench-lock/bin/python -m pip freeze) > locks/$(STACK).txt.new
	mv locks/$(STACK).txt.new locks/$(STACK).txt

clean:
	rm -rf $(DEFAULT) $(LEGACY) build *.egg-info
