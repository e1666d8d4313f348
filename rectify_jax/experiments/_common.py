"""Shared machinery of the experiments: training loop, statistics, verdicts, result files.

Standards every experiment follows:

* **Controls.** The arms of a comparison are built from one implementation and, for a
  given seed, start from the same parameters and see the same batches; they differ only
  in the mechanism the claim is about.
* **Statistics.** A claim is judged by a t-test over seeds on per-seed values (a paired
  difference between two arms, or an arm's margin over a fixed level), with n - 1
  degrees of freedom, a 95 % interval and Holm's correction across the claims of one
  experiment. Labels: *held* (Holm-adjusted p < 0.05, in the claimed direction), *did
  not hold here* (p < 0.05, against it), *inconclusive* (otherwise).
* **Failures.** A diverged or stuck seed is a failure of its arm: for the tests its value
  is replaced by the arm's failure level (e.g. the loss of a constant predictor), and
  tables show it as ``diverged (k/n)``.
* **Quick runs** check the pipeline only: no labels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import os
import pathlib
import re
import secrets
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks (see lock_folder)
    fcntl = None  # type: ignore[assignment]

ALPHA = 0.05
MIN_SEEDS = 5
"""Fewer seeds than this give numbers but no verdict labels."""
ACCURACY_MARGIN = 0.01
"""The equivalence margin of accuracy comparisons: one accuracy point, fixed before any run
(differences below it are not what the papers argue about)."""
NATS_MARGIN = 0.01
"""The equivalence margin of language-model comparisons: 0.01 nats per byte, fixed before
any run (about 1 % in perplexity per byte)."""
LABELS = ("held", "did not hold here", "equivalent", "inconclusive")
"""The verdicts: *held* / *did not hold here* (the difference test, Holm-adjusted p < 0.05,
in or against the claimed direction), *equivalent* (no such difference, and a TOST
equivalence test with the claim's margin passes: the effect is within +-margin), else
*inconclusive*."""


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One reproduced claim.

    Attributes:
      name: CLI name.
      title: heading of its report section.
      claim: the original claim, as the source paper states it.
      source: the paper.
      run_seed: ``(config, seed, progress) -> result`` (a JSON-able dict with
        ``"metrics": {arm: {metric: value}}`` and optional curves).
      report: ``(results, config, figure_path) -> Report`` from all seeds' results.
      full, quick: the two configurations.
      tuned: the learning rates are tuned before the seeds run (:func:`tune_lrs`): the
        configuration's ``lrs`` is the starting grid (at least 4 points, log-spaced),
        ``tune_seeds`` and ``tune_steps`` the tuning budget. ``run_seed`` then takes
        ``config["lrs"]`` as a list (every arm tries every rate; ``metrics[arm]`` holds
        ``valid_by_lr``, its validation score per rate, lower is better) or as a dict
        ``arm -> [rate]`` (:func:`lrs_for`).
      seeds: how many seeds a full run has: 5, or 10 where a claim of no difference is
        tested and a seed is cheap (an equivalence test needs the power).
    """

    name: str
    title: str
    claim: str
    source: str
    run_seed: Callable[[dict, int, Any], dict]
    report: Callable[[list[dict], dict, str], Report]
    full: dict
    quick: dict
    tuned: bool = False
    seeds: int = 5


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim judged by a t-test over seeds.

    Attributes:
      text: the claim, in words.
      support: one value per seed, positive where the seed supports the claim (a paired
        difference oriented so, or a margin over a fixed level).
      evidence: what ``support`` is, e.g. ``"tanh minus relu, test accuracy"``.
      test: ``"paired t-test"`` or ``"one-sample t-test"``.
      margin: the equivalence margin, in ``support``'s units, fixed before the run (the
        smallest effect that would matter, e.g. 0.01 of accuracy): with it, a claim whose
        difference test finds nothing is *equivalent* if a TOST shows the mean effect is
        within +-margin, else *inconclusive*. None: no equivalence test.
    """

    text: str
    support: tuple[float, ...]
    evidence: str
    test: str = "paired t-test"
    margin: float | None = None


@dataclasses.dataclass
class Report:
    """What an experiment's section says: what ran, the numbers, the claims to judge."""

    setup: str
    table: str
    claims: list[Claim]
    arms: list[str]
    levels: dict[str, float] = dataclasses.field(default_factory=dict)
    figure: str | None = None
    extra: str = ""  # further markdown (e.g. an attribution table), after the main table
    findings: list[str] = dataclasses.field(default_factory=list)  # one-line plain findings


