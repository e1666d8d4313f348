"""The ``rectify-jax`` command: list, plot, reproduce, data-parallel, bench.

A user's mistake (a bad option value, an unknown name, an output path that cannot be
written, a results folder in use by another run, a missing optional dependency) is
answered with one line on stderr and exit code 2, before any training starts; a result
that cannot be written (a full disk) with one line and exit code 1; Ctrl-C with one line
and exit code 130. :func:`execute` is that one path, for ``python -m rectify_jax`` too.

A command imports only what it uses: the parser names every benchmark with its one-line
help, and a benchmark's module (its options, its description) is imported only when that
benchmark is named on the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import inspect
import json
import os
import pathlib
import re
import shlex
import shutil
import socket
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import cast

import jax  # already loaded by the package; for its error type only

PROG = "rectify-jax"


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit code 2."""


_COMMAND = re.compile(r"^(python|rectify-jax|pip) .*[^.]$")
"""A command line in a docstring (a sentence that begins with a command ends with a full stop)."""
_ROLE = re.compile(r":[a-z]+:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")


def terminal_text(doc: str | None) -> str:
    """A docstring as a terminal shows it: reStructuredText roles and literals as plain
    words, prose paragraphs wrapped to the terminal (at most 88 columns), and every
    command line (``python ...``, ``rectify-jax ...``, ``pip ...``) on its own line,
    indented. ``None`` (a module without a docstring) gives ``""``.

    For an ``argparse`` description, with ``argparse.RawDescriptionHelpFormatter`` so that
    argparse keeps the lines as they are.

    Example:
      >>> doc = "Time ``f`` with :func:`~rectify_jax.relu`.\\n\\n"
      >>> doc += "    rectify-jax bench activations --sizes 20\\n"
      >>> doc += "    rectify-jax bench activations --no-torch\\n"
      >>> print(terminal_text(doc))
      Time f with relu.
      <BLANKLINE>
        rectify-jax bench activations --sizes 20
        rectify-jax bench activations --no-torch
    """

    def role(match: re.Match) -> str:
        short, name = match.groups()
        return name.rsplit(".", 1)[-1] if short else name

    text = _ROLE.sub(role, doc or "").replace("``", "")
    width = min(88, shutil.get_terminal_size((88, 24)).columns - 2)
    out = []
    for block in inspect.cleandoc(text).split("\n\n"):
        lines = [line.strip() for line in block.strip("\n").splitlines()]
        if lines and all(_COMMAND.match(line) for line in lines):
            out.append("\n".join(f"  {line}" for line in lines))
        else:
            out.append(textwrap.fill(" ".join(lines), width))
    return "\n\n".join(out)


class Parser(argparse.ArgumentParser):
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


def whole_number(arg: str, minimum: int, maximum: int | None = None):
    """An argparse ``type``: a whole number from ``minimum`` (to ``maximum``), else one line.

    Examples:
      >>> whole_number("--seeds", 1)("5")
      5
    """
    span = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{arg} must be a whole number {span}, got {text!r}"
            ) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{arg} must be {span}, got {value}")
        return value

    return parse


def _positive(arg: str):
    return whole_number(arg, 1)


