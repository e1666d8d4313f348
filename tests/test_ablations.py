"""Ablations of the reproductions (issue 21, item 5): the alpha-slope arm of the noisy LSTM
language model (NAN's own expectation), its attribution table, and the plain-LSTM arm of
the unique-count task."""

import json
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax._src.units import HARD_SIGMOID_UNIT, HARD_TANH_UNIT
from rectify_jax.experiments import _common, charlm, sequences

UNITS = (
    (rj.noisy_hard_sigmoid, HARD_SIGMOID_UNIT, lambda x: x / 4 + 0.5),
    (rj.noisy_hard_tanh, HARD_TANH_UNIT, lambda x: x),
)


def alpha_slope(unit, u, x):
    """``alpha*h(x) + (1 - alpha)*u(x)``, in float64 NumPy."""
    x = np.asarray(x, np.float64)
    h = np.clip(u(x), -1.0 if unit is HARD_TANH_UNIT else 0.0, 1.0)
    return unit.alpha * h + (1 - unit.alpha) * u(x)


@pytest.mark.parametrize(("fn", "unit", "u"), UNITS, ids=["hard_sigmoid", "hard_tanh"])
def test_normal_noise_expectation_is_the_alpha_slope_alone(fn, unit, u):
    x = jnp.linspace(-4 * unit.threshold, 4 * unit.threshold, 801, dtype=jnp.float32)
    p = jax.random.uniform(jax.random.key(0), x.shape, minval=-1.0, maxval=1.0) + 2.0
    want = alpha_slope(unit, u, x)
    # the noise replaced by its mean: E[xi] = 0 for normal noise, whatever p
    got = fn(x, p=p, noise="normal", deterministic=True)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # NAH's expectation adds d * sigma(x; p) * E|xi|: the same inside the threshold ...
    nah = np.asarray(fn(x, p=p, noise="half_normal", deterministic=True))
    beyond = np.abs(np.asarray(x)) > 1.25 * unit.threshold
    inside = np.abs(np.asarray(x)) < unit.threshold
    np.testing.assert_allclose(nah[inside], want[inside], rtol=1e-6, atol=1e-6)
    # ... and different everywhere beyond it (the p term is nonzero there)
    assert beyond.sum() > 300
    assert np.all(np.abs(nah[beyond] - want[beyond]) > 1e-4)
    # the slope of the alpha-mixture beyond the threshold is (1 - alpha) * u'(x) != 0
    assert not np.allclose(want[beyond], np.clip(u(np.asarray(x)[beyond]), -1, 1))


def _reference_lstm_step(params, carry, x, gate_fn, squash_fn):
    """flax's LSTM step (gates i, f, g, o) with the given gate and squashing functions."""
    c, h = (np.asarray(a, np.float64) for a in carry)
    x = np.asarray(x, np.float64)

    def z(gate):
        k_in = np.asarray(params["i" + gate]["kernel"], np.float64)
        k_h = np.asarray(params["h" + gate]["kernel"], np.float64)
        return x @ k_in + h @ k_h + np.asarray(params["h" + gate]["bias"], np.float64)

    i, f, g, o = gate_fn(z("i")), gate_fn(z("f")), squash_fn(z("g")), gate_fn(z("o"))
    new_c = f * c + i * g
    return new_c, o * squash_fn(new_c), {"gates": np.stack([z(k) for k in "ifgo"]), "c": new_c}


