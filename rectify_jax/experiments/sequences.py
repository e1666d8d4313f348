"""Sequence tasks: unique counting with annealed noise (Gulcehre et al. 2016), the adding
problem and sequential digits for IRNNs (Le, Jaitly & Hinton 2015).

Arms that share an architecture train together in one ``jax.vmap``-ed program (the
same batches, the same initial parameters where the claim says so); a failed arm
does not disturb the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import _common as c
from rectify_jax.experiments import data
from rectify_jax.linen.recurrent import Gates

# --------------------------------------------------------------------------------------
# Unique count

UNIQUE_ARMS = (
    "plain_lstm",
    "no_noise",
    "fixed_noise",
    "annealed",
    "annealed_paper",
    "annealed_long",
    "curriculum",
    "curriculum_fixed_noise",
    "curriculum_annealed",
)
# (curriculum, schedule) per arm, grouped by (noisy, gates) of the cell: the two noiseless
# noisy-gate arms train on the units' expectation; plain_lstm is a soft-gate LSTM (flax's
# LSTMCell: sigmoid / tanh), without noise or curriculum. Schedules (noise_multiplier): 0
# fixed, 1 the paper's 1/sqrt(t + 1) compressed to reach its floor half-way, 2 the paper's
# uncompressed (t += 1 every 200 updates), 3 a long high-noise phase (exponential decay)
_UNIQUE_GROUPS = {
    (False, "soft"): {"plain_lstm": (0, 0)},
    (False, "noisy"): {"no_noise": (0, 0), "curriculum": (1, 0)},
    (True, "noisy"): {
        "fixed_noise": (0, 0),
        "annealed": (0, 1),
        "annealed_paper": (0, 2),
        "annealed_long": (0, 3),
        "curriculum_fixed_noise": (1, 0),
        "curriculum_annealed": (1, 1),
    },
}


class UniqueCounter(nn.Module):
    """Noisy LSTM over one-hot values, hidden states mean-pooled over real steps, ReLU MLP.

    ``noisy=False`` trains the same cell on its expectation (no sampling);
    ``gates="soft"`` makes it a plain LSTM (sigmoid / tanh gates, flax's ``LSTMCell``).
    """

    noisy: bool
    hidden: int
    values: int = 11
    gates: str = "noisy"

    @nn.compact
    def __call__(self, seq, mask):
        x = jax.nn.one_hot(seq, self.values)  # padding (-1) is all zeros
        gates = cast(Gates, self.gates)
        cell = rjl.NoisyLSTMCell(self.hidden, gates=gates, deterministic=not self.noisy)
        h = rjl.rnn(cell)(x)
        pooled = jnp.sum(h * mask[..., None], 1) / jnp.sum(mask, 1, keepdims=True)
        return nn.Dense(self.values)(rj.relu(nn.Dense(self.hidden)(pooled)))


def unique_variables(config: dict, seed: int, gates: str = "noisy") -> Mapping[str, Any]:
    """The initial variables shared by every unique-count arm of a seed.

    ``gates="soft"`` (the plain LSTM): the same numbers for every parameter it shares with
    the noisy cell (all but the noise slopes ``p``), and no noise scales.
    """
    key = jax.random.key(seed)
    seq = jnp.zeros((1, config["length"]), jnp.int32)
    noisy = UniqueCounter(True, config["hidden"]).init(
        {"params": key, "noise": key}, seq, jnp.ones_like(seq, bool)
    )
    if gates == "noisy":
        return noisy
    own = UniqueCounter(False, config["hidden"], gates=gates).init(
        {"params": key, "noise": key}, seq, jnp.ones_like(seq, bool)
    )
    shared = dict(jax.tree_util.tree_flatten_with_path(noisy["params"])[0])

    def take(path, value):
        other = shared.get(path)
        return other if other is not None and other.shape == value.shape else value

    return {**own, "params": jax.tree_util.tree_map_with_path(take, own["params"])}


def noise_multiplier(config: dict):
    """``(step, schedule) -> m``: every unit's noise scale is its default times ``m``.

    ``m`` runs from ``c0 / final_c`` (60: the tanh units' c from 30) down to 1, where each
    unit is at its default c (tanh units 0.5, gates 0.15), as the fixed-noise arms are
    throughout. Schedules: 0, fixed (``m = 1``); 1, the paper's
    ``max(c0 / sqrt(t + 1), c_end)`` with ``t`` advancing so that the floor is reached at
    ``config["anneal_steps"]`` (the high-noise phase is short: ``c >= 5`` for the first
    0.5 % of the steps); 2, the paper's own, ``t += 1`` every ``config["paper_period"]``
    updates (200; after 3000 updates still at ``c = 7.5``); 3, an exponential decay from 60
    to 1 that keeps ``c >= high_c`` for the first ``high_fraction`` of training (a quarter
    at ``c >= 5``) and reaches the floor later.
    """
    ratio = config["c0"] / config["final_c"]
    compressed = rj.schedules.noise_annealing(ratio, transition_steps=1, end_value=1.0)
    rate = (ratio**2 - 1) / config["anneal_steps"]
    paper = rj.schedules.noise_annealing(
        ratio, transition_steps=config["paper_period"], end_value=1.0
    )
    high = config["high_c"] / config["final_c"]
    decay_steps = config["high_fraction"] * config["steps"] / (1 - math.log(high) / math.log(ratio))
    long = optax.exponential_decay(
        ratio, transition_steps=decay_steps, decay_rate=1 / ratio, end_value=1.0
    )

    def multiplier(step, schedule=1):
        schedule = jnp.asarray(schedule)
        return jnp.select(
            [schedule == 1, schedule == 2, schedule == 3],
            [
                compressed(jnp.floor(step * rate).astype(jnp.int32)),
                paper(step),
                long(step),
            ],
            1.0,
        )

    return multiplier


def _curriculum_length(config, step, on):
    """Short sequences first: length grows linearly from ``start`` to full by half-way."""
    length, start, steps = config["length"], config["start"], config["steps"]
    grown = jnp.minimum(length, start + (length - start) * 2 * step // steps)
    return jnp.where(on > 0, grown, length)


def run_unique(config, seed, progress):
    length = config["length"]
    test_seq, test_mask, test_y = data.unique_count(
        jax.random.key(77_000 + seed), config["test"], length, max_length=length
    )
    valid_seq, valid_mask, valid_y = data.unique_count(
        jax.random.key(88_000 + seed), config["valid"], length, max_length=length
    )
    multiplier = noise_multiplier(config)
    metrics, curves = {}, {}
    for (noisy, gates), group in _UNIQUE_GROUPS.items():
        runs = [(arm, lr) for arm in group for lr in c.lrs_for(config, arm)]
        variables = unique_variables(config, seed, gates)
        model = UniqueCounter(noisy, config["hidden"], gates=gates)
        hp = {
            "curriculum": jnp.asarray([group[a][0] for a, _ in runs]),
            "schedule": jnp.asarray([group[a][1] for a, _ in runs]),
            "lr": jnp.asarray([lr for _, lr in runs], jnp.float32),
        }

        def loss_fn(params, d, key, i, hp, model=model, variables=variables):
            cur = _curriculum_length(config, i, hp["curriculum"])
            seq, mask, y = data.unique_count(key, config["batch"], cur, max_length=length)
            m = multiplier(i, hp["schedule"])
            v = {**variables, "params": params}
            if rjl.NOISE_SCALE in variables:  # soft gates have no noise scales
                v[rjl.NOISE_SCALE] = jax.tree.map(lambda s: s * m, variables[rjl.NOISE_SCALE])
            logits = model.apply(v, seq, mask, rngs={"noise": jax.random.fold_in(key, 1)})
            return c.cross_entropy(logits, y - 1)

        run = c.train(
            loss_fn,
            c.stack([variables["params"]] * len(runs)),
            lambda hp: c.adam(hp["lr"], config["clip"]),
            config["steps"],
            jax.random.fold_in(jax.random.key(seed), 1),
            hparams=hp,
            progress=progress,
            label=f"unique count {_group_label(noisy, gates)} x{len(runs)} seed {seed}",
        )
        # test time: the expectation, with the noise scale in effect at the end (the default;
        # the uncompressed schedules end above it: their expectation is taken at the default)
        test_model = UniqueCounter(False, config["hidden"], gates=gates)
        per_run = c.unstack(run.params, len(runs))

        def scores(params, seq, mask, y, test_model=test_model, variables=variables):
            logits = cast(jax.Array, test_model.apply({**variables, "params": params}, seq, mask))
            return float(c.cross_entropy(logits, y - 1)), float(
                jnp.mean(jnp.argmax(logits, -1) == y - 1)
            )

        for arm in group:
            idx = [k for k, (a, _) in enumerate(runs) if a == arm]
            valid = {k: scores(per_run[k], valid_seq, valid_mask, valid_y)[0] for k in idx}
            best = c.best_of(valid)
            loss, accuracy = scores(per_run[best], test_seq, test_mask, test_y)
            metrics[arm] = {
                "test_accuracy": accuracy,
                "test_cross_entropy": loss,
                "train_loss": c.tail_mean(run.history, arm=best),
                "lr": runs[best][1],
                "valid_by_lr": [valid[k] for k in idx],
                "diverged": not math.isfinite(loss),
            }
            curves[arm] = [[h[0], h[1][best], h[2]] for h in run.history]
    return {"metrics": metrics, "curves": curves}


def _group_label(noisy: bool, gates: str) -> str:
    if gates != "noisy":
        return f"{gates} gates"
    return "noisy" if noisy else "noiseless"


def unique_levels(length: int, values: int = 11, n: int = 200_000) -> dict[str, float]:
    """Chance and majority-class accuracy of the unique-count labels (Monte Carlo, n draws)."""
    _, _, y = data.unique_count(jax.random.key(4242), n, length, values, max_length=length)
    counts = np.bincount(np.asarray(y), minlength=values + 1)
    return {"majority": float(counts.max() / n), "chance": 1.0 / values}


def _loss_figure(results, arms, path, title, log=False, ylabel="training loss"):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    for arm in arms:
        h = np.asarray([[x[0], x[1]] for x in results[0]["curves"][arm]], np.float64)
        ax.plot(h[:, 0], h[:, 1], label=arm)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(f"{title} (seed 0)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report_unique(results, config, figure):
    tab = c.table(
        results,
        UNIQUE_ARMS,
        [
            ("test_accuracy", "test accuracy"),
            ("test_cross_entropy", "test cross-entropy"),
            ("train_loss", "train loss, last 20 %"),
        ],
    )
    levels = unique_levels(config["length"])

    def better(a, b):
        return c.compare(
            results,
            f"{a} beats {b} (test accuracy)",
            a,
            b,
            "test_accuracy",
            failure=levels["chance"],
            margin=c.ACCURACY_MARGIN,
        )

    claims = [
        better("annealed", "fixed_noise"),
        better("annealed_paper", "fixed_noise"),
        better("annealed_long", "fixed_noise"),
        better("annealed", "no_noise"),
        better("fixed_noise", "no_noise"),
        better("curriculum_annealed", "annealed"),
        better("curriculum_annealed", "curriculum_fixed_noise"),
        better("curriculum_annealed", "curriculum"),
        better("annealed", "curriculum"),  # the paper's table: annealing alone beats the curriculum
        better("annealed", "plain_lstm"),  # against a plain (soft-gate, noiseless) LSTM
        c.beyond(
            results,
            "no_noise leaves the majority-class plateau",
            "no_noise",
            "test_accuracy",
            levels["majority"],
        ),
    ]
    _loss_figure(results, UNIQUE_ARMS, figure, "unique count")
    setup = (
        f"sequences of {config['length']} integers in 0..10, target = number of distinct "
        f"values (11 classes); an LSTM of {config['hidden']} units (NoisyLSTMCell, NAH), hidden "
        f"states mean-pooled over time, a ReLU MLP head. All nine arms of a seed start from the "
        f"same parameters (plain_lstm: all but the noise slopes p, which it has none of) and "
        f"draw the same sequences; plain_lstm is a plain LSTM (the same cell with soft "
        f"sigmoid/tanh gates, i.e. flax's LSTMCell; no noise, no curriculum); no_noise and "
        f"curriculum train the noisy units' expectation (no sampling), the others sample "
        f"noise. Annealed: every noise "
        f"scale is its default times m_t = max({config['c0'] / config['final_c']:g} / sqrt(t + 1), "
        f"1), i.e. the tanh units' c goes from {config['c0']:g} to {config['final_c']:g} as in "
        f"the paper (gates: 0.15 x m_t); t advances so that the floor is reached at step "
        f"{config['anneal_steps']} of {config['steps']} (so c >= 5 lasts only the first few "
        f"steps). annealed_paper: the paper's own schedule, t += 1 every "
        f"{config['paper_period']} updates (after {config['steps']} steps c is still "
        f"{config['c0'] / math.sqrt(config['steps'] // config['paper_period'] + 1):.2g}; "
        f"tested, like the others, on the expectation at the default scale). annealed_long: "
        f"an exponential decay from {config['c0']:g} to {config['final_c']:g} that keeps the "
        f"tanh units at c >= {config['high_c']:g} for the first "
        f"{config['high_fraction']:.0%} of the steps. Fixed noise: the defaults throughout. "
        f"Curriculum: length grows "
        f"linearly from {config['start']} to {config['length']} over the first half. Test: "
        f"{config['test']} full-length sequences, the units' expectation at the final (default) "
        f"noise scale. Adam with each arm's learning rate tuned by the cross-entropy on "
        f"{config['valid']} fresh validation sequences (below), gradient clip {config['clip']}, "
        f"batch "
        f"{config['batch']}, {config['steps']} steps."
    )
    finding = (
        f"Unique count: test accuracy {c.means(results, UNIQUE_ARMS, 'test_accuracy')} "
        f"(majority class {levels['majority']:.3f})."
    )
    return c.Report(
        setup,
        tab,
        claims,
        arms=list(UNIQUE_ARMS),
        levels=levels,
        figure=figure,
        findings=[finding],
    )


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
    tuned=True,
    full=dict(
        length=26,
        hidden=64,
        batch=64,
        lrs=[1e-3, 3e-3, 1e-2, 3e-2],
        tune_seeds=2,
        tune_steps=750,
        clip=5.0,
        steps=3000,
        c0=30.0,
        final_c=0.5,
        anneal_steps=1500,
        paper_period=200,
        high_c=5.0,
        high_fraction=0.25,
        start=5,
        valid=2000,
        test=2000,
    ),
    quick=dict(
        length=6,
        hidden=8,
        batch=8,
        lrs=[1e-3, 3e-3, 1e-2, 3e-2],
        **c.QUICK_TUNING,
        clip=5.0,
        steps=10,
        c0=30.0,
        final_c=0.5,
        anneal_steps=5,
        paper_period=200,
        high_c=5.0,
        high_fraction=0.25,
        start=3,
        valid=100,
        test=100,
    ),
)


# --------------------------------------------------------------------------------------
# Adding problem

ADDING_CELLS = ("irnn", "relu_rnn", "relu_rnn_scaled", "tanh_rnn", "lstm")
ADDING_ARMS = tuple(f"{cell}{suffix}" for cell in ADDING_CELLS for suffix in ("", "_clip"))
TRIVIAL_MSE = 1.0 / 6.0  # predicting 1, the mean of the target, whatever the input


def rnn_cell(kind: str, hidden: int, small_std: float = 1e-3):
    """The recurrent cell of an arm: IRNN, ReLU RNN (small Gaussian or N(0, 1/H) recurrent
    init), tanh RNN (N(0, 1/H)), or flax's LSTM."""
    scaled = nn.initializers.normal(1.0 / math.sqrt(hidden))
    if kind == "irnn":
        return rjl.IRNNCell(hidden)
    if kind == "relu_rnn":
        return nn.SimpleCell(
            hidden, activation_fn=rj.relu, recurrent_kernel_init=nn.initializers.normal(small_std)
        )
    if kind == "relu_rnn_scaled":
        return nn.SimpleCell(hidden, activation_fn=rj.relu, recurrent_kernel_init=scaled)
    if kind == "tanh_rnn":
        return nn.SimpleCell(hidden, activation_fn=rj.tanh, recurrent_kernel_init=scaled)
    if kind == "lstm":
        return nn.LSTMCell(hidden)
    raise ValueError(f"rnn_cell: unknown kind {kind!r}; choose from {ADDING_CELLS}")


class Reader(nn.Module):
    """One recurrent layer read out from its last state (``outputs`` logits or values)."""

    kind: str
    hidden: int
    outputs: int = 1

    @nn.compact
    def __call__(self, x):
        # one name for every kind, so that cells differing only in init share a layout
        cell = rnn_cell(self.kind, self.hidden).clone(name="cell")
        h = rjl.rnn(cell)(x)
        return nn.Dense(self.outputs)(h[:, -1])


def _groups(kinds):
    """Cells that differ only in initial values train together: the ReLU cells, tanh, LSTM."""
    relu = [k for k in kinds if k in ("irnn", "relu_rnn", "relu_rnn_scaled")]
    return [
        g for g in (relu, [k for k in kinds if k == "tanh_rnn"], ["lstm"] * ("lstm" in kinds)) if g
    ]


def _adding_arm(kind: str, clip: bool) -> str:
    return f"{kind}{'_clip' if clip else ''}"


def run_adding(config, seed, progress):
    T = config["length"]
    test_x, test_y = data.adding_problem(jax.random.key(55_000 + seed), config["test"], T)
    valid_x, valid_y = data.adding_problem(jax.random.key(66_000 + seed), config["valid"], T)
    metrics, curves = {}, {}
    for kinds in _groups(ADDING_CELLS):
        # every cell of a group is applied by its first (a ReLU SimpleCell applies an IRNN too)
        model = Reader(kinds[0], config["hidden"])
        key = jax.random.key(seed)
        inits = {k: Reader(k, config["hidden"]).init(key, test_x[:1])["params"] for k in kinds}
        runs = [
            (k, clip, lr)
            for k in kinds
            for clip in (False, True)
            for lr in c.lrs_for(config, _adding_arm(k, clip))
        ]
        params = c.stack([inits[k] for k, _, _ in runs])
        hp = {
            "clip": jnp.asarray([config["clip"] if clip else math.inf for _, clip, _ in runs]),
            "lr": jnp.asarray([lr for _, _, lr in runs], jnp.float32),
        }

        def loss_fn(params, d, key, i, hp, model=model):
            x, y = data.adding_problem(key, config["batch"], T)
            return jnp.mean((cast(jax.Array, model.apply({"params": params}, x))[:, 0] - y) ** 2)

        run = c.train(
            loss_fn,
            params,
            lambda hp: c.optimizer(config["optimizer"], hp["lr"], hp["clip"]),
            config["steps"],
            jax.random.fold_in(key, 1),
            hparams=hp,
            progress=progress,
            label=f"adding T={T} {'/'.join(kinds)} x{len(runs)} seed {seed}",
        )
        per_run = c.unstack(run.params, len(runs))
        for kind in kinds:
            for clip in (False, True):
                # the learning rate with the lowest MSE on fresh validation sequences
                idx = [i for i, r in enumerate(runs) if r[:2] == (kind, clip)]
                valid = {i: _mse(model, per_run[i], valid_x, valid_y) for i in idx}
                tails = {i: c.tail_mean(run.history, arm=i) for i in idx}
                best = c.best_of(valid)
                arm = _adding_arm(kind, clip)
                mse = _mse(model, per_run[best], test_x, test_y)
                metrics[arm] = {
                    "test_mse": mse,
                    "lr": runs[best][2],
                    "valid_by_lr": [valid[i] for i in idx],
                    "solved": float(mse < config["solved"]),
                    "steps_to_solve": c.steps_to(run.history, config["solved"], best),
                    "diverged": not (math.isfinite(mse) and mse < 1.0),
                    "diverged_lrs": sum(not math.isfinite(tails[i]) for i in idx),
                }
                curves[arm] = [[h[0], h[1][best], h[2]] for h in run.history]
    return {"metrics": metrics, "curves": curves}


def _mse(model, params, x, y) -> float:
    out = cast(jax.Array, model.apply({"params": params}, x))[:, 0]
    return float(jnp.mean((out - y) ** 2))


def report_adding(results, config, figure):
    solved = config["solved"]
    tab = c.table(
        results,
        ADDING_ARMS,
        [
            ("test_mse", "test MSE"),
            ("lr", "chosen lr"),
        ],
        digits=4,
    )
    tab = _with_steps_to_solve(
        tab, results, ADDING_ARMS, solved, len(c.lrs_for(config, ADDING_ARMS[0]))
    )

    def solves(arm):
        return c.beyond(
            results,
            f"{arm} solves it (test MSE < {solved})",
            arm,
            "test_mse",
            solved,
            higher_is_better=False,
            failure=TRIVIAL_MSE,
        )

    def beats(a, b):
        return c.compare(
            results,
            f"{a} beats {b} (test MSE)",
            a,
            b,
            "test_mse",
            higher_is_better=False,
            failure=TRIVIAL_MSE,
            digits=4,
        )

    claims = [
        solves("irnn_clip"),
        solves("irnn"),
        beats("irnn_clip", "relu_rnn_clip"),
        beats("irnn_clip", "tanh_rnn_clip"),
        beats("irnn", "relu_rnn"),
        beats("irnn", "tanh_rnn"),
        beats("irnn_clip", "irnn"),
    ]
    _loss_figure(
        results,
        ADDING_ARMS,
        figure,
        f"adding problem, T = {config['length']}",
        log=True,
        ylabel="training MSE (chunk mean)",
    )
    setup = (
        f"the adding problem with T = {config['length']} (predicting 1 gives MSE 1/6); one "
        f"recurrent layer of {config['hidden']} units read out from the last state: irnn (ReLU, "
        f"identity recurrent init, zero bias), relu_rnn (ReLU, a small Gaussian recurrent init, "
        f"std 0.001, like the paper's baseline), relu_rnn_scaled (ReLU, N(0, 1/H): the init "
        f"that keeps the state's scale), tanh_rnn (tanh, N(0, 1/H)), lstm (flax LSTMCell); "
        f"each without and with (_clip) gradient clipping at global norm {config['clip']}. The "
        f"ReLU arms of a seed share their input and read-out weights; all arms see the same "
        f"batches. {config['optimizer'].capitalize()} (the paper used SGD; in a one-seed pilot "
        f"of 1500 steps, plain SGD with learning rates 0.001-0.1 left every ReLU arm at the "
        f"trivial MSE or diverged) with each arm's learning rate tuned by the MSE on "
        f"{config['valid']} fresh validation sequences (below); "
        f"batch {config['batch']}, {config['steps']} steps; "
        f"{config['test']} test sequences. A run whose test MSE is not finite or above 1 "
        f"diverged; for the tests a failed or stuck run counts as the trivial MSE 1/6. T = 300 "
        f"was left out for time."
    )
    solved_by = ", ".join(
        f"{a} {int(sum(c.values(results, a, 'solved')))}/{len(results)}" for a in ADDING_ARMS
    )
    finding = (
        f"Adding problem (T = {config['length']}): seeds that reach test MSE < {solved}: "
        f"{solved_by}."
    )
    return c.Report(
        setup,
        tab,
        claims,
        findings=[finding],
        arms=list(ADDING_ARMS),
        levels={"trivial_mse": TRIVIAL_MSE},
        figure=figure,
    )


def _with_steps_to_solve(tab: str, results, arms, solved: float, lrs: int) -> str:
    """Adds columns: seeds that solved it, the median step they got there (training loss
    below the threshold), and how many of the runs (``lrs`` rates per seed) diverged."""
    lines = tab.splitlines()
    lines[0] += (
        f" solved (test MSE < {solved}) | steps to solve (median of solved seeds) "
        "| diverged runs (seeds x rates) |"
    )
    lines[1] += "---|---|---|"
    n = len(results)
    for i, arm in enumerate(arms):
        ok = [bool(v) for v in c.values(results, arm, "solved")]
        steps = [
            v
            for v, s in zip(c.values(results, arm, "steps_to_solve"), ok, strict=True)
            if s and math.isfinite(v)
        ]
        bad = int(sum(c.values(results, arm, "diverged_lrs")))
        lines[2 + i] += f" {sum(ok)}/{n} |" + (f" {int(np.median(steps))} |" if steps else " — |")
        lines[2 + i] += f" {bad}/{n * lrs} |"
    return "\n".join(lines)


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
    tuned=True,
    full=dict(
        length=150,
        hidden=32,
        batch=32,
        optimizer="adam",
        lrs=[1e-4, 3e-4, 1e-3, 3e-3],
        tune_seeds=2,
        tune_steps=1500,
        clip=1.0,
        steps=3000,
        solved=0.01,
        valid=1000,
        test=1000,
    ),
    quick=dict(
        length=10,
        hidden=8,
        batch=8,
        optimizer="adam",
        lrs=[1e-4, 3e-4, 1e-3, 3e-3],
        **c.QUICK_TUNING,
        clip=1.0,
        steps=10,
        solved=0.01,
        valid=50,
        test=50,
    ),
)


# --------------------------------------------------------------------------------------
# Sequential digits

DIGIT_ARMS = ("irnn", "irnn_sgd", "lstm", "tanh_rnn")
"""The sequence readers; ``irnn_sgd`` is the IRNN trained with plain SGD (gradient clipping
as the others), the optimiser of Le et al.; the rest use Adam."""


def _digit_reader(arm: str) -> tuple[str, str]:
    """The cell and the optimiser of a sequential-digits arm."""
    return (arm.removesuffix("_sgd"), "sgd") if arm.endswith("_sgd") else (arm, "adam")


def run_digits(config, seed, progress):
    xtr, ytr, xva, yva, xte, yte = data.digits(
        test_size=config["test"], valid_size=config["valid"], split_seed=seed
    )
    # one pixel per step: (N, 64, 1)
    xtr, xva, xte = (jnp.asarray(a)[..., None] for a in (xtr, xva, xte))
    ytr, yva, yte = (jnp.asarray(a) for a in (ytr, yva, yte))
    metrics, curves = {}, {}
    metrics["mlp"] = {"test_accuracy": _mlp_reference(config, seed, xtr, ytr, xte, yte)}
    majority = float(jnp.max(jnp.bincount(yte, length=10)) / yte.shape[0])
    for arm in DIGIT_ARMS:
        lrs = c.lrs_for(config, arm)
        kind, optimizer = _digit_reader(arm)
        model = Reader(kind, config["hidden"], outputs=10)
        key = jax.random.key(seed)
        variables = model.init(key, xtr[:1])

        def loss_fn(params, d, key, i, hp, model=model):
            idx = jax.random.randint(key, (config["batch"],), 0, d[0].shape[0])
            return c.cross_entropy(model.apply({"params": params}, d[0][idx]), d[1][idx])

        def apply(params, x, model=model):
            return cast(jax.Array, model.apply({"params": params}, x))

        at = c.train_at_rates(
            loss_fn,
            variables["params"],
            lambda lr, optimizer=optimizer: c.optimizer(optimizer, lr, config["clip"]),
            lrs,
            config["steps"],
            jax.random.fold_in(key, 1),
            lambda p, apply=apply: c.cross_entropy(apply(p, xva), yva),
            data=(xtr, ytr),
            progress=progress,
            label=f"sequential digits {arm} x{len(lrs)} lr seed {seed}",
        )
        logits = apply(at.params, xte)
        loss = float(c.cross_entropy(logits, yte))
        metrics[arm] = {
            "test_accuracy": float(jnp.mean(jnp.argmax(logits, -1) == yte)),
            "test_cross_entropy": loss,
            "lr": at.lr,
            "valid_by_lr": at.valid,
            "train_loss": at.train_loss(),
            "diverged": not math.isfinite(loss),
        }
        curves[arm] = at.curve()
    return {"metrics": metrics, "curves": curves, "majority": majority}


class _MLP(nn.Module):
    """The non-recurrent reference: one hidden ReLU layer on all 64 pixels at once."""

    hidden: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(jax.nn.relu(nn.Dense(self.hidden)(x.reshape(x.shape[0], -1))))


def _mlp_reference(config, seed, xtr, ytr, xte, yte) -> float:
    """Test accuracy of an MLP that sees the 64 pixels at once (Adam 1e-3, the same steps
    and batch): what the images allow without reading them in sequence."""
    model = _MLP(config["mlp_hidden"])
    key = jax.random.key(seed)
    params = model.init(key, xtr[:1])["params"]

    def loss_fn(params, d, key, i, hp):
        idx = jax.random.randint(key, (config["batch"],), 0, d[0].shape[0])
        return c.cross_entropy(model.apply({"params": params}, d[0][idx]), d[1][idx])

    run = c.train(loss_fn, params, c.adam(1e-3), config["steps"], key, data=(xtr, ytr))
    logits = cast(jax.Array, model.apply({"params": run.params}, xte))
    return float(jnp.mean(jnp.argmax(logits, -1) == yte))


def report_digits(results, config, figure):
    tab = c.table(
        results,
        DIGIT_ARMS,
        [
            ("test_accuracy", "test accuracy"),
            ("test_cross_entropy", "test cross-entropy"),
            ("lr", "chosen lr"),
            ("train_loss", "train loss, last 20 %"),
        ],
    )
    claims = [
        c.compare(
            results,
            f"{a} beats {b} (test accuracy)",
            a,
            b,
            "test_accuracy",
            failure=0.1,
            margin=c.ACCURACY_MARGIN,
        )
        for a in ("irnn", "irnn_sgd")
        for b in ("tanh_rnn", "lstm")
    ]
    _loss_figure(results, DIGIT_ARMS, figure, "sequential digits (64 steps)", log=True)
    setup = (
        f"scikit-learn's 8x8 digits read one pixel per step (64 steps, standardised), a "
        f"random split per seed ({config['test']} test, {config['valid']} validation images, "
        f"the rest for training); one recurrent layer of {config['hidden']} units read out "
        f"from the last state: irnn, lstm (flax LSTMCell), tanh_rnn (N(0, 1/H) recurrent "
        f"init) trained with Adam, and irnn_sgd, the IRNN trained with plain SGD as in the "
        f"paper; each arm's learning rate tuned by validation cross-entropy "
        f"(below), gradient clip {config['clip']}, batch {config['batch']}, "
        f"{config['steps']} steps. Reference levels: chance; the majority class of each test "
        f"split; an MLP with one hidden layer of {config['mlp_hidden']} ReLU units that sees "
        f"the 64 pixels at once (Adam 1e-3, the same steps), the level a sequence reader can "
        f"aim for."
    )
    finding = f"Sequential digits: test accuracy {c.means(results, DIGIT_ARMS, 'test_accuracy')}."
    return c.Report(
        setup,
        tab,
        claims,
        arms=list(DIGIT_ARMS),
        levels={
            "chance": 0.1,
            "majority": float(np.mean([r["majority"] for r in results])),
            "mlp": float(np.mean(c.values(results, "mlp", "test_accuracy"))),
        },
        figure=figure,
        findings=[finding],
    )


DIGITS_EXPERIMENT = c.Experiment(
    name="sequential_digits",
    title="IRNN on sequential digits (pixel by pixel)",
    claim=(
        "Reading an image one pixel per step, an IRNN classifies it better than a tanh RNN "
        "and competitively with an LSTM (pixel-by-pixel MNIST; here the 8x8 digits)."
    ),
    source="Le, Jaitly & Hinton 2015, arXiv:1504.00941",
    run_seed=run_digits,
    report=report_digits,
    tuned=True,
    full=dict(
        hidden=48,
        batch=64,
        # Adam's rates and plain SGD's (larger) on one grid
        lrs=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        tune_seeds=2,
        tune_steps=1000,
        clip=1.0,
        steps=2000,
        test=497,
        valid=300,
        mlp_hidden=64,
    ),
    quick=dict(
        hidden=8,
        batch=8,
        lrs=[1e-4, 3e-4, 1e-3, 3e-3],
        **c.QUICK_TUNING,
        clip=1.0,
        steps=10,
        test=497,
        valid=100,
        mlp_hidden=8,
    ),
)