# --------------------------------------------------------------------------------------
# Training


class Progress:
    """A progress bar per training run showing the running loss (rich), or nothing.

    On a terminal the bars are live; when standard output is not a terminal (a log file,
    a pipe, CI), each run prints one line when it finishes instead: its label, its steps,
    its last loss and its time, never cut to a terminal's width.
    """

    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self._progress = None
        self._stream = stream if stream is not None else sys.stdout
        self._lines = enabled and not self._stream.isatty()
        if enabled and not self._lines:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                TextColumn("{task.description:<46}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:>8}"),
                TimeElapsedColumn(),
                console=Console(file=self._stream),
            )

    def __enter__(self):
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def task(self, label: str, total: int):
        if self._lines:
            start = time.perf_counter()

            def line(step, loss):
                if step >= total:
                    seconds = time.perf_counter() - start
                    print(
                        f"{label}: {step} steps, loss {loss:.4f}, {seconds:.1f} s",
                        file=self._stream,
                        flush=True,
                    )

            return line
        if self._progress is None:
            return lambda step, loss: None
        progress = self._progress
        task = progress.add_task(label, total=total, loss="-")

        def update(step, loss):
            progress.update(task, completed=step, loss=f"{loss:.4f}")

        return update


@dataclasses.dataclass
class Trained:
    """The outcome of :func:`train`.

    Attributes:
      params: the final parameters (with a leading arm axis when ``hparams`` was given).
      history: ``[[step, loss, seconds], ...]`` once per chunk: ``loss`` is the mean
        training loss over the chunk's steps (a list, one per arm, with ``hparams``),
        ``seconds`` the training time so far, compilation and checkpoints excluded.
      checkpoints: ``[[step, value], ...]`` from ``on_checkpoint``.
      seconds_per_step: runs one more chunk from the final state and returns its time
        per step (for side-by-side timing of arms, interleaved by the caller).
    """

    params: Any
    history: list
    checkpoints: list
    seconds_per_step: Callable[[], float]


def train(
    loss_fn,
    params,
    tx,
    steps: int,
    key,
    *,
    data=None,
    hparams: dict | None = None,
    chunk: int = 10,
    checkpoint_every: int | None = None,
    on_checkpoint=None,
    progress=None,
    label: str = "",
) -> Trained:
    """Runs ``steps`` optimiser steps of ``loss_fn(params, data, key, step, hparams)``.

    Steps run ``chunk`` at a time inside one compiled ``lax.scan`` (Python dispatch once
    per chunk). Step ``i`` gets ``jax.random.fold_in(key, i)``: runs that share ``key``
    see the same batches, whatever else differs.

    With ``hparams`` (a dict of arrays with a leading arm axis), ``params`` carries the
    same leading axis and every arm trains in one ``jax.vmap``-ed program on the same
    batches; ``tx`` is then a function ``hparams -> optax.GradientTransformation`` (so
    that, e.g., the learning rate or the clipping threshold differ between arms).
    """
    make_tx = (lambda hp: tx) if isinstance(tx, optax.GradientTransformation) else tx

    def one_step(params, opt_state, hp, i, key, data):
        loss, grads = jax.value_and_grad(loss_fn)(params, data, jax.random.fold_in(key, i), i, hp)
        updates, opt_state = make_tx(hp).update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def init(params, hp):
        return make_tx(hp).init(params)

    if hparams is not None:
        one_step = jax.vmap(one_step, in_axes=(0, 0, 0, None, None, None))
        init = jax.vmap(init)

    @jax.jit
    def run_chunk(params, opt_state, hp, steps_, key, data):
        def body(carry, i):
            p, o = carry
            p, o, loss = one_step(p, o, hp, i, key, data)
            return (p, o), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), steps_)
        return params, opt_state, losses

    opt_state = jax.jit(init)(params, hparams)
    update = (progress or Progress(False)).task(label, steps)
    history, checkpoints = [], []
    clock, t_mark = 0.0, None
    done = 0
    while done < steps:
        n = min(chunk, steps - done)
        steps_ = jnp.arange(done, done + n)
        t = time.perf_counter()
        params, opt_state, losses = run_chunk(params, opt_state, hparams, steps_, key, data)
        losses = np.asarray(losses, np.float64)  # waits for the chunk
        if t_mark is None:
            t_mark = time.perf_counter()  # the first chunk includes compilation: not timed
        else:
            clock += time.perf_counter() - t
        done += n
        mean = losses.mean(axis=0)
        history.append([done, mean.tolist(), clock])
        # several runs at once (vmapped rates): show their mean, NaN when every one diverged
        shown = mean if not mean.ndim or np.isnan(mean).all() else np.nanmean(mean)
        update(done, float(np.mean(shown)))
        every = checkpoint_every or steps
        if on_checkpoint is not None and (done % every == 0 or done == steps):
            checkpoints.append([done, on_checkpoint(params)])
    # Timing starts after the first chunk: add its share so ``seconds`` covers all steps.
    if len(history) > 1:
        per_step = clock / (done - history[0][0])
        for h in history:
            h[2] += per_step * history[0][0]

    def seconds_per_step() -> float:
        steps_ = jnp.arange(chunk)
        t = time.perf_counter()
        jax.block_until_ready(run_chunk(params, opt_state, hparams, steps_, key, data))
        return (time.perf_counter() - t) / chunk

    return Trained(params, history, checkpoints, seconds_per_step)


