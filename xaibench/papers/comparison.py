"""The outcome of a paper reproduction: xaibench's numbers next to the paper's.

A :class:`Reproduction` holds rows of ``(item, paper, ours)`` numbers and of
qualitative claims (``claim``, ``holds``), the figures and tables it wrote, and the
run folders it used. It prints as a side-by-side table, renders as Markdown in a
notebook and is written to ``comparison.md`` / ``comparison.json`` in its folder.
"""
from __future__ import annotations

import json
import os
import textwrap
from collections import namedtuple
from dataclasses import asdict, dataclass, field

from xaibench.tables import cell as _fmt, markdown_table  # noqa: F401 (the papers' table helper)


#: characters per line of the table printed to a terminal (:meth:`Reproduction.table`)
TERMINAL_WIDTH = 100
#: widest number or short text shown in the paper / xaibench columns of that table
VALUE_WIDTH = 16


@dataclass
class Row:
    """One line of the comparison: a number of the paper and ours, or a claim.

    ``paper`` / ``ours`` are numbers or short strings (``None`` = not reported);
    ``claim`` is the paper's qualitative statement and ``holds`` whether it holds
    on this data (``None`` = cannot be decided here).
    """

    item: str
    paper: float | str | None = None
    ours: float | str | None = None
    claim: str | None = None
    holds: bool | None = None


class Verdict(namedtuple("Verdict", "holds shown", defaults=(None,))):
    """A claim decided on numbers: whether it ``holds`` (True / False, normalised to
    ``bool``; None: these numbers cannot decide it) and the numbers it compared
    (``shown``, a number or a short text for the comparison's cell)."""

    __slots__ = ()

    def __new__(cls, holds, shown=None):
        return super().__new__(cls, None if holds is None else bool(holds), shown)


#: a claim these numbers cannot decide
UNDECIDED = Verdict(None)


def claim_row(item: str, claim: str, verdict: Verdict, paper=None) -> Row:
    """The comparison row of a claim: ``verdict.shown`` in the xaibench cell, ``paper``
    (the same numbers on the paper's own, when it prints them) in the paper's."""
    return Row(item, paper, verdict.shown, claim, verdict.holds)


def judged(item: str, claim: str, decide, ours: tuple, paper: tuple | None = None) -> Row:
    """The row of ``claim`` decided by ``decide(*ours)`` (a :class:`Verdict`) and shown, in
    the paper's cell, on the paper's own numbers: ``decide(*paper).shown`` (``None``: the
    paper prints no such numbers)."""
    return claim_row(item, claim, decide(*ours), None if paper is None else decide(*paper).shown)


def _verdict(row: Row) -> str:
    if row.claim is None:
        return ""
    return {True: "holds", False: "does not hold", None: "undecided"}[row.holds]


