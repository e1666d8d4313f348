"""Diagnostics : hand-computed statistics, streaming, capture, gradient flow."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import rectify_jax as rj
from rectify_jax import diagnostics as dg
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx

X4 = jnp.array([[1.0, -1.0, 2.0, -2.0], [3.0, -1.0, -1.0, -2.0]])


def test_relu_statistics_by_hand():
    s = dg.code_statistics(X4, "relu")
    np.testing.assert_allclose(s.activation_probability, [1.0, 0.0, 0.5, 0.0])
    assert float(s.sparsity) == pytest.approx(5 / 8)  # five exact zeros among eight outputs
    # std of [1, 0, .5, 0] around its mean .375
    assert float(s.dispersion) == pytest.approx(math.sqrt((0.625**2 + 2 * 0.375**2 + 0.125**2) / 4))
    assert int(s.dead_units) == 2
    assert float(s.mean_shift) == pytest.approx((1 + 2 + 3) / 8)  # relu outputs sum 6 over 8
    assert float(s.saturation) == pytest.approx(5 / 8) and int(s.count) == 2


def test_tanh_sigmoid_and_hard_unit_rules_by_hand():
    x = jnp.array([[0.5, 1.9, -1.9, -1.8]])  # atanh(0.95) = 1.8318
    s = dg.code_statistics(x, "tanh")
    np.testing.assert_array_equal(s.activation_probability, [1.0, 0.0, 0.0, 1.0])
    assert float(s.saturation) == 0.5 and float(s.negative_saturation) == 0.25
    assert float(s.sparsity) == 0.0
    s = dg.code_statistics(2 * x, "sigmoid")  # the same points on the sigmoid's scale
    np.testing.assert_array_equal(s.activation_probability, [1.0, 0.0, 0.0, 1.0])
    hs = dg.code_statistics(jnp.array([[-2.0, -1.99, 1.99, 2.0, 7.0]]), "hard_sigmoid")
    np.testing.assert_array_equal(hs.activation_probability, [0, 1, 1, 0, 0])
    assert float(hs.negative_saturation) == pytest.approx(1 / 5)
    assert float(hs.sparsity) == pytest.approx(1 / 5)  # hard_sigmoid(-2) = 0 exactly
    ht = dg.code_statistics(jnp.array([[-1.0, 0.3, 1.0]]), "noisy_hard_tanh")  # as its h
    np.testing.assert_array_equal(ht.activation_probability, [0, 1, 0])
    assert float(ht.mean_shift) == pytest.approx(0.1)
    elu = dg.code_statistics(jnp.array([[-3.1, -2.9, 1.0]]), "elu")  # elu(-3) = -0.95
    assert float(elu.negative_saturation) == pytest.approx(1 / 3)
    leaky = dg.code_statistics(X4, "leaky_relu")
    assert float(leaky.sparsity) == 0.0 and float(leaky.saturation) == 0.0


def test_streaming_equals_one_shot_and_runs_under_jit():
    x = 2 * jax.random.normal(jax.random.key(0), (1000, 16)) + jnp.linspace(-3, 3, 16)
    update = jax.jit(dg.update, static_argnames="rule")
    stats = dg.init(16)
    for batch in jnp.split(x, 10):
        stats = update(stats, batch, rule="tanh")
    streamed, once = jax.jit(dg.summarize)(stats), dg.code_statistics(x, "tanh")
    for a, b, name in zip(streamed, once, once._fields, strict=True):
        # counts are exact; float32 sums of 1000 outputs in [-1, 1] differ by < 1000 * 2^-24
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1000 * 2**-24 / 1000, err_msg=name)
    assert int(streamed.count) == 1000
    # the time axis counts as examples too
    seq = dg.code_statistics(x.reshape(10, 100, 16), "tanh")
    np.testing.assert_array_equal(seq.activation_probability, once.activation_probability)


def test_dead_units_and_dispersion_distinguish_codes():
    units = 8
    x = jnp.tile(jnp.array([5.0] * 4 + [-5.0] * 4), (50, 1))  # half always on, half dead
    s = dg.code_statistics(x, "relu")
    assert int(s.dead_units) == 4 and float(s.dispersion) == pytest.approx(0.5)
    dispersed = jax.random.normal(jax.random.key(1), (4000, units))
    s = dg.code_statistics(dispersed, "relu")
    assert int(s.dead_units) == 0
    # each probability has sd sqrt(.25 / 4000) = .0079: the spread across units stays small
    assert float(s.dispersion) < 5 * math.sqrt(0.25 / 4000)


def test_update_tree_user_units_and_errors():
    stats = dg.update_tree({}, {"a": X4, "b": X4}, {"a": "relu", "b": "tanh"})
    stats = dg.update_tree(stats, {"a": X4}, {"a": "relu"})
    assert int(stats["a"].count) == 4 and int(stats["b"].count) == 2
    unit = rj.NoisyUnit(h=rj.relu, u=lambda x: x, threshold=(0.0, math.inf))
    s = dg.code_statistics(X4, unit)
    np.testing.assert_allclose(s.activation_probability, [1.0, 0.0, 0.5, 0.0])
    with pytest.raises(ValueError, match=r"activity: 'swish' is not one of"):
        dg.code_statistics(X4, "swish")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\).*\(2, 4\)"):
        dg.update(dg.init(3), X4, "relu")
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        dg.update(dg.init(4), X4.astype(jnp.int32), "relu")
    with pytest.raises(ValueError, match="units must be a positive int"):
        dg.init(0)


# --------------------------------------------------------------------------------------
# Capture


class TanhMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = rj.tanh(nn.Dense(8)(x))
        x = rj.tanh(nn.Dense(8)(x))
        return nn.Dense(2)(x)


def test_linen_capture_of_an_unchanged_mlp():
    model = TanhMLP()
    x = jax.random.normal(jax.random.key(0), (32, 3))
    variables = model.init(jax.random.key(1), x)
    out, pre = rjl.capture_preactivations(model, variables, x)
    np.testing.assert_array_equal(out, model.apply(variables, x))
    assert sorted(pre) == ["Dense_0", "Dense_1", "Dense_2"]
    p = variables["params"]["Dense_0"]
    np.testing.assert_allclose(pre["Dense_0"], x @ p["kernel"] + p["bias"], rtol=1e-5)
    stats = dg.update_tree({}, {k: pre[k] for k in ("Dense_0", "Dense_1")}, "tanh")
    assert int(stats["Dense_1"].count) == 32


@pytest.mark.slow
def test_linen_capture_inside_recurrent_cells():
    x = jax.random.normal(jax.random.key(0), (2, 5, 3))
    model = rjl.rnn(rjl.NoisyLSTMCell(4, deterministic=True))
    variables = model.init(jax.random.key(1), x)
    _, pre = rjl.capture_preactivations(model, variables, x)
    assert sorted(pre) == sorted(
        f"cell/{g}"
        for g in ["input_gate", "forget_gate", "candidate", "output_gate", "cell_output"]
    )
    assert all(v.shape == (2, 5, 4) for v in pre.values())  # (batch, time, hidden)
    irnn = rjl.rnn(rjl.IRNNCell(4))
    v2 = irnn.init(jax.random.key(1), x)
    _, pre2 = rjl.capture_preactivations(irnn, v2, x)
    assert {k: v.shape for k, v in pre2.items()} == {"cell/i": (2, 5, 4), "cell/h": (2, 5, 4)}


@pytest.mark.slow
def test_nnx_capture_and_cell_preactivations_match_linen():
    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1, self.l2 = nnx.Linear(3, 8, rngs=rngs), nnx.Linear(8, 2, rngs=rngs)

        def __call__(self, x):
            return self.l2(rj.relu(self.l1(x)))

    mlp = MLP(nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (6, 3))
    out, pre = rjx.capture_preactivations(mlp, x)
    np.testing.assert_array_equal(out, mlp(x))
    np.testing.assert_allclose(pre["l1"], mlp.l1(x))
    # recurrent: same parameters in both frameworks, test-time cells, same pre-activations
    xs = jax.random.normal(jax.random.key(1), (2, 5, 3))
    lmodel = rjl.rnn(rjl.NoisyGRUCell(4, deterministic=True))
    variables = lmodel.init(jax.random.key(1), xs)
    cell = rjx.NoisyGRUCell(3, 4, deterministic=True, rngs=nnx.Rngs(0))
    params = variables["params"]["cell"]  # flax.linen's GRU layout -> flax.nnx's
    cell.dense_i.kernel[...] = jnp.concatenate(
        [params[n]["kernel"] for n in ("ir", "iz", "in")], -1
    )
    cell.dense_i.bias[...] = jnp.concatenate([params[n]["bias"] for n in ("ir", "iz", "in")], -1)
    cell.dense_h.kernel[...] = jnp.concatenate(
        [params[n]["kernel"] for n in ("hr", "hz", "hn")], -1
    )
    assert not np.any(params["hn"]["bias"])  # nnx's GRU has no recurrent bias
    cell.p[...] = params["p"]
    ys, xpre = rjx.cell_preactivations(cell, xs)
    lys, lpre = rjl.capture_preactivations(lmodel, variables, xs)
    np.testing.assert_allclose(ys, lys, rtol=1e-5, atol=1e-6)
    for gate in ("reset_gate", "update_gate", "candidate"):
        np.testing.assert_allclose(xpre[gate], lpre[f"cell/{gate}"], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------
# Gradient flow


def test_grad_norms_per_layer_by_hand():
    g = {"a": {"w": jnp.array([3.0, 4.0]), "b": jnp.array([0.0])}, "b": {"w": jnp.array([[1.0]])}}
    norms = dg.grad_norms(g)
    assert float(norms["a"]) == 5.0 and float(norms["b"]) == 1.0
    assert sorted(dg.grad_norms(g, depth=2)) == ["a/b", "a/w", "b/w"]


@pytest.mark.parametrize("a", [0.5, 1.0, 2.0])
def test_hidden_grad_norms_vanish_or_explode_as_powers_of_the_recurrent_weight(a):
    T = 6
    norms = dg.hidden_grad_norms(
        lambda h, x: (a * h + x, h), jnp.zeros(2), jnp.ones((T, 2)), lambda h, ys: jnp.sum(h)
    )
    want = math.sqrt(2) * a ** (T - 1 - np.arange(T))  # d h_T / d h_t = a^(T-t), two units
    np.testing.assert_allclose(norms, want, rtol=1e-6)


@pytest.mark.slow
def test_irnn_keeps_gradients_flowing_where_a_saturated_tanh_rnn_loses_them():
    T, H = 30, 16
    xs = jax.random.normal(jax.random.key(0), (T, 4, 3))  # time-major

    def norms(cell):
        carry = cell.initialize_carry(jax.random.key(0), (4, 3))
        variables = cell.init(jax.random.key(1), carry, xs[0])
        return dg.hidden_grad_norms(
            lambda c, x: cell.apply(variables, c, x), carry, xs, lambda c, ys: jnp.sum(c**2)
        )

    irnn = norms(rjl.IRNNCell(H, scale=1.0))
    tanh = norms(nn.SimpleCell(H, recurrent_kernel_init=nn.initializers.normal(0.1)))
    ratio = lambda n: float(n[0] / n[-1])  # noqa: E731  first step relative to the last
    assert ratio(tanh) < 1e-3 < ratio(irnn)


def test_noisy_gradient_paths_sum_to_the_custom_vjp_gradient(key):
    x = jnp.linspace(-4.0, 4.0, 33) + 0.01
    g = jax.random.normal(jax.random.key(3), x.shape)
    for unit, f in [
        (rj.HARD_TANH_UNIT, rj.noisy_hard_tanh),
        (rj.HARD_SIGMOID_UNIT, rj.noisy_hard_sigmoid),
    ]:
        paths = dg.noisy_gradient_paths(unit, x, key, g, p=0.7, noise="normal")
        _, vjp = jax.vjp(lambda x, f=f: f(x, key, p=0.7, noise="normal"), x)
        np.testing.assert_allclose(sum(paths), vjp(g)[0], rtol=1e-5, atol=1e-7)
        linear = jnp.abs(x) < unit.bounds[1]
        assert bool(jnp.all(paths.stochastic[linear] == 0))  # no noise, no stochastic path
    shares = dg.path_shares(dg.noisy_gradient_paths(rj.HARD_TANH_UNIT, jnp.array([0.5]), key))
    assert float(shares["linear"]) == pytest.approx(0.15 / (0.15 + 1.15))
    assert float(shares["stochastic"]) == 0.0


@pytest.mark.slow
def test_noisy_path_shares_per_layer_in_a_linen_model(key):
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = rjl.NoisyHardTanh(deterministic=False, c=5.0)(nn.Dense(16)(x))
            x = rjl.NoisyHardSigmoid(deterministic=False)(nn.Dense(16)(x))
            return nn.Dense(1)(x)

    x = 4 * jax.random.normal(jax.random.key(0), (64, 4))
    rngs = {"noise": key}
    model = Net()
    variables = model.init({"params": jax.random.key(1), **rngs}, x)
    assert "perturbations" not in variables  # nothing added to ordinary variables
    shares = rjl.noisy_path_shares(model, variables, lambda y: jnp.sum(y**2), x, rngs=rngs)
    assert sorted(shares) == ["NoisyHardSigmoid_0", "NoisyHardTanh_0"]
    for layer in shares.values():
        assert sum(float(v) for v in layer.values()) == pytest.approx(1.0, abs=1e-5)
        assert all(float(v) > 0 for v in layer.values())  # every path carries some gradient
    # the check by hand for the first layer: the layer sows its inputs (x, key, p, c); its
    # local paths for that very noise times dL/dphi give the shares
    _, state = model.apply(variables, x, rngs=rngs, mutable=["intermediates", "perturbations"])
    sown = state["intermediates"]["NoisyHardTanh_0"]["noisy_inputs"][0]
    assert sorted(sown) == ["c", "key", "p", "x"] and float(sown["c"]) == 5.0
    local = rj.diagnostics.noisy_gradient_paths(
        rj.HARD_TANH_UNIT, sown["x"], sown["key"], p=sown["p"], c=sown["c"]
    )
    g = jax.grad(
        lambda pert: jnp.sum(model.apply({**variables, "perturbations": pert}, x, rngs=rngs) ** 2)
    )(state["perturbations"])
    mags = [float(jnp.sum(jnp.abs(g["NoisyHardTanh_0"]["output"] * a))) for a in local]
    assert float(shares["NoisyHardTanh_0"]["stochastic"]) == pytest.approx(
        mags[2] / sum(mags), rel=1e-5
    )


@pytest.mark.slow
def test_nnx_noisy_path_shares_per_layer_by_hand():
    layer = rjx.NoisyHardTanh(8, rngs=nnx.Rngs(0))
    model = nnx.Sequential(layer)
    inside = 0.9 * jnp.tanh(jax.random.normal(jax.random.key(0), (32, 8)))  # |x| < 1: no noise
    shares = rjx.noisy_path_shares(model, lambda y: jnp.sum(y**2), inside)
    s = {k: float(v) for k, v in shares["layers/0"].items()}
    assert s == pytest.approx({"linear": 0.15 / 1.3, "nonlinear": 1.15 / 1.3, "stochastic": 0.0})
    saturated = 2.0 + jnp.abs(jax.random.normal(jax.random.key(1), (32, 8)))  # h' = 0 there
    s = {
        k: float(v) for k, v in rjx.noisy_path_shares(model, jnp.sum, saturated)["layers/0"].items()
    }
    assert s["nonlinear"] == 0.0 and s["stochastic"] > 0 and s["linear"] > 0
    before = nnx.to_pure_dict(nnx.state(layer))
    model(saturated)  # ordinary calls sow and perturb nothing (a sow would warn, an error here)
    assert nnx.to_pure_dict(nnx.state(layer)).keys() == before.keys()  # no variable was added
