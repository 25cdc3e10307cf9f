"""Lines of Python files: all lines, and code lines (not blank, not a comment, not part of a
docstring), per file and in total; the measure of issue 19's "the paper modules shrink".

    python tests/tools/count_lines.py xaibench/papers/samek xaibench/papers/seo ...
    python tests/tools/count_lines.py --rev 928e1b8 xaibench/papers    # as of a commit
"""
from __future__ import annotations

import argparse
import ast
import io
import os
import subprocess
import sys
import tokenize


def docstring_lines(tree: ast.AST) -> set:
    """Line numbers covered by the docstrings of the module, its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                out.update(range(body[0].lineno, body[0].end_lineno + 1))
    return out


def count(source: str) -> tuple:
    """``(all lines, code lines)`` of one file's text."""
    lines = source.splitlines()
    docs = docstring_lines(ast.parse(source))
    code = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING):
            continue
        code.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines), len(code - docs)


def files(paths, rev):
    """``{path: text}`` of every .py file under ``paths`` (in the work tree, or at ``rev``)."""
    out = {}
    for p in paths:
        if rev:
            listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, p],
                                    capture_output=True, text=True, check=True).stdout
            for name in listed.split():
                if name.endswith(".py"):
                    out[name] = subprocess.run(["git", "show", f"{rev}:{name}"],
                                               capture_output=True, text=True,
                                               check=True).stdout
        elif os.path.isfile(p):
            out[p] = open(p).read()
        else:
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    if n.endswith(".py"):
                        path = os.path.join(root, n)
                        out[path] = open(path).read()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--rev", help="count the files as of this git revision")
    ap.add_argument("--per-file", action="store_true")
    args = ap.parse_args(argv)
    texts = files(args.paths, args.rev)
    if not texts:
        sys.exit(f"no .py files under {' '.join(args.paths)}")
    total = [0, 0]
    for path in sorted(texts):
        n, c = count(texts[path])
        total[0] += n
        total[1] += c
        if args.per_file:
            print(f"{n:6d} {c:6d}  {path}")
    print(f"{total[0]:6d} {total[1]:6d}  total (all lines, code lines) of {len(texts)} files")


if __name__ == "__main__":
    main()
