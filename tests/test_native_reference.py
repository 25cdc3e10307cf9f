"""The native engine against iNNvestigate 2.1.2's heatmaps committed as test data
(``tests/data/innvestigate_reference.npz``, made on the legacy stack by
``tests/tools/make_innvestigate_reference.py``): on every stack, the model is rebuilt
with the current Keras, its numpy weights loaded, and each analyzer's heatmaps must
equal iNNvestigate's within 1e-5 of max |R|.

Where iNNvestigate itself runs (the legacy stack) the ``cnn`` model is skipped, with the
reason printed: ``test_innvestigate_differential.py`` compares with iNNvestigate directly
there, on models with its layers. The ``residual`` model (``Add``) runs on every stack:
no directly compared model has that layer.
"""
import json

import numpy as np
import pytest

import innvestigate_reference as ref
import xaibench as xb
from stacks import compared_directly_where_innvestigate_runs

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def data():
    with np.load(ref.PATH, allow_pickle=False) as stored:
        return {k: stored[k] for k in stored.files}


_models = {}


def model_of(label, data):
    if label not in _models:
        model = ref.MODELS[label]()
        ref.load_weights(model, data)
        _models[label] = model
    return _models[label]


def _close(R, expected):
    scale = np.abs(expected).max()
    assert scale > 0
    err = np.abs(R - expected).max()
    assert err <= TOLERANCE * scale, f"max |dR| = {err:.3g} = {err / scale:.3g} of max |R|"


def test_reference_lists_the_current_cases(data):
    assert json.loads(str(data["cases"])) == json.loads(ref.cases_json())


#: models whose layers all occur in a model that test_innvestigate_differential.py compares
#: with iNNvestigate directly
DIRECTLY_COMPARED = {"cnn"}


def _marks(label):
    return [compared_directly_where_innvestigate_runs] if label in DIRECTLY_COMPARED else []


PAIRS = [pytest.param(label, j, marks=_marks(label),
                      id=f"{label}-{ref.CASES[j][0]}{ref.CASES[j][1] or ''}")
         for label in ref.MODELS for j in range(len(ref.CASES))]


@pytest.mark.parametrize("label, j", PAIRS)
def test_same_numbers_as_committed_innvestigate_heatmaps(data, label, j):
    model = model_of(label, data)
    x, y = data[f"{label}/x"], data[f"{label}/y"]
    name, params = ref.CASES[j]
    R = xb.create_analyzer(name, model, **ref.params_of(params)).analyze(x, neuron_selection=y)
    assert R.shape == x.shape and R.dtype == np.float32
    _close(R, data[f"{label}/case_{j}"])


@pytest.mark.parametrize("label", [pytest.param(label, marks=_marks(label))
                                   for label in ref.MODELS])
def test_smoothgrad_averages_innvestigate_gradients_on_the_same_noise(data, label):
    """SmoothGrad draws the stored noise (seeded numpy) and averages the gradients
    iNNvestigate computed on those noisy copies."""
    model = model_of(label, data)
    x, y = data[f"{label}/x"], data[f"{label}/y"]
    params = json.loads(str(data["smoothgrad"]))
    an = xb.create_analyzer("smoothgrad", model, **params)
    noise = an._noise(x, 0, (params["augment_by_n"],), params["noise_scale"])
    np.testing.assert_array_equal(noise, data[f"{label}/noise"])
    _close(an.analyze(x, neuron_selection=y), data[f"{label}/smoothgrad"])
