"""A run folder's results read with sqlite3 directly: the tests' reference, independent of
xaibench's own reader (xaibench.runner.results)."""
import os
import sqlite3


def query(folder: str, sql: str, *args) -> list:
    """The rows of ``sql`` (with ``args``) on the folder's ``results.sqlite``."""
    con = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def rows(folder: str) -> list:
    """Every result row ``(image, analyzer, metric, setting, step, value)``."""
    return query(folder, "SELECT image, analyzer, metric, setting, step, value FROM results")
