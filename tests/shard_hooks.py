"""Fault injection for the runner's tests, run on Dask workers through
``XAIBENCH_SHARD_HOOK=shard_hooks:NAME``. State lives in files of the folder named by
``XAIBENCH_TEST_HOOK_DIR``, so the test and the worker processes see the same state.

The single-process runner (``xaibench/runner/engine.py``) does not call the hook; run the
CLI as ``python -c "import shard_hooks; shard_hooks.cli()" evaluate ...`` to have it
called there too, before each shard is computed."""
import os
import sys
import time


def _dir():
    return os.environ["XAIBENCH_TEST_HOOK_DIR"]


def _target(mode):
    """The shard id the test wrote to the file ``mode`` (hold / fail), or None."""
    try:
        with open(os.path.join(_dir(), mode)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def inject(shard):
    """The hook the tests install: hold or fail the shard their files name."""
    hold(shard)
    fail(shard)


def hold(shard):
    """The first worker to get the shard named in the file ``hold`` writes its pid to ``held`` and waits
    until the test kills it (or ``release`` appears); later attempts go through."""
    if shard.id != _target("hold"):
        return
    held = os.path.join(_dir(), "held")
    try:
        fd = os.open(held, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return                                       # the retry after the kill
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    release = os.path.join(_dir(), "release")
    for _ in range(6000):                            # at most ten minutes
        if os.path.exists(release):
            return
        time.sleep(0.1)
    raise RuntimeError("the test never killed this worker")


def fail(shard):
    """The shard named in the file ``fail`` raises while that file exists; each attempt is
    counted in ``attempts``."""
    if shard.id != _target("fail"):
        return
    with open(os.path.join(_dir(), "attempts"), "a") as f:
        f.write(f"{os.getpid()}\n")
    raise OSError(f"cannot decode images {shard.start}..{shard.stop} (injected)")


def cli():
    """``xaibench`` (its ``main``) with the hook of ``XAIBENCH_SHARD_HOOK`` called before
    each shard the single-process runner computes, as the distributed runner does."""
    import importlib

    from xaibench.cli import main
    from xaibench.runner.distributed import HOOK_VARIABLE
    from xaibench.runner.engine import ShardComputer

    module, _, name = os.environ[HOOK_VARIABLE].partition(":")
    hook = getattr(importlib.import_module(module), name)
    compute = ShardComputer.compute

    def hooked(self, shard):
        hook(shard)
        return compute(self, shard)

    ShardComputer.compute = hooked
    sys.exit(main(sys.argv[1:]))
