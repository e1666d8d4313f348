"""One battery for every public activation: dtypes, jit, vmap, grads, keys, NaN, bad input.

Each case is ``f(x, key) -> y``; deterministic functions ignore the key. Inputs
avoid the kinks (0, +-1, +-2) so that finite-difference-free checks are exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rectify_jax as rj
from rectify_jax._src import registry


@dataclasses.dataclass(frozen=True)
class Case:
    name: str  # the public function's name, as it must appear in error messages
    f: Callable
    stochastic: bool = False


# Every activation of the registry with its typical arguments, plus variants that take
# other code paths (normal noise with the key residual, a learned p, plain autodiff).
CASES = [Case(entry.name, entry.call, entry.stochastic) for entry in registry.ACTIVATIONS] + [
    Case(
        "noisy_hard_tanh",
        lambda x, k: rj.noisy_hard_tanh(x, k, noise="normal", residual="key"),
        True,
    ),
    Case("noisy_hard_sigmoid", lambda x, k: rj.noisy_hard_sigmoid(x, k, p=0.5), True),
    Case("noisy_hard_sigmoid", lambda x, k: rj.noisy_hard_sigmoid(x, k, autodiff=True), True),
]
IDS = [f"{i}-{c.name}" for i, c in enumerate(CASES)]
STOCHASTIC = [c for c in CASES if c.stochastic]
STOCHASTIC_IDS = [i for i, c in zip(IDS, CASES, strict=True) if c.stochastic]
LOW_AND_SINGLE = [jnp.float32, jnp.bfloat16, jnp.float16]

# 0.5 steps offset by 0.25: away from every kink, through every saturated regime.
X = jnp.arange(-4.75, 5.0, 0.5, dtype=jnp.float32)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", LOW_AND_SINGLE, ids=lambda d: jnp.dtype(d).name)
def test_dtype_and_shape_preserved(case, dtype, key):
    x = X.reshape(4, 5).astype(dtype)
    y = case.f(x, key)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert bool(jnp.all(jnp.isfinite(y)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", LOW_AND_SINGLE, ids=lambda d: jnp.dtype(d).name)
def test_low_precision_is_float32_rounded_once(case, dtype, key):
    x = X.astype(dtype)
    want = case.f(x.astype(jnp.float32), key).astype(dtype)
    np.testing.assert_array_equal(
        np.asarray(case.f(x, key), np.float32), np.asarray(want, np.float32)
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_when_x64_is_on(case):
    with jax.enable_x64(True):
        x = X.astype(jnp.float64)
        y = case.f(x, jax.random.key(1))
        assert y.dtype == jnp.float64 and bool(jnp.all(jnp.isfinite(y)))
        if not case.stochastic:  # noise is drawn in float64 too, so only these compare
            np.testing.assert_allclose(y, case.f(X, jax.random.key(1)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_equals_eager(case, key):
    np.testing.assert_allclose(jax.jit(case.f)(X, key), case.f(X, key), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_equals_loop(case, key):
    xs = jnp.stack([X, -X, X / 2])
    keys = jax.random.split(key, 3)
    batched = jax.vmap(case.f)(xs, keys)
    for i in range(3):
        np.testing.assert_allclose(batched[i], case.f(xs[i], keys[i]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grads_finite_and_match_jit(case, key):
    def loss(x):
        return jnp.sum(case.f(x, key) ** 2)

    g = jax.grad(loss)(X)
    assert g.shape == X.shape and bool(jnp.all(jnp.isfinite(g)))
    value, g_jit = jax.jit(jax.value_and_grad(loss))(X)
    np.testing.assert_allclose(g_jit, g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, loss(X), rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", LOW_AND_SINGLE + [jnp.float64], ids=lambda d: jnp.dtype(d).name)
def test_finite_up_to_dtype_max(case, dtype, key):
    with jax.enable_x64(dtype == jnp.float64):
        big = float(jnp.finfo(dtype).max)
        x = jnp.array([-big, -big / 3, -1e4, -7.5, 7.5, 1e4, big / 3, big], dtype)
        y = case.f(x, key)
        assert bool(jnp.all(jnp.isfinite(y))), f"{case.name}: {y}"
        g = jax.grad(lambda x: jnp.sum(case.f(x, key)))(x)
        assert bool(jnp.all(jnp.isfinite(g))), f"{case.name}: {g}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nan_propagates_only_where_it_is(case, key):
    x = X.at[3].set(jnp.nan)
    y = case.f(x, key)
    assert bool(jnp.isnan(y[3]))
    assert bool(jnp.all(jnp.isfinite(jnp.delete(y, 3))))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize(
    "bad",
    [jnp.arange(3), jnp.array([True, False]), jnp.ones(2, jnp.complex64)],
    ids=["int32", "bool", "complex64"],
)
def test_non_float_input_is_a_type_error(case, bad, key):
    with pytest.raises(
        TypeError, match=rf"{case.name}: x must have a floating-point dtype.*{bad.dtype}"
    ):
        case.f(bad, key)


@pytest.mark.parametrize("case", STOCHASTIC, ids=STOCHASTIC_IDS)
def test_same_key_same_output_other_key_other_noise(case, key):
    x = jnp.linspace(-3.1, 3.1, 64)  # dense around the thresholds, where input noise shows
    y1, y2 = case.f(x, key), case.f(x, key)
    np.testing.assert_array_equal(y1, y2)
    y3 = case.f(x, jax.random.fold_in(key, 1))
    assert not np.array_equal(y1, y3)


@pytest.mark.parametrize("case", STOCHASTIC, ids=STOCHASTIC_IDS)
def test_legacy_and_typed_keys_agree(case, seed):
    np.testing.assert_array_equal(
        case.f(X, jax.random.PRNGKey(seed)), case.f(X, jax.random.key(seed))
    )


@pytest.mark.parametrize("case", STOCHASTIC, ids=STOCHASTIC_IDS)
def test_missing_key_says_how_to_fix(case):
    with pytest.raises(ValueError, match=rf"{case.name}: key is None.*deterministic=True"):
        case.f(X, None)


@pytest.mark.parametrize("case", STOCHASTIC, ids=STOCHASTIC_IDS)
@pytest.mark.parametrize(
    "bad_key",
    [0, jnp.zeros(3, jnp.uint32), jnp.zeros(2, jnp.float32)],
    ids=["int", "uint32[3]", "float32[2]"],
)
def test_non_key_is_a_type_error(case, bad_key):
    with pytest.raises(TypeError, match=rf"{case.name}: key must be a PRNG key"):
        case.f(X, bad_key)
