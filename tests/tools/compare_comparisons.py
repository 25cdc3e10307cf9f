"""Compare two reproductions' comparison.json: the same rows (item, paper number, our
number, claim, verdict) in the same order, figures and tables under the same names.

    python tests/tools/compare_comparisons.py BEFORE/comparison.json AFTER/comparison.json

Numbers equal to ``--rtol`` (default 1e-9: a refactoring must not change them); exit 1
and one line per difference otherwise.
"""
import argparse
import json
import math
import sys


def _same(a, b, rtol):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=0)
    return a == b


def differences(before: dict, after: dict, rtol: float = 1e-9) -> list:
    out = []
    for key in ("paper", "quick", "data"):
        if before.get(key) != after.get(key):
            out.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    rows_b, rows_a = before["rows"], after["rows"]
    items_b, items_a = [r["item"] for r in rows_b], [r["item"] for r in rows_a]
    if items_b != items_a:
        gone = [i for i in items_b if i not in items_a]
        new = [i for i in items_a if i not in items_b]
        out.append(f"rows differ: {len(gone)} gone {gone[:5]}, {len(new)} new {new[:5]}"
                   + ("" if gone or new else " (order changed)"))
    after_by = {r["item"]: r for r in rows_a}
    for r in rows_b:
        a = after_by.get(r["item"])
        if a is None:
            continue
        for field in ("paper", "ours", "claim", "holds"):
            if not _same(r[field], a[field], rtol):
                out.append(f"{r['item']!r} {field}: {r[field]!r} -> {a[field]!r}")
    for key in ("figures",):
        if sorted(before.get(key, {})) != sorted(after.get(key, {})):
            out.append(f"{key}: {sorted(before.get(key, {}))} -> {sorted(after.get(key, {}))}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--rtol", type=float, default=1e-9)
    args = p.parse_args(argv)
    with open(args.before) as fb, open(args.after) as fa:
        diffs = differences(json.load(fb), json.load(fa), args.rtol)
    for d in diffs:
        print(d)
    print(f"{len(diffs)} difference(s)" if diffs else "same rows, numbers, claims and figures")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
