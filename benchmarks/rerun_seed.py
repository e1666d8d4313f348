"""Rerun one committed seed of a reproduction with the code that made it, and compare.

    python benchmarks/rerun_seed.py noisy_mixture 0
    python benchmarks/rerun_seed.py noisy_mixture 0 --python python \\
        --python /other/venv/bin/python --write-report REPORT.md

Every seed file under ``results/`` records the commit and the source hash of the package
that computed it, and the machine and library versions it ran on. This script takes the
package at that commit (this checkout itself when its package sources hash the same, else
``git archive`` of the commit into a temporary folder, checked against the recorded hash),
runs the seed again in a fresh interpreter (``--python``, repeatable: this one by default,
or another environment, e.g. a virtual environment with other JAX versions) with the
configuration the file records, and compares every number of the result (metrics and
training curves) with the file's.

It prints whether the rerun is bit for bit the same and, where it is not, how far each
metric moved, next to the spread of that metric over the experiment's seeds. Times (the
curves' wall-clock column, ms/step) are not compared. With
``--write-report`` it puts those paragraphs (one per interpreter) into the report under the heading
``## Rerunning a seed`` (replacing an earlier one); ``rectify-jax reproduce --report``
rewrites the report without it, so run this script after it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
HEADING = "## Rerunning a seed"

# Runs in the fresh interpreter, against the package at the recorded commit: the
# experiment's ``run_seed`` with the recorded configuration, the result written as JSON.
_RUN = """
import json, sys
import rectify_jax
from rectify_jax._src import provenance
from rectify_jax.experiments import EXPERIMENTS, _common
saved = json.load(open(sys.argv[1], encoding="utf-8"))
exp = EXPERIMENTS[saved["experiment"]]
result = exp.run_seed(saved["config"], saved["seed"], _common.Progress(False))
out = {"result": _common.to_jsonable(result), "machine": provenance.machine(),
       "package": rectify_jax.__file__, "source": provenance.source_hash()}
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(out))
"""

TIMINGS = re.compile(r"^curves/[^/]+/\d+/2$|/ms_per_step$")
"""The numbers that are times (a curve's wall-clock column, ms/step), not results: they are
left out of the comparison."""

MACHINE_KEYS = ("cpu", "cores", "python", "jax", "jaxlib", "flax", "optax", "chex", "numpy")
"""What must match for a rerun to be expected bit for bit (the kernel build may differ)."""


def seed_file(name: str, seed: int, results: pathlib.Path = RESULTS) -> dict:
    path = results / name / f"seed{seed}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SystemExit(f"rerun_seed: cannot read {path}: {e.strerror}") from None
    if "provenance" not in saved:
        raise SystemExit(f"rerun_seed: {path} records no provenance (an older format)")
    return {**saved, "path": str(path)}


def source_hash(package: pathlib.Path) -> str:
    """The source hash of the package in ``package`` (as ``provenance.source_hash``)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_at(code: dict, into: pathlib.Path) -> pathlib.Path:
    """A folder holding ``rectify_jax/`` as it was when the seed ran: this checkout when its
    sources hash the same, else the recorded commit extracted into ``into``."""
    if source_hash(ROOT / "rectify_jax") == code["source"]:
        return ROOT
    commit = code.get("commit")
    if not commit:
        raise SystemExit("rerun_seed: the seed records no commit and this checkout's code differs")
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "rectify_jax"], capture_output=True
    )
    if done.returncode:
        raise SystemExit(
            f"rerun_seed: commit {commit[:12]} is not in this clone "
            f"({done.stderr.decode().strip()}); a shallow clone lacks it: git fetch --unshallow"
        )
    tar = into / "package.tar"
    tar.write_bytes(done.stdout)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    if source_hash(into / "rectify_jax") != code["source"]:
        raise SystemExit(
            f"rerun_seed: the package at commit {commit[:12]} is not the code that ran the seed "
            "(it ran with uncommitted changes)"
        )
    return into


def rerun(saved: dict, python: str = sys.executable) -> dict:
    """Runs the seed in ``saved`` again with ``python``; returns the rerun's ``result``,
    ``machine`` and ``package`` (the file it imported)."""
    with tempfile.TemporaryDirectory() as tmp:
        where = package_at(saved["provenance"]["code"], pathlib.Path(tmp))
        out = pathlib.Path(tmp) / "rerun.json"
        env = {**os.environ, "PYTHONPATH": str(where)}
        subprocess.run([python, "-c", _RUN, saved["path"], str(out)], check=True, cwd=tmp, env=env)
        done = json.loads(out.read_text(encoding="utf-8"))
    if done["source"] != saved["provenance"]["code"]["source"]:
        raise SystemExit(f"rerun_seed: the rerun imported other code ({done['package']})")
    return done


