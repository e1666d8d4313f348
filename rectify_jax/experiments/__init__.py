"""Laptop-scale reproductions of the source papers' claims.

``rectify-jax reproduce NAME|all`` runs them; each writes per-seed JSON (as soon as a
seed finishes, so an interrupted run keeps them and a rerun skips them), a figure,
and a markdown section with the original claim, the numbers and a verdict. One run at a
time holds a results folder (a lock), and every file in it is written whole or not at
all (:func:`~rectify_jax.experiments._common.write_atomic`).
"""

from __future__ import annotations

import json
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

from rectify_jax._src import provenance
from rectify_jax.experiments import _common, ledger
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
    "Claims not attempted here (the NTM's associative recall, the paper's Penn Treebank, "
    "translation and captioning results, Maas et al.'s word error rates, Glorot et al.'s "
    "image benchmarks, Jiang & Wang's order at equal time and at equal error) are listed, "
    "each with the reason, in the claim ledger below."
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


SEED_FORMAT = 3
"""The format of ``seedN.json`` (1: before the file named its experiment and format; 2:
before it recorded its provenance)."""
SEED_FIELDS = ("format", "experiment", "seed", "config", "provenance", "seconds", "result")


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def reproduce(
    name: str,
    *,
    out: str | pathlib.Path = "results",
    seeds: int | None = None,
    steps: int | None = None,
    quick: bool = False,
    progress: Progress | None = None,
    wait: bool = False,
    log: Callable[[str], Any] = print,
    warn: Callable[[str], Any] = _warn,
) -> str:
    """Runs one experiment over ``seeds`` seeds and returns its markdown section.

    Results go to ``out/NAME/``: ``seedN.json`` per finished seed, ``NAME.png``,
    ``summary.json`` and ``section.md``, each written whole or not at all. ``seeds``
    defaults to the experiment's own (``Experiment.seeds``: 5, or 10 where a claim of no
    difference is tested and a seed is cheap), or 1 with ``quick``. The run holds the lock
    of ``out`` (:func:`~rectify_jax.experiments._common.lock_folder`; ``wait`` waits for another
    run that holds it instead of raising ``FolderLocked``). Each seed file records its
    provenance (:func:`rectify_jax._src.provenance.provenance`: the commit, the hash of
    the package's sources, the machine and the library versions). A ``seedN.json`` is
    reused only if it is this experiment's result of seed N with this configuration,
    computed by this code (the same source hash); any other (another seed's,
    configuration's, experiment's or version's, an earlier format, an empty, truncated or
    malformed file) is named through ``warn`` and its seed is rerun.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"reproduce: unknown experiment {name!r}; choose from {list(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    seeds = (1 if quick else exp.seeds) if seeds is None else seeds
    if seeds < 1:
        raise ValueError(f"reproduce: seeds must be >= 1, got {seeds}")
    config = dict(exp.quick if quick else exp.full)
    if steps is not None:
        config["steps"] = int(steps)
    folder = pathlib.Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    with _common.lock_folder(out, wait=wait):
        _common.remove_stale_temporaries(out)
        _common.remove_stale_temporaries(folder)
        return _run(exp, folder, config, seeds, quick, progress or Progress(False), log, warn)


def _run(exp: Experiment, folder, config, seeds, quick, progress, log, warn) -> str:
    code = provenance.code()
    tuning = None
    if exp.tuned:
        tuning = _tuned(exp, folder, config, code, progress, log, warn)
        config = {**config, "lrs": {arm: [lr] for arm, lr in tuning["chosen"].items()}}
    as_saved = json.loads(json.dumps(_common.to_jsonable(config)))  # tuples read back as lists
    results, machines = [], []
    seconds = tuning["seconds"] if tuning else 0.0  # tuning counts in the wall time
    for seed in range(seeds):
        path = folder / f"seed{seed}.json"
        if path.exists():
            try:
                saved = _finished_seed(path, exp.name, seed, as_saved, code["source"])
            except ValueError as e:
                warn(
                    f"reproduce: {path} is not a result of seed {seed} with this configuration "
                    f"({e}); rerunning seed {seed}"
                )
            else:
                log(f"{exp.name}: seed {seed} already done ({path}), reusing it")
                results.append(saved["result"])
                seconds += saved["seconds"]
                machines.append(saved["provenance"]["machine"])
                continue
        t0 = time.perf_counter()
        result = exp.run_seed(config, seed, progress)
        elapsed = time.perf_counter() - t0
        machine = provenance.machine()
        saved = {
            "format": SEED_FORMAT,
            "experiment": exp.name,
            "seed": seed,
            "config": config,
            "provenance": {"code": code, "machine": machine},
            "seconds": elapsed,
            "result": result,
        }
        _common.write_json(path, saved)
        results.append(_common.to_jsonable(result))
        seconds += elapsed
        machines.append(machine)
    figure = folder / f"{exp.name}.png"
    rep = _common.write_atomic(figure, lambda tmp: exp.report(results, config, str(tmp)))
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
        "tuning": tuning,
        "code": code,
        "machine": "; ".join(dict.fromkeys(provenance.describe(m) for m in machines)),
    }
    section = _section(exp, rep, summary, folder, figure)
    _common.write_atomic(folder / "section.md", section)
    _common.write_json(folder / "summary.json", summary)  # last: it marks the run finished
    return section


TUNING_FORMAT = 1


def _tuned(exp: Experiment, folder, config, code, progress, log, warn) -> dict:
    """The learning rates of ``exp``'s arms, tuned on seeds ``0..tune_seeds-1`` at
    ``tune_steps`` steps (:func:`~rectify_jax.experiments._common.tune_lrs`); kept in
    ``tuning.json`` and reused by a rerun of the same configuration with the same code."""
    path = folder / "tuning.json"
    # everything but the runs' length decides the tuning (it runs tune_steps steps)
    config = {k: v for k, v in config.items() if k != "steps"}
    as_saved = json.loads(json.dumps(_common.to_jsonable(config)))
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            same = (
                saved.get("format") == TUNING_FORMAT
                and saved.get("config") == as_saved
                and saved.get("code", {}).get("source") == code["source"]
            )
        except (OSError, ValueError, AttributeError) as e:
            warn(f"reproduce: {path} cannot be read ({e}); tuning again")
        else:
            if same:
                log(f"{exp.name}: learning rates already tuned ({path}), reusing them")
                tuning = saved["tuning"]
                tuning["chosen"] = {a: float(lr) for a, lr in tuning["chosen"].items()}
                return tuning
            warn(f"reproduce: {path} is from another configuration or code; tuning again")
    t0 = time.perf_counter()
    short = {**config, "steps": config["tune_steps"]}
    tuning = _common.tune_lrs(
        lambda lrs, seed: exp.run_seed({**short, "lrs": lrs}, seed, progress)["metrics"],
        config["lrs"],
        range(config["tune_seeds"]),
        log=lambda m: log(f"{exp.name}: {m}"),
        widen=config.get("tune_widen", _common.WIDEN),
    )
    tuning = {
        **tuning,
        "start": list(config["lrs"]),
        "seeds": config["tune_seeds"],
        "steps": config["tune_steps"],
        "scores": {a: {repr(lr): v for lr, v in s.items()} for a, s in tuning["scores"].items()},
        "seconds": time.perf_counter() - t0,
    }
    saved = {"format": TUNING_FORMAT, "config": config, "code": code, "tuning": tuning}
    _common.write_json(path, saved)
    return json.loads(json.dumps(_common.to_jsonable(tuning)))


def tuning_text(tuning: dict, steps: int) -> str:
    """The section's paragraph on how the learning rates were chosen."""
    grid = ", ".join(f"{lr:.3g}" for lr in tuning["grid"])
    widened = "" if len(tuning["grid"]) == len(tuning["start"]) else " (widened past an edge)"
    chosen = ", ".join(
        f"{arm} {lr:.3g}{' (edge)' if tuning['edge'][arm] else ''}"
        for arm, lr in tuning["chosen"].items()
    )
    edges = [arm for arm, at in tuning["edge"].items() if at]
    caveat = " Every chosen rate is interior to the grid."
    if edges:
        caveat = f" At an edge of the grid: {', '.join(edges)}; the best may lie beyond."
    last = tuning["seeds"] - 1
    return (
        f"**Learning rates**: tuned per arm before the runs, on seed{'s 0-' if last else ' '}"
        f"{last} at {tuning['steps']} steps (the runs have {steps}), by the mean validation "
        f"score over those seeds, on the grid {grid}{widened}; every seed then runs at its "
        f"arm's rate: {chosen}.{caveat}"
    )


