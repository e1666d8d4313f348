"""Key normalisation and noise sampling (rectify_jax._src.noise)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rectify_jax._src import noise


def test_legacy_keys_become_the_same_typed_key():
    typed = noise.as_key("f", jax.random.PRNGKey(3))
    assert jax.dtypes.issubdtype(typed.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(
        jax.random.key_data(typed), jax.random.key_data(jax.random.key(3))
    )


@pytest.mark.parametrize(
    "bad, err, msg",
    [
        (None, ValueError, "f: key is None"),
        (3, TypeError, "f: key must be a PRNG key.*got 3"),
        (np.zeros(2, np.int32), TypeError, "dtype int32 and shape \\(2,\\)"),
        (jax.random.split(jax.random.key(0), 4), TypeError, "single PRNG key.*\\(4,\\)"),
    ],
)
def test_bad_keys(bad, err, msg):
    with pytest.raises(err, match=msg):
        noise.as_key("f", bad)


@pytest.mark.parametrize("kind", noise.NOISE_KINDS)
def test_sample_moments_match_the_tabulated_mean_and_std(kind, key):
    n = 50_000
    eps = np.asarray(noise.sample(key, (n,), kind, jnp.float32), np.float64)
    assert abs(eps.mean() - noise.NOISE_MEAN[kind]) < 5 * noise.NOISE_STD[kind] / math.sqrt(n)
    # sd of a sample sd is about sd * sqrt((kurtosis - 1) / 4n)
    kurtosis = 3.0 if kind == "normal" else 3 + 8 * (math.pi - 3) / (math.pi - 2) ** 2
    tol = 5 * noise.NOISE_STD[kind] * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(eps.std() - noise.NOISE_STD[kind]) < tol
    if kind == "half_normal":
        assert eps.min() >= 0
