"""The command line a new user meets: help and list without TensorFlow, one-line
descriptions, one-line answers to a damaged results store and to Ctrl-C, quiet output."""
import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = {"model": "digits", "data": {"name": "digits", "n": 4}, "analyzers": ["gradient"],
          "metrics": ["complexity"], "shard_size": 2}


def _python(code: str, env=None, timeout=120):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def _xaibench(*argv, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "xaibench", *argv], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


@pytest.mark.parametrize("argv", [["--help"], ["evaluate", "--help"], ["list"]])
def test_help_and_list_do_not_import_tensorflow(argv):
    code = (
        "import sys\n"
        "from xaibench.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'innvestigate') if m in sys.modules)\n"
        "print('EXIT', code, 'HEAVY', heavy)\n")
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "EXIT 0 HEAVY []"


def test_evaluate_help_shows_the_config_format():
    from xaibench.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["evaluate"].format_help()
    for key in ("model:", "data:", "analyzers:", "metrics:", "target:", "shard_size:",
                "seed:", "save_heatmaps:"):
        assert re.search(rf"^\s+{key}", text, re.M), key
    assert "configs" in text and "--restart" in text and "xaibench.runner.config" not in text


def test_list_descriptions_come_from_a_catalogue_equal_to_the_registry():
    import xaibench as xb
    from xaibench.analyzers.registry import get_spec
    from xaibench.catalogue import ANALYZERS, PAPERS
    from xaibench.papers import paper_module
    from xaibench.runner.metrics import DESCRIPTIONS, METRICS

    assert {name: d for name, (_, d) in ANALYZERS.items()} == xb.list_analyzers()
    # (the registry's order depends on which provider module was imported first)
    assert {name: f for name, (f, _) in ANALYZERS.items()} == \
        {name: get_spec(name).family for name in ANALYZERS}
    assert PAPERS == {name: paper_module(name).TITLE for name in PAPERS}
    assert list(DESCRIPTIONS) == list(METRICS)


def test_list_prints_one_whole_line_per_entry(capsys):
    from xaibench.catalogue import ANALYZERS
    from xaibench.cli import main
    from xaibench.runner.datasets import LOADERS
    from xaibench.runner.metrics import DESCRIPTIONS

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    entries = {line.split()[0]: line.split(None, 1)[1] for line in lines
               if line.startswith("    ")}
    assert set(ANALYZERS) | set(DESCRIPTIONS) | set(LOADERS) <= set(entries)
    for name in list(ANALYZERS) + list(DESCRIPTIONS):
        text = entries[name]
        assert "\n" not in text and text.count("(") == text.count(")"), name
    for name, text in DESCRIPTIONS.items():        # whole sentences, not a docstring's first line
        assert text.endswith(".") and text[0].isupper() or text.startswith("mu"), name
    assert "bilinearly upsampled" not in "\n".join(lines)
    assert not any(line.rstrip().endswith((" the", ",")) for line in lines)


# --------------------------------------------------------------------------- damaged store

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from xaibench.runner import from_mapping, run

    folder = tmp_path_factory.mktemp("store") / "run"
    run(from_mapping(CONFIG), str(folder), progress=False).close()
    return folder


def _damaged(tmp_path, finished_run, how):
    folder = tmp_path / how
    folder.mkdir()
    good = (finished_run / "results.sqlite").read_bytes()
    (folder / "manifest.json").write_bytes((finished_run / "manifest.json").read_bytes())
    data = good[:len(good) // 2] if how == "truncated" else os.urandom(len(good))
    (folder / "results.sqlite").write_bytes(data)
    return folder, data


@pytest.mark.parametrize("how", ["truncated", "random"])
def test_a_damaged_store_gives_one_line_and_is_never_overwritten(tmp_path, finished_run, how):
    folder, data = _damaged(tmp_path, finished_run, how)
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(CONFIG))
    path = str(folder / "results.sqlite")
    reason = "truncated: " if how == "truncated" else "not an SQLite database"
    for argv in (["evaluate", "--config", str(cfg), "--out", str(folder)], ["report", str(folder)]):
        proc = _xaibench(*argv)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
        assert lines[0].startswith(f"xaibench {argv[0]}: error: {path} is damaged ({reason}")
        assert f"mv {path} {path}.bad" in lines[0] and "--restart" in lines[0]
        assert (folder / "results.sqlite").read_bytes() == data       # untouched
        assert not (folder / "report.md").exists()


