"""The outcome of a paper reproduction: xaibench's numbers next to the paper's.

A :class:`Reproduction` holds rows of ``(item, paper, ours)`` numbers and of
qualitative claims (``claim``, ``holds``), the figures and tables it wrote, and the
run folders it used. It prints as a side-by-side table, renders as Markdown in a
notebook and is written to ``comparison.md`` / ``comparison.json`` in its folder.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field


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


def _fmt(value, digits: int = 5) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def markdown_table(head, rows, digits: int = 4) -> str:
    """A Markdown table: floats to ``digits`` significant digits, None as "-", text as is."""
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(v, digits) for v in r) + " |" for r in rows]
    return "\n".join(lines)


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

    def add(self, item, paper=None, ours=None, claim=None, holds=None) -> Row:
        row = Row(item, paper, ours, claim, None if holds is None else bool(holds))
        self.rows.append(row)
        return row

    def claims(self) -> list:
        return [r for r in self.rows if r.claim is not None]

    def _cells(self):
        return [(r.item, _fmt(r.paper), _fmt(r.ours), r.claim or "", _verdict(r))
                for r in self.rows]

    def table(self) -> str:
        """The side-by-side table as plain text."""
        head = ("item", "paper", "xaibench", "claim", "on this data")
        cells = [head] + self._cells()
        widths = [min(60, max(len(c[i]) for c in cells)) for i in range(5)]
        lines = []
        for k, c in enumerate(cells):
            lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
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
        return f"{self.title}\n\n{self.table()}"

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


def ordered(scores: dict, order, strict: bool = True) -> bool:
    """Whether ``scores[order[0]] > scores[order[1]] > ...`` (``>=`` when not strict)."""
    values = [scores[k] for k in order]
    pairs = zip(values, values[1:])
    return all(a > b for a, b in pairs) if strict else all(a >= b for a, b in pairs)


def order_text(order, labels: dict | None = None) -> str:
    """``"A > B > C"`` for a claim's text."""
    labels = labels or {}
    return " > ".join(labels.get(k, k) for k in order)
