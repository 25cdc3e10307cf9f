"""Each notebook's first code cell names its output folder, and by default that folder
lies next to the notebook (not outside notebooks/)."""
import json
import os

import pytest

from notebooks import NOTEBOOKS

NAMES = sorted(f[:-6] for f in os.listdir(NOTEBOOKS) if f.endswith(".ipynb"))


@pytest.mark.parametrize("name", NAMES)
def test_default_output_folder_is_next_to_the_notebook(name, monkeypatch):
    monkeypatch.delenv("XAIBENCH_OUT", raising=False)
    nb = json.load(open(os.path.join(NOTEBOOKS, f"{name}.ipynb")))
    first = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "OUT =" in first
    scope: dict = {}
    exec(first, scope)                     # the first cell only reads the environment
    out = os.path.normpath(os.path.join(NOTEBOOKS, scope["OUT"]))
    assert os.path.commonpath([out, NOTEBOOKS]) == NOTEBOOKS, scope["OUT"]
    assert out != NOTEBOOKS and name in os.path.basename(out)
    monkeypatch.setenv("XAIBENCH_OUT", "/tmp/elsewhere")
    exec(first, scope)
    assert scope["OUT"] == "/tmp/elsewhere"


def test_names_found():
    assert NAMES == ["amorim", "anjomshoae", "kohlbrenner", "samek", "seo"]
