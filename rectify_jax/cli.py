"""The ``rectify-jax`` command: list, plot, reproduce."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys


def _list(args) -> int:
    from rectify_jax.experiments import EXPERIMENTS

    for name, exp in EXPERIMENTS.items():
        print(f"{name:<22} {exp.title} ({exp.source})")
    return 0


def _plot(args) -> int:
    from rectify_jax import plotting

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, make in [
        ("activations", plotting.activations),
        ("noisy_hard_tanh_samples", plotting.noisy_samples),
        (
            "noisy_hard_sigmoid_samples",
            lambda path: plotting.noisy_samples(
                unit=__import__("rectify_jax").HARD_SIGMOID_UNIT,
                c=0.15,
                x_range=(-6.0, 6.0),
                path=path,
            ),
        ),
    ]:
        make(path=out / f"{name}.png")
        print(f"wrote {out / f'{name}.png'}")
    return 0


def _reproduce(args) -> int:
    from rectify_jax.experiments import EXPERIMENTS, Progress, overview, report_header, reproduce

    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        print(
            f"rectify-jax: unknown experiment {unknown[0]!r}; choose from {['all', *EXPERIMENTS]}",
            file=sys.stderr,
        )
        return 2
    out = pathlib.Path(args.out)
    sections, seconds = [], 0.0
    with Progress(enabled=not args.no_progress) as progress:
        for name in names:
            sections.append(
                reproduce(
                    name,
                    out=out,
                    seeds=args.seeds,
                    steps=args.steps,
                    quick=args.quick,
                    progress=progress,
                )
            )
            seconds += json.loads((out / name / "summary.json").read_text())["seconds"]
    report = report_header(args.quick) + overview(out, names) + "\n" + "\n".join(sections)
    report += (
        f"\nTotal wall time of the runs: {seconds / 60:.1f} min (seeds reused from an "
        "earlier run count with their original time).\n"
    )
    path = pathlib.Path(args.report) if args.report else out / "REPORT.md"
    (out / "REPORT.md").write_text(report)  # figure links are relative to ``out``
    if path.resolve() != (out / "REPORT.md").resolve():
        path.write_text(report.replace("](", f"]({_rel(out, path)}"))
    print(report)
    print(f"Results, figures and the report are in {out.resolve()} (report: {path}).")
    return 0


def _rel(out: pathlib.Path, report: pathlib.Path) -> str:
    """Prefix that makes figure links relative to where the report is written."""
    import os

    rel = os.path.relpath(out.resolve(), report.resolve().parent)
    return "" if rel == "." else rel.rstrip("/") + "/"


def _bench(args) -> int:
    from rectify_jax.bench import activations, scaling, train_step

    module = {"activations": activations, "train-step": train_step, "scaling": scaling}[args.which]
    return module.main(args.rest)


def _data_parallel(args) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rectify-jax",
        description="Rectifiers and noisy activations: figures and "
        "laptop-scale reproductions of their papers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments").set_defaults(fn=_list)
    p = sub.add_parser("plot", help="draw the activation and noise figures")
    p.add_argument("--out", default="figures", help="folder for the PNGs (default: figures)")
    p.set_defaults(fn=_plot)
    p = sub.add_parser("reproduce", help="run experiments: a name from `list`, or all")
    p.add_argument("name")
    p.add_argument(
        "--seeds", type=int, default=5, help="seeds 0..N-1 (default 5; verdicts need >= 5)"
    )
    p.add_argument("--steps", type=int, default=None, help="override the training steps")
    p.add_argument("--out", default="results", help="results folder (default: results)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline")
    p.add_argument("--report", default=None, help="also write the report here")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(fn=_reproduce)
    p = sub.add_parser("data-parallel", help="train a noisy-LSTM LM data-parallel over devices")
    p.add_argument("--devices", type=int, default=1, help="devices on the 'data' mesh axis")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--batch", type=int, default=32, help="global batch (divisible by devices)")
    p.add_argument("--generator", default="jax", choices=["jax", "fast"])
    p.add_argument("--coordinator", default=None, help="multi-host: host:port of process 0")
    p.add_argument("--num-processes", type=int, default=1, help="multi-host: number of processes")
    p.add_argument("--process-id", type=int, default=0, help="multi-host: this process's index")
    p.set_defaults(fn=_data_parallel)
    p = sub.add_parser(
        "bench", help="benchmarks: activations, train-step or scaling (--help for options)"
    )
    p.add_argument("which", choices=["activations", "train-step", "scaling"])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark")
    p.set_defaults(fn=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
