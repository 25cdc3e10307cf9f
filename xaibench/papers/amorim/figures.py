"""The tables (Tables II-VII with the paper's values in brackets, the random-pixel control,
Fig. 3's accuracies, the tests) and the figures (Table II as a plot, Fig. 3, Fig. 4) of a
reproduction, from the :data:`~xaibench.papers.amorim.protocol.Numbers` it measured."""
import hashlib
import json
import os

import numpy as np

from xaibench.papers.amorim.paper import (METHODS, PAPER_AOPC, PAPER_DECAYS, TABLES_III_VII,
                                          decay_text)
from xaibench.papers.cache import cached
from xaibench.papers.comparison import markdown_table, order_text
from xaibench.plots import line_styles, new_figure


def aopc_tables(n) -> dict:
    """Table II (methods x decays, the lead group), Tables III-VII (groups x decays, one
    per method), the random-pixel control and the accuracies of Fig. 3."""
    def table(first, rows: dict, ours: dict, paper=None):   # rows: label -> key of ours
        def cell(k):                    # ours to 4 decimals, the paper's in brackets
            text = f"{ours[k]:.4f}" if np.isfinite(ours[k]) else "-"
            return text if (paper or {}).get(k) is None else f"{text} ({paper[k]:.4g})"

        return markdown_table([first] + [decay_text(d) for d in n.decays],
                              [[label] + [cell((*k, d)) for d in n.decays]
                               for label, k in rows.items()])

    groups = {g: (g,) for g in n.groups}
    tables = {f"Table II: mean AOPC (eq. 4), layers {n.lead} regularised (paper)": table(
        "method", {METHODS[m]: (m, n.lead) for m in METHODS}, n.aopc, PAPER_AOPC)}
    for m in METHODS:
        tables[f"{TABLES_III_VII[m][0]}: {METHODS[m]}, mean AOPC per layer group (paper)"] = \
            table("layer", {g: (m, g) for g in n.groups}, n.aopc, PAPER_AOPC)
    tables["Random-pixel control: mean AOPC per layer group"] = table("layer", groups, n.control)
    tables["Fig. 3: held-out accuracy per layer group"] = table("layer", groups, n.accuracy)
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
    tables = {f"Tests over the decays ({n.lead}; blocks: {blocks} images of {n.folds} folds; "
              "pairs: Nemenyi at 5 %)": markdown_table(
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


def _curves(labels, series: dict, ylabel: str, title: str, paper=(), control=None):
    """A line per decay of each of ``series`` (the paper's: dotted crosses; the random
    pixels' ``control``: dashed black)."""
    fig, ax = new_figure(figsize=(6, 4))
    ticks = range(len(labels))
    for (name, values), style in zip(series.items(), line_styles(len(series))):
        ax.plot(ticks, values, label=name, **style)
        if name in paper:
            ax.plot(ticks, paper[name], "x:", color=style["color"], alpha=.6)
    if control is not None:
        ax.plot(ticks, control, "k--", label="random pixels")
    ax.set_xticks(list(ticks), labels)
    ax.set_xlabel("L2 weight decay")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _table2(labels, lead, paper, ours, control):
    return _curves(labels, ours, "AOPC (eq. 4)", f"Table II: layers {lead} regularised (x: paper)",
                   paper, control)


def _fig3(labels, accuracy):
    return _curves(labels, accuracy, "held-out accuracy",
                   "Fig. 3: accuracy per regularised layer group")


def _fig4(wins):
    fig, ax = new_figure(figsize=(6, 3.5))
    ax.bar(list(wins), list(wins.values()), color="tab:blue")
    ax.set_xlabel("regularised layer group")
    ax.set_ylabel("best AOPC (methods x decays > 0)")
    ax.set_title("Fig. 4: how often a group gave the best AOPC")
    fig.tight_layout()
    return fig


def draw(result, n, wins: dict):
    """Table II as a plot, Fig. 3 and Fig. 4 (``wins``: group -> count) under
    ``<out>/figures``, each kept with the numbers it draws (``<name>.json``) and drawn
    again only when they change."""
    labels = [decay_text(d) for d in n.decays]
    paper = ({METHODS[m]: [PAPER_AOPC[m, n.lead, d] for d in n.decays] for m in METHODS}
             if all(d in PAPER_DECAYS for d in n.decays) else {})
    table2 = dict(labels=labels, lead=n.lead, paper=paper,
                  ours={METHODS[m]: [n.aopc[m, n.lead, d] for d in n.decays] for m in METHODS},
                  control=[n.control[n.lead, d] for d in n.decays])
    fig3 = dict(labels=labels, accuracy={g: [n.accuracy[g, d] for d in n.decays]
                                         for g in n.groups})
    for title, name, make, drawn in (
            ("Table II as a plot: AOPC per decay", "table2_aopc", _table2, table2),
            ("Fig. 3: accuracy", "fig3_accuracy", _fig3, fig3),
            ("Fig. 4: best layer group counts", "fig4_best_group", _fig4, dict(wins=wins))):
        key = hashlib.sha256(json.dumps(drawn, sort_keys=True).encode()).hexdigest()[:16]
        kept = os.path.join(result.out, "figures", name + ".json")
        drawn = cached(kept, lambda: drawn, key=key)
        result.figure(title, name + ".png", lambda: make(**drawn), depends=[kept])
