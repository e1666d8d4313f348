"""Noisy units on a mixture of 3 Gaussians (Gulcehre et al. 2016, §6.1 / Figure 6)."""

from __future__ import annotations

from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import _common as c
from rectify_jax.experiments import data

ARMS = ("tanh", "noisy_hard_tanh", "linear")


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units; ``linear`` uses the identity (a linear model
    with the same parameters and initialisation)."""

    activation: str
    width: int = 8
    depth: int = 3

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        for _ in range(self.depth):
            x = nn.Dense(self.width)(x)
            if self.activation == "noisy_hard_tanh":
                x = rjl.NoisyHardTanh()(x, deterministic)
            elif self.activation == "tanh":
                x = rj.tanh(x)
        return nn.Dense(3)(x)


def run_seed(config: dict, seed: int, progress) -> dict:
    test_x, test_y = data.gaussian_mixture(jax.random.key(10_000 + seed), config["test"])
    valid_x, valid_y = data.gaussian_mixture(jax.random.key(20_000 + seed), config["valid"])
    bayes = float(jnp.mean(data.mixture_bayes(test_x) == test_y))
    metrics: dict[str, dict[str, Any]] = {"bayes": {"test_accuracy": bayes}}
    curves, learned_p = {}, None
    for arm in ARMS:
        model = MLP(arm, config["width"], config["depth"])
        lrs = c.lrs_for(config, arm)
        key = jax.random.key(seed)
        variables = model.init(key, test_x[:1])  # Dense layers: the same values in every arm

        def loss_fn(params, d, key, i, hp, model=model, variables=variables):
            x, y = data.gaussian_mixture(key, config["batch"])
            logits = model.apply(
                {**variables, "params": params},
                x,
                False,
                rngs={"noise": jax.random.fold_in(key, 1)},
            )
            return c.cross_entropy(logits, y)

        def apply(params, x, model=model, variables=variables):
            return cast(jax.Array, model.apply({**variables, "params": params}, x))

        at = c.train_at_rates(
            loss_fn,
            variables["params"],
            c.adam,
            lrs,
            config["steps"],
            jax.random.fold_in(key, 1),
            lambda p, apply=apply: c.cross_entropy(apply(p, valid_x), valid_y),
            progress=progress,
            label=f"mixture {arm} x{len(lrs)} lr seed {seed}",
        )
        logits = apply(at.params, test_x)
        loss = c.cross_entropy(logits, test_y)
        metrics[arm] = {
            "test_accuracy": float(jnp.mean(jnp.argmax(logits, -1) == test_y)),
            "test_cross_entropy": float(loss),
            "final_train_loss": at.train_loss(),
            "lr": at.lr,
            "valid_by_lr": at.valid,
            "diverged": not bool(jnp.isfinite(loss)),
        }
        curves[arm] = at.curve()
        if arm == "noisy_hard_tanh":  # each unit's learned slope p shapes its noise
            learned_p = [
                np.asarray(at.params[f"NoisyHardTanh_{k}"]["p"]).tolist()
                for k in range(config["depth"])
            ]
    return {"metrics": metrics, "curves": curves, "learned_p": learned_p}


def _figure(results, path):
    from matplotlib.figure import Figure

    x = jnp.linspace(-4.0, 4.0, 401)
    fig = Figure(figsize=(10, 6))
    ps = results[0]["learned_p"]
    for layer, layer_p in enumerate(ps):
        ax_f = fig.add_subplot(2, len(ps), layer + 1)
        ax_d = fig.add_subplot(2, len(ps), len(ps) + layer + 1)
        for p in layer_p:
            f = lambda x, p=p: rj.noisy_hard_tanh(x, p=p, deterministic=True)  # noqa: E731
            ax_f.plot(x, f(x), linewidth=1)
            ax_d.plot(x, jax.vmap(jax.grad(f))(x), linewidth=1)
        ax_f.plot(x, rj.tanh(x), color="k", linestyle=":", label="tanh")
        ax_f.set_title(f"layer {layer + 1}: E[phi] per unit", fontsize=9)
        ax_d.set_title(f"layer {layer + 1}: dE[phi]/dx per unit", fontsize=9)
        ax_d.set_xlabel("x")
    fig.axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def bayes_rate(n: int = 1_000_000) -> float:
    """Monte Carlo estimate of the Bayes classifier's accuracy (n points, fixed key)."""
    x, y = data.gaussian_mixture(jax.random.key(123_456), n)
    return float(jnp.mean(data.mixture_bayes(x) == y))


