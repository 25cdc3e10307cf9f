"""The tables (Tables II-VII with the paper's values in brackets, the random-pixel
control, Fig. 3's accuracies, the tests) and the figures (Table II as a plot, Fig. 3,
Fig. 4) of a reproduction, from its :class:`~xaibench.papers.amorim.protocol.Numbers`.

Each figure is kept with the numbers it draws (``<name>.json`` beside ``<name>.png``)
and drawn again only when they change.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from xaibench.papers.amorim.paper import METHODS, TABLES_III_VII, decay_text
from xaibench.papers.cache import cached
from xaibench.papers.comparison import markdown_table, order_text
from xaibench.plots import line_styles, new_figure


def _cell(ours, paper=None) -> str:
    """``"0.4192 (0.423)"``: ours to 4 decimals, the paper's value in brackets."""
    text = "-" if ours is None or not np.isfinite(ours) else f"{ours:.4f}"
    return text if paper is None else f"{text} ({paper:.4g})"


def _per_group(n, value) -> str:
    """A table of ``value(group, decay)``: a row per layer group, a column per decay."""
    return markdown_table(["layer"] + [decay_text(d) for d in n.decays],
                          [[g] + [value(g, d) for d in n.decays] for g in n.groups])


def aopc_tables(n) -> dict:
    """Table II (methods x decays, the lead group), Tables III-VII (groups x decays, one
    per method), the random-pixel control and the accuracies of Fig. 3."""
    title = f"Table II: mean AOPC (eq. 4), layers {n.lead} regularised (paper)"
    tables = {title: markdown_table(
        ["method"] + [decay_text(d) for d in n.decays],
        [[METHODS[m]] + [_cell(n.aopc[m, n.lead, d], n.paper[m, n.lead, d]) for d in n.decays]
         for m in METHODS])}
    for m in METHODS:
        title = f"{TABLES_III_VII[m][0]}: {METHODS[m]}, mean AOPC per layer group (paper)"
        tables[title] = _per_group(n, lambda g, d, m=m: _cell(n.aopc[m, g, d], n.paper[m, g, d]))
    tables["Random-pixel control: mean AOPC per layer group"] = _per_group(
        n, lambda g, d: _cell(n.control[g, d]))
    tables["Fig. 3: held-out accuracy per layer group"] = _per_group(
        n, lambda g, d: _cell(n.accuracy[g, d]))
    return tables


def statistics_tables(n, tests: dict, over_methods) -> dict:
    """The tests over the decays (``tests``: method or "control" ->
    :class:`~xaibench.papers.amorim.claims.DecayTest`) and the Friedman test over the
    methods with Nemenyi p-values (``over_methods``: result, methods by rank)."""
    rows = [["random-pixel control" if m == "control" else METHODS[m], t.name,
             f"{t.statistic:.4g}", f"{t.p:.3g}", "yes" if t.reject else "no",
             ", ".join(f"{decay_text(d)}: {r:.2f}" for d, r in zip(n.decays, t.ranks)),
             "; ".join(f"{decay_text(a)} > {decay_text(b)}" for a, b in t.pairs) or "none"]
            for m, t in tests.items()]
    blocks = len(n.lead_images[next(iter(METHODS)), n.decays[0]])
    title = (f"Tests over the decays ({n.lead}; blocks: {blocks} images of {n.folds} folds; "
             "pairs: Nemenyi at 5 %)")
    tables = {title: markdown_table(
        ["method", "test", "statistic", "p", "reject at 5 %",
         "mean ranks (higher AOPC = higher rank)", "significant pairs"], rows)}
    res, ranked = over_methods
    text = markdown_table(
        ["method", "mean rank"] + list(METHODS.values()),
        [[METHODS[m], f"{res.mean_ranks[i]:.2f}"]
         + [("*" if res.significant[i, j] else "") + f"{res.pairwise_p[i, j]:.2g}"
            for j in range(len(METHODS))] for i, m in enumerate(METHODS)])
    blocks = len(n.model_images[next(iter(METHODS))])
    tables[f"Friedman over the methods (blocks: {blocks} images x models)"] = (
        text + f"\n\nchi2 = {res.statistic:.4g}, p = {res.pvalue:.3g}; order by mean rank: "
        f"{order_text(ranked, METHODS)} (* = Nemenyi pair significant at 5 %)")
    return tables


