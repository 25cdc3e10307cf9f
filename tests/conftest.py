import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's reordered float32 sums (on by default in TF >= 2.16) differ from the plain
# kernels by ~1e-6 relative; tests compare against numpy at that scale, so turn them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, os.path.dirname(__file__))