def test_expectation_alpha_cell_computes_the_alpha_slope_of_both_units():
    hidden, n_in, batch = 6, 5, 4
    cells = {
        arm: charlm.make_cell(arm, hidden, test=False)
        for arm in ("expectation_alpha", "expectation", "hard")
    }
    x = 3.0 * jax.random.normal(jax.random.key(1), (batch, n_in))
    carry = (jax.random.normal(jax.random.key(2), (batch, hidden)), jnp.zeros((batch, hidden)))
    variables = cells["expectation"].init(jax.random.key(3), carry, x)
    # large weights: many preactivations beyond the thresholds (2 for gates, 1 for tanh)
    params = jax.tree.map(lambda w: 3.0 * w, variables["params"])
    params["p"] = variables["params"]["p"]
    out = {arm: cell.apply({"params": params}, carry, x) for arm, cell in cells.items()}

    (_, sig_unit, sig_u), (_, tanh_unit, tanh_u) = UNITS
    want_c, want_h, pre = _reference_lstm_step(
        params,
        carry,
        x,
        lambda z: alpha_slope(sig_unit, sig_u, z),
        lambda z: alpha_slope(tanh_unit, tanh_u, z),
    )
    (got_c, got_h), y = out["expectation_alpha"]
    np.testing.assert_allclose(got_c, want_c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, got_h)
    # both units are exercised beyond their thresholds
    assert np.mean(np.abs(pre["gates"][[0, 1, 3]]) > HARD_SIGMOID_UNIT.threshold) > 0.1
    assert np.mean(np.abs(pre["gates"][2]) > HARD_TANH_UNIT.threshold) > 0.1
    assert np.mean(np.abs(pre["c"]) > HARD_TANH_UNIT.threshold) > 0.1
    # NAH's expectation (the p term) and hard gates compute something else from them
    for other in ("expectation", "hard"):
        assert not np.allclose(out[other][0][1], want_h, atol=1e-4), other
    # and expectation_alpha is NAN's test-time cell: the same numbers
    nan_test = charlm.make_cell("nan", hidden, test=True)
    (_, nan_h), _ = nan_test.apply({"params": params}, carry, x)
    np.testing.assert_array_equal(nan_h, got_h)


def test_expectation_alpha_arm_leaves_p_untrained_and_shares_initial_parameters():
    config = charlm.LSTM_EXPERIMENT.quick
    variables = charlm.init_variables("expectation_alpha", config, 0)
    nah = charlm.init_variables("nah", config, 0)
    for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(nah), strict=True):
        np.testing.assert_array_equal(a, b)
    model = charlm.CharLM("expectation_alpha", config["hidden"])
    x = jax.random.randint(jax.random.key(0), (2, 6), 0, 256)

    def loss(params):
        return jnp.mean(model.apply({**variables, "params": params}, x) ** 2)

    grads = jax.grad(loss)(jax.tree.map(lambda w: 8.0 * w, variables["params"]))
    cell = grads["RNN_0"]["cell"] if "RNN_0" in grads else grads["NoisyLSTMCell_0"]
    # no p term: p gets no gradient, while the kernels do
    np.testing.assert_array_equal(cell["p"], 0.0)
    assert float(jnp.max(jnp.abs(cell["hi"]["kernel"]))) > 0


def test_attribution_table_takes_one_change_at_a_time():
    arms = charlm.LSTM_ARMS
    rng = np.random.default_rng(0)
    base = {"soft": 2.0, "hard": 2.1, "expectation_alpha": 2.0, "expectation": 1.95}
    base |= {"nan": 1.97, "nah": 1.9}
    results = [
        {"metrics": {a: {"valid_nll": base[a] + 0.01 * rng.normal()} for a in arms}}
        for _ in range(4)
    ]
    table, finding = charlm._attribution(results)

    def row(a, b):
        (line,) = [ln for ln in table.splitlines() if ln.startswith(f"| {a} → {b} |")]
        return line

    for a, b in (
        ("hard", "expectation_alpha"),
        ("expectation_alpha", "expectation"),
        ("expectation", "nah"),
        ("expectation_alpha", "nan"),
    ):
        diffs = [r["metrics"][a]["valid_nll"] - r["metrics"][b]["valid_nll"] for r in results]
        t = _common.t_test(diffs)
        lo, hi = t["ci95"]
        assert math.isfinite(lo) and lo < t["mean_difference"] < hi
        assert f"{t['mean_difference']:+.4f} [{lo:+.4f}, {hi:+.4f}]" in row(a, b)
        assert f"{a} → {b}" in finding
    # the NAH chain's steps add up to hard → nah; their shares are of that total
    nah_total = np.mean(
        [r["metrics"]["hard"]["valid_nll"] - r["metrics"]["nah"]["valid_nll"] for r in results]
    )
    step = np.mean(
        [
            r["metrics"]["hard"]["valid_nll"] - r["metrics"]["expectation_alpha"]["valid_nll"]
            for r in results
        ]
    )
    assert f"{step / nah_total:.0%} of hard → nah" in row("hard", "expectation_alpha")
    assert "of hard → nan" in row("expectation_alpha", "nan")
    assert ("nan", "expectation_alpha") in charlm.LSTM_CLAIMS


