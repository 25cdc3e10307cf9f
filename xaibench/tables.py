"""Markdown tables, the one way the report and the reproductions write a table."""
from __future__ import annotations

import math


def cell(value, digits: int = 5) -> str:
    """A table cell: floats to ``digits`` significant digits ("nan" for NaN), ``None`` as
    "-", booleans as yes / no, anything else as its text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def markdown_table(head, rows, digits: int = 4) -> str:
    """A Markdown table of ``rows`` under the column names ``head``; every value through
    :func:`cell` (``digits`` significant digits)."""
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v, digits) for v in r) + " |" for r in rows]
    return "\n".join(lines)
