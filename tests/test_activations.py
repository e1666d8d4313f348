"""Deterministic activations : values, kink conventions, parameters, ranges."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rectify_jax as rj

GRID = jnp.linspace(-6.0, 6.0, 241)  # includes 0, +-1, +-2 exactly

SAME_AS_JAX_NN = [
    (rj.relu, jax.nn.relu),
    (lambda x: rj.leaky_relu(x, 0.2), lambda x: jax.nn.leaky_relu(x, 0.2)),
    (lambda x: rj.elu(x, 1.5), lambda x: jax.nn.elu(x, 1.5)),
    (rj.softplus, jax.nn.softplus),
    (rj.sigmoid, jax.nn.sigmoid),
    (rj.tanh, jnp.tanh),
    (rj.hard_tanh, jax.nn.hard_tanh),
]


@pytest.mark.parametrize("ours, theirs", SAME_AS_JAX_NN)
def test_values_and_gradients_match_jax_nn_including_kinks(ours, theirs):
    np.testing.assert_allclose(ours(GRID), theirs(GRID), rtol=1e-6, atol=1e-7)
    g_ours = jax.vmap(jax.grad(ours))(GRID)
    g_theirs = jax.vmap(jax.grad(theirs))(GRID)
    # jax.nn's smooth derivatives (1 - tanh^2, s (1 - s)) are autodiff, exact to a few
    # ulp of their largest value, 1; ours are relative (tests/test_precision.py)
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-6, atol=4 * np.finfo(np.float32).eps)


def grad_at(f, x):
    return float(jax.grad(f)(jnp.float32(x)))


def test_kink_derivative_conventions():
    assert grad_at(rj.relu, 0.0) == 0.0
    assert grad_at(rj.leaky_relu, 0.0) == 1.0
    assert grad_at(lambda x: rj.prelu(x, 0.25), 0.0) == 1.0
    assert grad_at(lambda x: rj.elu(x, 2.0), 0.0) == 2.0
    assert grad_at(lambda x: rj.tlu(x, alpha=0.3), 0.0) == 1.0
    for xt in (1.0, -1.0):
        assert grad_at(rj.hard_tanh, xt) == 1.0
        assert grad_at(rj.hard_tanh, 1.0001 * xt) == 0.0
    for xt in (2.0, -2.0):
        assert grad_at(rj.hard_sigmoid, xt) == 0.25
        assert grad_at(rj.hard_sigmoid, 1.0001 * xt) == 0.0


def test_hard_sigmoid_is_the_papers_not_jax_nn():
    x = jnp.array([-2.5, -2.0, -1.0, 0.0, 1.0, 2.0, 2.5])
    np.testing.assert_allclose(rj.hard_sigmoid(x), jnp.clip(0.25 * x + 0.5, 0, 1), rtol=1e-7)
    assert float(rj.hard_sigmoid(jnp.float32(1.0))) == 0.75
    assert float(jax.nn.hard_sigmoid(jnp.float32(1.0))) == pytest.approx(4 / 6)  # slope 1/6


def test_prelu_alpha_per_channel_and_its_gradient():
    x = jnp.array([[-2.0, -1.0, 3.0], [-4.0, 2.0, -1.0]])
    alpha = jnp.array([0.25, 0.5, 0.1])
    np.testing.assert_allclose(rj.prelu(x, alpha), jnp.where(x >= 0, x, alpha * x))
    g = jax.grad(lambda a: jnp.sum(rj.prelu(x, a)))(alpha)
    assert g.shape == (3,)
    np.testing.assert_allclose(g, jnp.sum(jnp.where(x < 0, x, 0.0), axis=0))
    with pytest.raises(ValueError, match=r"prelu: alpha with shape \(2,\) does not broadcast"):
        rj.prelu(x, jnp.ones(2))


def test_tlu_learned_alpha_gradient_is_tanh_below_zero():
    x = jnp.array([-3.0, -0.5, 0.0, 2.0])
    g = jax.grad(lambda a: jnp.sum(rj.tlu(x, alpha=a)))(jnp.ones(4))
    np.testing.assert_allclose(g, jnp.where(x < 0, jnp.tanh(x), 0.0), rtol=1e-6)


def test_softplus_is_stable_at_both_ends():
    assert float(rj.softplus(jnp.float32(1e4))) == 1e4
    tiny = float(rj.softplus(jnp.float32(-50.0)))
    assert tiny == pytest.approx(np.exp(-50.0), rel=1e-5)  # not rounded to 0


def test_python_number_hyperparameters_are_not_rounded_to_bfloat16():
    x = jnp.array([-1.0], jnp.bfloat16)
    # 0.01 in bf16 is 0.010009765625; computing in float32 then rounding gives bf16(-0.01).
    assert rj.leaky_relu(x)[0] == jnp.bfloat16(-0.01)


@given(xs=st.lists(st.floats(-1e4, 1e4), min_size=8, max_size=8), a=st.floats(0.0, 5.0))
def test_ranges(xs, a):
    r = _ranges(jnp.array(xs, jnp.float32), a)
    assert bool(jnp.all(r["relu"] >= 0))
    assert bool(jnp.all(jnp.abs(r["hard_tanh"]) <= 1))
    assert bool(jnp.all((r["hard_sigmoid"] >= 0) & (r["hard_sigmoid"] <= 1)))
    assert bool(jnp.all(r["tlu"] >= -a)) and bool(jnp.all(r["elu"] >= -a))
    assert bool(jnp.all(r["softplus"] >= r["relu"]))


@jax.jit
def _ranges(x, a):
    return dict(
        relu=rj.relu(x),
        hard_tanh=rj.hard_tanh(x),
        hard_sigmoid=rj.hard_sigmoid(x),
        tlu=rj.tlu(x, alpha=a),
        elu=rj.elu(x, a),
        softplus=rj.softplus(x),
    )


def test_a_noisy_unit_built_from_min_max_splits_the_gradient_at_the_tie():
    """The Conventions page's example: jnp.minimum/maximum give h'(1) = 0.5, so 0.425."""
    h = lambda x: jnp.minimum(jnp.maximum(x, -1.0), 1.0)  # noqa: E731
    unit = rj.NoisyUnit(h=h, u=lambda x: x, threshold=1.0)
    key = jax.random.key(0)
    for x in (1.0, -1.0):
        x = jnp.float32(x)
        assert float(jax.grad(lambda x: unit(x, key, alpha=1.15))(x)) == pytest.approx(0.425)
        assert float(jax.grad(lambda x: rj.noisy_hard_tanh(x, key))(x)) == pytest.approx(1.0)


SLOPE_FUNCTIONS = {
    "prelu": lambda x, a: rj.prelu(x, a),
    "leaky_relu": lambda x, a: rj.leaky_relu(x, a),
    "rrelu(deterministic)": lambda x, a: rj.rrelu(x, lower=a, upper=a, deterministic=True),
}


@pytest.mark.parametrize("name", SLOPE_FUNCTIONS)
def test_slope_gradient_is_finite_with_infinite_inputs_and_nan_only_where_x_is(name):
    fn = SLOPE_FUNCTIONS[name]
    x = jnp.array([jnp.inf, 1.0, -2.0, -0.5])
    g = jax.grad(lambda a: jnp.sum(fn(x, a)))(jnp.float32(0.25))
    # d/da sum(where(x >= 0, x, a x)) = sum of the negative inputs (PyTorch gives -2.5 too)
    assert float(g) == -2.5
    g = jax.grad(lambda a: jnp.sum(fn(-x, a)))(jnp.float32(0.25))
    assert float(g) == -np.inf  # -inf is a negative input: its slope gradient is -inf
    g = jax.grad(lambda a: jnp.sum(fn(jnp.array([jnp.nan, -1.0]), a)))(jnp.float32(0.25))
    assert bool(jnp.isnan(g))  # NaN propagates
    gx = jax.grad(lambda x: jnp.sum(fn(x, 0.25)))(x)
    np.testing.assert_array_equal(gx, [1.0, 1.0, 0.25, 0.25])
