"""The runner on Dask distributed: scheduling overhead per shard, and 1 vs 2 local workers.

Overhead: on one warm worker (the run's model, data and traced analyzers already in the
worker process, as after its first shard), the wall time of a run minus the compute time
the worker reports for its shards (analyzer + metrics), over that compute time: what
submitting, transferring rows and committing cost. Target < 5 % at the default shard size.
Scaling: the run on 1 and 2 workers (one thread each) against a plain single-process run,
as ratios of wall time: cold (a new cluster: worker start, model load and tracing
included, as a plain run includes its own) and warm (a second run on the same workers).

    .venv/bin/python benchmarks/distributed_overhead.py            # the demo config, 64 images
    .venv/bin/python benchmarks/distributed_overhead.py --quick    # 4 analyzers, 32 images
"""
from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from xaibench.runner import load_config, run  # noqa: E402
from xaibench.runner.config import from_mapping  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compute_seconds(folder: str) -> float:
    db = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    total = db.execute("SELECT sum(seconds) FROM shards").fetchone()[0]
    db.close()
    return float(total)


def timed_run(config, folder, client=None) -> float:
    t0 = time.perf_counter()
    run(config, folder, progress=False, client=client).close()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    config = load_config(os.path.join(ROOT, "configs", "demo.yaml"))
    if args.quick:
        mapping = config.to_dict()
        mapping["data"] = dict(mapping["data"], n=32)
        mapping["analyzers"] = mapping["analyzers"][:4]
        config = from_mapping(mapping)
    from dask.distributed import Client, LocalCluster

    n = config.data.get("n")
    print(f"config: configs/demo.yaml{' (quick)' if args.quick else ''}: {n} images, "
          f"{len(config.analyzers)} analyzers, shard size {config.shard_size}")
    from xaibench.runner.datasets import load
    from xaibench.runner.engine import load_model

    with tempfile.TemporaryDirectory() as tmp:
        load_model(config.model), load(config.data, progress=False)    # TF's start-up
        t0 = time.perf_counter()
        load_model(config.model), load(config.data, progress=False)
        setup = time.perf_counter() - t0         # the driver's own start, once per run
        plain = timed_run(config, os.path.join(tmp, "plain"))
        cold, warm = {}, {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                    Client(cluster) as client:
                timed_run(config, os.path.join(tmp, f"cold-{workers}"), client)
                cold[workers] = time.perf_counter() - t0
                warm[workers] = timed_run(config, os.path.join(tmp, f"warm-{workers}"), client)
                if workers == 1:
                    busy = compute_seconds(os.path.join(tmp, "warm-1"))
    shards = len(load_config_shards(config))
    overhead = (warm[1] - setup - busy) / busy
    print(f"scheduling overhead, 1 warm worker: {overhead * 100:.1f} % of the shards' compute "
          f"time ({(warm[1] - setup - busy) / shards * 1e3:.0f} ms a shard over {shards} "
          f"shards; target < 5 %)")
    print(f"wall time / plain run ({plain:.1f} s, {os.cpu_count()} cores), with the cluster's "
          f"start and the workers' first model load and tracing: 1 worker "
          f"{cold[1] / plain:.2f}, 2 workers {cold[2] / plain:.2f}")
    print(f"wall time / plain run, warm workers (model, data, traced analyzers kept): "
          f"1 worker {warm[1] / plain:.2f}, 2 workers {warm[2] / plain:.2f}")


def load_config_shards(config):
    from xaibench.runner.datasets import load
    from xaibench.runner.engine import plan_shards

    return plan_shards(len(load(config.data, progress=False)), config)

if __name__ == "__main__":
    main()
