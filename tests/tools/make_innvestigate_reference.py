"""Write ``tests/data/innvestigate_reference.npz``: iNNvestigate 2.1.2's heatmaps of the
models in ``tests/innvestigate_reference.py`` (numpy weights, fixed inputs), the
reference of ``tests/test_native_reference.py`` on stacks without iNNvestigate.

Run on the legacy stack (TensorFlow 2.14, Keras 2, iNNvestigate 2.1.2) from the
repository root::

    .venv/bin/python tests/tools/make_innvestigate_reference.py

iNNvestigate runs directly, in graph mode, in a subprocess
(``tests/innvestigate_direct.py``) on the canonized model (``xb.prepare``: softmax
removed, batch norm folded, ReLU merged), as the differential test does.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TESTS, os.path.dirname(TESTS)]

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")      # plain float32 kernels
import tensorflow as tf  # noqa: E402

import innvestigate_reference as ref  # noqa: E402
import xaibench as xb  # noqa: E402


def heatmaps(model, x, y, x_noisy, y_noisy, cases) -> dict:
    prepared = xb.prepare(model)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        weights = {f"weights_{i}": w for i, w in enumerate(prepared.get_weights())}
        np.savez(src, model_json=prepared.to_json(), cases=json.dumps(cases), x=x, y=y,
                 x_noisy=x_noisy, y_noisy=y_noisy, **weights)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, os.path.join(TESTS, "innvestigate_direct.py"),
                               src, dst], capture_output=True, text=True, env=env)
        if proc.returncode:
            sys.exit(proc.stderr[-3000:])
        with np.load(dst) as out:
            errors = [str(out[k]) for k in out.files if k.startswith("error_")]
            if errors:
                sys.exit("iNNvestigate failed: " + "; ".join(errors))
            return {k: out[k] for k in out.files}


def main():
    from xaibench._keras import is_keras3

    if is_keras3():
        sys.exit("run this script on the legacy stack (TensorFlow 2.14, Keras 2, iNNvestigate)")
    arrays = {"cases": np.array(ref.cases_json()), "smoothgrad": np.array(
        json.dumps(ref.SMOOTHGRAD))}
    for seed, (label, build) in enumerate(ref.MODELS.items()):
        model = build()
        for draw in range(100):     # Deep Taylor explains max(0, logit): top logits > 0
            weights = ref.random_weights(model, 10 * seed + draw)
            ref.load_weights(model, weights)
            x = np.random.default_rng(100 + seed).uniform(
                -1, 1, (ref.IMAGES,) + model.input_shape[1:]).astype(np.float32)
            logits = xb.prepare(model).predict(x, verbose=0)
            if np.all(logits.max(1) > 0):
                break
        y = logits.argmax(1)
        an = xb.create_analyzer("smoothgrad", model, **ref.SMOOTHGRAD)
        n = ref.SMOOTHGRAD["augment_by_n"]
        noise = an._noise(x, 0, (n,), ref.SMOOTHGRAD["noise_scale"])
        x_noisy = (x[:, None] + noise).reshape((-1,) + x.shape[1:])
        cases = list(ref.CASES) + [("gradient", {"inputs": "noisy"})]
        out = heatmaps(model, x, y, x_noisy, np.repeat(y, n), cases)
        arrays.update(weights)
        arrays[f"{label}/x"], arrays[f"{label}/y"] = x, y
        arrays[f"{label}/noise"] = noise
        for j in range(len(ref.CASES)):
            arrays[f"{label}/case_{j}"] = out[f"case_{j}"].astype(np.float32)
        arrays[f"{label}/smoothgrad"] = out[f"case_{len(ref.CASES)}"].reshape(
            (len(x), n) + x.shape[1:]).mean(axis=1).astype(np.float32)
    arrays["versions"] = np.array(json.dumps({"tensorflow": tf.__version__,
                                              "innvestigate": _version("innvestigate"),
                                              "numpy": np.__version__}))
    np.savez_compressed(ref.PATH, **arrays)
    print(f"wrote {ref.PATH} ({os.path.getsize(ref.PATH) / 1e3:.0f} kB)")


def _version(name):
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
