"""The ``xaibench`` command line.

    xaibench list                                   analyzers, metrics, data sets
    xaibench explain [--model M] --data D --analyzers a,b --out DIR
    xaibench evaluate --config run.yaml --out DIR   a resumable batch run
    xaibench report DIR                             tables and plots of a run folder
    xaibench demo                                   the demo (no network)
    xaibench reproduce NAME [--quick] [--data D] [--out DIR]
                                                    one paper's experiments vs its numbers

Errors in flags, files or config values end the command with a one-line message
and exit status 2; Ctrl-C ends it with one line (what is kept, the command that
resumes) and exit status 130.

``--help`` and ``list`` answer without importing TensorFlow (the descriptions come
from :mod:`xaibench.catalogue`). Unless ``TF_CPP_MIN_LOG_LEVEL`` is set, the commands
run TensorFlow with it at 3, which hides its C++ start-up lines (the "Unable to
register cuDNN/cuFFT/cuBLAS factory" errors of a CPU-only machine).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys

#: commands that run resumable batch runs (Ctrl-C keeps their finished shards)
RESUMABLE = ("evaluate", "demo", "reproduce")


def _quiet_tensorflow() -> None:
    """TF_CPP_MIN_LOG_LEVEL=3 before TensorFlow is imported, unless the user set it."""
    import xaibench

    if getattr(xaibench, "_USER_TF_LOG_LEVEL", None) is None and "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


@contextlib.contextmanager
def _one_line_warnings(command: str):
    """Warnings raised from xaibench's own code print as ``xaibench CMD: warning: ...``."""
    import warnings

    package = os.path.dirname(os.path.abspath(__file__))
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if os.path.abspath(str(filename)).startswith(package + os.sep):
            print(f"xaibench {command}: warning: {str(message).splitlines()[0]}",
                  file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


def _list(args) -> int:
    from xaibench.catalogue import ANALYZERS, PAPERS, analyzer_families
    from xaibench.data import list_datasets
    from xaibench.runner.datasets import LOADERS
    from xaibench.runner.metrics import DESCRIPTIONS

    print("analyzers:")
    for family, names in analyzer_families().items():
        print(f"  [{family}]")
        for name in names:
            print(f"    {name:<40} {ANALYZERS[name][1]}")
    print("metrics:")
    for name, description in DESCRIPTIONS.items():
        print(f"    {name:<40} {description}")
    print("data sets:")
    datasets = dict(list_datasets(), npz="arrays saved by xaibench.runner.datasets.save_npz "
                                          "(data: {name: npz, path: FILE}).")
    for name in LOADERS:
        print(f"    {name:<40} {datasets.get(name, '')}".rstrip())
    print("papers (xaibench reproduce NAME):")
    for name, title in PAPERS.items():
        print(f"    {name:<40} {title}")
    return 0


def _split(names: str) -> list:
    out = [n.strip() for n in names.split(",") if n.strip()]
    if not out:
        raise ValueError("--analyzers needs at least one name, e.g. --analyzers gradient,lrp.z")
    return out


def _explain(args) -> int:
    import numpy as np

    import xaibench as xb
    from xaibench.analyzers.registry import get_spec
    from xaibench.plots import heatmap_grid
    from xaibench.runner.datasets import LOADERS, load
    from xaibench.runner.engine import load_model

    names = _split(args.analyzers)
    for name in names:
        get_spec(name)                         # unknown names fail before any work
    if args.data not in LOADERS:
        raise ValueError(f"unknown data set {args.data!r}; use one of {', '.join(LOADERS)}")
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    data = load({"name": args.data, "n": args.n})
    model = load_model(args.model)
    os.makedirs(args.out, exist_ok=True)
    heatmaps = {}
    for name in names:
        heatmaps[name] = xb.create_analyzer(name, model).analyze(data.x, neuron_selection=data.y)
    np.savez_compressed(os.path.join(args.out, "heatmaps.npz"), x=data.x, y=data.y, **heatmaps)
    grid = heatmap_grid(data.x, heatmaps, os.path.join(args.out, "heatmaps.png"),
                        titles=[f"y={c}" for c in data.y])
    print(f"heatmaps: {os.path.abspath(os.path.join(args.out, 'heatmaps.npz'))}")
    print(f"grid:     {os.path.abspath(grid)}")
    return 0


def _evaluate(args) -> int:
    from xaibench.runner import load_config, run

    config = load_config(args.config)      # a bad config: one line, nothing touched
    if args.workers is not None and args.scheduler is not None:
        raise ValueError("give --workers (a local cluster) or --scheduler (a running one), "
                         "not both")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.retries < 0:
        raise ValueError(f"--retries must be 0 or more, got {args.retries}")
    if args.plan:
        from xaibench.runner.plan import plan

        for line in plan(config).lines(workers=args.workers or 1):
            print(line)
        return 0
    if args.out is None:
        raise ValueError("xaibench evaluate needs --out DIR (the run folder)")
    if args.restart:
        from xaibench.runner.engine import _log
        from xaibench.runner.store import check_manifest, set_aside

        check_manifest(args.out, config)   # another config's folder: nothing moved
        os.makedirs(args.out, exist_ok=True)
        for path in set_aside(args.out, _log(args.out)):
            print(f"xaibench evaluate: --restart set the old results aside: {path}",
                  file=sys.stderr)
    if args.workers is None and args.scheduler is None:
        store = run(config, args.out, progress=not args.quiet)
    else:
        from xaibench.runner.distributed import GPU_RESOURCE, client_for

        with client_for(args.workers, args.scheduler) as client:
            store = run(config, args.out, progress=not args.quiet, client=client,
                        retries=args.retries, resources=GPU_RESOURCE if args.gpu else None)
    failed = store.failed()
    store.close()
    if failed:
        print(f"xaibench evaluate: {len(failed)} shards failed (errors in run.log and the "
              "report); run the same command again to retry them", file=sys.stderr)
    from xaibench.runner.results import RunResults

    print(f"{'analyzer':<24} {'metric':<36} {'setting':<10} {'n':>5} {'missing':>7} "
          f"{'mean':>10}  95 % interval")
    for s in RunResults(args.out).summary():
        print(f"{s.analyzer:<24} {s.metric:<36} {s.setting:<10} {s.n:>5} {s.missing:>7} "
              f"{s.mean:10.4g}  [{s.low:.4g}, {s.high:.4g}]")
    print(f"run folder: {os.path.abspath(args.out)} (`xaibench report {shlex.quote(args.out)}` "
          "writes report.md)")
    return 0


def _report(args) -> int:
    from xaibench.runner.store import check_results

    check_results(args.folder)             # a damaged store: one line, nothing written
    from xaibench.report import report

    print(f"report: {os.path.abspath(report(args.folder))}")
    return 0


def _demo(args) -> int:
    from xaibench.demo import run

    if args.images < 1:
        raise ValueError(f"--images must be at least 1, got {args.images}")
    run(out=args.out, n_images=args.images)
    return 0


def _reproduce(args) -> int:
    from xaibench.papers import reproduce

    options = {}
    for item in args.set or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE (e.g. --set images=32), got {item!r}")
        import yaml

        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ValueError(f"--set {key}: cannot read the value {value!r}") from None
    if args.folds is not None:
        if args.folds < 2:
            raise ValueError(f"--folds must be at least 2, got {args.folds}")
        options["folds"] = args.folds
    result = reproduce(args.name, quick=args.quick, data=args.data, out=args.out,
                       progress=not args.quiet, **options)
    print()
    print(result)
    print(f"\nfolder: {os.path.abspath(result.out)} (comparison.md, figures, run folders)")
    return 0


def _evaluate_epilog() -> str:
    from xaibench.runner.config import FORMAT

    configs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "configs")
    where = (f"Commented examples: {configs}" if os.path.isdir(configs)
             else "Commented examples: configs/ in the xaibench repository")
    return ("A run config (YAML or JSON):\n\n" + FORMAT + "\n\n" + where +
            " (demo.yaml is the demo's run).\nCtrl-C keeps the finished shards; the same "
            "command resumes. A damaged results.sqlite is\nnever overwritten: move it away "
            "or pass --restart.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xaibench", description="Explain and benchmark Keras image classifiers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("list", help="list analyzers, metrics and data sets",
                       description="List analyzers (with a description), metrics and data sets.")
    p.set_defaults(func=_list)
    p = sub.add_parser("explain", help="compute heatmaps for images of a data set",
                       description="Explain the first N images of a data set for their true "
                                   "class; writes heatmaps.npz and heatmaps.png.")
    p.add_argument("--model", default="demo",
                   help="'demo' or 'clutter' (the shipped clutter CNN), 'digits' (the shipped "
                        "digits CNN), a Keras model file, or a zoo builder with weights "
                        "(vgg16:imagenet; a bare zoo name is untrained and warns) "
                        "(default: demo)")
    p.add_argument("--data", default="clutter",
                   help="data set name (default: clutter, the demo model's test images)")
    p.add_argument("--analyzers", required=True, help="comma-separated analyzer names")
    p.add_argument("--n", type=int, default=8, help="number of images (default: 8)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_explain)
    p = sub.add_parser("evaluate", help="run a batch evaluation from a config file",
                       description="Run (or resume) the batch evaluation described by a JSON/YAML "
                                   "config into a run folder.",
                       epilog=_evaluate_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="run config (.json, .yaml or .yml)")
    p.add_argument("--out", default=None, help="run folder (created, or resumed); needed "
                                                "unless --plan")
    p.add_argument("--restart", action="store_true",
                   help="start over: move the folder's results.sqlite (damaged or not) and "
                        "heatmaps/ aside to *.old-TIME, then run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run the shards on a local Dask cluster of N worker processes")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the shards on a running Dask cluster (e.g. tcp://host:8786)")
    p.add_argument("--retries", type=int, default=2,
                   help="with --workers/--scheduler: retries of a shard that raises before it "
                        "is recorded as failed (default: 2)")
    p.add_argument("--gpu", action="store_true",
                   help="with --workers/--scheduler: only workers offering the resource GPU=1 "
                        "(dask worker --resources GPU=1) get shards")
    p.add_argument("--plan", action="store_true",
                   help="print the shards, images, analyzer calls, forward passes and an "
                        "estimated time (measured on 2 images) instead of running")
    p.set_defaults(func=_evaluate)
    p = sub.add_parser("report", help="write report.md and plots for a run folder",
                       description="Write report.md with tables and PNG plots into a run folder.")
    p.add_argument("folder", help="a run folder made by `xaibench evaluate`")
    p.set_defaults(func=_report)
    p = sub.add_parser("demo", help="the demo: a small benchmark run and its report (no network)",
                       description="Explain 64 clutter test images with 15 analyzers, evaluate "
                                   "AOPC, mu/mu_w, pointing game and complexity, write the report.")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--images", type=int, default=64, help="test images to explain (default: 64)")
    p.set_defaults(func=_demo)
    from xaibench.catalogue import PAPERS

    p = sub.add_parser("reproduce", help="reproduce a paper's experiments and compare",
                       description="Run one paper's experiments as resumable batch runs and "
                                   "print the paper's numbers next to xaibench's, with whether "
                                   "its qualitative claims hold on this data.")
    p.add_argument("name", help=f"the paper: {', '.join(PAPERS)}")
    p.add_argument("--quick", action="store_true",
                   help="embedded data and small settings: minutes on 2 CPU cores")
    p.add_argument("--data", default=None,
                   help="data set instead of the paper's default: a name (digits, clutter, "
                        "mnist, cifar10) or NAME:PATH (imagenet_val:/data/ILSVRC2012_val)")
    p.add_argument("--out", default=None, help="output folder (default: out/reproduce/NAME)")
    p.add_argument("--folds", type=int, default=None,
                   help="cross-validation folds (amorim only; paper: 10)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a paper option, e.g. --set images=32 (repeatable; the options of "
                        "each paper are the keyword arguments of xaibench.papers.NAME.run)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_reproduce)
    return parser


def _resume_command(argv) -> str:
    """The command line that resumes an interrupted run (without ``--restart``)."""
    return "xaibench " + " ".join(shlex.quote(a) for a in argv if a != "--restart")


def _interrupted(command: str, argv, err: KeyboardInterrupt) -> str:
    """The one line printed after Ctrl-C."""
    if command not in RESUMABLE:
        return f"xaibench {command}: interrupted"
    if hasattr(err, "progress"):                   # xaibench.runner.engine.RunInterrupted
        kept = f"{err.progress} finished and kept in {err.out}"
    else:
        kept = "finished shards are kept"
    return f"xaibench {command}: interrupted; {kept}; resume with: {_resume_command(argv)}"


def main(argv=None) -> int:
    _quiet_tensorflow()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser().parse_args(argv)
    try:
        with _one_line_warnings(args.command):
            return args.func(args)
    except KeyboardInterrupt as err:
        print(_interrupted(args.command, argv, err), file=sys.stderr)
        return 130
    except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"xaibench {args.command}: error: {str(message).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
