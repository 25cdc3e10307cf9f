"""The run folder: manifest, results table (SQLite), heatmaps, log.

A run folder holds::

    manifest.json       the full config, its digest, seed, library versions, git revision
    results.sqlite      one row per (image, analyzer, metric, setting, step)
    heatmaps/           <shard>.npz (float16) when the config asks for heatmaps
    run.log             what ran, when, how long

A shard's rows and its "done" mark are written in one SQLite transaction, so a
process killed at any moment leaves every finished shard complete and no partial
shard behind; heatmap files are written to a temporary name and renamed.
"""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    image INTEGER NOT NULL, analyzer TEXT NOT NULL, metric TEXT NOT NULL,
    setting TEXT NOT NULL, step INTEGER NOT NULL, value REAL,
    PRIMARY KEY (image, analyzer, metric, setting, step));
CREATE TABLE IF NOT EXISTS shards (
    shard TEXT PRIMARY KEY, analyzer TEXT NOT NULL, start INTEGER NOT NULL,
    stop INTEGER NOT NULL, seconds REAL NOT NULL, finished REAL NOT NULL);
"""


def heatmap_file(shard) -> str:
    """``<label>[start:stop].npz``; characters a file name cannot hold (a path among an
    analyzer's parameters) become ``_`` plus a short hash of the label."""
    import hashlib
    import re

    safe = re.sub(r"[^\w.,=()+\-]", "_", shard.analyzer)
    if safe != shard.analyzer:
        safe += "~" + hashlib.sha256(shard.analyzer.encode()).hexdigest()[:8]
    return f"{safe}[{shard.start}:{shard.stop}].npz"


def load_heatmaps(folder: str, labels=None, limit: int | None = None) -> dict:
    """``{analyzer label: (N, H, W, C) float32}`` saved by a run with ``save_heatmaps``,
    in image order; only the ``labels`` given (default all) and the shards starting
    before image ``limit`` (default all)."""
    hdir = os.path.join(folder, "heatmaps")
    parts: dict = {}
    if not os.path.isdir(hdir):
        return parts
    for fname in os.listdir(hdir):
        if not fname.endswith(".npz") or ".tmp" in fname:       # skip unfinished writes
            continue
        with np.load(os.path.join(hdir, fname)) as f:
            label = str(f["label"]) if "label" in f.files else fname[:-4].rsplit("[", 1)[0]
            start = int(f["images"][0])
            if (labels is None or label in labels) and (limit is None or start < limit):
                parts.setdefault(label, []).append((start, f["R"].astype(np.float32)))
    return {k: np.concatenate([r for _, r in sorted(v, key=lambda t: t[0])])
            for k, v in parts.items()}


class RunFolderError(ValueError):
    """A run folder that does not belong to the given config."""


def _versions() -> dict:
    import sys

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("numpy", "tensorflow", "keras", "innvestigate", "sklearn", "skimage", "scipy"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except Exception:  # pragma: no cover - optional
                continue
        out[name] = getattr(module, "__version__", "?")
    import xaibench

    out["xaibench"] = xaibench.__version__
    return out


def _git_revision() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        return rev.stdout.strip() or None if rev.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RunStore:
    """A run folder; created for a config, or reopened (resumed) for the same config."""

    def __init__(self, folder: str, config):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        manifest_path = os.path.join(folder, "manifest.json")
        if os.path.exists(manifest_path):
            with open(manifest_path) as fh:
                manifest = json.load(fh)
            if manifest.get("digest") != config.digest():
                raise RunFolderError(
                    f"{folder} holds a run with a different config (digest "
                    f"{manifest.get('digest')} != {config.digest()}); use a new --out folder "
                    "or delete the old one")
        else:
            manifest = {"digest": config.digest(), "config": config.to_dict(),
                        "seed": config.seed, "versions": _versions(),
                        "git_revision": _git_revision(),
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            _atomic_write(manifest_path, json.dumps(manifest, indent=2, default=str).encode())
        self.manifest = manifest
        self.db = sqlite3.connect(os.path.join(folder, "results.sqlite"), timeout=60)
        self.db.executescript(SCHEMA)
        self.db.commit()

    def done(self) -> set:
        return {row[0] for row in self.db.execute("SELECT shard FROM shards")}

    def write_shard(self, shard, rows, seconds: float, heatmaps=None) -> None:
        """Store a finished shard: its heatmaps (if any), then its rows and done mark in
        one transaction."""
        if heatmaps is not None:
            hdir = os.path.join(self.folder, "heatmaps")
            os.makedirs(hdir, exist_ok=True)
            path = os.path.join(hdir, heatmap_file(shard))
            tmp = f"{path}.tmp{os.getpid()}.npz"
            np.savez_compressed(tmp, R=heatmaps.astype(np.float16),
                                images=np.arange(shard.start, shard.stop),
                                label=np.array(shard.analyzer))
            os.replace(tmp, path)
        with self.db:   # one transaction: all rows and the mark, or nothing
            self.db.executemany(
                "INSERT INTO results (image, analyzer, metric, setting, step, value) "
                "VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.db.execute("INSERT INTO shards VALUES (?, ?, ?, ?, ?, ?)",
                            (shard.id, shard.analyzer, shard.start, shard.stop, seconds,
                             time.time()))

    def close(self) -> None:
        self.db.close()
