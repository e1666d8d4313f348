"""Laptop-scale reproductions of the source papers' claims (SPEC §4).

``rectify-jax reproduce NAME|all`` runs them; each writes per-seed JSON (as soon as a
seed finishes, so an interrupted run keeps them and a rerun skips them), a figure,
and a markdown section with the original claim, the numbers and a verdict.
"""

from __future__ import annotations

import json
import pathlib
import time

from rectify_jax.experiments import _common
from rectify_jax.experiments._common import Experiment, Progress, Report

__all__ = ["EXPERIMENTS", "Experiment", "Progress", "Report", "report_header", "reproduce"]


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
        ]
    }


EXPERIMENTS = _registry()


def reproduce(
    name: str,
    *,
    out: str | pathlib.Path = "results",
    seeds: int = 3,
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
    section = _section(exp, rep, seeds, seconds, folder, figure, config)
    (folder / "section.md").write_text(section)
    _common.write_json(
        folder / "summary.json",
        {
            "config": config,
            "seeds": seeds,
            "seconds": seconds,
            "setup": rep.setup,
            "verdicts": [{"claim": a, "verdict": b, "evidence": e} for a, b, e in rep.verdicts],
        },
    )
    return section


def _section(
    exp: Experiment, rep: Report, seeds: int, seconds: float, folder, figure, config
) -> str:
    lines = [
        f"## {exp.title}",
        "",
        f"**Original claim** ({exp.source}): {exp.claim}",
        "",
        f"**Run here**: {rep.setup} Seeds 0..{seeds - 1}; mean ± std over seeds. "
        f"Wall time {seconds / 60:.1f} min on {_common.machine()}.",
        "",
        rep.table,
        "",
    ]
    if rep.figure:
        rel = pathlib.Path(folder.name) / figure.name
        lines += [f"![{exp.title}]({rel.as_posix()})", ""]
    lines += ["**Verdicts**", ""]
    lines += [f"- {claim}: **{v}** ({evidence})" for claim, v, evidence in rep.verdicts]
    return "\n".join(lines) + "\n"


def report_header(quick: bool) -> str:
    size = (
        "the `--quick` configuration (tiny: checks the pipeline, not the science)"
        if quick
        else "the full laptop-scale configuration"
    )
    return (
        "# rectify_jax: reproductions\n\n"
        f"Produced by `rectify-jax reproduce all` with {size}. Each section states the "
        "source's claim, what was run here, the numbers over seeds, a figure, and a plain "
        "verdict: *held* when the per-seed differences support the claim by more than two "
        "standard errors, *did not hold here* when they contradict it by as much, *mixed* "
        "otherwise.\n\n"
    )
