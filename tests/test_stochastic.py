"""Stochastic rectifiers : RReLU slopes and NReLU noise, statistically."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rectify_jax as rj

N = 20_000


def test_rrelu_slopes_are_uniform_between_lower_and_upper(key):
    lower, upper = 0.1, 0.4
    x = jnp.full((N,), -2.0)
    slopes = np.asarray(rj.rrelu(x, key, lower=lower, upper=upper) / x, np.float64)
    assert slopes.min() >= lower and slopes.max() <= upper
    sd = (upper - lower) / math.sqrt(12)
    assert abs(slopes.mean() - (lower + upper) / 2) < 5 * sd / math.sqrt(N)
    # Var of a sample variance of U(0, 1)-like data: (mu4 - sd^4) / n with mu4 = 9/5 sd^4.
    assert abs(slopes.var() - sd**2) < 5 * sd**2 * math.sqrt(0.8 / N)
    assert abs(np.corrcoef(slopes[:-1], slopes[1:])[0, 1]) < 5 / math.sqrt(N)


def test_rrelu_positive_part_gradient_and_test_time(key):
    x = jnp.linspace(-3.0, 3.0, 61)
    y = rj.rrelu(x, key)
    np.testing.assert_array_equal(y[x >= 0], x[x >= 0])
    g = jax.grad(lambda x: jnp.sum(rj.rrelu(x, key)))(x)
    neg = x < 0
    np.testing.assert_allclose(g[neg], (y / x)[neg], rtol=1e-5)  # gradient = the drawn slope
    np.testing.assert_allclose(
        rj.rrelu(x, deterministic=True), jnp.where(neg, (1 / 8 + 1 / 3) / 2 * x, x), rtol=1e-6
    )


def test_rrelu_rejects_lower_above_upper(key):
    with pytest.raises(ValueError, match=r"rrelu: lower must be <= upper"):
        rj.rrelu(jnp.ones(3), key, lower=0.5, upper=0.2)


def _phi(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _Phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


@pytest.mark.parametrize("x", [-1.5, 0.0, 0.8, 3.0])
def test_nrelu_mean_and_zero_fraction_match_the_rectified_gaussian(x, key):
    # max(0, z), z ~ N(x, sigmoid(x)): E = x Phi(x/s) + s phi(x/s), P(0) = Phi(-x/s).
    s = math.sqrt(1 / (1 + math.exp(-x)))
    y = np.asarray(rj.nrelu(jnp.full((N,), x), key), np.float64)
    assert y.min() >= 0
    assert abs(y.mean() - (x * _Phi(x / s) + s * _phi(x / s))) < 5 * s / math.sqrt(N)
    p0 = _Phi(-x / s)
    assert abs((y == 0).mean() - p0) < 5 * math.sqrt(p0 * (1 - p0) / N) + 1 / N


def test_nrelu_test_time_is_relu():
    x = jnp.linspace(-3.0, 3.0, 13)
    np.testing.assert_array_equal(rj.nrelu(x, deterministic=True), rj.relu(x))