def interleaved_step_times(timers: dict[str, Callable[[], float]], rounds: int = 3) -> dict:
    """Seconds per training step of each arm, timed in turn ``rounds`` times (minimum kept).

    Timing the arms side by side, interleaved, keeps a busy machine from biasing one arm.
    """
    best = {name: math.inf for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer())
    return best


K = TypeVar("K", bound=Hashable)


def best_of(scores: Mapping[K, float]) -> K:
    """The key with the lowest finite score (a diverged run's NaN never wins; the first key
    if every run diverged): how an arm's learning rate is chosen on held-out data."""
    return min(scores, key=lambda k: scores[k] if math.isfinite(scores[k]) else math.inf)


def steps_to(history, level: float, arm: int | None = None) -> float:
    """First recorded step whose chunk-mean training loss is below ``level`` (NaN if never);
    ``arm`` picks one run of a vmapped history."""
    for step, losses, _ in history:
        if (losses if arm is None else losses[arm]) < level:
            return float(step)
    return math.nan


def lrs_for(config: dict, arm: str) -> list[float]:
    """The learning rates ``arm`` trains with: the shared grid, or the arm's own list."""
    lrs = config["lrs"]
    return list(lrs[arm]) if isinstance(lrs, dict) else list(lrs)


QUICK_TUNING = {"tune_seeds": 1, "tune_steps": 10, "tune_widen": 0}
"""The tuning of every quick configuration: a pipeline check, one seed, no widening (the
widening is tested on its own)."""
MIN_GRID = 4
"""The fewest learning rates a tuning grid starts with."""
WIDEN = 4
"""How many times a tuning grid is extended past an edge where the best rate lies."""


def tune_lrs(
    run: Callable[[list[float], int], dict],
    grid: Sequence[float],
    seeds: Sequence[int],
    log: Callable[[str], Any] = print,
    widen: int = WIDEN,
) -> dict:
    """Each arm's learning rate: the best mean validation score over ``seeds``, on a grid
    widened until the best rate is interior.

    ``run(lrs, seed)`` trains every arm at every rate of ``lrs`` (a short budget) and
    returns its ``metrics``, where ``metrics[arm]["valid_by_lr"]`` is the validation score
    of each rate (lower is better; NaN for a diverged run); entries without it (reference
    levels) are not tuned. Where an arm's best rate is the
    grid's lowest or highest, the grid gets one more point past that edge (the grid's own
    ratio) and only that rate is trained, up to ``widen`` times (:data:`WIDEN`). Returns
    ``{"grid": [...], "scores": {arm: {lr: [per seed]}}, "chosen": {arm: lr},
    "edge": {arm: bool}}``; ``edge`` marks an arm whose best rate is still at an edge.
    """
    grid = sorted(float(g) for g in grid)
    if len(grid) < MIN_GRID:
        raise ValueError(f"tune_lrs: a grid needs at least {MIN_GRID} rates, got {grid}")
    ratio = grid[1] / grid[0]
    scores: dict[str, dict[float, list[float]]] = {}

    def train(lrs: list[float]) -> None:
        for seed in seeds:
            metrics = run(lrs, seed)
            for arm, m in metrics.items():
                if "valid_by_lr" not in m:  # a reference level (e.g. a Bayes classifier)
                    continue
                for lr, score in zip(lrs, m["valid_by_lr"], strict=True):
                    scores.setdefault(arm, {}).setdefault(lr, []).append(float(score))

    def best(arm: str) -> float:
        means = {lr: float(np.mean(v)) for lr, v in scores[arm].items()}
        return best_of(means)

    train(grid)
    for _ in range(widen):
        low = any(best(a) == min(grid) for a in scores)
        high = any(best(a) == max(grid) for a in scores)
        added = ([min(grid) / ratio] if low else []) + ([max(grid) * ratio] if high else [])
        if not added:
            break
        log(f"tuning: widening the grid by {', '.join(f'{lr:.3g}' for lr in added)}")
        grid = sorted(grid + added)
        train(added)
    chosen = {arm: best(arm) for arm in scores}
    edge = {arm: chosen[arm] in (min(grid), max(grid)) for arm in scores}
    return {"grid": grid, "scores": scores, "chosen": chosen, "edge": edge}