def _finished_seed(path: pathlib.Path, name: str, seed: int, config: dict, source: str) -> dict:
    """The saved result in ``path`` if it is ``name``'s seed ``seed`` with ``config``,
    computed by the code whose source hash is ``source``.

    Raises ``ValueError`` saying why not, in a few words.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"it cannot be read: {getattr(e, 'strerror', None) or e}") from None
    if not text.strip():
        raise ValueError("it is empty")
    try:
        saved = json.loads(text)
    except ValueError as e:
        raise ValueError(f"it is not valid JSON, truncated or corrupt: {e}") from None
    if not isinstance(saved, dict):
        raise ValueError("it holds no JSON object")
    missing = [f for f in SEED_FIELDS if f not in saved]
    if missing:
        raise ValueError(f"it lacks the field{'s' * (len(missing) > 1)} {', '.join(missing)}")
    if saved["format"] != SEED_FORMAT:
        raise ValueError(f"it is in format {saved['format']!r}; this version reads {SEED_FORMAT}")
    if saved["experiment"] != name:
        raise ValueError(f"it is a result of the experiment {saved['experiment']!r}")
    if saved["seed"] != seed or isinstance(saved["seed"], bool):
        raise ValueError(f"its seed field is {saved['seed']!r}")
    if saved["config"] != config:
        theirs = saved["config"] if isinstance(saved["config"], dict) else {}
        keys = sorted(k for k in {*config, *theirs} if config.get(k) != theirs.get(k))
        shown = ", ".join(f"{k} {theirs.get(k)!r} there, {config.get(k)!r} here" for k in keys[:3])
        raise ValueError(f"its configuration differs: {shown}{', ...' * (len(keys) > 3)}")
    code = saved["provenance"].get("code") if isinstance(saved["provenance"], dict) else None
    if not isinstance(code, dict) or not isinstance(saved["provenance"].get("machine"), dict):
        raise ValueError("its provenance field is not this version's")
    if code.get("source") != source:
        raise ValueError(f"it was computed by other code ({_describe_code(code)})")
    seconds, result = saved["seconds"], saved["result"]
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ValueError(f"its seconds field is {seconds!r}, not a time")
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        raise ValueError("its result holds no metrics")
    return saved


def _describe_code(code: dict) -> str:
    """``commit 1a2b3c4d5e6f (with local changes), sources 0f1e2d3c4b5a``, in a few words."""
    commit = code.get("commit")
    where = "no commit recorded" if commit is None else f"commit {str(commit)[:12]}"
    if code.get("dirty"):
        where += " with local changes"
    return f"{where}, sources {str(code.get('source'))[:12]}"


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
    if summary.get("tuning"):
        lines += [tuning_text(summary["tuning"], summary["config"]["steps"]), ""]
    lines += [rep.table, ""]
    if rep.extra:
        lines += [rep.extra, ""]
    if rep.figure:
        rel = pathlib.Path(folder.name) / figure.name
        lines += [f"![{exp.title}]({rel.as_posix()})", ""]
    lines += [
        f"**Verdicts** at this budget ({summary['config']['steps']} training steps, not "
        "trained to a plateau; t-test over seeds, n - 1 degrees of freedom; Holm-corrected within "
        "this experiment; *held* / *did not hold here* at adjusted p < 0.05; else "
        "*equivalent within ±m* where a TOST equivalence test with the margin m, fixed before "
        "the run, passes at adjusted p < 0.05; else *inconclusive*)",
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
            if v["verdict"] == "equivalent":
                line += f"; within ±{t['margin']:g}, TOST p (Holm) {_common._p(t['tost_p_holm'])}"
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
        "*did not hold here* (adjusted p < 0.05 against it), *equivalent within ±m* (no "
        "such difference, and two one-sided t-tests (TOST) show the mean effect lies within "
        "a margin m stated before the run, adjusted p < 0.05), *inconclusive* (otherwise: "
        "the data neither show the effect nor rule it out); "
        f"runs with fewer than {_common.MIN_SEEDS} seeds are not labelled. A diverged or "
        "stuck seed counts as a failure of its arm.\n\n" + warning
    )


def compose_report(out: str | pathlib.Path, *, warn: Callable[[str], Any] = _warn) -> str:
    """The whole report from every experiment finished in ``out`` by this code (registry
    order).

    Running one experiment into a folder that holds others replaces only its own
    section; the header says which experiments, sizes and seeds the report holds and
    which code made them. A report never mixes versions of the code: an experiment
    finished by other code (another source hash; every seed of an experiment has its
    experiment's) is named through ``warn`` with its commit and left out, and so is one
    whose ``summary.json`` or ``section.md`` cannot be read.
    """
    out = pathlib.Path(out)
    source = provenance.source_hash()
    summaries, sections = {}, []
    for n in EXPERIMENTS:
        if not (out / n / "summary.json").exists():
            continue
        try:
            summary = json.loads((out / n / "summary.json").read_text(encoding="utf-8"))
            section = (out / n / "section.md").read_text(encoding="utf-8")
            if not isinstance(summary, dict) or not {"seeds", "quick", "seconds", "code"} <= set(
                summary
            ):
                raise ValueError("it is not a summary of this version")
        except (OSError, ValueError) as e:
            warn(
                f"reproduce: the results of {n} in {out / n} cannot be read ({e}); its section "
                f"is left out of the report (rerun `rectify-jax reproduce {n}` to redo them)"
            )
            continue
        if summary["code"].get("source") != source:
            warn(
                f"reproduce: {out / n / 'summary.json'} and its seed files were computed by "
                f"other code ({_describe_code(summary['code'])}); a report holds one "
                f"version's results, so {n} is left out (rerun `rectify-jax reproduce {n}` "
                "to redo it with this code)"
            )
            continue
        summaries[n] = summary
        sections.append(section)
    names = list(summaries)
    if not names:
        raise FileNotFoundError(f"compose_report: no finished experiment in {out}")
    seconds = sum(sm["seconds"] for sm in summaries.values())
    machines = "; ".join(dict.fromkeys(sm["machine"] for sm in summaries.values()))
    code = next(iter(summaries.values()))["code"]
    return (
        report_header(summaries)
        + f"Every result comes from one version of the code: {_describe_code(code)} "
        "(recorded in each seed file with its machine and library versions). "
        f"The runs took {seconds / 60:.1f} min of wall time in all ({machines}).\n\n"
        + overview(out, names)
        + "\n"
        + ledger.table(summaries)
        + "\n"
        + "\n".join(sections)
        + f"\nTotal wall time of the runs: {seconds / 60:.1f} min (seeds reused from an "
        "earlier run count with their original time).\n"
    )
