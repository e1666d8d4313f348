"""Laptop-scale reproductions of the source papers' claims.

``rectify-jax reproduce NAME|all`` runs them; each writes per-seed JSON (as soon as a
seed finishes, so an interrupted run keeps them and a rerun skips them), a figure,
and a markdown section with the original claim, the numbers and a verdict.
"""

from __future__ import annotations

import json
import pathlib
import time

from rectify_jax.experiments import _common
from rectify_jax.experiments._common import Claim, Experiment, Progress, Report

__all__ = [
    "EXPERIMENTS",
    "Claim",
    "Experiment",
    "Progress",
    "Report",
    "compose_report",
    "overview",
    "report_header",
    "reproduce",
]

NOT_REPRODUCED = (
    "Not reproduced: the associative-recall task with a memory controller (an NTM; Gulcehre "
    "et al. 2016 report that a noisy controller converges faster). Training an NTM on that "
    "task takes far longer than this two-hour, 2-core CPU budget allows."
)


def _registry() -> dict[str, Experiment]:
    from rectify_jax.experiments import charlm, digits_mlp, gaussian_mixture, sequences

    return {
        e.name: e
        for e in [
            digits_mlp.EXPERIMENT,
            charlm.GRU_EXPERIMENT,
            gaussian_mixture.EXPERIMENT,
            charlm.LSTM_EXPERIMENT,
            sequences.UNIQUE_EXPERIMENT,
            sequences.ADDING_EXPERIMENT,
            sequences.DIGITS_EXPERIMENT,
        ]
    }


EXPERIMENTS = _registry()


def reproduce(
    name: str,
    *,
    out: str | pathlib.Path = "results",
    seeds: int = 5,
    steps: int | None = None,
    quick: bool = False,
    progress: Progress | None = None,
    log=print,
) -> str:
    """Runs one experiment over ``seeds`` seeds and returns its markdown section.

    Results go to ``out/NAME/``: ``seedN.json`` per finished seed, ``NAME.png``,
    ``summary.json`` and ``section.md``.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"reproduce: unknown experiment {name!r}; choose from {list(EXPERIMENTS)}")
    if seeds < 1:
        raise ValueError(f"reproduce: seeds must be >= 1, got {seeds}")
    exp = EXPERIMENTS[name]
    config = dict(exp.quick if quick else exp.full)
    if steps is not None:
        config["steps"] = int(steps)
    folder = pathlib.Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(False)
    results, seconds = [], 0.0
    for seed in range(seeds):
        path = folder / f"seed{seed}.json"
        if path.exists():
            saved = json.loads(path.read_text())
            if saved.get("config") == config:
                log(f"{name}: seed {seed} already done ({path}), reusing it")
                results.append(saved["result"])
                seconds += saved["seconds"]
                continue
        t0 = time.perf_counter()
        result = exp.run_seed(config, seed, progress)
        elapsed = time.perf_counter() - t0
        _common.write_json(
            path, {"config": config, "seed": seed, "seconds": elapsed, "result": result}
        )
        results.append(_common.to_jsonable(result))
        seconds += elapsed
    figure = folder / f"{name}.png"
    rep = exp.report(results, config, str(figure))
    verdicts = _common.judge(rep.claims, quick=quick, seeds=seeds)
    summary = {
        "config": config,
        "seeds": seeds,
        "quick": bool(quick),
        "arms": list(rep.arms),
        "levels": dict(rep.levels),
        "verdicts": verdicts,
        "seconds": seconds,
        "setup": rep.setup,
        "findings": list(rep.findings),
        "machine": _common.machine(),
    }
    section = _section(exp, rep, summary, folder, figure)
    (folder / "section.md").write_text(section)
    _common.write_json(folder / "summary.json", summary)
    return section


def _section(exp: Experiment, rep: Report, summary: dict, folder, figure) -> str:
    seeds, seconds = summary["seeds"], summary["seconds"]
    lines = [
        f"## {exp.title}",
        "",
        f"**Original claim** ({exp.source}): {exp.claim}",
        "",
        f"**Run here**: {rep.setup} Seeds 0..{seeds - 1}; mean ± std over seeds. "
        f"Wall time {seconds / 60:.1f} min on {summary['machine']}.",
        "",
    ]
    if rep.levels:
        levels = ", ".join(f"{k} {v:.3f}" for k, v in rep.levels.items())
        lines += [f"**Reference levels**: {levels}.", ""]
    lines += [rep.table, ""]
    if rep.extra:
        lines += [rep.extra, ""]
    if rep.figure:
        rel = pathlib.Path(folder.name) / figure.name
        lines += [f"![{exp.title}]({rel.as_posix()})", ""]
    lines += [
        "**Verdicts** (t-test over seeds, n - 1 degrees of freedom; Holm-corrected within "
        "this experiment; *held* / *did not hold here* at adjusted p < 0.05, else "
        "*inconclusive*)",
        "",
        _common.verdict_table(summary["verdicts"]),
    ]
    return "\n".join(lines) + "\n"


def overview(out: str | pathlib.Path, names) -> str:
    """ "What held, what did not": every claim of the named experiments grouped by verdict,
    read from ``OUT/NAME/summary.json``, with each experiment's own findings."""
    groups: dict[str, list[str]] = {label: [] for label in _common.LABELS}
    findings, not_judged = [], []
    for name in names:
        summary = json.loads((pathlib.Path(out) / name / "summary.json").read_text())
        findings += [f"- {f}" for f in summary.get("findings", [])]
        for v in summary["verdicts"]:
            t = v["test"]
            lo, hi = t["ci95"]
            line = (
                f"- {v['claim']} — `{name}`; {v['evidence']}: {t['mean_difference']:.3g} "
                f"[{lo:.3g}, {hi:.3g}], p (Holm) {_common._p(t['p_holm'])}"
            )
            if v["verdict"] is None:
                not_judged.append(v["not_judged"])
            else:
                groups[v["verdict"]].append(line)
    lines = ["## What held, what did not", ""]
    if findings:
        lines += ["In short (means over seeds):", "", *findings, "", "Every claim, by verdict:", ""]
    if not_judged:
        lines += [
            f"No claim was judged ({sorted(set(not_judged))[0]}); the numbers below check the "
            "pipeline only.",
            "",
        ]
    for label in _common.LABELS:
        if groups[label]:
            lines += [f"**{label.capitalize()}** ({len(groups[label])})", "", *groups[label], ""]
    lines += [NOT_REPRODUCED, ""]
    return "\n".join(lines) + "\n"


