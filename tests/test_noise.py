"""Key normalisation and noise sampling (rectify_jax._src.noise)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rectify_jax as rj
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


# --------------------------------------------------------------------------------------
# The fast counter-based generator.

N_FAST = 200_000


@pytest.mark.parametrize("kind", noise.NOISE_KINDS)
def test_fast_noise_moments_and_ks_against_the_exact_distribution(kind, key):
    from scipy import stats

    eps = np.asarray(noise.sample(key, (N_FAST,), kind, jnp.float32, "fast"), np.float64)
    mean, std = noise.NOISE_MEAN[kind], noise.NOISE_STD[kind]
    assert abs(eps.mean() - mean) < 5 * std / math.sqrt(N_FAST)
    kurtosis = 3.0 if kind == "normal" else 3 + 8 * (math.pi - 3) / (math.pi - 2) ** 2
    assert abs(eps.std() - std) < 5 * std * math.sqrt((kurtosis - 1) / (4 * N_FAST))
    cdf = stats.norm.cdf if kind == "normal" else stats.halfnorm.cdf
    d = stats.kstest(eps, cdf).statistic
    assert d < 1.95 / math.sqrt(N_FAST)  # the KS critical value at alpha = 0.001


def test_fast_noise_has_no_correlation_between_neighbours_or_keys(key):
    z1 = np.asarray(noise.fast_normal(key, (N_FAST,)), np.float64)
    z2 = np.asarray(noise.fast_normal(jax.random.fold_in(key, 1), (N_FAST,)), np.float64)
    bound = 5 / math.sqrt(N_FAST)
    for lag in (1, 2, 64):
        assert abs(np.corrcoef(z1[:-lag], z1[lag:])[0, 1]) < bound
    assert abs(np.corrcoef(z1, z2)[0, 1]) < bound
    # split keys share structure (consecutive counters): their streams must not either
    a, b = jax.random.split(key)
    za, zb = (np.asarray(noise.fast_normal(k, (N_FAST,)), np.float64) for k in (a, b))
    assert abs(np.corrcoef(za, zb)[0, 1]) < bound


def test_fast_bits_are_balanced(key):
    bits = np.asarray(noise.fast_bits(key, (N_FAST,)))
    ones = np.array([((bits >> b) & 1).mean() for b in range(32)])
    assert np.all(np.abs(ones - 0.5) < 5 * 0.5 / math.sqrt(N_FAST))


def test_every_bit_pattern_maps_to_a_finite_symmetric_normal():
    # Exhaustive over what the construction can produce: the fast normal reads the top 24
    # bits, jax.random.normal's map (the default generator) the top 23.
    top24 = jnp.arange(2**24, dtype=jnp.uint32) << 8
    v = np.asarray(jax.jit(noise._signed_unit_from_bits)(top24))
    assert np.unique(v).size == 2**24  # every cell distinct: 24 bits of resolution
    assert v.max() == np.float32(1 - 2**-24) and v.min() == -v.max()
    z = np.asarray(jax.jit(noise._fast_normal_from_bits)(top24))
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z, -z[::-1])  # symmetric about 0
    assert 5.41 < z.max() < 5.43  # the docstrings' tail: the normal quantile of 1 - 2**-25
    top23 = jnp.arange(2**23, dtype=jnp.uint32) << 9
    zj = np.asarray(jax.jit(noise._jax_normal_from_bits)(top23))
    assert np.isfinite(zj).all() and -5.43 < zj.min() < -5.41 and 5.21 < zj.max() < 5.23


def test_fast_uniform_extremes_are_strictly_inside_the_unit_interval():
    extremes = jnp.array([0, 2**9 - 1, 2**32 - 2**9, 2**32 - 1], jnp.uint32)
    u = np.asarray(noise._fast_uniform_from_bits(extremes), np.float64)
    np.testing.assert_array_equal(u, [2**-24, 2**-24, 1 - 2**-24, 1 - 2**-24])


def test_the_hash_reaches_the_extreme_bit_patterns_and_no_draw_is_non_finite():
    # Before the fix, the top 24-bit value rounded the uniform to 1.0 and erf_inv(1) = inf:
    # about once per 2**24 draws, in 17 of these 64 keys within 2**22 draws.
    n = 2**22

    @jax.jit
    def scan(key):
        bits = noise.fast_bits(key, (n,))
        z = noise.fast_normal(key, (n,))
        u = noise.fast_uniform(key, (n,))
        return (
            jnp.max(bits >> 8),
            jnp.all(jnp.isfinite(z)),
            jnp.all((u > 0) & (u < 1)),
        )

    seen_top = 0
    for seed in range(64):
        top, finite, inside = scan(jax.random.key(seed))
        assert bool(finite), f"seed {seed}: a non-finite fast normal"
        assert bool(inside), f"seed {seed}: a fast uniform outside (0, 1)"
        seen_top += int(top) == 2**24 - 1
    # P(a key hits the top pattern in 2**22 draws) = 1 - (1 - 2**-24)**(2**22) = 0.22: over
    # 64 keys the count is binomial with mean 14.1 and sd 3.3; 3 is below mean - 3 sd.
    assert seen_top >= 3


def test_linear_range_is_exact_with_fast_noise():
    # This key's fast noise held the bit pattern that rounded to inf: the linear range
    # returned NaN instead of x.
    x = jnp.zeros(4)
    np.testing.assert_array_equal(
        rj.noisy_hard_tanh(x, jax.random.key(3616469), generator="fast"), x
    )


def test_fast_uniform_range_stays_closed():
    key = jax.random.key(0)
    lo, hi = jnp.float32(1 / 8), jnp.float32(1 / 3)
    u = noise.uniform(key, (2**16,), jnp.float32, lo, hi, "fast")
    assert float(u.min()) >= lo and float(u.max()) <= hi


def test_fast_noise_depends_only_on_the_key_and_the_flat_index(key):
    flat = noise.fast_normal(key, (24,))
    np.testing.assert_array_equal(noise.fast_normal(key, (2, 3, 4)).reshape(-1), flat)
    np.testing.assert_array_equal(jax.jit(noise.fast_normal, static_argnums=1)(key, (24,)), flat)
    typed_vs_legacy = noise.fast_normal(noise.as_key("f", jax.random.PRNGKey(0)), (24,))
    np.testing.assert_array_equal(typed_vs_legacy, noise.fast_normal(jax.random.key(0), (24,)))
    keys = jax.random.split(key, 3)
    rows = jax.vmap(lambda k: noise.fast_normal(k, (24,)))(keys)
    np.testing.assert_array_equal(rows[1], noise.fast_normal(keys[1], (24,)))
    assert noise.fast_normal(key, (8,), jnp.bfloat16).dtype == jnp.bfloat16
    with pytest.raises(ValueError, match="limited to 2\\*\\*32 elements"):
        noise.fast_bits(key, (2**16, 2**16))


@pytest.mark.parametrize("generator", noise.GENERATORS)
def test_tail_frequencies_beyond_3_and_4_standard_deviations(generator, key):
    """P(|xi| > 3) = 2.70e-3 and P(|xi| > 4) = 6.33e-5 for N(0, 1); the observed
    frequencies over n = 2^22 draws are within 5 binomial standard errors of them."""
    from scipy.stats import norm

    n = 2**22
    xi = np.asarray(noise.sample(key, (n,), "normal", jnp.float32, generator))
    for k in (3.0, 4.0):
        p = 2 * norm.sf(k)
        freq = np.mean(np.abs(xi) > k)
        assert abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n), (k, freq, p)
    # and the two tails are symmetric: P(xi > 3) vs P(xi < -3)
    up, down = np.mean(xi > 3.0), np.mean(xi < -3.0)
    p = norm.sf(3.0)
    assert abs(up - down) < 5 * np.sqrt(2 * p / n)


# --------------------------------------------------------------------------------------
# generator="jax": jax.random's numbers, from the written-out threefry on float32.

SHAPES = [(), (1,), (7,), (3, 5), (64, 128), (1000, 3), (2, 3, 4), (2**16 + 3,)]


@pytest.mark.parametrize("shape", SHAPES)
def test_jax_generator_gives_jax_random_normal_bit_for_bit(shape):
    for seed in (0, 1, 2**31 + 5):
        for make_key in (jax.random.key, jax.random.PRNGKey):
            k = make_key(seed)
            want = np.asarray(jax.random.normal(k, shape))
            typed = noise.as_key("t", k)
            np.testing.assert_array_equal(np.asarray(noise.jax_normal(typed, shape)), want)
            jitted = jax.jit(lambda k, s=shape: noise.jax_normal(k, s))(typed)
            np.testing.assert_array_equal(np.asarray(jitted), want)


def test_threefry_matches_jax_on_known_and_random_counters():
    """The written-out hash equals JAX's threefry2x32 (whose known-answer tests come from
    Random123) on edge-case and random keys and counters."""
    from jax.extend.random import threefry2x32_p

    words = np.array([0, 1, 0x1BD11BDA, 0xFFFFFFFF, 0x13198A2E, 0x03707344], np.uint32)
    rng = np.random.default_rng(0)
    for k0, k1 in [(0, 0), (0xFFFFFFFF, 0xFFFFFFFF), *rng.integers(0, 2**32, (4, 2))]:
        x0 = np.concatenate([words, rng.integers(0, 2**32, 200, dtype=np.uint32)])
        x1 = np.roll(x0, 3)
        k0, k1 = np.uint32(k0), np.uint32(k1)
        got = noise.threefry2x32(k0, k1, jnp.asarray(x0), jnp.asarray(x1))
        want = threefry2x32_p.bind(jnp.uint32(k0), jnp.uint32(k1), jnp.asarray(x0), jnp.asarray(x1))
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_other_keys_and_dtypes_fall_back_to_jax_random():
    """Keys of other implementations and float64 noise call jax.random itself."""
    rbg = jax.random.key(0, impl="rbg")
    np.testing.assert_array_equal(noise.jax_normal(rbg, (5, 3)), jax.random.normal(rbg, (5, 3)))
    with jax.enable_x64(True):
        k = jax.random.key(1)
        got = noise.jax_normal(k, (4,), jnp.float64)
        assert got.dtype == jnp.float64
        np.testing.assert_array_equal(got, jax.random.normal(k, (4,), jnp.float64))