@dataclass
class Reproduction:
    """What ``xb.reproduce(name)`` returns."""

    paper: str
    title: str
    out: str
    quick: bool
    data: str
    rows: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)     # name -> PNG path
    tables: dict = field(default_factory=dict)      # name -> Markdown text
    runs: dict = field(default_factory=dict)        # name -> run folder
    #: ``Figure.savefig`` arguments of every :meth:`figure` (its own arguments win)
    savefig: dict = field(default_factory=dict)

    def add(self, item, paper=None, ours=None, claim=None, holds=None) -> Row:
        row = Row(item, paper, ours, claim, None if holds is None else bool(holds))
        self.rows.append(row)
        return row

    def claim(self, item: str, claim: str, verdict: Verdict, paper=None) -> Row:
        """Add the row of a claim (:func:`claim_row`)."""
        row = claim_row(item, claim, verdict, paper)
        self.rows.append(row)
        return row

    def judge(self, item: str, claim: str, decide, ours: tuple, paper: tuple | None = None) -> Row:
        """Add the row of a claim decided on ours and shown on the paper's numbers
        (:func:`judged`)."""
        row = judged(item, claim, decide, ours, paper)
        self.rows.append(row)
        return row

    def figure(self, name: str, filename: str, make, depends=(), **savefig) -> str:
        """The figure ``make()`` (a Matplotlib figure) kept as ``<out>/figures/<filename>``
        through :func:`~xaibench.papers.cache.cached` (drawn again when one of ``depends``
        is newer) and listed under ``name``; its path. ``savefig``: arguments of
        ``Figure.savefig`` over :attr:`savefig`."""
        from xaibench.papers.cache import cached

        path = cached(os.path.join(self.out, "figures", filename), make, depends=depends,
                      **{**self.savefig, **savefig})
        self.figures[name] = path
        return path

    def claims(self) -> list:
        return [r for r in self.rows if r.claim is not None]

    def _cells(self):
        return [(r.item, _fmt(r.paper), _fmt(r.ours), r.claim or "", _verdict(r))
                for r in self.rows]

    def table(self, width: int = TERMINAL_WIDTH) -> str:
        """The side-by-side table as plain text at most ``width`` characters wide (the
        compact form printed to a terminal; :meth:`markdown` has the full one): columns
        item, paper, xaibench and the verdict; the item wraps in its column, a claim's
        statement and a value too long for its column go on indented lines under the row."""
        rows = [(r.item, _fmt(r.paper, 4), _fmt(r.ours, 4), r.claim or "", _verdict(r))
                for r in self.rows]
        verdict_w = max([len("on this data")] + [len(r[4]) for r in rows])
        value_w = VALUE_WIDTH
        fits = [[v if len(v) <= value_w else "" for v in (r[1], r[2])] for r in rows]
        col = [max([len(h)] + [len(f[k]) for f in fits]) for k, h in enumerate(("paper",
                                                                              "xaibench"))]
        item_w = max(20, width - sum(col) - verdict_w - 6)
        lines = [f"{'item':<{item_w}}  {'paper':<{col[0]}}  {'xaibench':<{col[1]}}  "
                 "on this data".rstrip(),
                 f"{'-' * item_w}  {'-' * col[0]}  {'-' * col[1]}  {'-' * verdict_w}"]
        for (item, paper, ours, claim, verdict), (p_fit, o_fit) in zip(rows, fits):
            wrapped = textwrap.wrap(item, item_w) or [""]
            for k, text in enumerate(wrapped):
                cells = (p_fit, o_fit, verdict) if k == 0 else ("", "", "")
                lines.append(f"{text:<{item_w}}  {cells[0]:<{col[0]}}  {cells[1]:<{col[1]}}  "
                             f"{cells[2]}".rstrip())
            for name, value, fit in (("paper", paper, p_fit), ("xaibench", ours, o_fit)):
                if value and not fit:
                    lines += textwrap.wrap(f"{name}: {value}", width, initial_indent="    ",
                                           subsequent_indent="      ")
            if claim:
                lines += textwrap.wrap(f"claim: {claim}", width, initial_indent="    ",
                                       subsequent_indent="      ")
        return "\n".join(lines)

    def markdown(self) -> str:
        mode = "quick" if self.quick else "full"
        out = [f"# {self.title}", "", f"Data: {self.data} ({mode} mode)", "",
               "| item | paper | xaibench | claim | on this data |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |"
                for cells in self._cells()]
        for name, text in self.tables.items():
            out += ["", f"## {name}", "", text]
        for name, path in self.figures.items():
            out += ["", f"## {name}", "", f"![{name}]({os.path.relpath(path, self.out)})"]
        return "\n".join(out) + "\n"

    def _repr_markdown_(self) -> str:
        return self.markdown().replace("](", "](" + self.out.rstrip("/") + "/")

    def __str__(self) -> str:
        """The title and the compact table, at most :data:`TERMINAL_WIDTH` characters wide."""
        return "\n".join(textwrap.wrap(self.title, TERMINAL_WIDTH)) + "\n\n" + self.table()

    def write(self) -> str:
        """Write ``comparison.md`` and ``comparison.json`` into :attr:`out`; returns the .md path."""
        os.makedirs(self.out, exist_ok=True)
        path = os.path.join(self.out, "comparison.md")
        with open(path, "w") as fh:
            fh.write(self.markdown())
        with open(os.path.join(self.out, "comparison.json"), "w") as fh:
            json.dump({"paper": self.paper, "title": self.title, "quick": self.quick,
                       "data": self.data, "rows": [asdict(r) for r in self.rows],
                       "figures": self.figures, "runs": self.runs}, fh, indent=1, default=str)
        return path


def vs(*values, sep: str = " vs ", digits: int = 3) -> str:
    """``"0.984 vs 0.897"``: the numbers a claim compares, for its paper / xaibench cell
    (floats to ``digits`` significant digits, text as is)."""
    import numbers

    return sep.join(_fmt(float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool)
                         else v, digits) for v in values)


def ordered(scores: dict, order, strict: bool = True) -> bool:
    """Whether ``scores[order[0]] > scores[order[1]] > ...`` (``>=`` when not strict)."""
    values = [scores[k] for k in order]
    pairs = zip(values, values[1:])
    return all(a > b for a, b in pairs) if strict else all(a >= b for a, b in pairs)


def order_text(order, labels: dict | None = None) -> str:
    """``"A > B > C"`` for a claim's text."""
    labels = labels or {}
    return " > ".join(labels.get(k, k) for k in order)
