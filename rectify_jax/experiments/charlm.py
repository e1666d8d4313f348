"""Character language models on the Python standard library's source.

* TLU in a GRU (Jiang & Wang 2018): the GRU's candidate activation is TLU, ELU,
  leaky ReLU or tanh (flax's ``GRUCell`` with ``activation_fn`` swapped).
* Noisy LSTM gates (Gulcehre et al. 2016): one LSTM cell (``NoisyLSTMCell``) run with
  soft gates, hard gates, the alpha-slope alone (``alpha*h + (1 - alpha)*u``, NAN's
  expectation), NAH's expectation (the alpha-slope and the learned ``p`` term), both
  without sampling, and sampled NAN / NAH noise, gradients clipped at global norm 5.

Within a seed every arm starts from the same parameters and sees the same batches.
Validation is a fixed held-out text (non-overlapping windows of the validation files).
Equal-time comparisons use each arm's time per step, measured side by side
(interleaved) after training, so that a busy machine does not favour one arm.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import _common as c
from rectify_jax.experiments import data

GRU_ACTIVATIONS = {"tlu": rj.tlu, "elu": rj.elu, "leaky_relu": rj.leaky_relu, "tanh": rj.tanh}
GRU_ARMS = tuple(GRU_ACTIVATIONS)
LSTM_ARMS = ("soft", "hard", "expectation_alpha", "expectation", "nan", "nah")
UNIFORM_NATS = math.log(256)  # a model that predicts every byte equally likely


def diverged(*losses: float) -> bool:
    """Whether a run failed: a loss that is NaN, infinite, or worse than predicting every byte
    equally likely (:data:`UNIFORM_NATS`). A run whose loss blew up to 1e17 is finite but
    has diverged all the same."""
    return not all(loss <= UNIFORM_NATS for loss in losses)


def ngram_nats(train, x, y) -> dict[str, float]:
    """Nats/byte of two counting models on next-byte targets: the reference levels of the
    language models.

    ``unigram`` predicts every byte with its frequency in ``train``; ``bigram`` with its
    frequency after the previous byte. Both are add-one (Laplace) smoothed: with counts
    n(b) and n(a, b) over ``train`` of N bytes, p(b) = (n(b) + 1) / (N + 256) and
    p(b | a) = (n(a, b) + 1) / (n(a) + 256). ``x`` holds the byte before each target of
    ``y`` (the windows of :func:`~rectify_jax.experiments.data.text_windows`).

    >>> import numpy as np
    >>> levels = ngram_nats(np.array([0, 1, 0, 1], np.uint8), np.array([[0]]), np.array([[1]]))
    >>> bool(np.isclose(levels["unigram"], -np.log(3 / 260)))
    True
    >>> bool(np.isclose(levels["bigram"], -np.log(3 / 258)))  # n(0, 1) = 2, n(0) = 2
    True
    """
    t = np.asarray(train).astype(np.int64)
    unigram = np.bincount(t, minlength=256) + 1.0
    bigram = np.bincount(t[:-1] * 256 + t[1:], minlength=256 * 256).reshape(256, 256) + 1.0
    x, y = np.asarray(x).astype(np.int64), np.asarray(y).astype(np.int64)
    return {
        "unigram": float(np.mean(np.log(unigram.sum()) - np.log(unigram[y]))),
        "bigram": float(np.mean(np.log(bigram.sum(axis=1)[x]) - np.log(bigram[x, y]))),
    }


@functools.cache
def reference_levels(length: int, valid_bytes: int) -> dict[str, float]:
    """The uniform, unigram and bigram levels (:func:`ngram_nats`, counted on the training
    text) on the reported validation windows."""
    train, valid, _ = data.stdlib_corpus()
    x, y = data.text_windows(valid, length, valid_bytes)
    return {"uniform": UNIFORM_NATS, **ngram_nats(train, x, y)}


def _size(n: int) -> str:
    """A text length for the report: ``"300 bytes"``, ``"20 kB"``, ``"1.5 kB"``."""
    return f"{n} bytes" if n < 1000 else f"{n / 1000:g} kB"


def make_cell(arm: str, hidden: int, test: bool):
    """The recurrent cell of an arm; ``test=True`` gives its test-time version."""
    if arm in GRU_ACTIVATIONS:
        return nn.GRUCell(hidden, activation_fn=GRU_ACTIVATIONS[arm])
    if arm in ("soft", "hard"):
        return rjl.NoisyLSTMCell(hidden, gates=arm)
    if arm == "expectation_alpha":
        # the alpha-slope alone, alpha*h + (1 - alpha)*u: the noise replaced by its mean,
        # E[xi] = 0 for normal noise, so no p term (p is held but gets zero gradient). NAN's
        # own expectation, i.e. the test-time function of the "nan" arm, also in training
        return rjl.NoisyLSTMCell(hidden, noise="normal", deterministic=True)
    if arm == "expectation":  # NAH's test-time function, also in training: no sampling
        # the alpha-slope plus the learned p term d*sigma(x; p)*E|xi|, E|xi| = sqrt(2/pi)
        return rjl.NoisyLSTMCell(hidden, noise="half_normal", deterministic=True)
    if arm in ("nan", "nah"):
        noise = "normal" if arm == "nan" else "half_normal"
        return rjl.NoisyLSTMCell(hidden, noise=noise, deterministic=test)
    raise ValueError(f"make_cell: unknown arm {arm!r}; choose from {GRU_ARMS + LSTM_ARMS}")


class CharLM(nn.Module):
    """Byte embedding (32), one recurrent layer, a linear read-out over the 256 bytes."""

    arm: str
    hidden: int
    test: bool = False

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(256, 32)(tokens)
        h = rjl.rnn(make_cell(self.arm, self.hidden, self.test))(x)
        return nn.Dense(256)(h)


def init_variables(arm: str, config: dict, seed: int) -> Mapping[str, Any]:
    """An arm's initial variables; every arm of an experiment gets the same for a seed."""
    key = jax.random.key(seed)
    model = CharLM(arm, config["hidden"])
    return model.init({"params": key, "noise": key}, jnp.zeros((1, 4), jnp.int32))