def test_an_empty_store_restarts_and_the_log_says_so(tmp_path):
    from xaibench.report import summary
    from xaibench.runner import from_mapping, run

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.sqlite").write_bytes(b"")
    run(from_mapping(CONFIG), str(folder), progress=False).close()
    log = (folder / "run.log").read_text()
    assert "results.sqlite was empty (0 bytes" in log and "starting a new results store" in log
    assert {(a, s, n) for a, m, s, n, *_ in summary(str(folder))} == \
        {("gradient", "png", 4), ("gradient", "jpeg", 4), ("gradient", "entropy", 4)}


# --------------------------------------------------------------------------- Ctrl-C

def _shards_done(path) -> int:
    if not os.path.exists(path):
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT count(*) FROM shards").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_ctrl_c_prints_one_line_exits_130_and_the_printed_command_resumes(
        tmp_path, finished_run, capsys):
    """A run interrupted after its first shard is committed (SIGINT), in a folder whose
    damaged store --restart set aside; TensorFlow's start-up lines, the optimizer warning
    and tracebacks stay off the terminal."""
    from xaibench.cli import main
    from xaibench.runner import from_mapping, plan_shards

    # the run holds its second shard (shard_hooks.hold, called by the hooked CLI before
    # each shard) until SIGINT arrives: exactly the first is committed, whatever the speed
    config = dict(CONFIG, data={"name": "digits", "n": 60}, shard_size=1)
    shards = plan_shards(60, from_mapping(config))
    total = len(shards)
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(config))
    out = tmp_path / "run"
    out.mkdir()
    damaged = os.urandom(5000)
    (out / "results.sqlite").write_bytes(damaged)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "hold").write_text(shards[1].id)
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(XAIBENCH_SHARD_HOOK="shard_hooks:hold", XAIBENCH_TEST_HOOK_DIR=str(hooks),
               PYTHONPATH=os.pathsep.join(p for p in (tests, env.get("PYTHONPATH")) if p))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import shard_hooks; shard_hooks.cli()", "evaluate",
         "--config", str(cfg), "--out", str(out), "--restart"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as in a terminal, also when this suite runs as a background job (which
        # starts with SIGINT ignored, and Python then never raises KeyboardInterrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    db = str(out / "results.sqlite")
    deadline = time.time() + 600        # the synchronisation's limit, not a timing check
    while not ((hooks / "held").exists() and (hooks / "held").read_text()):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    kept = _shards_done(db)
    assert proc.returncode == 130, stderr[-3000:]
    lines = [line for line in re.split(r"[\r\n]", stderr) if line.strip()]
    said = [line for line in lines if "interrupted" in line]
    assert len(said) == 1 and said[0] == lines[-1], stderr[-3000:]
    m = re.fullmatch(r"xaibench evaluate: interrupted; (\d+) of (\d+) shards finished and "
                     r"kept in (.+); resume with: (xaibench evaluate .+)", said[0])
    assert m, said[0]
    assert int(m.group(1)) == kept == 1 and int(m.group(2)) == total
    assert m.group(3) == str(out) and "--restart" not in m.group(4)
    for noise in ("Traceback", "KeyboardInterrupt", "Unable to register", "RMSprop",
                  "WARNING", "oneDNN", "TensorRT"):
        assert noise not in stderr, noise
    moved = [line for line in lines if "--restart set the old results aside" in line]
    assert len(moved) == 1 and stdout == ""
    aside = moved[0].rsplit(": ", 1)[1]
    assert open(aside, "rb").read() == damaged                       # kept, not deleted
    assert all(line.startswith(("xaibench run", "xaibench evaluate:")) for line in lines)

    capsys.readouterr()
    assert main(shlex.split(m.group(4))[1:] + ["--quiet"]) == 0       # the printed command
    printed = capsys.readouterr().out.splitlines()
    assert _shards_done(db) == total
    assert printed[0].split() == ["analyzer", "metric", "setting", "n", "missing", "mean", "95",
                                  "%", "interval"]
    assert [line.split()[3:5] for line in printed[1:4]] == [["60", "0"]] * 3   # n, missing
    assert [line.split()[:3] for line in printed[1:4]] == [
        ["gradient", "complexity", "entropy"], ["gradient", "complexity", "jpeg"],
        ["gradient", "complexity", "png"]]
    assert printed[-1].startswith(f"run folder: {out}") and len(printed) == 5