def adam(lr, clip=None):
    """Adam, optionally after clipping the gradient's global norm (``clip`` may be traced)."""
    return optimizer("adam", lr, clip)


def optimizer(name: str, lr, clip=None):
    """``"adam"`` or ``"sgd"`` (plain), optionally after clipping the gradient's global norm.

    ``lr`` and ``clip`` may be traced (per-arm values under ``jax.vmap``); ``clip=inf``
    never clips.
    """
    tx = {"adam": optax.adam, "sgd": optax.sgd}[name](lr)
    return tx if clip is None else optax.chain(optax.clip_by_global_norm(clip), tx)


def stack(trees: Sequence[Any]):
    """Stacks pytrees along a new leading (arm) axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree, n: int) -> list:
    return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n)]


@dataclasses.dataclass
class AtBestRate:
    """The outcome of :func:`train_at_rates`: one run per learning rate, the best kept.

    Attributes:
      run: the vmapped run (one arm per rate).
      params: the parameters trained at the best rate.
      best: the best rate's index in the grid.
      lr: the best rate (as trained: float32).
      valid: the validation score of every rate (lower is better; NaN when diverged).
    """

    run: Trained
    params: Any
    best: int
    lr: float
    valid: list[float]

    def curve(self) -> list:
        """The best rate's training curve: ``[[step, loss, seconds], ...]``."""
        return [[h[0], h[1][self.best], h[2]] for h in self.run.history]

    def train_loss(self) -> float:
        """The best rate's mean training loss over the last 20 % of the run."""
        return tail_mean(self.run.history, arm=self.best)


def train_at_rates(
    loss_fn,
    params,
    make_tx: Callable[[Any], Any],
    lrs: Sequence[float],
    steps: int,
    key,
    score: Callable[[Any], Any],
    **train_kwargs,
) -> AtBestRate:
    """Trains ``params`` at every learning rate of ``lrs`` in one vmapped run and keeps the
    rate whose parameters ``score`` lowest (:func:`best_of`).

    ``make_tx(lr)`` is the optimiser (``lr`` traced, one per arm); ``score(params)`` is a
    validation loss of one rate's parameters; ``train_kwargs`` go to :func:`train`
    (``data``, ``progress``, ``label``).
    """
    rates = jnp.asarray(lrs, jnp.float32)
    run = train(
        loss_fn,
        stack([params] * len(lrs)),
        lambda hp: make_tx(hp["lr"]),
        steps,
        key,
        hparams={"lr": rates},
        **train_kwargs,
    )
    per_lr = unstack(run.params, len(lrs))
    valid = [float(score(p)) for p in per_lr]
    best = best_of(dict(enumerate(valid)))
    return AtBestRate(run, per_lr[best], best, float(rates[best]), valid)


def cross_entropy(logits, labels):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def tail_mean(history: list, fraction: float = 0.2, arm: int | None = None) -> float:
    """Mean training loss over the last ``fraction`` of the recorded chunks."""
    losses = np.asarray([h[1] if arm is None else h[1][arm] for h in history], np.float64)
    k = max(1, int(round(fraction * len(losses))))
    return float(losses[-k:].mean())


