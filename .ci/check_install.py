"""Installing xaibench keeps the user's TensorFlow and Keras, and the README example runs.

A fresh venv gets only TensorFlow (the CPU build at the default lock's version, the
newest release when the lock was made), then ``pip install .`` of this checkout with
its dependencies resolved by pip; the TensorFlow, Keras and numpy versions must be
unchanged, and the ``## Example`` block of README.md must run there (from a folder
outside the checkout, so the installed package is the one imported).

    python3.11 .ci/check_install.py          # what `make check-install` runs (needs PyPI)
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = ("tensorflow-cpu", "keras", "numpy")


def lock_version(name: str) -> str:
    with open(os.path.join(ROOT, "locks", "default.txt")) as f:
        for line in f:
            key, _, version = line.strip().partition("==")
            if key.lower().replace("_", "-") == name:
                return version
    raise SystemExit(f"{name} is not pinned in locks/default.txt")


def versions(python: str) -> dict:
    code = ("import importlib.metadata as m, json; "
            f"print(json.dumps({{d: m.version(d) for d in {STACK!r}}}))")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    import json

    return json.loads(out.stdout)


def readme_example() -> str:
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    match = re.search(r"^## Example\n.*?```python\n(.*?)```", text, re.S | re.M)
    if match is None:
        raise SystemExit("README.md has no ```python block under '## Example'")
    return match.group(1)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="xaibench-install-") as tmp:
        venv = os.path.join(tmp, "venv")
        python = os.path.join(venv, "bin", "python")
        pip = [python, "-m", "pip", "install", "--quiet"]
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run(pip + ["--upgrade", "pip>=23", "wheel"], check=True)
        subprocess.run(pip + [f"tensorflow-cpu=={lock_version('tensorflow-cpu')}"], check=True)
        before = versions(python)
        subprocess.run(pip + [ROOT], check=True)
        after = versions(python)
        if after != before:
            print(f"pip install . changed the user's stack: {before} -> {after}")
            return 1
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        run = subprocess.run([python, "-c", readme_example()], cwd=tmp, env=env)
        if run.returncode:
            print("the README example failed in a fresh environment with the newest TensorFlow")
            return 1
        print(f"check-install: stack kept ({', '.join(f'{k} {v}' for k, v in after.items())}); "
              "README example ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
