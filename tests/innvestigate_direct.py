"""Run iNNvestigate 2.1.2 directly, the way its README shows, in graph mode: the
reference side of ``test_innvestigate_differential.py``. Run as a script:

    python innvestigate_direct.py IN.npz OUT.npz [IN2.npz OUT2.npz ...]

IN.npz holds ``model_json``, ``weights_<i>``, ``x``, ``y`` and ``cases`` (a JSON
list of [analyzer name, params]; ``params["inputs"] = "k"`` analyzes ``x_k``, ``y_k``
instead); OUT.npz gets one heatmap array per case, or the
error text as ``error_<i>``. Several pairs are done one after another in one process (one
TensorFlow import); each OUT appears complete (written aside, then renamed), so a test can
wait for it while the later pairs are computed.
"""
import os
import json
import sys

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
import innvestigate  # noqa: E402


def load_model(data, seed=None):
    tf.keras.backend.clear_session()
    if seed is not None:  # seed the graph and the op seeds Keras draws from numpy
        tf.compat.v1.set_random_seed(seed)
        np.random.seed(seed)
    model = tf.keras.models.model_from_json(str(data["model_json"]))
    n = sum(1 for k in data.files if k.startswith("weights_"))
    model.set_weights([data[f"weights_{i}"] for i in range(n)])
    return model


def main(src, dst):
    data = np.load(src, allow_pickle=False)
    x, y = data["x"], data["y"]
    out = {}
    for i, (name, params) in enumerate(json.loads(str(data["cases"]))):
        try:
            # a fresh model per analyzer: analyzers built on one model object in one
            # session change each other's results (an input-layer rule is lost)
            seed = params.pop("seed", None)
            inputs = params.pop("inputs", None)     # another input set: x_<inputs>, y_<inputs>
            xs, ys = (x, y) if inputs is None else (data[f"x_{inputs}"], data[f"y_{inputs}"])
            for key in ("input_layer_rule",):       # JSON turns bounds into a list
                if isinstance(params.get(key), list):
                    params[key] = tuple(params[key])
            model = load_model(data, seed)
            an = innvestigate.create_analyzer(name, model, neuron_selection_mode="index",
                                              **params)
            an.create_analyzer_model()
            out[f"case_{i}"] = an.analyze(xs, neuron_selection=ys)
        except Exception as err:  # reported to the test
            out[f"error_{i}"] = np.array(f"{type(err).__name__}: {err}")
    part = dst + ".part"
    with open(part, "wb") as f:
        np.savez(f, **out)
    os.replace(part, dst)


if __name__ == "__main__":
    pairs = sys.argv[1:]
    assert pairs and len(pairs) % 2 == 0, "give IN.npz OUT.npz pairs"
    for src, dst in zip(pairs[::2], pairs[1::2]):
        main(src, dst)