def _split_host_port(text: str) -> tuple[str, int]:
    """``"host:port"`` as ``(host, port)``; ``ValueError`` in words if it is not one."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            f"--coordinator must be HOST:PORT with a port from 1 to 65535 (e.g. "
            f"127.0.0.1:12355), got {text!r}"
        )
    return host.strip("[]"), int(port)  # [::1]:12355 is IPv6 host ::1


def _host_port(text: str) -> str:
    try:
        _split_host_port(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


# --------------------------------------------------------------------------------------
# Commands


def _list(args) -> int:
    from rectify_jax.experiments import EXPERIMENTS

    for name, exp in EXPERIMENTS.items():
        print(f"{name:<22} {exp.title} ({exp.source}); {exp.seeds} seeds")
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

    from rectify_jax.experiments import Progress, _common, compose_report, reproduce

    args.kept_in = out  # what an interrupted or failed run says it keeps

    def waiting(holder: str) -> None:
        print(
            f"{PROG}: --out {args.out!r} is in use by {holder}; waiting for it to finish",
            file=sys.stderr,
            flush=True,
        )

    with contextlib.ExitStack() as stack:
        try:
            lock = _common.lock_folder(
                out, wait=args.wait, command=args.command_line, on_wait=waiting
            )
            stack.enter_context(lock)
        except _common.FolderLocked as e:
            raise UsageError(
                f"--out {args.out!r} is in use by {e.holder}; let that run finish (or add "
                "--wait to wait for it), or give another --out"
            ) from None
        with Progress(enabled=not args.no_progress) as progress:
            for name in names:
                reproduce(
                    name,
                    out=out,
                    seeds=args.seeds,  # None: the experiment's own (5 or 10), or 1 with --quick
                    steps=args.steps,
                    quick=args.quick,
                    progress=progress,
                )
        text = compose_report(out)
        # one report: at --report when given (figure links made relative to it), else in OUT
        if report is None:
            _common.write_atomic(out / "REPORT.md", text)
        else:
            _common.write_atomic(report, text.replace("](", f"]({_rel(out, report)}"))
        sections = [(out / name / "section.md").read_text(encoding="utf-8") for name in names]
    for section in sections:
        print(section)
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
        parser.description = terminal_text(module.__doc__)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        module.add_arguments(parser)
        parser.set_defaults(bench_module=module)

    return load


def _bench(args) -> int:
    if args.out is not None:
        _writable_folder("--out", args.out)
    return args.bench_module.execute(args)


COORDINATOR_TIMEOUT_S = 300.0
"""How long a process other than 0 waits for the coordinator (as jax.distributed does)."""


def _data_parallel(args) -> int:
    if args.coordinator is None:
        given = [
            f"{flag} {value}"
            for flag, value in (
                ("--num-processes", args.num_processes),
                ("--process-id", args.process_id),
            )
            if value is not None
        ]
        if given:
            raise UsageError(
                f"{' and '.join(given)} need{'s' * (len(given) == 1)} --coordinator HOST:PORT "
                "(the address of process 0) for a multi-host run; without --coordinator the "
                "run is one process"
            )
    processes = 1 if args.num_processes is None else args.num_processes
    process_id = 0 if args.process_id is None else args.process_id
    if process_id >= processes:
        raise UsageError(
            f"--process-id {process_id} is not below --num-processes {processes}; the "
            f"processes are numbered 0 to {processes - 1}"
        )
    if args.batch % args.devices:
        raise UsageError(
            f"--batch {args.batch} does not split over --devices {args.devices}; give a "
            "multiple of the device count"
        )
    if args.coordinator is not None:
        _check_coordinator(args.coordinator, process_id)
    preset = "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")
    from rectify_jax.experiments import data_parallel

    if args.coordinator:  # one process of a multi-host job; --devices counts every process's
        data_parallel.initialize_multihost(args.coordinator, processes, process_id)
    else:
        data_parallel.force_host_devices(args.devices)  # before JAX's first computation
    seen, platform = jax.device_count(), jax.devices()[0].platform
    if seen < args.devices:
        why = (
            f" in {processes} processes (--devices counts the devices of every process)"
            if args.coordinator
            else " (XLA_FLAGS sets their number: unset it to let --devices choose)"
            if preset and platform == "cpu"
            else ""
        )
        raise UsageError(
            f"--devices {args.devices}, but JAX sees {seen} {platform} device"
            f"{'s' * (seen != 1)}{why}; give --devices {seen} or fewer"
        )
    result = data_parallel.train(
        args.devices, args.steps, hidden=args.hidden, batch=args.batch, generator=args.generator
    )
    print(json.dumps(result))
    return 0


def _check_coordinator(address: str, process_id: int) -> None:
    """What ``jax.distributed.initialize`` would otherwise answer with a C++ abort (after
    minutes) or a traceback: an unknown host, a port in use, a coordinator that never
    answers."""
    host, port = _split_host_port(address)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise UsageError(
            f"--coordinator {address!r}: the host {host!r} is not known ({e.strerror or e}); "
            "give the address of process 0"
        ) from None
    if process_id == 0:  # process 0 serves the coordinator on this port, on every interface
        dual = socket.has_dualstack_ipv6()
        family = socket.AF_INET6 if dual else socket.AF_INET
        try:
            socket.create_server(("", port), family=family, dualstack_ipv6=dual).close()
        except OSError as e:
            raise UsageError(
                f"--coordinator {address!r}: process 0 serves the coordinator on port {port}, "
                f"which cannot be opened here ({os.strerror(e.errno) if e.errno else e}); "
                "give a free port"
            ) from None
        return
    deadline = time.monotonic() + COORDINATOR_TIMEOUT_S
    while True:
        try:
            socket.create_connection((host, port), timeout=5).close()
            return
        except OSError as e:
            if time.monotonic() >= deadline:
                raise UsageError(
                    f"--coordinator {address!r}: no coordinator answered there in "
                    f"{COORDINATOR_TIMEOUT_S:g} s ({e.strerror or e}); start process 0 "
                    "(--process-id 0) with the same --coordinator, or correct the address"
                ) from None
            time.sleep(0.5)


def _version() -> str:
    from rectify_jax import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The command's parser; a benchmark's module is imported only when it is named."""
    parser = Parser(
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
        "and reused by a rerun with the same configuration. One run at a time writes into "
        "OUT, and each file is written whole or not at all.",
    )
    p.add_argument("name", metavar="NAME", help="an experiment from `rectify-jax list`, or all")
    p.add_argument(
        "--seeds",
        type=_positive("--seeds"),
        default=None,
        metavar="N",
        help="run seeds 0..N-1 (default: the experiment's own, 5 or 10 (see `rectify-jax "
        "list`); 1 with --quick; verdicts need at least 5)",
    )
    p.add_argument(
        "--steps", type=_positive("--steps"), default=None, help="override the training steps"
    )
    p.add_argument("--out", default="results", help="results folder (default: results)")
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the pipeline, judges nothing"
    )
    p.add_argument(
        "--report",
        default=None,
        help="write the report to this file instead of OUT/REPORT.md",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--wait",
        action="store_true",
        help="if another run is writing into OUT, wait for it to finish (without --wait: "
        "stop at once, exit code 2)",
    )
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
    p.add_argument(
        "--coordinator", type=_host_port, default=None, help="multi-host: HOST:PORT of process 0"
    )
    p.add_argument(
        "--num-processes",
        type=_positive("--num-processes"),
        default=None,
        help="multi-host: how many processes (default 1)",
    )
    p.add_argument(
        "--process-id",
        type=whole_number("--process-id", 0),
        default=None,
        help="multi-host: this process's index, 0 to N-1 (default 0)",
    )
    p.set_defaults(fn=_data_parallel, sizes="give a smaller --batch or --hidden")

    p = sub.add_parser("bench", help="benchmarks: activations, train-step, scaling")
    benches = cast(
        _LazySubParsers,
        p.add_subparsers(dest="which", required=True, metavar="BENCHMARK", action=_LazySubParsers),
    )
    for name, (module_name, summary) in BENCHMARKS.items():
        q = benches.add_lazy_parser(name, _load_benchmark(module_name), help=summary)
        q.set_defaults(fn=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``rectify-jax`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return execute(build_parser, argv)


def execute(make_parser: Callable[[], argparse.ArgumentParser], argv=None) -> int:
    """Parses ``argv`` with ``make_parser()`` and runs the chosen ``args.fn(args)``.

    The one place where what stops a command becomes one line on stderr and an exit code:
    a user's mistake (:class:`UsageError`) 2; a file that cannot be written (a full disk,
    anywhere in the run) 1; running out of memory 2 (the hint is ``args.sizes``); Ctrl-C
    130, also while the parser is built; a closed stdout (``| head``) 141, silently.
    ``args.kept_in``, when a command sets it, is where the finished work is kept.
    argparse's own errors exit from inside ``parse_args`` (``SystemExit``, code 2, one
    line with :class:`Parser`).
    """
    prog, args = PROG, argparse.Namespace()
    try:
        parser = make_parser()
        prog = parser.prog
        args = parser.parse_args(argv)
        args.command_line = f"{prog} {shlex.join(sys.argv[1:] if argv is None else argv)}"
        return args.fn(args)
    except UsageError as e:
        return _fail(f"{prog}: error: {e}", 2)
    except KeyboardInterrupt:
        kept_in = getattr(args, "kept_in", None)
        resume = f": finished seeds are kept in {kept_in}; rerun the same command to resume"
        return _fail(f"\ninterrupted{resume if kept_in else ''}", 130)
    except BrokenPipeError:  # the reader of stdout has gone (``| head``): end quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    except OSError as e:
        message = _write_failure(e, getattr(args, "kept_in", None))
        if message is None:
            raise
        return _fail(f"{prog}: error: {message}", 1)
    except jax.errors.JaxRuntimeError as e:
        text = str(e).splitlines()[0] if str(e) else ""
        where = max(text.find("RESOURCE_EXHAUSTED"), text.find("Out of memory"))
        if where < 0:
            raise
        sizes = getattr(args, "sizes", "give smaller sizes")
        return _fail(f"{prog}: error: out of memory ({text[where:]}); {sizes}", 2)


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr, flush=True)
    return code


def _write_failure(e: OSError, kept_in) -> str | None:
    """One line for a file that could not be written, or None for another ``OSError``."""
    from rectify_jax.experiments._common import DISK_FULL, WriteError

    full = e.errno in DISK_FULL
    if not (full or isinstance(e, WriteError)):
        return None
    what = f"cannot write {e.filename}" if e.filename else "a file cannot be written"
    if full:
        why = "the disk is full" if e.errno == errno.ENOSPC else "the disk quota is exceeded"
        why, fix = f"{why} ({e.strerror})", "free some space"
    else:
        why, fix = e.strerror or str(e), "fix that"
    if kept_in is None:
        return f"{what}: {why}; {fix} and rerun the same command"
    return (
        f"{what}: {why}; finished seeds are kept in {kept_in}: {fix} and rerun the same "
        "command to resume"
    )


def run(entry: Callable[[], int] = main) -> None:
    """The console entry point: ``sys.exit(entry())``, without interpreter teardown after Ctrl-C.

    An interrupt can land while XLA is still running a computation on other threads; a
    normal interpreter shutdown then races those threads (and can crash), so after the
    one-line message the process ends at once with code 130.
    """
    code = entry()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    run()