def report(results: list[dict], config: dict, figure: str) -> c.Report:
    tab = c.table(
        results,
        [*ARMS, "bayes"],
        [
            ("test_accuracy", "test accuracy"),
            ("test_cross_entropy", "test cross-entropy"),
            ("final_train_loss", "train loss (last 20 %)"),
        ],
    )
    margin = config["margin"]
    bayes = c.values(results, "bayes", "test_accuracy")
    claims = []
    for arm in ("tanh", "noisy_hard_tanh"):
        acc = c.robust(results, arm, "test_accuracy", 1 / 3, True)
        claims.append(
            c.Claim(
                f"{arm} solves the task (test accuracy within {margin} of the Bayes "
                "classifier's on the same points)",
                tuple(a - b + margin for a, b in zip(acc, bayes, strict=True)),
                f"{arm} minus Bayes accuracy, plus {margin}",
                "paired t-test",
            )
        )
    claims += [
        c.compare(
            results,
            f"{arm} beats the linear model (the task needs the non-linearity)",
            arm,
            "linear",
            "test_accuracy",
            failure=1 / 3,
            margin=c.ACCURACY_MARGIN,
        )
        for arm in ("tanh", "noisy_hard_tanh")
    ]
    _figure(results, figure)
    means = ", ".join(f"({a:g}, {b:g})" for a, b in data.MIXTURE_MEANS)
    stds = ", ".join(f"{s:g}" for s in data.MIXTURE_STDS)
    setup = (
        f"3 equally likely 2-D Gaussians with means {means} and standard deviations {stds} "
        f"(the Bayes boundaries are quadratic), label = component; MLP with {config['depth']} "
        f"hidden layers of {config['width']} units: tanh, noisy hard tanh (NAH, learned p, "
        f"test-time expectation for testing) or the identity (a linear model); the three arms "
        f"of a seed share the initial weights of their Dense layers and the batches. Adam with "
        f"each arm's learning rate tuned by the cross-entropy on {config['valid']} fresh "
        f"validation points (below), batch {config['batch']}, {config['steps']} steps; "
        f"{config['test']} "
        f"test points per seed, on which the Bayes classifier is also scored. 'Solved' means "
        f"within {margin} of the Bayes classifier's accuracy. The figure shows the test-time "
        f"activation and derivative of every noisy unit (seed 0)."
    )
    finding = (
        f"Mixture of Gaussians: test accuracy {c.means(results, [*ARMS, 'bayes'], 'test_accuracy')}"
        " (the Bayes classifier on the same points)."
    )
    return c.Report(
        setup,
        tab,
        claims,
        findings=[finding],
        arms=list(ARMS),
        levels={"bayes": bayes_rate(config["bayes_samples"]), "chance": 1 / 3, "majority": 1 / 3},
        figure=figure,
    )


EXPERIMENT = c.Experiment(
    name="noisy_mixture",
    title="Noisy units on a mixture of 3 Gaussians",
    claim=(
        "A 3-layer, 8-unit MLP solves the mixture-of-Gaussians task with tanh and with noisy "
        "hard tanh; the learned noisy activations can be plotted unit by unit."
    ),
    source="Gulcehre, Moczulski, Denil & Bengio 2016",
    run_seed=run_seed,
    report=report,
    tuned=True,
    full=dict(
        width=8,
        depth=3,
        steps=3000,
        batch=128,
        lrs=[1e-3, 3e-3, 1e-2, 3e-2],
        tune_seeds=2,
        tune_steps=1500,
        valid=5000,
        test=5000,
        margin=0.02,
        bayes_samples=1_000_000,
    ),
    quick=dict(
        width=4,
        depth=2,
        steps=20,
        batch=32,
        lrs=[1e-3, 3e-3, 1e-2, 3e-2],
        **c.QUICK_TUNING,
        valid=500,
        test=500,
        margin=0.02,
        bayes_samples=10_000,
    ),
)
