"""Synthetic sequence tasks: unique counting with annealed noise (Gulcehre et al. 2016) and
the adding problem for IRNNs (Le, Jaitly & Hinton 2015)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import _common as c
from rectify_jax.experiments import data

# --------------------------------------------------------------------------------------
# Unique count

UNIQUE_VARIANTS = ("no_noise", "fixed_noise", "annealed", "annealed_curriculum")


class UniqueCounter(nn.Module):
    """LSTM over one-hot values, hidden states mean-pooled over real steps, ReLU MLP head."""

    noisy: bool
    hidden: int
    values: int = 11
    deterministic: bool = False

    @nn.compact
    def __call__(self, seq, mask):
        x = jax.nn.one_hot(seq, self.values)  # padding (-1) is all zeros
        cell = (
            rjl.NoisyLSTMCell(self.hidden, deterministic=self.deterministic)
            if self.noisy
            else nn.LSTMCell(self.hidden, gate_fn=rj.hard_sigmoid, activation_fn=rj.hard_tanh)
        )
        h = rjl.rnn(cell)(x)
        pooled = jnp.sum(h * mask[..., None], 1) / jnp.sum(mask, 1, keepdims=True)
        return nn.Dense(self.values)(rj.relu(nn.Dense(self.hidden)(pooled)))


def run_unique(config, seed, progress):
    steps, length = config["steps"], config["length"]
    test_seq, test_mask, test_y = data.unique_count(
        jax.random.key(77_000 + seed), 2000, length, max_length=length
    )
    anneal = rj.schedules.noise_annealing(
        config["c0"], transition_steps=config["every"], end_value=0.5
    )
    metrics, curves = {}, {}
    for variant in UNIQUE_VARIANTS:
        model = UniqueCounter(variant != "no_noise", config["hidden"])
        key = jax.random.key(seed)
        variables = model.init({"params": key, "noise": key}, test_seq[:1], test_mask[:1])

        def loss_fn(params, d, key, i, model=model, variables=variables, variant=variant):
            if variant == "annealed_curriculum":  # short sequences first, full length by half-way
                cur = jnp.minimum(
                    length, config["start"] + (length - config["start"]) * 2 * i // steps
                )
            else:
                cur = length
            seq, mask, y = data.unique_count(key, config["batch"], cur, max_length=length)
            v = {**variables, "params": params}
            if variant.startswith("annealed"):
                v = rjl.set_noise_scale(v, anneal(i))
            logits = model.apply(v, seq, mask, rngs={"noise": jax.random.fold_in(key, 1)})
            return c.cross_entropy(logits, y - 1)

        params, hist = c.train(
            loss_fn,
            variables["params"],
            c.clip_adam(config["lr"], 5.0),
            steps,
            jax.random.fold_in(key, 1),
            progress=progress,
            label=f"unique count {variant} seed {seed}",
        )
        test_model = UniqueCounter(variant != "no_noise", config["hidden"], deterministic=True)
        logits = test_model.apply({**variables, "params": params}, test_seq, test_mask)
        metrics[variant] = {
            "test_accuracy": float(jnp.mean(jnp.argmax(logits, -1) == test_y - 1)),
            "final_train_loss": hist[-1][1],
        }
        curves[variant] = hist
    return {"metrics": metrics, "curves": curves}


def _loss_figure(results, models, path, title, log=False):
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for m in models:
        h = np.asarray(results[0]["curves"][m], np.float64)
        ax.plot(h[:, 0], h[:, 1], label=m)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    if log:
        ax.set_yscale("log")
    ax.set_title(f"{title} (seed 0)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report_unique(results, config, figure):
    tab = c.table(
        results,
        UNIQUE_VARIANTS,
        [("test_accuracy", "test accuracy"), ("final_train_loss", "final train loss")],
    )

    def better(a, b):
        return c.compare(results, f"{a} beats {b} (test accuracy)", a, b, "test_accuracy")

    verdicts = [
        better("annealed", "fixed_noise"),
        better("annealed", "no_noise"),
        better("annealed_curriculum", "annealed"),
    ]
    _loss_figure(results, UNIQUE_VARIANTS, figure, "unique count")
    setup = (
        f"sequences of {config['length']} integers in 0..10, target = number of distinct "
        f"values (11 classes); LSTM of {config['hidden']} units (no noise: hard gates; else "
        f"NoisyLSTMCell, NAH), mean-pooled, ReLU MLP; Adam lr {config['lr']}, clip 5, batch "
        f"{config['batch']}, {config['steps']} steps. Annealed: c = max(30 / sqrt(t + 1), 0.5), "
        f"t incremented every {config['every']} steps (the paper: every 200 updates of a much "
        f"longer run). Curriculum: length grows linearly from {config['start']} to "
        f"{config['length']} over the first half. Test: 2000 sequences of full length."
    )
    return c.Report(setup, tab, verdicts, figure)


UNIQUE_EXPERIMENT = c.Experiment(
    name="unique_count",
    title="Annealed noise and a curriculum on the unique-count task",
    claim=(
        "Noise annealing (c from 30 to 0.5) beats no annealing, and combined with a curriculum "
        "(short sequences first) it is best."
    ),
    source="Gulcehre, Moczulski, Denil & Bengio 2016",
    run_seed=run_unique,
    report=report_unique,
    full=dict(length=26, hidden=64, batch=64, lr=3e-3, steps=2000, c0=30.0, every=2, start=5),
    quick=dict(length=6, hidden=8, batch=8, lr=3e-3, steps=10, c0=30.0, every=1, start=3),
)


# --------------------------------------------------------------------------------------
# Adding problem

ADDING_CELLS = ("irnn", "relu_rnn", "tanh_rnn", "lstm")


def adding_cell(kind, hidden):
    random_init = nn.initializers.normal(1.0 / hidden**0.5)
    if kind == "irnn":
        return rjl.IRNNCell(hidden)
    if kind == "relu_rnn":
        return nn.SimpleCell(hidden, activation_fn=rj.relu, recurrent_kernel_init=random_init)
    if kind == "tanh_rnn":
        return nn.SimpleCell(hidden, activation_fn=rj.tanh, recurrent_kernel_init=random_init)
    return nn.LSTMCell(hidden)


class Adder(nn.Module):
    kind: str
    hidden: int

    @nn.compact
    def __call__(self, x):
        h = rjl.rnn(adding_cell(self.kind, self.hidden))(x)
        return nn.Dense(1)(h[:, -1])[:, 0]


def run_adding(config, seed, progress):
    test_x, test_y = data.adding_problem(jax.random.key(55_000 + seed), 1000, config["length"])
    metrics, curves = {}, {}
    for kind in ADDING_CELLS:
        for clip in (None, config["clip"]):
            name = f"{kind}{' + clip' if clip else ''}"
            model = Adder(kind, config["hidden"])
            key = jax.random.key(seed)
            variables = model.init(key, test_x[:1])

            def loss_fn(params, d, key, i, model=model):
                x, y = data.adding_problem(key, config["batch"], config["length"])
                return jnp.mean((model.apply({"params": params}, x) - y) ** 2)

            params, hist = c.train(
                loss_fn,
                variables["params"],
                c.clip_adam(config["lr"], clip),
                config["steps"],
                jax.random.fold_in(key, 1),
                progress=progress,
                label=f"adding {name} seed {seed}",
            )
            mse = float(jnp.mean((model.apply({"params": params}, test_x) - test_y) ** 2))
            metrics[name] = {
                "test_mse": mse if jnp.isfinite(mse) else float("nan"),
                "final_train_loss": hist[-1][1],
            }
            curves[name] = hist
    return {"metrics": metrics, "curves": curves}


def report_adding(results, config, figure):
    models = [f"{k}{s}" for k in ADDING_CELLS for s in ("", " + clip")]
    tab = c.table(
        results, models, [("test_mse", "test MSE"), ("final_train_loss", "final loss")], digits=4
    )
    solved = config["solved"]

    def below(m):
        return c.threshold(
            results,
            f"{m} solves it (test MSE < {solved})",
            m,
            "test_mse",
            solved,
            higher_is_better=False,
            digits=4,
        )

    def beats(a, b):
        return c.compare(
            results, f"{a} beats {b} (test MSE)", a, b, "test_mse", higher_is_better=False, digits=4
        )

    verdicts = [
        below("irnn"),
        below("irnn + clip"),
        beats("irnn", "relu_rnn"),
        beats("irnn", "tanh_rnn"),
        beats("irnn + clip", "tanh_rnn + clip"),
        below("lstm"),
        beats("relu_rnn + clip", "relu_rnn"),
    ]
    _loss_figure(results, models, figure, f"adding problem, T = {config['length']}", log=True)
    setup = (
        f"the adding problem with T = {config['length']} (predicting 1 gives MSE 0.167); one "
        f"recurrent layer of {config['hidden']} units read out from the last state: IRNN "
        f"(ReLU, identity recurrent init, zero bias), ReLU- and tanh-RNN with random "
        f"N(0, 1/H) recurrent init, flax LSTM; Adam lr {config['lr']}, batch "
        f"{config['batch']}, {config['steps']} steps, with and without gradient clipping at "
        f"global norm {config['clip']}; 1000 test sequences. A diverged run counts as "
        f"'diverged' and makes its verdict mixed."
    )
    return c.Report(setup, tab, verdicts, figure)


ADDING_EXPERIMENT = c.Experiment(
    name="adding_problem",
    title="IRNN on the adding problem",
    claim=(
        "A ReLU RNN with identity recurrent initialisation and zero bias (IRNN) solves long-range "
        "tasks such as the adding problem where a plain ReLU RNN explodes and a tanh RNN "
        "vanishes; it is competitive with an LSTM."
    ),
    source="Le, Jaitly & Hinton 2015, arXiv:1504.00941",
    run_seed=run_adding,
    report=report_adding,
    full=dict(length=100, hidden=64, batch=64, lr=1e-3, clip=1.0, steps=2000, solved=0.05),
    quick=dict(length=10, hidden=8, batch=8, lr=1e-3, clip=1.0, steps=10, solved=0.05),
)
