"""Reproductions of the five papers' experiments on top of the batch runner.

``xb.reproduce(name, quick=..., data=..., out=...)`` (or ``xaibench reproduce NAME``)
runs one paper's protocol into a folder, through resumable batch runs, and returns a
:class:`Reproduction`: the paper's numbers next to xaibench's and whether the paper's
qualitative claims hold on this data. ``quick=True`` uses embedded data and small
settings and finishes in minutes on 2 CPU cores.
"""
from __future__ import annotations

import importlib

from xaibench.papers.comparison import Reproduction, Row, order_text, ordered

#: paper name -> (module, paper text in ../shared/papers)
PAPERS = {
    "amorim": "xaibench.papers.amorim",
    "kohlbrenner": "xaibench.papers.kohlbrenner",
    "samek": "xaibench.papers.samek",
    "seo": "xaibench.papers.seo",
    "anjomshoae": "xaibench.papers.anjomshoae",
}


def paper_module(name: str):
    """The module of paper ``name``; a clear error for unknown names."""
    if name not in PAPERS:
        import difflib

        close = difflib.get_close_matches(str(name), list(PAPERS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"unknown paper {name!r}{hint}; choose one of {', '.join(PAPERS)}")
    return importlib.import_module(PAPERS[name])


def reproduce(name: str, quick: bool = False, data: str | None = None, out: str | None = None,
              progress: bool = True, **options) -> Reproduction:
    """Run the reproduction of paper ``name`` into ``out`` (default ``out/reproduce/NAME``).

    ``data`` is ``None`` for the paper's default embedded data, a data-set name
    (``digits``, ``clutter``, ``mnist``, ``cifar10``) or ``NAME:PATH`` for data sets
    read from a folder (``imagenet_val:/data/ILSVRC2012``, ``voc2007:/data/VOC2007``).
    ``options`` are the paper's own settings (e.g. ``folds`` for ``amorim``). Running
    the same call again resumes: finished runs and trained models are reused.
    """
    import inspect

    module = paper_module(name)
    accepted = set(inspect.signature(module.run).parameters) - {"out", "quick", "data",
                                                                  "progress"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"{name} has no option {', '.join(unknown)}; its options: "
                         f"{', '.join(sorted(accepted)) or 'none'}")
    result = module.run(out=out or f"out/reproduce/{name}", quick=bool(quick), data=data,
                        progress=progress, **options)
    result.write()
    return result


__all__ = ["PAPERS", "Reproduction", "Row", "order_text", "ordered", "paper_module",
           "reproduce"]