def _nll_fn(model, batch: int):
    """``(variables, x, y) -> nats/byte`` of ``model`` over windows, ``batch`` at a time.

    The windows beyond the last full batch are left out (one compiled shape).
    """
    fn = jax.jit(lambda v, x, y: c.cross_entropy(model.apply(v, x), y))

    def nll(variables, x, y) -> float:
        n = (len(x) // batch) * batch
        return float(
            np.mean([fn(variables, x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)])
        )

    return nll


def _run(arms, config, seed, progress, tag):
    train, valid, _ = data.stdlib_corpus()
    train = jnp.asarray(train)
    vx, vy = data.text_windows(valid, config["length"], config["valid_bytes"])
    cx, cy = data.text_windows(valid, config["length"], config["curve_bytes"])
    # the learning rates are tuned on the end of the validation text, apart from the windows
    # that are reported (its start)
    tx, ty = data.text_windows(valid[-config["tune_bytes"] :], config["length"], len(valid))
    steps = config["steps"]
    metrics, curves, val_curves, timers = {}, {}, {}, {}
    for arm in arms:
        model, test_model = CharLM(arm, config["hidden"]), CharLM(arm, config["hidden"], True)
        variables = init_variables(arm, config, seed)
        lrs = c.lrs_for(config, arm)

        def loss_fn(params, d, key, i, hp, model=model, variables=variables):
            x, y = data.text_batch(d, key, config["batch"], config["length"])
            logits = model.apply(
                {**variables, "params": params}, x, rngs={"noise": jax.random.fold_in(key, 1)}
            )
            return c.cross_entropy(logits, y)

        nll_fn = _nll_fn(test_model, config["eval_batch"])
        if len(lrs) > 1:  # tuning: every rate at once, scored on the tuning windows only
            run = c.train(
                loss_fn,
                c.stack([variables["params"]] * len(lrs)),
                lambda hp: c.adam(hp["lr"], config.get("clip")),
                steps,
                jax.random.fold_in(jax.random.key(seed), 1),
                data=train,
                hparams={"lr": jnp.asarray(lrs, jnp.float32)},
                progress=progress,
                label=f"{tag} {arm} x{len(lrs)} lr seed {seed}",
            )
            per_lr = c.unstack(run.params, len(lrs))
            metrics[arm] = {
                "valid_by_lr": [nll_fn({**variables, "params": p}, tx, ty) for p in per_lr]
            }
            continue

        def on_checkpoint(params, nll_fn=nll_fn, variables=variables):
            return nll_fn({**variables, "params": params}, cx, cy)

        run = c.train(
            loss_fn,
            variables["params"],
            c.adam(lrs[0], config.get("clip")),
            steps,
            jax.random.fold_in(jax.random.key(seed), 1),
            data=train,
            checkpoint_every=max(1, steps // 10),
            on_checkpoint=on_checkpoint,
            progress=progress,
            label=f"{tag} {arm} seed {seed}",
        )
        nll = nll_fn({**variables, "params": run.params}, vx, vy)
        train_loss = c.tail_mean(run.history)
        metrics[arm] = {
            "valid_nll": nll,
            "valid_perplexity": math.exp(min(nll, 50.0)),
            "train_loss": train_loss,
            "lr": lrs[0],
            "valid_by_lr": [nll_fn({**variables, "params": run.params}, tx, ty)],
            "diverged": diverged(nll, train_loss),
        }
        curves[arm], val_curves[arm], timers[arm] = (
            run.history,
            run.checkpoints,
            run.seconds_per_step,
        )
    for arm, sps in c.interleaved_step_times(timers).items():
        metrics[arm]["ms_per_step"] = 1000 * sps
    return {"metrics": metrics, "curves": curves, "valid_curves": val_curves}


TIMING_NOTE = (
    "† Time per step of this library's implementation on this machine, measured side by "
    "side after training (the minimum of a few short timings, which varies between seeds "
    "on a shared CPU): a description of the run, not evidence for or against a paper's "
    "claim, and no verdict rests on it. Speed is measured with the benchmark harness "
    "(`rectify-jax bench train-step`; BENCHMARKS.md)."
)


def _curve_figure(results, arms, path, title, right):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8))
    ax_s, ax_t = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    r = results[0]
    for arm in arms:
        h = np.asarray([[x[0], x[1]] for x in r["curves"][arm]], np.float64)
        ax_s.plot(h[:, 0], h[:, 1], label=arm)
        sec = r["metrics"][arm]["ms_per_step"] / 1000
        if right == "valid":
            v = np.asarray(r["valid_curves"][arm], np.float64)
            ax_t.plot(v[:, 0] * sec, v[:, 1], marker="o", markersize=3, label=arm)
        else:
            ax_t.plot(h[:, 0] * sec, h[:, 1], label=arm)
    ax_s.set_xlabel("step")
    ax_s.set_ylabel("training loss (nats/byte)")
    ax_t.set_xlabel("training time (s, from the side-by-side time per step)")
    ax_t.set_ylabel("validation nats/byte" if right == "valid" else "training loss (nats/byte)")
    for ax in (ax_s, ax_t):
        ax.legend(fontsize=8)
    ax_s.set_title(f"{title} (seed 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _corpus_setup(config) -> str:
    _, _, desc = data.stdlib_corpus()
    return (
        f"{desc}; validation = the first {_size(config['valid_bytes'])} of the validation "
        f"files as non-overlapping windows of {config['length']} bytes (reference levels on "
        f"them: predicting every byte equally likely, and add-one-smoothed unigram and bigram "
        f"byte models counted on the training text)"
    )


# --------------------------------------------------------------------------------------
# TLU in a GRU


def run_gru(config, seed, progress):
    return _run(GRU_ARMS, config, seed, progress, "GRU LM")


def report_gru(results, config, figure):
    steps = config["steps"]
    tab = c.table(
        results,
        GRU_ARMS,
        [
            ("train_loss", "train loss, last 20 % of steps"),
            ("valid_nll", "valid nats/byte"),
            ("lr", "chosen lr"),
            ("ms_per_step", "ms/step†", 1),
        ],
    )
    tab += "\n\n" + TIMING_NOTE
    claims = [
        c.compare(
            results,
            f"{better} < {worse}: training loss at equal steps",
            better,
            worse,
            "train_loss",
            higher_is_better=False,
            failure=UNIFORM_NATS,
            margin=c.NATS_MARGIN,
        )
        for better, worse in zip(GRU_ARMS, GRU_ARMS[1:], strict=False)
    ]
    _curve_figure(results, GRU_ARMS, figure, "GRU candidate activation", "train")
    setup = (
        f"{_corpus_setup(config)}; embedding 32, one GRU layer of {config['hidden']} units "
        f"(flax GRUCell with the candidate activation swapped; the arms of a seed share initial "
        f"parameters and batches), windows of {config['length']} bytes, batch {config['batch']}, "
        f"Adam with each arm's learning rate tuned by the nats/byte on the last "
        f"{_size(config['tune_bytes'])} of the validation text (below), gradient clip "
        f"{config['clip']} (as in the LSTM language model), {steps} steps. "
        f"Equal steps: mean training loss over the last "
        f"20 % of steps (the same batches in every arm)."
    )
    finding = (
        "TLU in a GRU: training loss over the last 20 % of steps "
        f"{c.means(results, GRU_ARMS, 'train_loss')} nats/byte (the claimed order is "
        "tlu < elu < leaky_relu < tanh)."
    )
    return c.Report(
        setup,
        tab,
        claims,
        arms=list(GRU_ARMS),
        levels=reference_levels(config["length"], config["valid_bytes"]),
        figure=figure,
        findings=[finding],
    )


GRU_EXPERIMENT = c.Experiment(
    name="tlu_gru",
    title="TLU in a GRU character language model",
    claim=(
        "At equal training time, a GRU language model's training loss is ordered "
        "TLU < ELU < leaky ReLU < tanh."
    ),
    source="Jiang & Wang 2018",
    run_seed=run_gru,
    report=report_gru,
    tuned=True,
    full=dict(
        hidden=128,
        length=64,
        batch=32,
        lrs=[3e-4, 1e-3, 3e-3, 1e-2],
        tune_seeds=2,
        tune_steps=375,
        tune_bytes=66_560,
        clip=5.0,
        steps=1500,
        eval_batch=256,
        valid_bytes=266_240,
        curve_bytes=16_640,
    ),
    quick=dict(
        hidden=8,
        length=8,
        batch=4,
        lrs=[3e-4, 1e-3, 3e-3, 1e-2],
        **c.QUICK_TUNING,
        tune_bytes=1_152,
        clip=5.0,
        steps=10,
        eval_batch=8,
        valid_bytes=1_152,
        curve_bytes=288,
    ),
)


# --------------------------------------------------------------------------------------
# Noisy LSTM gates


def run_lstm(config, seed, progress):
    return _run(LSTM_ARMS, config, seed, progress, "LSTM LM")


ATTRIBUTION_STEPS = (
    # (from, to, what changes, the chain's total it is a share of, or None)
    ("hard", "expectation_alpha", "the alpha-slope: alpha*h + (1 - alpha)*u, deterministic", "nah"),
    ("expectation_alpha", "expectation", "+ the learned p term (NAH's expectation)", "nah"),
    ("expectation", "nah", "+ sampled half-normal noise", "nah"),
    ("hard", "nah", "all of it (NAH)", "nah"),
    ("expectation_alpha", "nan", "+ sampled normal noise (NAN against its own expectation)", "nan"),
    ("hard", "nan", "all of it (NAN)", "nan"),
    ("soft", "hard", "hard instead of soft gates", None),
)
"""The rows of the attribution table: hard -> alpha-slope -> + p -> + sampled noise (NAH),
and alpha-slope -> + sampled noise (NAN, whose expectation is the alpha-slope)."""


def _attribution(results) -> tuple[str, str]:
    """hard -> alpha-slope -> + p term -> + sampled noise: what each step changes in
    validation nats/byte (``ATTRIBUTION_STEPS``), as paired per-seed differences.

    Returns the markdown table and a one-line finding.
    """
    rows = [
        "**Attribution** (validation nats/byte at equal steps; a positive difference is an "
        "improvement; 95 % t intervals over seeds; the share is of the chain's total, hard → "
        "nah or hard → nan, named in the row)",
        "",
        "| step | what changes | improvement [95 % CI] | share of the total |",
        "|---|---|---|---|",
    ]

    def improvement(a, b):
        va, vb = c.values(results, a, "valid_nll"), c.values(results, b, "valid_nll")
        return c.t_test([x - y for x, y in zip(va, vb, strict=True)])

    totals = {end: improvement("hard", end)["mean_difference"] for end in ("nah", "nan")}
    tests = {}
    for a, b, what, chain in ATTRIBUTION_STEPS:
        t = tests[a, b] = improvement(a, b)
        lo, hi = t["ci95"]
        total = totals.get(chain, math.nan) if chain else math.nan
        share = f"{t['mean_difference'] / total:.0%} of hard → {chain}" if total > 0 else ""
        rows.append(
            f"| {a} → {b} | {what} | {t['mean_difference']:+.4f} [{lo:+.4f}, {hi:+.4f}] | {share} |"
        )

    def part(a, b):
        t = tests[a, b]
        lo, hi = t["ci95"]
        return f"{t['mean_difference']:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    finding = (
        "Noisy LSTM gates, attribution (validation nats/byte, improvement with 95 % interval): "
        f"hard → expectation_alpha (the deterministic alpha-slope) "
        f"{part('hard', 'expectation_alpha')}; "
        f"expectation_alpha → expectation (+ the learned p term) "
        f"{part('expectation_alpha', 'expectation')}; "
        f"expectation → nah (+ sampled half-normal noise) {part('expectation', 'nah')}; "
        f"expectation_alpha → nan (+ sampled normal noise, against NAN's own expectation) "
        f"{part('expectation_alpha', 'nan')}."
    )
    return "\n".join(rows), finding