def numbers(tree, prefix: str = "") -> dict[str, float]:
    """Every number of a JSON tree, by its path (``metrics/irnn/test_accuracy``), times
    (:data:`TIMINGS`) left out."""
    if isinstance(tree, dict):
        return {
            k: v for key, sub in tree.items() for k, v in numbers(sub, f"{prefix}{key}/").items()
        }
    if isinstance(tree, list):
        return {
            k: v for i, sub in enumerate(tree) for k, v in numbers(sub, f"{prefix}{i}/").items()
        }
    if isinstance(tree, bool) or not isinstance(tree, int | float):
        return {}
    path = prefix.rstrip("/")
    return {} if TIMINGS.search(path) else {path: float(tree)}


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def differences(saved: dict, new: dict) -> dict[str, tuple[float, float]]:
    """``{path: (saved, rerun)}`` for every number that differs (or exists on one side)."""
    a, b = numbers(saved), numbers(new)
    keys = sorted(set(a) | set(b))
    return {
        k: (a.get(k, math.nan), b.get(k, math.nan))
        for k in keys
        if not (k in a and k in b and same(a[k], b[k]))
    }


def metric_spread(name: str, results: pathlib.Path = RESULTS) -> dict[str, float]:
    """The standard deviation over the experiment's committed seeds of each metric."""
    import statistics

    values: dict[str, list[float]] = {}
    for path in sorted((results / name).glob("seed*.json")):
        metrics = json.loads(path.read_text(encoding="utf-8"))["result"]["metrics"]
        for k, v in numbers(metrics, "metrics/").items():
            values.setdefault(k, []).append(v)
    return {k: statistics.stdev(v) for k, v in values.items() if len(v) > 1}


def same_machine(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in MACHINE_KEYS)


def describe(machine: dict) -> str:
    return (
        f"{machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"jax {machine['jax']} / jaxlib {machine['jaxlib']}, flax {machine['flax']}, "
        f"optax {machine['optax']}, NumPy {machine['numpy']}"
    )


def paragraph(saved: dict, done: dict, spread: dict[str, float]) -> str:
    """What the rerun found, in a few sentences and a table of the metrics that moved."""
    diff = differences(saved["result"], done["result"])
    name, seed = saved["experiment"], saved["seed"]
    recorded = saved["provenance"]["machine"]
    head = (
        f"Seed {seed} of `{name}` was run again with the code that made it "
        f"(commit {saved['provenance']['code']['commit'][:12]}) by "
        f"`python benchmarks/rerun_seed.py {name} {seed}`, on {describe(done['machine'])}; "
        f"the seed file was made on {describe(recorded)}. "
    )
    total = len(numbers(saved["result"]))
    if not diff:
        return (
            head + f"All {total} numbers of its result (metrics and training curves) are bit for "
            "bit the same.\n"
        )
    moved = {k: v for k, v in diff.items() if k.startswith("metrics/")}
    rows = [
        f"| {k.removeprefix('metrics/')} | {a:.6g} | {b:.6g} | {abs(b - a):.3g} | {spread[k]:.3g} |"
        for k, (a, b) in moved.items()
        if k in spread
    ]
    return (
        head + f"{len(diff)} of its {total} numbers differ. The metrics that moved, next to their "
        "spread (std) over the committed seeds:\n\n"
        "| metric | committed | rerun | moved by | std over seeds |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


def write_report(report: pathlib.Path, text: str) -> None:
    """Puts ``text`` under :data:`HEADING` at the end of ``report`` (replacing an earlier
    one; the section runs to the end of the file)."""
    body = report.read_text(encoding="utf-8")
    body = body.split(f"\n{HEADING}\n", 1)[0].rstrip("\n")
    report.write_text(f"{body}\n\n{HEADING}\n\n{text}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment")
    parser.add_argument("seed", type=int)
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS)
    parser.add_argument(
        "--python",
        action="append",
        help="an interpreter to rerun with (repeatable; default: this one)",
    )
    parser.add_argument(
        "--write-report",
        type=pathlib.Path,
        help=f"put the findings under '{HEADING}' in this report",
    )
    args = parser.parse_args(argv)
    saved = seed_file(args.experiment, args.seed, args.results)
    spread = metric_spread(args.experiment, args.results)
    text = "\n".join(
        paragraph(saved, rerun(saved, p), spread) for p in args.python or [sys.executable]
    )
    print(text)
    if args.write_report:
        write_report(args.write_report, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
