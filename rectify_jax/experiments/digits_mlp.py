"""Rectifiers vs tanh in deep MLPs (Maas et al. 2013; Glorot et al. 2011), on digits."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import rectify_jax as rj
from rectify_jax import diagnostics as dg
from rectify_jax import linen as rjl
from rectify_jax.experiments import _common as c
from rectify_jax.experiments import data

ACTIVATIONS = {
    "tanh": rj.tanh,
    "relu": rj.relu,
    "leaky_relu": rj.leaky_relu,
    "tlu": rj.tlu,
    "elu": rj.elu,
    "noisy_hard_tanh": None,  # a module: it owns p and draws noise
}


class MLP(nn.Module):
    activation: str
    depth: int
    width: int

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        for _ in range(self.depth):
            x = nn.Dense(self.width)(x)
            if self.activation == "noisy_hard_tanh":
                x = rjl.NoisyHardTanh()(x, deterministic)
            else:
                x = ACTIVATIONS[self.activation](x)
        return nn.Dense(10)(x)


def run_seed(config: dict, seed: int, progress) -> dict:
    xtr, ytr, xte, yte = (jnp.asarray(a) for a in data.digits())
    metrics, curves, probs = {}, {}, {}
    for depth in config["depths"]:
        for name in config["activations"]:
            label = f"{depth}-layer {name}"
            model = MLP(name, depth, config["width"])
            key = jax.random.key(seed)
            variables = model.init(key, xtr[:1])

            def loss_fn(params, d, key, i, model=model, variables=variables):
                idx = jax.random.randint(key, (config["batch"],), 0, d[0].shape[0])
                logits = model.apply(
                    {**variables, "params": params},
                    d[0][idx],
                    False,
                    rngs={"noise": jax.random.fold_in(key, 1)},
                )
                return c.cross_entropy(logits, d[1][idx])

            params, hist = c.train(
                loss_fn,
                variables["params"],
                c.clip_adam(config["lr"], None),
                config["steps"],
                jax.random.fold_in(key, 1),
                data=(xtr, ytr),
                progress=progress,
                label=f"digits {label} seed {seed}",
            )
            full = {**variables, "params": params}
            logits, pre = rjl.capture_preactivations(model, full, xte)
            last = pre[f"Dense_{depth - 1}"]
            rule = "hard_tanh" if name == "noisy_hard_tanh" else name
            s = dg.code_statistics(last, rule)
            metrics[label] = {
                "test_accuracy": float(jnp.mean(jnp.argmax(logits, -1) == yte)),
                "sparsity": float(s.sparsity),
                "dispersion": float(s.dispersion),
                "dead_units": int(s.dead_units),
                "mean_shift": float(s.mean_shift),
                "saturation": float(s.saturation),
                "final_train_loss": hist[-1][1],
            }
            curves[label] = hist
            probs[label] = np.sort(np.asarray(s.activation_probability))[::-1].tolist()
    return {"metrics": metrics, "curves": curves, "activation_probability": probs}


def report(results: list[dict], config: dict, figure: str) -> c.Report:
    from rectify_jax import plotting

    models = [f"{d}-layer {a}" for d in config["depths"] for a in config["activations"]]
    tab = c.table(
        results,
        models,
        [
            ("test_accuracy", "test accuracy"),
            ("sparsity", "sparsity"),
            ("dispersion", "dispersion"),
            ("dead_units", "dead units"),
            ("mean_shift", "mean shift"),
        ],
    )
    deep = max(config["depths"])
    shallow = min(config["depths"])

    acc = "test_accuracy"
    verdicts = [
        c.compare(
            results,
            f"{d}-layer {rect} beats {d}-layer tanh (test accuracy)",
            f"{d}-layer {rect}",
            f"{d}-layer tanh",
            acc,
        )
        for d in config["depths"]
        for rect in ("relu", "leaky_relu")
    ]
    verdicts += [
        c.compare(
            results,
            f"the {deep}-layer tanh net is worse than the {shallow}-layer one",
            f"{shallow}-layer tanh",
            f"{deep}-layer tanh",
            acc,
        ),
        c.compare(
            results,
            "ReLU codes are sparser than tanh codes (last hidden layer)",
            f"{deep}-layer relu",
            f"{deep}-layer tanh",
            "sparsity",
        ),
        c.compare(
            results,
            "ReLU codes are more dispersed (lower std of activation probabilities)",
            f"{deep}-layer relu",
            f"{deep}-layer tanh",
            "dispersion",
            higher_is_better=False,
        ),
    ]
    probs = {
        m: np.mean([r["activation_probability"][m] for r in results], axis=0)
        for m in models
        if m.startswith(f"{deep}-layer")
    }
    plotting.activation_probability(probs, path=figure)
    setup = (
        f"scikit-learn digits (1300 train / 497 test, standardised); MLPs with "
        f"{config['depths']} hidden layers of {config['width']} units; Adam lr {config['lr']}, "
        f"batch {config['batch']}, {config['steps']} steps; statistics of the last hidden "
        f"layer on the test set (the figure: {deep}-layer nets, mean over seeds)."
    )
    return c.Report(setup, tab, verdicts, figure)


EXPERIMENT = c.Experiment(
    name="rectifiers_vs_tanh",
    title="Rectifiers vs tanh in deep MLPs",
    claim=(
        "ReLU and leaky ReLU networks beat tanh networks; a 4-hidden-layer tanh network is "
        "worse than a 2-layer one; rectifier codes are sparser and more dispersed."
    ),
    source="Maas, Hannun & Ng 2013; Glorot, Bordes & Bengio 2011",
    run_seed=run_seed,
    report=report,
    full=dict(
        depths=[2, 4], width=128, activations=list(ACTIVATIONS), steps=3000, batch=64, lr=1e-3
    ),
    quick=dict(
        depths=[1, 2],
        width=16,
        activations=["tanh", "relu", "leaky_relu", "noisy_hard_tanh"],
        steps=20,
        batch=32,
        lr=1e-3,
    ),
)
