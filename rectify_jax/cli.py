"""The ``rectify-jax`` command: list, plot, reproduce, data-parallel, bench.

A user's mistake (a bad option value, an unknown name, an output path that cannot be
written, a missing optional dependency) is answered with one line on stderr and exit
code 2, before any training starts; Ctrl-C ends with one line and exit code 130.

A command imports only what it uses: the parser names every benchmark with its one-line
help, and a benchmark's module (its options, its description) is imported only when that
benchmark is named on the command line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import sys
from typing import cast

PROG = "rectify-jax"


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _LazySubParsers(argparse._SubParsersAction):
    """Sub-commands listed with their help at once, completed only when they are named.

    ``add_lazy_parser(name, load, help=...)`` adds an empty sub-parser; ``load(parser)`` (which
    may import a module and add its options) runs when ``name`` is the chosen sub-command,
    just before that sub-parser parses the rest of the command line (``--help`` included).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loaders = {}

    def add_lazy_parser(self, name: str, load, **kwargs) -> argparse.ArgumentParser:
        parser = self.add_parser(name, **kwargs)
        self._loaders[name] = (parser, load)
        return parser

    def __call__(self, parser, namespace, values, option_string=None):
        parser_and_load = self._loaders.pop(values[0], None) if values else None
        if parser_and_load is not None:
            sub, load = parser_and_load
            load(sub)
        super().__call__(parser, namespace, values, option_string)


# --------------------------------------------------------------------------------------
# Checks made before any work starts

EXTRAS = {
    "plot": ["matplotlib"],
    "experiments": ["matplotlib", "sklearn", "scipy"],
}


def _require(extra: str, what: str) -> None:
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        names = {"sklearn": "scikit-learn"}
        raise UsageError(
            f"{what} needs the '{extra}' extra (missing: "
            f"{', '.join(names.get(m, m) for m in missing)}); install it with: "
            f"pip install 'rectify-jax[{extra}]'"
        )


def _writable_folder(arg: str, value: str) -> pathlib.Path:
    """``value`` as a folder that exists or is made now, checked by writing a probe file."""
    path = pathlib.Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{arg} {value!r} is a file; give a folder (it is made if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".rectify-jax-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UsageError(
            f"{arg} {value!r} cannot be written ({reason}); give a writable folder"
        ) from None
    return path


def _writable_file(arg: str, value: str) -> pathlib.Path:
    """``value`` as a file path whose folder exists and can be written."""
    path = pathlib.Path(value)
    if path.is_dir():
        raise UsageError(f"{arg} {value!r} is a folder; give a file path such as REPORT.md")
    if not path.parent.is_dir():
        raise UsageError(f"{arg} {value!r}: the folder {str(path.parent)!r} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{arg} {value!r} cannot be written (read-only file)")
    try:
        probe = path.parent / f".rectify-jax-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"{arg} {value!r} cannot be written ({e.strerror})") from None
    return path


def _positive(arg: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{arg} must be a whole number >= 1, got {text!r}"
            ) from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{arg} must be >= 1, got {value}")
        return value

    return parse


# --------------------------------------------------------------------------------------
# Commands


def _list(args) -> int:
    from rectify_jax.experiments import EXPERIMENTS

    for name, exp in EXPERIMENTS.items():
        print(f"{name:<22} {exp.title} ({exp.source})")
    return 0


def _plot(args) -> int:
    _require("plot", "plot")
    out = _writable_folder("--out", args.out)
    import rectify_jax as rj
    from rectify_jax import plotting

    for name, make in [
        ("activations", plotting.activations),
        ("noisy_hard_tanh_samples", plotting.noisy_samples),
        (
            "noisy_hard_sigmoid_samples",
            lambda path: plotting.noisy_samples(
                unit=rj.HARD_SIGMOID_UNIT, c=rj.HARD_SIGMOID_UNIT.c, x_range=(-6.0, 6.0), path=path
            ),
        ),
    ]:
        make(path=out / f"{name}.png")
        print(f"wrote {out / f'{name}.png'}")
    return 0


def _reproduce(args) -> int:
    from rectify_jax.experiments import EXPERIMENTS

    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    if args.name != "all" and args.name not in EXPERIMENTS:
        raise UsageError(
            f"unknown experiment {args.name!r}; choose from all, {', '.join(EXPERIMENTS)}"
        )
    _require("experiments", "reproduce")
    out = _writable_folder("--out", args.out)
    report = _writable_file("--report", args.report) if args.report else None

    from rectify_jax.experiments import Progress, compose_report, reproduce

    args._interrupted_hint = (
        f"interrupted: finished seeds are kept in {out}; rerun the same command to resume"
    )
    with Progress(enabled=not args.no_progress) as progress:
        for name in names:
            reproduce(
                name,
                out=out,
                seeds=args.seeds,
                steps=args.steps,
                quick=args.quick,
                progress=progress,
            )
    text = compose_report(out)
    (out / "REPORT.md").write_text(text)  # figure links are relative to ``out``
    if report is not None and report.resolve() != (out / "REPORT.md").resolve():
        report.write_text(text.replace("](", f"]({_rel(out, report)}"))
    for name in names:
        print((out / name / "section.md").read_text())
    where = report or out / "REPORT.md"
    print(f"Results, figures and the report are in {out.resolve()} (report: {where}).")
    return 0


