"""Shared machinery of the experiments: training loop, progress, verdicts, result files."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One reproduced claim.

    Attributes:
      name: CLI name.
      title: heading of its report section.
      claim: the original claim, as the source paper states it.
      source: the paper.
      run_seed: ``(config, seed, progress) -> result`` (a JSON-able dict with
        ``"metrics": {model: {metric: value}}`` and optional ``"curves"``).
      report: ``(results, config, figure_path) -> Report`` from all seeds' results.
      full, quick: the two configurations (``steps`` is the training length).
    """

    name: str
    title: str
    claim: str
    source: str
    run_seed: Callable[[dict, int, Any], dict]
    report: Callable[[list[dict], dict, str], Report]
    full: dict
    quick: dict


@dataclasses.dataclass
class Report:
    """What an experiment's section says: what ran, the numbers, the verdicts."""

    setup: str
    table: str
    verdicts: list[tuple[str, str, str]]  # (sub-claim, verdict, evidence)
    figure: str | None = None


# --------------------------------------------------------------------------------------
# Training


class Progress:
    """A progress bar per training run showing the running loss (rich), or nothing."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._progress = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                TextColumn("{task.description:<42}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:>8}"),
                TimeElapsedColumn(),
            )

    def __enter__(self):
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def task(self, label: str, total: int):
        if self._progress is None:
            return lambda step, loss: None
        task = self._progress.add_task(label, total=total, loss="-")

        def update(step, loss):
            self._progress.update(task, completed=step, loss=f"{loss:.4f}")

        return update


def train(
    loss_fn,
    params,
    tx,
    steps: int,
    key,
    *,
    data=None,
    progress=None,
    label="",
    record_every: int = 10,
    hook=None,
):
    """Runs ``steps`` jitted optimiser steps of ``loss_fn(params, data, key, step)``.

    ``hook(params, step)`` (traced) may replace parameters before each step, e.g. to
    set an annealed noise scale. Returns the final parameters and the history
    ``[[step, loss, seconds], ...]`` recorded every ``record_every`` steps (seconds
    exclude the first step's compilation).
    """
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, i, key, data):
        if hook is not None:
            params = hook(params, i)
        loss, grads = jax.value_and_grad(loss_fn)(params, data, key, i)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    update = (progress or Progress(False)).task(label, steps)
    history, t0 = [], None
    for i in range(steps):
        params, opt_state, loss = step(params, opt_state, i, jax.random.fold_in(key, i), data)
        if t0 is None:
            loss.block_until_ready()
            t0 = time.perf_counter()
        if i % record_every == 0 or i == steps - 1:
            value = float(loss)
            history.append([i, value, time.perf_counter() - t0])
            update(i + 1, value)
    if hook is not None:
        params = hook(params, steps)
    return params, history


def clip_adam(lr: float, clip: float | None):
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr)) if clip else optax.adam(lr)


# --------------------------------------------------------------------------------------
# Statistics and verdicts


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def fmt(values: Sequence[float], digits: int = 3) -> str:
    m, s = mean_std(values)
    if not math.isfinite(m):
        return "diverged"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def verdict(support: Sequence[float]) -> str:
    """From per-seed differences where a positive value supports the claim.

    "held" when the mean difference is positive by more than two standard errors,
    "did not hold here" when it is negative by more than two, "mixed" otherwise
    (including when any seed diverged).
    """
    a = np.asarray(support, np.float64)
    if not np.all(np.isfinite(a)):
        return "mixed"
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else 0.0
    if a.mean() > 2 * se and a.mean() > 0:
        return "held"
    if a.mean() < -2 * se and a.mean() < 0:
        return "did not hold here"
    return "mixed"


def metric(results: list[dict], model: str, name: str) -> list[float]:
    return [float(r["metrics"][model][name]) for r in results]


def compare(
    results: list[dict],
    claim: str,
    a: str,
    b: str,
    name: str,
    *,
    higher_is_better: bool = True,
    digits: int = 3,
) -> tuple[str, str, str]:
    """The verdict on "model ``a`` beats model ``b`` on metric ``name``", seed by seed."""
    diff = [x - y for x, y in zip(metric(results, a, name), metric(results, b, name), strict=True)]
    support = diff if higher_is_better else [-d for d in diff]
    return claim, verdict(support), f"{a} minus {b}: {fmt(diff, digits)}"


def threshold(
    results: list[dict],
    claim: str,
    model: str,
    name: str,
    value: float,
    *,
    higher_is_better: bool = True,
    digits: int = 3,
) -> tuple[str, str, str]:
    """The verdict on "model's metric is beyond ``value``", seed by seed."""
    values = metric(results, model, name)
    support = [v - value if higher_is_better else value - v for v in values]
    return claim, verdict(support), f"{name} {fmt(values, digits)}"


def table(
    results: list[dict], models: Sequence[str], columns: Sequence[tuple[str, str]], digits: int = 3
) -> str:
    """A markdown table, one row per model, ``mean ± std over seeds`` per column."""
    head = "| model | " + " | ".join(title for _, title in columns) + " |"
    rule = "|---" * (len(columns) + 1) + "|"
    rows = [
        f"| {m} | " + " | ".join(fmt(metric(results, m, key), digits) for key, _ in columns) + " |"
        for m in models
    ]
    return "\n".join([head, rule, *rows])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {cpu}, {os.cpu_count()} cores, jax {jax.__version__} "
        f"on {jax.devices()[0].platform}, Python {platform.python_version()}"
    )


def to_jsonable(tree):
    return jax.tree.map(lambda x: np.asarray(x).tolist() if hasattr(x, "shape") else x, tree)


def write_json(path, obj) -> None:
    """Writes atomically, so an interrupted run never leaves a half-written result."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(to_jsonable(obj), f, separators=(",", ":"))
    os.replace(tmp, path)


def cross_entropy(logits, labels):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
