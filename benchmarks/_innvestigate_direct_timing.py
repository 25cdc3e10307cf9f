"""Subprocess side of analyzer_overhead.py: iNNvestigate called directly in graph mode.

Reads model/input from an .npz, then answers commands on stdin:
``first NAME`` (build the analyzer and time its first call) and ``run NAME K``
(time K warm calls); prints one JSON line per command.
"""
import json
import sys
import time

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
import innvestigate  # noqa: E402

data = np.load(sys.argv[1])
model = tf.keras.models.model_from_json(str(data["model_json"]))
model.set_weights([data[f"w{i}"] for i in range(int(data["n_weights"]))])
x, y = data["x"], data["y"]
analyzers = {}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "first":
        t = time.perf_counter()
        an = innvestigate.create_analyzer(cmd[1], model, neuron_selection_mode="index")
        an.analyze(x, neuron_selection=y)
        analyzers[cmd[1]] = an
        print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)
    elif cmd[0] == "run":
        an, times = analyzers[cmd[1]], []
        for _ in range(int(cmd[2])):
            t = time.perf_counter()
            an.analyze(x, neuron_selection=y)
            times.append(time.perf_counter() - t)
        print(json.dumps({"times": times}), flush=True)