def _rel(out: pathlib.Path, report: pathlib.Path) -> str:
    """Prefix that makes figure links relative to where the report is written."""
    rel = os.path.relpath(out.resolve(), report.resolve().parent)
    return "" if rel == "." else rel.rstrip("/") + "/"


# name on the command line -> (module, one-line help: the first line of the module's docstring,
# kept here so that ``--help`` lists the benchmarks without importing them)
BENCHMARKS = {
    "activations": (
        "rectify_jax.bench.activations",
        "Benchmark every activation against its baselines, in one process and one run.",
    ),
    "train-step": (
        "rectify_jax.bench.train_step",
        "Benchmark one training step of a byte-level LSTM language model: soft vs hard vs "
        "noisy gates.",
    ),
    "scaling": (
        "rectify_jax.bench.scaling",
        "Scaling benchmark: throughput on 1, 2, 4, 8 devices (forced host devices on a CPU).",
    ),
}


def _load_benchmark(module_name: str):
    """Completes a benchmark's sub-parser from its module, imported now."""

    def load(parser: argparse.ArgumentParser) -> None:
        module = importlib.import_module(module_name)
        parser.description = module.__doc__
        module.add_arguments(parser)
        parser.set_defaults(bench_module=module)

    return load


def _bench(args) -> int:
    if args.out is not None:
        _writable_folder("--out", args.out)
    return args.bench_module.execute(args)


def _data_parallel(args) -> int:
    if args.batch % args.devices:
        raise UsageError(
            f"--batch {args.batch} does not split over --devices {args.devices}; give a "
            "multiple of the device count"
        )
    from rectify_jax.experiments import data_parallel

    if args.coordinator:  # one process of a multi-host job; --devices counts every process's
        data_parallel.initialize_multihost(args.coordinator, args.num_processes, args.process_id)
    else:
        data_parallel.force_host_devices(args.devices)  # before JAX's first computation
    result = data_parallel.train(
        args.devices, args.steps, hidden=args.hidden, batch=args.batch, generator=args.generator
    )
    print(json.dumps(result))
    return 0


def _version() -> str:
    from rectify_jax import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The command's parser; a benchmark's module is imported only when it is named."""
    parser = _Parser(
        prog=PROG,
        description="Rectifiers and noisy activations: figures, laptop-scale reproductions of "
        "their papers, and benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list the experiments").set_defaults(fn=_list)

    p = sub.add_parser("plot", help="draw the activation and noise figures (extra: plot)")
    p.add_argument("--out", default="figures", help="folder for the PNGs (default: figures)")
    p.set_defaults(fn=_plot)

    p = sub.add_parser(
        "reproduce",
        help="run paper reproductions (extra: experiments)",
        description="Run reproductions of the papers' claims; finished seeds are kept in OUT "
        "and reused by a rerun with the same configuration.",
    )
    p.add_argument("name", metavar="NAME", help="an experiment from `rectify-jax list`, or all")
    p.add_argument(
        "--seeds",
        type=_positive("--seeds"),
        default=5,
        help="run seeds 0..N-1 (default 5; verdicts need at least 5)",
    )
    p.add_argument(
        "--steps", type=_positive("--steps"), default=None, help="override the training steps"
    )
    p.add_argument("--out", default="results", help="results folder (default: results)")
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the pipeline, judges nothing"
    )
    p.add_argument("--report", default=None, help="also write the report to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(fn=_reproduce)

    p = sub.add_parser("data-parallel", help="train a noisy-LSTM LM data-parallel over devices")
    p.add_argument(
        "--devices", type=_positive("--devices"), default=1, help="devices on the 'data' axis"
    )
    p.add_argument("--steps", type=_positive("--steps"), default=20, help="(default 20)")
    p.add_argument("--hidden", type=_positive("--hidden"), default=32, help="(default 32)")
    p.add_argument(
        "--batch",
        type=_positive("--batch"),
        default=32,
        help="global batch, divisible by the device count (default 32)",
    )
    p.add_argument("--generator", default="jax", choices=["jax", "fast"], help="noise generator")
    p.add_argument("--coordinator", default=None, help="multi-host: host:port of process 0")
    p.add_argument(
        "--num-processes", type=_positive("--num-processes"), default=1, help="multi-host"
    )
    p.add_argument("--process-id", type=int, default=0, help="multi-host: this process's index")
    p.set_defaults(fn=_data_parallel)

    p = sub.add_parser("bench", help="benchmarks: activations, train-step, scaling")
    benches = cast(
        _LazySubParsers,
        p.add_subparsers(dest="which", required=True, metavar="BENCHMARK", action=_LazySubParsers),
    )
    for name, (module_name, summary) in BENCHMARKS.items():
        q = benches.add_lazy_parser(name, _load_benchmark(module_name), help=summary)
        q.set_defaults(fn=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = getattr(args, "_interrupted_hint", "interrupted")
        print(f"\n{hint}", file=sys.stderr)
        return 130


def run() -> None:
    """The console entry point: ``sys.exit(main())``, without interpreter teardown after Ctrl-C.

    An interrupt can land while XLA is still running a computation on other threads; a
    normal interpreter shutdown then races those threads (and can crash), so after the
    one-line message the process ends at once with code 130.
    """
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    run()