def _decay_axes(ax, labels, ylabel: str, title: str):
    ax.set_xticks(list(range(len(labels))), labels)
    ax.set_xlabel("L2 weight decay")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)


def _table2(labels, lead, ours, paper, control):
    """Table II as a plot: AOPC per decay of each method (paper: dotted crosses)."""
    fig, ax = new_figure(figsize=(6, 4))
    ticks = range(len(labels))
    for (name, values), style in zip(ours.items(), line_styles(len(ours))):
        ax.plot(ticks, values, label=name, **style)
        if name in paper:
            ax.plot(ticks, paper[name], "x:", color=style["color"], alpha=.6)
    ax.plot(ticks, control, "k--", label="random pixels")
    _decay_axes(ax, labels, "AOPC (eq. 4)", f"Table II: layers {lead} regularised (x: paper)")
    return fig


def _fig3(labels, accuracy):
    """Fig. 3: held-out accuracy per decay of each regularised layer group."""
    fig, ax = new_figure(figsize=(6, 4))
    for (group, values), style in zip(accuracy.items(), line_styles(len(accuracy))):
        ax.plot(range(len(labels)), values, label=group, **style)
    _decay_axes(ax, labels, "held-out accuracy", "Fig. 3: accuracy per regularised layer group")
    return fig


def _fig4(wins):
    """Fig. 4: how often each layer group gave a method's best AOPC."""
    fig, ax = new_figure(figsize=(6, 3.5))
    ax.bar(list(wins), list(wins.values()), color="tab:blue")
    ax.set_xlabel("regularised layer group")
    ax.set_ylabel("best AOPC (methods x decays > 0)")
    ax.set_title("Fig. 4: how often a group gave the best AOPC")
    return fig


def _figure(folder: str, name: str, draw, drawn: dict) -> str:
    """``draw(**drawn)`` as ``<folder>/<name>.png``, drawn again only when the numbers
    ``drawn`` (kept in ``<name>.json``) changed."""
    key = hashlib.sha256(json.dumps(drawn, sort_keys=True).encode()).hexdigest()[:16]
    numbers = cached(os.path.join(folder, name + ".json"), lambda: drawn, key=key)

    def figure():
        fig = draw(**numbers)
        fig.tight_layout()
        return fig

    return cached(os.path.join(folder, name + ".png"), figure,
                  depends=[os.path.join(folder, name + ".json")])


def draw(folder: str, n, wins: dict) -> dict:
    """The three figures in ``folder``: ``{title: PNG path}``."""
    labels = [decay_text(d) for d in n.decays]
    paper = ({METHODS[m]: [n.paper[m, n.lead, d] for d in n.decays] for m in METHODS}
             if n.in_paper(n.decays) else {})
    table2 = dict(labels=labels, lead=n.lead, paper=paper,
                  ours={METHODS[m]: [n.aopc[m, n.lead, d] for d in n.decays] for m in METHODS},
                  control=[n.control[n.lead, d] for d in n.decays])
    accuracy = {g: [n.accuracy[g, d] for d in n.decays] for g in n.groups}
    return {"Table II as a plot: AOPC per decay":
            _figure(folder, "table2_aopc", _table2, table2),
            "Fig. 3: accuracy": _figure(folder, "fig3_accuracy", _fig3,
                                        dict(labels=labels, accuracy=accuracy)),
            "Fig. 4: best layer group counts": _figure(folder, "fig4_best_group", _fig4,
                                                       dict(wins=wins))}
