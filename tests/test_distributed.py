"""The runner's shards on Dask distributed: the same rows as a plain run on a local
cluster and on a running one, a killed worker costs only its shard, a failing shard is
retried, recorded and rerun, a killed driver resumes, and no process is left behind."""
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest
import yaml

from xaibench.runner import from_mapping, run

distributed = pytest.importorskip("distributed", reason="Dask distributed is in both lock files")

TESTS = os.path.dirname(os.path.abspath(__file__))
CONFIG = {
    "model": "digits",
    "data": {"name": "digits", "n": 8},
    "analyzers": ["gradient", "lrp.z"],
    "metrics": [{"name": "aopc", "params": {"region": 7, "steps": 4, "repeats": 2}},
                "complexity"],
    "shard_size": 4,
    "seed": 5,
}
SHARDS = 6                      # 2 image ranges x (baseline, gradient, lrp.z)


def table(folder):
    db = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    rows = sorted(db.execute("SELECT image, analyzer, metric, setting, step, value FROM results"))
    db.close()
    return rows


def shards_done(folder):
    try:
        db = sqlite3.connect(os.path.join(folder, "results.sqlite"), timeout=1)
        n = db.execute("SELECT count(*) FROM shards").fetchone()[0]
        db.close()
        return n
    except sqlite3.OperationalError:
        return 0


def wait_for(condition, what, limit=300):
    """Poll ``condition`` (the test's synchronisation, not a timing check)."""
    for _ in range(limit * 10):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain") / "run"
    run(from_mapping(CONFIG), str(folder), progress=False).close()
    return table(folder)


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hooks")
    saved = {k: os.environ.get(k) for k in ("XAIBENCH_SHARD_HOOK", "XAIBENCH_TEST_HOOK_DIR",
                                            "PYTHONPATH")}
    os.environ.update(XAIBENCH_SHARD_HOOK="shard_hooks:inject",
                      XAIBENCH_TEST_HOOK_DIR=str(folder),
                      PYTHONPATH=os.pathsep.join(p for p in (TESTS, saved["PYTHONPATH"]) if p))
    yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def hook_dir(hooks):
    for name in os.listdir(hooks):
        os.remove(os.path.join(hooks, name))
    return hooks


@pytest.fixture(scope="module")
def client(hooks):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    with Client(cluster) as c:
        yield c
        workers = set(c.run(os.getpid).values())
    cluster.close()
    wait_for(lambda: not any(psutil.pid_exists(p) for p in workers),
             "the local cluster's worker processes to end", limit=60)


def test_two_local_workers_give_the_rows_of_a_plain_run(tmp_path, plain, client, hook_dir):
    store = run(from_mapping(CONFIG), str(tmp_path / "run"), progress=False, client=client)
    assert store.failed() == {}
    store.close()
    assert table(tmp_path / "run") == plain
    assert shards_done(tmp_path / "run") == SHARDS


def test_a_killed_worker_costs_only_its_shard(tmp_path, plain, client, hook_dir):
    (hook_dir / "hold").write_text("lrp.z[4:8]")
    result = {}

    def driver():
        store = run(from_mapping(CONFIG), str(tmp_path / "run"), progress=False, client=client)
        result["failed"] = store.failed()
        store.close()

    thread = threading.Thread(target=driver)
    thread.start()
    wait_for(lambda: (hook_dir / "held").exists() and (hook_dir / "held").read_text(),
             "a worker to hold lrp.z[4:8]")
    pid = int((hook_dir / "held").read_text())
    workers = set(client.run(os.getpid).values())
    assert pid in workers and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    thread.join(600)
    assert not thread.is_alive()
    assert result["failed"] == {}
    rows = table(tmp_path / "run")
    assert len(rows) == len(set(r[:5] for r in rows))          # none twice
    assert rows == plain                                        # the killed shard's rows too


def test_a_failing_shard_is_retried_then_recorded_and_a_rerun_completes(tmp_path, plain, client,
                                                                        hook_dir):
    (hook_dir / "fail").write_text("gradient[4:8]")
    out = str(tmp_path / "run")
    store = run(from_mapping(CONFIG), out, progress=False, client=client, retries=1)
    failed = store.failed()
    store.close()
    assert list(failed) == ["gradient[4:8]"]
    assert failed["gradient[4:8]"].startswith("OSError: cannot decode images 4..8")
    assert len((hook_dir / "attempts").read_text().split()) == 2        # retries + 1
    assert shards_done(out) == SHARDS - 1
    log = open(os.path.join(out, "run.log")).read()
    assert "shard gradient[4:8] failed 2 times, recorded: OSError" in log
    os.remove(hook_dir / "fail")                                       # the cause removed
    store = run(from_mapping(CONFIG), out, progress=False, client=client)
    assert store.failed() == {}
    store.close()
    assert table(out) == plain


def _tagged(tag):
    """Processes started with XAIBENCH_TEST_TAG=tag still alive."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("XAIBENCH_TEST_TAG") == tag:
                found.append(proc.pid)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return found


def test_killed_driver_on_a_running_cluster_resumes_with_local_workers(tmp_path, plain, client,
                                                                       hook_dir, capsys,
                                                                       monkeypatch):
    """The driver (a process: it is SIGKILLed) runs on this module's cluster; the resume is
    ``xaibench evaluate --workers 1`` in this process, whose local cluster's worker
    process (tagged through its environment) must be gone afterwards."""
    from xaibench.cli import main

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "run"
    tag = uuid.uuid4().hex
    env = dict(os.environ, XAIBENCH_TEST_TAG=tag, TF_CPP_MIN_LOG_LEVEL="3")
    (hook_dir / "hold").write_text("lrp.z[4:8]")
    cmd = ["evaluate", "--config", str(config), "--out", str(out), "--quiet"]
    driver = subprocess.Popen([sys.executable, "-m", "xaibench"] + cmd +
                              ["--scheduler", client.scheduler.address], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (hook_dir / "held").exists() and shards_done(out) >= 1,
             "a committed shard and a held one")
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    (hook_dir / "release").write_text("")          # the held worker lets go of its task
    kept = shards_done(out)
    assert 1 <= kept < SHARDS
    monkeypatch.setenv("XAIBENCH_TEST_TAG", tag)   # inherited by the local cluster's worker
    assert main(cmd + ["--workers", "1"]) == 0, capsys.readouterr().err
    assert table(out) == plain
    wait_for(lambda: not _tagged(tag), "the driver's scheduler and workers to end", limit=60)


def test_plan_counts_shards_images_and_calls(tmp_path, capsys):
    from xaibench.cli import main

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    assert main(["evaluate", "--config", str(config), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "shards:          6 (2 image ranges of 4 x 3 labels)" in out
    assert "images:          8" in out
    assert "analyzer calls:  16" in out
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, match", [
    (["--workers", "0"], "--workers must be at least 1, got 0"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    (["--retries", "-1", "--workers", "2"], "--retries must be 0 or more"),
])
def test_bad_distributed_flags_are_refused_before_any_work(tmp_path, capsys, argv, match):
    from xaibench.cli import main

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    assert main(["evaluate", "--config", str(config), "--out", str(tmp_path / "o")] + argv) != 0
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