def test_plain_lstm_starts_from_the_noisy_arms_parameters_and_is_flax_lstm():
    config = sequences.UNIQUE_EXPERIMENT.quick
    noisy = sequences.unique_variables(config, 0)
    plain = sequences.unique_variables(config, 0, "soft")
    assert rjl.NOISE_SCALE in noisy and rjl.NOISE_SCALE not in plain
    flat = dict(jax.tree_util.tree_flatten_with_path(plain["params"])[0])
    noisy_flat = jax.tree_util.tree_flatten_with_path(noisy["params"])[0]
    assert len(flat) == len(noisy_flat) - 1  # all but p
    for path, value in noisy_flat:
        if jax.tree_util.keystr(path).endswith("['p']"):
            assert path not in flat
        else:
            np.testing.assert_array_equal(flat[path], value)
    # its cell is flax's LSTMCell with the same parameters
    hidden = config["hidden"]
    x = jax.random.normal(jax.random.key(0), (3, 11))
    carry = (jax.random.normal(jax.random.key(1), (3, hidden)),) * 2
    cell = rjl.NoisyLSTMCell(hidden, gates="soft")
    params = cell.init(jax.random.key(2), carry, x)["params"]
    (c1, h1), _ = cell.apply({"params": params}, carry, x)
    (c2, h2), _ = nn.LSTMCell(hidden).apply({"params": params}, carry, x)
    np.testing.assert_allclose(c1, c2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1, h2, rtol=1e-5, atol=1e-6)
    assert "plain_lstm" in sequences.UNIQUE_ARMS


LSTM_STEPS = (
    "| hard → expectation_alpha |",
    "| expectation_alpha → expectation |",
    "| expectation → nah |",
    "| expectation_alpha → nan |",
)


def check_quick_noisy_lstm_lm(tmp_path, section: str, summary: dict) -> None:
    """The alpha-slope arm, its claim and the attribution steps in a quick run (two seeds);
    called by the quick-run test of tests/test_experiments.py, which runs each experiment
    once."""
    assert "expectation_alpha" in summary["arms"]
    claims = [v["claim"] for v in summary["verdicts"]]
    assert "nan < expectation_alpha: validation nats/byte at equal steps" in claims
    for kept in ("nan < expectation", "nah < expectation", "nah < hard", "nan < soft"):
        assert f"{kept}: validation nats/byte at equal steps" in claims
    assert "| expectation_alpha |" in section
    for step in LSTM_STEPS:
        (line,) = [ln for ln in section.splitlines() if ln.startswith(step)]
        assert "[+nan" not in line  # two seeds: a finite interval
    assert "alpha-slope" in summary["setup"] and "expectation_alpha → nan" in summary["setup"]
    saved = json.loads((tmp_path / "noisy_lstm_lm" / "seed0.json").read_text())
    metrics = saved["result"]["metrics"]
    assert math.isfinite(metrics["expectation_alpha"]["valid_nll"])


def check_quick_unique_count(tmp_path, section: str, summary: dict) -> None:
    """The plain LSTM arm and its claim in a quick run (see check_quick_noisy_lstm_lm)."""
    assert summary["arms"][0] == "plain_lstm" and len(summary["arms"]) == 9
    claims = [v["claim"] for v in summary["verdicts"]]
    assert "annealed beats plain_lstm (test accuracy)" in claims
    assert "| plain_lstm |" in section and "plain_lstm is a plain LSTM" in section
    saved = json.loads((tmp_path / "unique_count" / "seed0.json").read_text())
    acc = saved["result"]["metrics"]["plain_lstm"]["test_accuracy"]
    assert 0.0 <= acc <= 1.0
    # the plain arm trained: its training curve has the shared steps
    curves = saved["result"]["curves"]
    assert [h[0] for h in curves["plain_lstm"]] == [h[0] for h in curves["annealed"]]


QUICK_RUN_CHECKS = {
    "noisy_lstm_lm": check_quick_noisy_lstm_lm,
    "unique_count": check_quick_unique_count,
}
