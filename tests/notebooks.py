"""Execute a notebook of ``notebooks/`` in quick mode, as a user would in Jupyter.

The notebooks read two environment variables in their first code cell:
``XAIBENCH_QUICK`` ("1": quick mode, the default) and ``XAIBENCH_OUT`` (the output
folder); the kernel inherits them from this process.
"""
from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


def run_notebook(name: str, out: str, timeout: int = 900):
    """Execute ``notebooks/<name>.ipynb`` with its output folder ``out``; returns the
    executed notebook (a cell error raises ``nbclient.exceptions.CellExecutionError``)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(os.path.join(NOTEBOOKS, f"{name}.ipynb"), as_version=4)
    saved = {k: os.environ.get(k) for k in ("XAIBENCH_QUICK", "XAIBENCH_OUT")}
    os.environ.update(XAIBENCH_QUICK="1", XAIBENCH_OUT=str(out))
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": NOTEBOOKS}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def read_comparison(out) -> dict:
    """The ``comparison.json`` a reproduction wrote into its output folder ``out``."""
    import json

    with open(os.path.join(out, "comparison.json")) as fh:
        return json.load(fh)


def outputs_text(nb) -> str:
    """All text and Markdown outputs of an executed notebook, joined."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                parts.append(output["text"])
            for key in ("text/markdown", "text/plain"):
                if key in output.get("data", {}):
                    parts.append(output["data"][key])
    return "\n".join(parts)


def executed_reproduction(name: str, out) -> dict:
    """Run the notebook ``name`` into ``out`` and collect what the tests read: ``out``,
    the executed ``nb``, its ``json`` (comparison.json), ``rows`` by item and the
    notebook's wall ``seconds``."""
    import time

    t0 = time.perf_counter()
    nb = run_notebook(name, str(out))
    seconds = time.perf_counter() - t0
    saved = read_comparison(out)
    return {"out": out, "nb": nb, "json": saved, "seconds": seconds,
            "rows": {r["item"]: r for r in saved["rows"]}}