# --------------------------------------------------------------------------------------
# Statistics and verdicts


def t_test(support: Sequence[float]) -> dict:
    """Two-sided one-sample t-test of ``mean(support) == 0`` (a paired test on differences).

    Returns ``n``, ``mean_difference``, ``ci95`` (t interval), ``t`` and ``p`` (n - 1
    degrees of freedom). Values must be finite (replace failures before calling).
    """
    from scipy import stats

    a = np.asarray(support, np.float64)
    n = len(a)
    mean = float(a.mean()) if n else math.nan
    if n < 2:
        return {
            "n": n,
            "mean_difference": mean,
            "ci95": [math.nan, math.nan],
            "t": math.nan,
            "p": math.nan,
        }
    se = float(a.std(ddof=1)) / math.sqrt(n)
    q = float(stats.t.ppf(0.975, n - 1))
    if se == 0.0:  # every seed gave the same value
        t, p = (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    else:
        t = mean / se
        p = float(2 * stats.t.sf(abs(t), n - 1))
    return {"n": n, "mean_difference": mean, "ci95": [mean - q * se, mean + q * se], "t": t, "p": p}


def tost(support: Sequence[float], margin: float) -> float:
    """The p-value of the two one-sided t-tests (TOST) of equivalence: that the mean of
    ``support`` lies within ``(-margin, margin)``.

    It is the larger of the p-values of ``mean <= -margin`` and ``mean >= margin`` (each
    one-sided, n - 1 degrees of freedom); a small p shows equivalence. Schuirmann 1987,
    "A comparison of the two one-sided tests procedure and the power approach for
    assessing the equivalence of average bioavailability".
    """
    from scipy import stats

    a = np.asarray(support, np.float64)
    n = len(a)
    if n < 2 or not margin > 0:
        return math.nan
    mean = float(a.mean())
    se = float(a.std(ddof=1)) / math.sqrt(n)
    if se == 0.0:
        return 0.0 if abs(mean) < margin else 1.0
    below = float(stats.t.sf((mean + margin) / se, n - 1))  # H0: mean <= -margin
    above = float(stats.t.cdf((mean - margin) / se, n - 1))  # H0: mean >= margin
    return max(below, above)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), NaN passed through."""
    p = np.asarray(pvalues, np.float64)
    finite = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), math.nan)
    m = len(finite)
    running = 0.0
    for rank, i in enumerate(finite[np.argsort(p[finite], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def label(mean: float, p_holm: float, tost_holm: float = math.nan) -> str:
    """*held* / *did not hold here* from the direction and the difference test's adjusted
    p; else *equivalent* where the equivalence test's adjusted p passes; else
    *inconclusive*."""
    if math.isfinite(p_holm) and p_holm < ALPHA and mean != 0:
        return "held" if mean > 0 else "did not hold here"
    if math.isfinite(tost_holm) and tost_holm < ALPHA:
        return "equivalent"
    return "inconclusive"


def judge(claims: Sequence[Claim], *, quick: bool, seeds: int) -> list[dict]:
    """Tests every claim, Holm-corrects within the list, and labels (or declines to).

    The difference tests and the equivalence tests (of the claims with a margin) are two
    families, each Holm-corrected within the list.
    """
    tests = [t_test(c.support) for c in claims]
    adjusted = holm([t["p"] for t in tests])
    equivalence = [math.nan if c.margin is None else tost(c.support, c.margin) for c in claims]
    equivalence_holm = holm(equivalence)
    if quick:
        reason = "not judged (quick run)"
    elif seeds < MIN_SEEDS:
        reason = f"not judged ({seeds} seed{'s' * (seeds != 1)}; a verdict needs {MIN_SEEDS})"
    else:
        reason = None
    out = []
    for claim, test, p_holm, p_tost, tost_holm in zip(
        claims, tests, adjusted, equivalence, equivalence_holm, strict=True
    ):
        test = {
            "name": claim.test,
            **test,
            "p_holm": p_holm,
            "margin": claim.margin,
            "tost_p": p_tost,
            "tost_p_holm": tost_holm,
        }
        out.append(
            {
                "claim": claim.text,
                "verdict": None if reason else label(test["mean_difference"], p_holm, tost_holm),
                "not_judged": reason,
                "evidence": claim.evidence,
                "test": test,
            }
        )
    return out


# --------------------------------------------------------------------------------------
# Per-seed values, failures and tables


def values(results: list[dict], arm: str, name: str) -> list[float]:
    return [float(r["metrics"][arm][name]) for r in results]


def failed(results: list[dict], arm: str) -> list[bool]:
    """Which seeds of ``arm`` diverged (its result says ``"diverged": true``)."""
    return [bool(r["metrics"][arm].get("diverged", False)) for r in results]


def robust(results, arm, name, failure: float | None, higher_is_better: bool) -> list[float]:
    """Per-seed values, each failed seed (or non-finite value) replaced by ``failure``.

    A value worse than the failure level (e.g. a loss above a constant predictor's) is
    clipped to it: beyond failure, how badly a run failed carries no information.
    """
    out = []
    for v, bad in zip(values(results, arm, name), failed(results, arm), strict=True):
        if failure is not None:
            worse = v < failure if higher_is_better else v > failure
            if bad or not math.isfinite(v) or worse:
                v = failure
        out.append(v)
    return out


def compare(
    results: list[dict],
    claim: str,
    better: str,
    worse: str,
    name: str,
    *,
    higher_is_better: bool = True,
    failure: float | None = None,
    digits: int = 3,
    margin: float | None = None,
) -> Claim:
    """The claim "arm ``better`` beats arm ``worse`` on metric ``name``", seed by seed;
    ``margin`` (in the metric's units) makes "no difference" testable (:class:`Claim`)."""
    a = robust(results, better, name, failure, higher_is_better)
    b = robust(results, worse, name, failure, higher_is_better)
    if higher_is_better:
        support, what = [x - y for x, y in zip(a, b, strict=True)], f"{better} minus {worse}"
    else:
        support, what = [y - x for x, y in zip(a, b, strict=True)], f"{worse} minus {better}"
    return Claim(claim, tuple(support), f"{what}, {name}", "paired t-test", margin)


def beyond(
    results: list[dict],
    claim: str,
    arm: str,
    name: str,
    level: float,
    *,
    higher_is_better: bool = True,
    failure: float | None = None,
) -> Claim:
    """The claim "arm's metric is beyond ``level``" (one-sample t-test of the margins)."""
    v = robust(results, arm, name, failure, higher_is_better)
    support = [x - level if higher_is_better else level - x for x in v]
    side = ">" if higher_is_better else "<"
    return Claim(claim, tuple(support), f"{arm} {name} {side} {level:.3g}", "one-sample t-test")


def means(results: list[dict], arms: Sequence[str], name: str, digits: int = 3) -> str:
    """``"arm mean, arm mean, ..."`` of a metric over seeds (failed seeds left out)."""
    parts = []
    for arm in arms:
        a = np.asarray(values(results, arm, name), np.float64)
        ok = np.isfinite(a) & ~np.asarray(failed(results, arm), bool)
        parts.append(f"{arm} {a[ok].mean():.{digits}f}" if ok.any() else f"{arm} diverged")
    return ", ".join(parts)


def fmt(values_: Sequence[float], digits: int = 3, diverged: Sequence[bool] | None = None) -> str:
    """``mean ± std`` over seeds; failed seeds left out and counted as ``diverged (k/n)``."""
    a = np.asarray(values_, np.float64)
    bad = ~np.isfinite(a)
    if diverged is not None:
        bad |= np.asarray(diverged, bool)
    good = a[~bad]
    k, n = int(bad.sum()), len(a)
    if len(good) == 0:
        return f"diverged ({k}/{n})"
    mean = good.mean()
    small = 0 < abs(mean) < 10 ** (1 - digits)  # e.g. a learning rate: significant digits

    def show(x):
        return f"{x:.2g}" if small else f"{x:.{digits}f}"

    m = show(mean)
    if len(good) > 1:
        m += f" ± {show(good.std(ddof=1))}"
    return m + (f"; diverged ({k}/{n})" if k else "")


def table(
    results: list[dict],
    arms: Sequence[str],
    columns: Sequence[tuple[str, str] | tuple[str, str, int]],
    digits: int = 3,
    head: str = "arm",
) -> str:
    """A markdown table, one row per arm, ``mean ± std over seeds`` per column.

    ``columns`` holds ``(metric, title)`` or ``(metric, title, digits)``.
    """
    cols = [(col[0], col[1], col[2] if len(col) > 2 else digits) for col in columns]
    top = f"| {head} | " + " | ".join(title for _, title, _ in cols) + " |"
    rule = "|---" * (len(cols) + 1) + "|"

    def cell(arm, key, d):
        if any(key not in r["metrics"][arm] for r in results):
            return "—"
        return fmt(values(results, arm, key), d, failed(results, arm))

    rows = [f"| {a} | " + " | ".join(cell(a, k, d) for k, _, d in cols) + " |" for a in arms]
    return "\n".join([top, rule, *rows])


def verdict_table(verdicts: list[dict], digits: int = 3) -> str:
    """The verdicts as a markdown table: claim, label, mean difference, 95 % CI, p, and the
    equivalence margin with its TOST p (Holm) where the claim has one."""
    rows = [
        "| claim | verdict | mean difference [95 % CI] | t | p | p (Holm) | "
        "equivalence margin: TOST p (Holm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        t = v["test"]
        lo, hi = t["ci95"]
        label_ = f"**{verdict_text(v)}**" if v["verdict"] else v["not_judged"]
        margin = t.get("margin")
        tost_ = "—" if margin is None else f"±{margin:g}: {_p(t['tost_p_holm'])}"
        rows.append(
            f"| {v['claim']} ({v['evidence']}) | {label_} | "
            f"{_num(t['mean_difference'], digits)} [{_num(lo, digits)}, {_num(hi, digits)}] | "
            f"{_num(t['t'], 2)} | {_p(t['p'])} | {_p(t['p_holm'])} | {tost_} |"
        )
    return "\n".join(rows)


def verdict_text(verdict: dict) -> str:
    """The label as a report prints it: *equivalent* names its margin."""
    if verdict["verdict"] == "equivalent":
        return f"equivalent within ±{verdict['test']['margin']:g}"
    return str(verdict["verdict"])


def _num(x: float, digits: int) -> str:
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("∞" if x > 0 else "-∞")
    return f"{x:.{digits}f}" if abs(x) >= 10 ** (-digits) or x == 0 else f"{x:.2e}"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


# --------------------------------------------------------------------------------------
# Files


def to_jsonable(tree):
    return jax.tree.map(lambda x: np.asarray(x).tolist() if hasattr(x, "shape") else x, tree)


def write_json(path, obj) -> None:
    """Writes ``obj`` as compact JSON, whole or not at all (:func:`write_atomic`)."""
    write_atomic(path, json.dumps(to_jsonable(obj), separators=(",", ":")))


DISK_FULL = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)
"""``errno`` values of a full disk: no space left, or the disk quota exceeded."""


class WriteError(OSError):
    """Writing a file with :func:`write_atomic` failed; ``filename`` is that file.

    It carries the ``errno`` and ``strerror`` of the error that stopped the write (e.g.
    ``errno.ENOSPC`` when the disk is full); the file itself was left as it was.
    """


def write_atomic(path, data: str | bytes | Callable[[pathlib.Path], Any]) -> Any:
    """Writes the file ``path`` whole or not at all: every result file goes through here.

    ``data`` is text (written as UTF-8), bytes, or a function ``write(tmp)`` that writes
    the file at the path ``tmp`` itself, e.g. ``lambda tmp: fig.savefig(tmp)`` (``tmp``
    ends with ``path``'s suffix, so a writer that reads the format from it keeps working);
    the function's return value is returned. The data goes to a temporary file in
    ``path``'s folder, which is flushed to the disk (``fsync``) and then renamed over
    ``path`` (``os.replace``): a reader, or a run that is killed or stops on a full disk,
    sees the old file or the new one, never a part of one. On any error the temporary
    file is removed, and an ``OSError`` is raised again as a :class:`WriteError` that
    names ``path``. A writer function that creates no file leaves ``path`` as it was.

    Examples:
      >>> import pathlib, tempfile
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> write_atomic(folder / "note.md", "done\\n")
      >>> (folder / "note.md").read_text(), [p.name for p in folder.iterdir()]
      ('done\\n', ['note.md'])
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        if callable(data):
            result = data(tmp)
            if not tmp.exists():
                return result
        else:
            result = None
            with open(tmp, "xb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise WriteError(e.errno, e.strerror or str(e), str(path)) from e
        raise
    _fsync_folder(path.parent)
    return result


def _fsync_folder(folder: pathlib.Path) -> None:
    """Makes a rename in ``folder`` durable, where folders can be synced (POSIX)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# write_atomic's temporaries (the writer's pid in the name), and an earlier version's
_TEMPORARY = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp(\.[^.]*)?$")
_OLD_TEMPORARY = re.compile(r"^(seed\d+|summary)\.json\.tmp$")


def remove_stale_temporaries(folder) -> list[pathlib.Path]:
    """Removes the temporary files that killed writers left in ``folder``; returns them.

    :func:`write_atomic` removes its temporary file on any error, but a process killed
    outright (``SIGKILL``, power loss) cannot: such a file is removed here once the
    process named in it has ended. Also removes ``seedN.json.tmp`` and ``summary.json.tmp``
    left by earlier versions.
    """
    removed = []
    if not pathlib.Path(folder).is_dir():
        return removed
    for path in pathlib.Path(folder).iterdir():
        match = _TEMPORARY.match(path.name)
        stale = bool(_OLD_TEMPORARY.match(path.name)) or (
            match is not None and not _running(int(match.group(1)))
        )
        if stale and path.is_file():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` may still be running (always assumed outside POSIX)."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user
        return True
    return True


LOCK_FILE = ".lock"
_held = threading.local()  # the lock files this thread holds (lock_folder is re-entrant)


class FolderLocked(Exception):
    """Another process (or thread) holds the lock of a results folder (:func:`lock_folder`).

    Attributes:
      folder: the folder.
      holder: who holds it, in words: pid, host, start time and command.
    """

    def __init__(self, folder, holder: str):
        super().__init__(f"{folder} is in use by {holder}")
        self.folder = folder
        self.holder = holder


@contextlib.contextmanager
def lock_folder(
    folder,
    *,
    wait: bool = False,
    command: str | None = None,
    on_wait: Callable[[str], Any] | None = None,
) -> Iterator[None]:
    """Holds an exclusive lock on the results folder ``folder`` while the block runs.

    The lock is an advisory ``fcntl.flock`` on ``folder/.lock``, a file that holds the
    holder's pid, host, start time and command (what :class:`FolderLocked` and
    ``on_wait`` report) and is removed on release. The operating system releases the
    lock when its process ends, however it ends (``SIGKILL`` included), so a killed run
    leaves no stale lock: the next run takes its ``.lock`` file over. Nested calls for
    the same folder in one thread do nothing more. Where ``fcntl`` is missing (Windows)
    nothing is locked.

    Args:
      folder: an existing folder.
      wait: when another process holds the lock, wait for it instead of raising
        :class:`FolderLocked`.
      command: the command line recorded for others to see (default: ``sys.argv``).
      on_wait: called once, with the holder in words, when the wait starts.

    Examples:
      >>> import pathlib, tempfile
      >>> lock = pathlib.Path(tempfile.mkdtemp(), ".lock")
      >>> with lock_folder(lock.parent, command="an example"):
      ...     print(json.loads(lock.read_text())["command"])
      an example
      >>> lock.exists()
      False
    """
    path = pathlib.Path(folder) / LOCK_FILE
    key = os.path.realpath(path)
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if fcntl is None or key in held:
        yield
        return
    fd = _acquire(path, wait, on_wait)
    held.add(key)
    try:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": command or shlex.join(sys.argv) or "python",
        }
        with contextlib.suppress(OSError):  # only informative (a full disk fails later, named)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        held.discard(key)
        with contextlib.suppress(OSError):
            os.unlink(path)  # still holding it: whoever waits on this file sees it gone
        os.close(fd)  # releases the lock


def _acquire(path: pathlib.Path, wait: bool, on_wait) -> int:
    """An open descriptor of ``path`` holding its ``flock`` (the file now at ``path``)."""
    assert fcntl is not None
    announced = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # e.g. a folder named .lock
            raise WriteError(e.errno, e.strerror or str(e), str(path)) from e
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                if not wait:
                    raise FolderLocked(path.parent, holder) from None
                if on_wait is not None and not announced:
                    on_wait(holder)
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # its holder removed this file when it let go: lock the one at path now


def _same_file(fd: int, path: pathlib.Path) -> bool:
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _holder(fd: int) -> str:
    """The lock holder, in words, from the details it wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 65536, 0) or b"null")
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):
        return "another process (it has not written its details yet)"
    return (
        f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}, "
        f"command: {info.get('command')}"
    )
