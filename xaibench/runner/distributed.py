"""A run's shards as Dask distributed tasks: many processes or machines, one writer.

Each shard (an image range x one analyzer, or the analyzer-free baseline) is one task.
A worker process keeps the model, the data and the analyzers of the run it computes
between tasks (:class:`~xaibench.runner.engine.ShardComputer`), decodes only the image
range of its shard and returns the shard's rows (and heatmaps, when the run saves them)
to the driver. The driver is the only writer of the run folder: it commits each returned
shard in one transaction, as a single-process run does, so a killed driver loses no
finished shard and rerunning resumes.

Faults: a task whose worker dies is rerun on another worker by the scheduler (up to
Dask's ``distributed.scheduler.allowed-failures`` times); a shard that raises is tried
``retries + 1`` times, then recorded as failed (``run.log``, the store's ``failures``
table, the report) while the other shards go on; rerunning the command retries it.

    from dask.distributed import Client, LocalCluster
    xb.runner.run(config, "runs/x", client=Client(LocalCluster(n_workers=2, threads_per_worker=1)))
    # or: xaibench evaluate --config C --out D --workers 2
    #     xaibench evaluate --config C --out D --scheduler tcp://host:8786

Every machine needs xaibench, the model file (or shipped model) and the data at the same
paths; heatmaps travel back to the driver, so no shared folder is needed.
"""
from __future__ import annotations

import contextlib
import logging
import importlib
import os
import uuid

#: ``module:function`` called with each shard on the worker before it is computed; for
#: fault-injection tests (hold a shard until a test kills its worker, raise on a range)
HOOK_VARIABLE = "XAIBENCH_SHARD_HOOK"

#: the resource a GPU worker offers (``dask worker ... --resources GPU=1``)
GPU_RESOURCE = {"GPU": 1}

_computer = None           # this worker process's ShardComputer: (run digest, computer)


def compute_shard(config, shard):
    """On a worker: ``(rows, heatmaps or None, seconds)`` of ``shard``; the model and data
    of ``config`` are loaded once per process."""
    global _computer
    from xaibench.runner.datasets import load
    from xaibench.runner.engine import ShardComputer, load_model

    hook = os.environ.get(HOOK_VARIABLE)
    if hook:
        module, _, name = hook.partition(":")
        getattr(importlib.import_module(module), name)(shard)
    if _computer is None or _computer[0] != config.digest():
        _computer = (config.digest(),
                     ShardComputer(config, load_model(config.model), load(config.data, progress=False)))
    return _computer[1].compute(shard)


def error_line(error: BaseException) -> str:
    """An exception in one line: its type and first message line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def run_shards(client, todo, store, config, bar, log, retries: int = 2,
               resources: dict | None = None) -> list:
    """Submit every shard of ``todo`` to ``client``, commit each as it returns; returns the
    shards that failed ``retries + 1`` times (recorded in ``store`` and ``run.log``)."""
    from dask.distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {client.submit(compute_shard, config, shard, key=f"xaibench-{shard.id}-{token}",
                             retries=retries, resources=resources, pure=False): shard
               for shard in todo}
    failed, done = [], 0
    try:
        for future in as_completed(futures):
            shard = futures[future]
            if future.status == "error":
                message = error_line(future.exception())
                store.write_failure(shard, message, tries=retries + 1)
                log.info("shard %s failed %d times, recorded: %s", shard.id, retries + 1, message)
                failed.append(shard)
            else:
                rows, R, seconds = future.result()
                store.write_shard(shard, rows, seconds, R)
                log.info("shard %s: %d rows in %.2f s", shard.id, len(rows), seconds)
            done += 1
            bar.set_postfix_str(f"{done}/{len(todo)} shards" +
                                (f", {len(failed)} failed" if failed else ""), refresh=False)
            bar.update(shard.stop - shard.start)
            future.release()
    finally:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
    return failed


@contextlib.contextmanager
def client_for(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: on a local cluster of ``workers`` processes (one thread each) that is
    closed afterwards, or connected to the running cluster at ``scheduler``."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--workers / --scheduler need Dask distributed: "
                          "pip install 'dask[distributed]'") from None
    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client
