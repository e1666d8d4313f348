"""Character language models on the Python standard library's source.

* TLU in a GRU (Jiang & Wang 2018): the GRU's candidate activation is TLU, ELU,
  leaky ReLU or tanh.
* Noisy LSTM gates (Gulcehre et al. 2016): soft (sigmoid/tanh), hard, and noisy
  (NAN, NAH) gates, gradients clipped at global norm 5.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import _common as c
from rectify_jax.experiments import data

GRU_ACTIVATIONS = {"tlu": rj.tlu, "elu": rj.elu, "leaky_relu": rj.leaky_relu, "tanh": rj.tanh}
LSTM_GATES = ("soft", "hard", "noisy_nan", "noisy_nah")


def make_cell(kind: str, hidden: int, deterministic: bool):
    if kind in GRU_ACTIVATIONS:
        return nn.GRUCell(hidden, activation_fn=GRU_ACTIVATIONS[kind])
    if kind == "soft":
        return nn.LSTMCell(hidden)
    if kind == "hard":
        return nn.LSTMCell(hidden, gate_fn=rj.hard_sigmoid, activation_fn=rj.hard_tanh)
    noise = "normal" if kind == "noisy_nan" else "half_normal"
    return rjl.NoisyLSTMCell(hidden, noise=noise, deterministic=deterministic)


class CharLM(nn.Module):
    kind: str
    hidden: int
    deterministic: bool = False

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(256, 32)(tokens)
        h = rjl.rnn(make_cell(self.kind, self.hidden, self.deterministic))(x)
        return nn.Dense(256)(h)


def _evaluate(model, variables, valid, config, seed):
    """Mean next-byte cross-entropy on fixed validation windows (test-time model)."""
    x, y = data.text_batch(
        valid, jax.random.key(999 + seed), config["eval_batch"], config["length"]
    )
    return float(c.cross_entropy(jax.jit(model.apply)(variables, x), y))


def _run(kinds, config, seed, progress, tag):
    train, valid, _ = data.stdlib_corpus()
    train, valid = jnp.asarray(train), jnp.asarray(valid)
    metrics, curves = {}, {}
    for kind in kinds:
        model = CharLM(kind, config["hidden"])
        key = jax.random.key(seed)
        variables = model.init({"params": key, "noise": key}, jnp.zeros((1, 4), jnp.int32))

        def loss_fn(params, d, key, i, model=model, variables=variables):
            x, y = data.text_batch(d, key, config["batch"], config["length"])
            logits = model.apply(
                {**variables, "params": params}, x, rngs={"noise": jax.random.fold_in(key, 1)}
            )
            return c.cross_entropy(logits, y)

        params, hist = c.train(
            loss_fn,
            variables["params"],
            c.clip_adam(config["lr"], config.get("clip")),
            config["steps"],
            jax.random.fold_in(key, 1),
            data=train,
            progress=progress,
            label=f"{tag} {kind} seed {seed}",
        )
        test_model = CharLM(kind, config["hidden"], deterministic=True)
        nll = _evaluate(test_model, {**variables, "params": params}, valid, config, seed)
        tail = [h[1] for h in hist[-5:]]
        metrics[kind] = {
            "final_train_loss": float(np.mean(tail)),
            "valid_nll": nll,
            "valid_perplexity": math.exp(nll),
            "seconds": hist[-1][2],
        }
        curves[kind] = hist
    return {"metrics": metrics, "curves": curves}


def _loss_at(hist, budget):
    """Training loss (running mean over 5 records) at the first record past ``budget`` seconds."""
    losses = np.asarray([h[1] for h in hist])
    times = np.asarray([h[2] for h in hist])
    i = int(np.searchsorted(times, budget))
    return float(losses[max(0, i - 4) : i + 1].mean())


def _curve_figure(results, kinds, path, title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8))
    ax_s, ax_t = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for kind in kinds:
        h = np.asarray(results[0]["curves"][kind])
        ax_s.plot(h[:, 0], h[:, 1], label=kind)
        ax_t.plot(h[:, 2], h[:, 1], label=kind)
    ax_s.set_xlabel("step")
    ax_t.set_xlabel("wall time (s)")
    for ax in (ax_s, ax_t):
        ax.set_ylabel("training loss (nats/byte)")
        ax.legend(fontsize=8)
    ax_s.set_title(f"{title} (seed 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------------------
# TLU in a GRU


def run_gru(config, seed, progress):
    return _run(list(GRU_ACTIVATIONS), config, seed, progress, "GRU LM")


def report_gru(results, config, figure):
    kinds = list(GRU_ACTIVATIONS)
    budget = min(min(r["curves"][k][-1][2] for k in kinds) for r in results)
    for r in results:
        for k in kinds:
            r["metrics"][k]["loss_at_equal_time"] = _loss_at(r["curves"][k], budget)
    tab = c.table(
        results,
        kinds,
        [
            ("loss_at_equal_time", f"train loss at {budget:.0f} s"),
            ("final_train_loss", "final train loss"),
            ("valid_nll", "valid nats/byte"),
            ("seconds", "seconds"),
        ],
    )
    verdicts = [
        c.compare(
            results,
            f"{better} < {worse} (training loss at equal time)",
            better,
            worse,
            "loss_at_equal_time",
            higher_is_better=False,
        )
        for better, worse in zip(kinds, kinds[1:], strict=False)
    ]
    _curve_figure(results, kinds, figure, "GRU candidate activation")
    _, _, desc = data.stdlib_corpus()
    setup = (
        f"{desc}; embedding 32, one GRU layer of {config['hidden']} units (flax GRUCell with "
        f"the candidate activation swapped), windows of {config['length']} bytes, batch "
        f"{config['batch']}, Adam lr {config['lr']}, {config['steps']} steps. Equal time = "
        f"the shortest run's wall time ({budget:.0f} s)."
    )
    return c.Report(setup, tab, verdicts, figure)


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
    full=dict(hidden=128, length=64, batch=32, lr=2e-3, steps=1500, eval_batch=256),
    quick=dict(hidden=8, length=8, batch=4, lr=2e-3, steps=10, eval_batch=8),
)


# --------------------------------------------------------------------------------------
# Noisy LSTM gates


def run_lstm(config, seed, progress):
    return _run(LSTM_GATES, config, seed, progress, "LSTM LM")


def report_lstm(results, config, figure):
    tab = c.table(
        results,
        LSTM_GATES,
        [
            ("valid_perplexity", "valid perplexity"),
            ("valid_nll", "valid nats/byte"),
            ("final_train_loss", "final train loss"),
            ("seconds", "seconds"),
        ],
    )
    verdicts = [
        c.compare(
            results,
            f"{noisy} has lower validation perplexity than {base}",
            noisy,
            base,
            "valid_perplexity",
            higher_is_better=False,
        )
        for noisy in ("noisy_nan", "noisy_nah")
        for base in ("soft", "hard")
    ]
    _curve_figure(results, LSTM_GATES, figure, "LSTM gates")
    _, _, desc = data.stdlib_corpus()
    setup = (
        f"{desc}; embedding 32, one LSTM layer of {config['hidden']} units: soft = flax "
        f"LSTMCell, hard = the same with hard sigmoid/tanh, noisy = NoisyLSTMCell (NAN or "
        f"NAH; test-time gates for validation); windows of {config['length']} bytes, batch "
        f"{config['batch']}, Adam lr {config['lr']}, gradient clip {config['clip']}, "
        f"{config['steps']} steps; perplexity per byte on validation windows."
    )
    return c.Report(setup, tab, verdicts, figure)


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
    full=dict(hidden=128, length=64, batch=32, lr=2e-3, clip=5.0, steps=1500, eval_batch=256),
    quick=dict(hidden=8, length=8, batch=4, lr=2e-3, clip=5.0, steps=10, eval_batch=8),
)
