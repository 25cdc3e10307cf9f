"""Fault injection for the distributed runner's tests, run on Dask workers through
``XAIBENCH_SHARD_HOOK=shard_hooks:NAME``. State lives in files of the folder named by
``XAIBENCH_TEST_HOOK_DIR``, so the test and the worker processes see the same state."""
import os
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
