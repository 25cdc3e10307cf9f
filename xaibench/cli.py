"""The ``xaibench`` command line: ``xaibench list`` and ``xaibench demo``."""
from __future__ import annotations

import argparse
import sys


def _list(args) -> int:
    import xaibench as xb

    for family in ("utility", "gradient", "lrp", "deep_taylor", None):
        names = xb.list_analyzers(family) if family else {
            k: v for k, v in xb.list_analyzers().items()
            if k not in set().union(*(xb.list_analyzers(f) for f in
                                      ("utility", "gradient", "lrp", "deep_taylor")))}
        if names:
            print(f"[{family or 'other'}]")
            for name, description in names.items():
                print(f"  {name:<40} {description}")
    return 0


def _demo(args) -> int:
    from xaibench.demo import run

    run(out=args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xaibench", description="Explain and benchmark Keras image classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list the analyzers with a one-line description each")
    p.set_defaults(func=_list)
    p = sub.add_parser("demo", help="explain test digits with several analyzers and write "
                                    "a heatmap grid (no network needed)")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
        print(f"xaibench {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
