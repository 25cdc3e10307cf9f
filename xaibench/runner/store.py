"""The run folder: manifest, results table (SQLite), heatmaps, log.

A run folder holds::

    manifest.json       the full config, its digest, seed, library versions, git revision
    results.sqlite      one row per (image, analyzer, metric, setting, step)
    heatmaps/           <shard>.npz (float16) when the config asks for heatmaps
    run.log             what ran, when, how long

A shard's rows and its "done" mark are written in one SQLite transaction, so a
process killed at any moment leaves every finished shard complete and no partial
shard behind; heatmap files are written to a temporary name and renamed.

A ``results.sqlite`` that cannot be read (truncated, overwritten, not SQLite) is never
touched: opening the folder raises :class:`StoreCorruptError` with a one-line message
that names the file, what is wrong and the fix (move it away, or ``restart=True`` /
``xaibench evaluate --restart``, which moves it aside and starts over). An empty
(0-byte) file, as a run killed while creating it leaves, is started afresh and the log
says so.
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
CREATE TABLE IF NOT EXISTS failures (
    shard TEXT PRIMARY KEY, analyzer TEXT NOT NULL, start INTEGER NOT NULL,
    stop INTEGER NOT NULL, error TEXT NOT NULL, tries INTEGER NOT NULL, at REAL NOT NULL);
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


class StoreCorruptError(RunFolderError):
    """A ``results.sqlite`` that is not a readable SQLite database, in one line."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(
            f"{path} is damaged ({reason}); it is left untouched: move it away (e.g. mv "
            f"{path} {path}.bad) and run again, or start the run over with "
            "`xaibench evaluate --restart` (which moves it aside)")


RESULTS = "results.sqlite"
_MAGIC = b"SQLite format 3\x00"


def _header_problem(path: str) -> str | None:
    """What is wrong with the file's SQLite header, or None: not SQLite, or shorter than
    the database size its header records (truncated)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(100)
    if not head.startswith(_MAGIC):
        return f"not an SQLite database: its first bytes are not {_MAGIC[:-1].decode()!r}"
    if len(head) < 100:
        return f"truncated: {size} bytes, less than an SQLite header"
    if any(os.path.exists(path + suffix) for suffix in ("-journal", "-wal")):
        return None              # an interrupted transaction: SQLite rolls it back on open
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    if head[92:96] == head[24:28] and pages and size < pages * page_size:
        return f"truncated: {size} of its {pages * page_size} bytes"
    return None


def _read_problem(uri: str) -> str | None:
    """The SQLite error reading the tables of the database at ``uri``, or None."""
    try:
        db = sqlite3.connect(uri, uri=True, timeout=60)
        try:
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if table in ("results", "shards"):
                    db.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as err:
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def check_results(folder: str) -> str | None:
    """Raise :class:`StoreCorruptError` if the folder's ``results.sqlite`` is damaged;
    returns its path (None when there is none). Reads only: nothing is written."""
    path = os.path.join(folder, RESULTS)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None if not os.path.exists(path) else path
    problem = _header_problem(path)
    journal = any(os.path.exists(path + suffix) for suffix in ("-journal", "-wal"))
    if problem is None and not journal:    # with a journal, opening it read-write rolls back
        problem = _read_problem(f"file:{os.path.abspath(path)}?mode=ro")
    if problem is not None:
        raise StoreCorruptError(path, problem)
    return path


def check_manifest(folder: str, config) -> dict | None:
    """The folder's manifest (None when it has none); :class:`RunFolderError` when it
    belongs to a different config."""
    path = os.path.join(folder, "manifest.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        manifest = json.load(fh)
    if manifest.get("digest") != config.digest():
        raise RunFolderError(
            f"{folder} holds a run with a different config (digest "
            f"{manifest.get('digest')} != {config.digest()}); use a new --out folder "
            "or delete the old one")
    return manifest


def set_aside(folder: str, log=None) -> list:
    """Move ``results.sqlite`` (and its journal) and ``heatmaps/`` of a run folder to
    ``<name>.old-<time>``; returns the new paths. Nothing is deleted."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for name in (RESULTS, RESULTS + "-journal", RESULTS + "-wal", "heatmaps"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            target = f"{path}.old-{stamp}"
            os.replace(path, target)
            moved.append(target)
            if log is not None:
                log.info("restart: moved %s to %s", path, target)
    return moved


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
    """A run folder; created for a config, or reopened (resumed) for the same config.

    A damaged ``results.sqlite`` raises :class:`StoreCorruptError` before anything is
    written; ``restart=True`` moves it (and ``heatmaps/``) aside first, see
    :func:`set_aside`. ``log``: a logger for what happened to the store (``run.log``).
    """

    def __init__(self, folder: str, config, restart: bool = False, log=None):
        self.folder = folder
        self.moved: list = []
        os.makedirs(folder, exist_ok=True)
        if restart:
            check_manifest(folder, config)     # a different config's folder: nothing moved
            self.moved = set_aside(folder, log)
        results = os.path.join(folder, RESULTS)
        try:
            check_results(folder)
        except StoreCorruptError as err:
            if log is not None:
                log.info("refused: %s", err)
            raise
        if os.path.exists(results) and os.path.getsize(results) == 0:
            if log is not None:
                log.info("%s was empty (0 bytes, e.g. a run stopped while creating it): "
                         "starting a new results store", results)
            os.remove(results)
        manifest_path = os.path.join(folder, "manifest.json")
        manifest = check_manifest(folder, config)
        if manifest is None:
            manifest = {"digest": config.digest(), "config": config.to_dict(),
                        "seed": config.seed, "versions": _versions(),
                        "git_revision": _git_revision(),
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            _atomic_write(manifest_path, json.dumps(manifest, indent=2, default=str).encode())
        self.manifest = manifest
        try:
            self.db = sqlite3.connect(results, timeout=60)
            self.db.executescript(SCHEMA)
            self.db.commit()
            self.done()
        except sqlite3.DatabaseError as err:
            error = StoreCorruptError(results, str(err).splitlines()[0] or type(err).__name__)
            if log is not None:
                log.info("refused: %s", error)
            raise error from None

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
            self.db.execute("DELETE FROM failures WHERE shard = ?", (shard.id,))

    def write_failure(self, shard, error: str, tries: int) -> None:
        """Record that ``shard`` failed ``tries`` times with ``error`` (one line); a later
        run retries it, and its success removes the record."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (shard.id, shard.analyzer, shard.start, shard.stop, error, tries,
                             time.time()))

    def failed(self) -> dict:
        """``{shard id: error}`` of the shards whose last attempt failed."""
        return dict(self.db.execute("SELECT shard, error FROM failures ORDER BY start, shard"))

    def close(self) -> None:
        self.db.close()