LSTM_CLAIMS = (
    *((noisy, base) for noisy in ("nan", "nah") for base in ("soft", "hard", "expectation")),
    ("nan", "expectation_alpha"),  # NAN against its own expectation (the alpha-slope alone)
)
"""The claims "noisy < base" in validation nats/byte at equal steps, as (noisy, base)."""


def report_lstm(results, config, figure):
    steps = config["steps"]
    tab = c.table(
        results,
        LSTM_ARMS,
        [
            ("valid_nll", "valid nats/byte"),
            ("valid_perplexity", "valid perplexity/byte"),
            ("train_loss", "train loss, last 20 %"),
            ("lr", "chosen lr"),
            ("ms_per_step", "ms/step†", 1),
        ],
        digits=4,
    )
    tab += "\n\n" + TIMING_NOTE
    claims = [
        c.compare(
            results,
            f"{noisy} < {base}: validation nats/byte at equal steps",
            noisy,
            base,
            "valid_nll",
            higher_is_better=False,
            failure=UNIFORM_NATS,
            digits=4,
            margin=c.NATS_MARGIN,
        )
        for noisy, base in LSTM_CLAIMS
    ]
    _curve_figure(results, LSTM_ARMS, figure, "LSTM gates", "valid")
    attribution, finding = _attribution(results)
    setup = (
        f"{_corpus_setup(config)}; embedding 32, one LSTM layer of {config['hidden']} units. "
        f"Every arm is the same cell (NoisyLSTMCell: flax's LSTMCell parameters, plus the "
        f"learned p of the noisy gates) with the same initial parameters and batches for a "
        f"seed: soft = sigmoid/tanh gates, hard = hard sigmoid/hard tanh, expectation_alpha = the "
        f"alpha-slope alone, alpha*h + (1 - alpha)*u (the noise replaced by its mean for "
        f"normal noise, E[xi] = 0, so no p term: NAN's own expectation), expectation = NAH's "
        f"expectation (the alpha-slope plus the learned p term times E|xi|), both used in "
        f"training without sampling, nan / nah = sampled normal / half-normal noise (their "
        f"test-time function for validation: expectation_alpha / expectation). The attribution "
        f"table takes one change at a time: hard → expectation_alpha → expectation → nah, and "
        f"expectation_alpha → nan. Windows of {config['length']} bytes, batch {config['batch']}, "
        f"Adam with each arm's learning rate tuned by the nats/byte on the last "
        f"{_size(config['tune_bytes'])} of the validation text, apart from the reported "
        f"windows (below), gradient clip {config['clip']}, {steps} steps."
    )
    return c.Report(
        setup,
        tab,
        claims,
        arms=list(LSTM_ARMS),
        levels=reference_levels(config["length"], config["valid_bytes"]),
        figure=figure,
        extra=attribution,
        findings=[finding],
    )


LSTM_EXPERIMENT = c.Experiment(
    name="noisy_lstm_lm",
    title="Noisy gates in an LSTM language model",
    claim=(
        "Replacing every sigmoid and tanh of an LSTM language model by noisy hard sigmoid / "
        "noisy hard tanh gives lower perplexity than the soft and the hard (noiseless) LSTM."
    ),
    source="Gulcehre, Moczulski, Denil & Bengio 2016",
    run_seed=run_lstm,
    report=report_lstm,
    tuned=True,
    full=dict(
        hidden=128,
        length=64,
        batch=32,
        lrs=[3e-4, 1e-3, 3e-3, 1e-2],
        tune_seeds=2,
        tune_steps=375,
        tune_bytes=66_560,
        clip=5.0,
        steps=1500,
        eval_batch=256,
        valid_bytes=266_240,
        curve_bytes=66_560,
    ),
    quick=dict(
        hidden=8,
        length=8,
        batch=4,
        lrs=[3e-4, 1e-3, 3e-3, 1e-2],
        **c.QUICK_TUNING,
        tune_bytes=1_152,
        clip=5.0,
        steps=10,
        eval_batch=8,
        valid_bytes=1_152,
        curve_bytes=288,
    ),
)