def report_header(summaries: dict[str, dict]) -> str:
    """The report's title and method paragraph, naming what was run."""
    ran = ", ".join(
        f"`{name}` ({'quick' if sm['quick'] else 'full'}, {sm['seeds']} seed"
        f"{'s' * (sm['seeds'] != 1)})"
        for name, sm in summaries.items()
    )
    quick = any(sm["quick"] for sm in summaries.values())
    warning = (
        "**Sections marked quick are a pipeline check, not evidence**: their models are tiny "
        "and barely trained, so no claim is judged there.\n\n"
        if quick
        else ""
    )
    return (
        "# rectify_jax: reproductions\n\n"
        f"Produced by `rectify-jax reproduce`; this report holds: {ran}. Each section states "
        "the source's claim, what was run here, the numbers over seeds, a figure, and for "
        "each sub-claim a t-test over seeds (paired where two arms are compared: the arms "
        "of one seed share their initial parameters and batches), Holm-corrected within "
        "the experiment. Labels: *held* (adjusted p < 0.05 in the claimed direction), "
        "*did not hold here* (adjusted p < 0.05 against it), *inconclusive* (otherwise); "
        f"runs with fewer than {_common.MIN_SEEDS} seeds are not labelled. A diverged or "
        "stuck seed counts as a failure of its arm.\n\n" + warning
    )


def compose_report(out: str | pathlib.Path) -> str:
    """The whole report from every experiment finished in ``out`` (registry order).

    Running one experiment into a folder that holds others replaces only its own
    section; the header says which experiments, sizes and seeds the report holds.
    """
    out = pathlib.Path(out)
    names = [n for n in EXPERIMENTS if (out / n / "summary.json").exists()]
    if not names:
        raise FileNotFoundError(f"compose_report: no finished experiment in {out}")
    summaries = {n: json.loads((out / n / "summary.json").read_text()) for n in names}
    sections = [(out / n / "section.md").read_text() for n in names]
    seconds = sum(sm["seconds"] for sm in summaries.values())
    machine = next(iter(summaries.values())).get("machine", "")
    return (
        report_header(summaries)
        + f"The runs took {seconds / 60:.1f} min of wall time in all ({machine}).\n\n"
        + overview(out, names)
        + "\n"
        + "\n".join(sections)
        + f"\nTotal wall time of the runs: {seconds / 60:.1f} min (seeds reused from an "
        "earlier run count with their original time).\n"
    )
