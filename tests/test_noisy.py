"""Noisy activation functions (Gulcehre et al. 2016): values, the three gradient paths, residuals,
transformations, statistics and errors.

The reference below is written straight from the paper's equations (``alpha*h + (1-alpha)*u``,
``d = -sgn(x) sgn(1-alpha)``) and shares no code with the library. Its ``h`` for
hard tanh is :func:`jax.nn.hard_tanh`, whose derivative at +-1 is 1; the library
follows the same convention, and the gradient tests include the kinks.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.ad_checkpoint import print_saved_residuals
from jax.test_util import check_grads

import rectify_jax as rj
from rectify_jax._src import output_noise


def ref_hard_sigmoid(x):
    return jnp.where(x > 2, 1.0, jnp.where(x < -2, 0.0, 0.25 * x + 0.5))


UNITS = {
    # name: (library function, reference h, reference u, x_t)
    "tanh": (rj.noisy_hard_tanh, jax.nn.hard_tanh, lambda x: x, 1.0),
    "sigmoid": (rj.noisy_hard_sigmoid, ref_hard_sigmoid, lambda x: 0.25 * x + 0.5, 2.0),
}


def ref_eps(key, shape, noise, dtype=jnp.float32):
    xi = jax.random.normal(key, shape, dtype)
    return jnp.abs(xi) if noise == "half_normal" else xi


def ref_phi(h, u, x, eps, p, alpha, c):
    hx, ux = h(x), u(x)
    sigma = c * (jax.nn.sigmoid(p * (hx - ux)) - 0.5) ** 2
    d = -jnp.sign(x) * jnp.sign(1 - alpha)
    return alpha * hx + (1 - alpha) * ux + d * sigma * eps


def kink_grid(xt):
    """Points at, just around and away from the kinks 0 and +-x_t, in both directions."""
    near = [0.0, 1e-6, 0.3, xt - 1e-3, xt, xt + 1e-3, xt + 0.7, 2 * xt + 0.4, 7.0]
    return jnp.array(sorted({*near, *(-t for t in near)}), jnp.float32)


# --------------------------------------------------------------------------------------
# Values and gradients against the reference.


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("noise", rj.NOISE_KINDS)
@pytest.mark.parametrize("residual", ["noise", "key"])
def test_value_and_all_gradients_equal_autodiff_of_the_formula(unit, noise, residual, key):
    f, h, u, xt = UNITS[unit]
    x = jnp.tile(kink_grid(xt), (3, 1))  # (3, n): p per feature, alpha per row, c scalar
    n = x.shape[1]
    p = jnp.linspace(-1.0, 1.5, n)
    alpha = jnp.array([[1.15], [0.8], [1.3]])
    c = jnp.float32(0.7)
    eps = ref_eps(key, x.shape, noise)
    w = jax.random.normal(jax.random.key(7), x.shape)  # a non-uniform cotangent

    def lib(x, p, alpha, c):
        return jnp.sum(w * f(x, key, p=p, alpha=alpha, c=c, noise=noise, residual=residual))

    def ref(x, p, alpha, c):
        return jnp.sum(w * ref_phi(h, u, x, eps, p, alpha, c))

    np.testing.assert_allclose(lib(x, p, alpha, c), ref(x, p, alpha, c), rtol=1e-6)
    got = jax.grad(lib, argnums=(0, 1, 2, 3))(x, p, alpha, c)
    want = jax.grad(ref, argnums=(0, 1, 2, 3))(x, p, alpha, c)
    for name, g, r, like in zip("x p alpha c".split(), got, want, (x, p, alpha, c), strict=True):
        assert g.shape == like.shape and g.dtype == like.dtype, name
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=1e-6, err_msg=name)


def test_gradient_at_a_saturated_point_matches_the_hand_computed_three_paths(key):
    # x = 3, p = 1, alpha = 1.15, c = 0.5: Delta = -2, s = sigmoid(-2), d = +1.
    x, p, alpha, c = 3.0, 1.0, 1.15, 0.5
    eps = float(jnp.abs(jax.random.normal(key, (1,)))[0])
    s = 1 / (1 + math.exp(2.0))
    stochastic = 1 * eps * 2 * c * (s - 0.5) * s * (1 - s) * p * (0.0 - 1.0)
    want = alpha * 0.0 + (1 - alpha) * 1.0 + stochastic
    got = jax.grad(lambda x: rj.noisy_hard_tanh(x, key)[0])(jnp.array([x]))
    np.testing.assert_allclose(got, [want], rtol=1e-6)
    assert stochastic > 0.0  # the noise path pushes the gradient, not only the linear path
    dp = jax.grad(lambda p: rj.noisy_hard_tanh(jnp.array([x]), key, p=p)[0])(p)
    np.testing.assert_allclose(dp, eps * 2 * c * (s - 0.5) * s * (1 - s) * -2.0, rtol=1e-5)
    dc = jax.grad(lambda c: rj.noisy_hard_tanh(jnp.array([x]), key, c=c)[0])(c)
    np.testing.assert_allclose(dc, eps * (s - 0.5) ** 2, rtol=1e-5)
    da = jax.grad(lambda a: rj.noisy_hard_tanh(jnp.array([x]), key, alpha=a)[0])(alpha)
    np.testing.assert_allclose(da, -2.0, rtol=1e-6)


@pytest.mark.parametrize("unit", UNITS)
def test_saturated_gradient_carries_noise(unit, key):
    f, _, _, xt = UNITS[unit]
    x = jnp.full((256,), 3 * xt)
    alpha = 1.15
    g = jax.grad(lambda x: jnp.sum(f(x, key, alpha=alpha)))(x)
    linear_only = (1 - alpha) * (0.25 if unit == "sigmoid" else 1.0)
    assert bool(jnp.all(g != 0))
    assert bool(jnp.all(g != linear_only))  # the stochastic path is there...
    assert float(jnp.std(g)) > 0  # ...and random: it differs across elements
    g_det = jax.grad(lambda x: jnp.sum(f(x, deterministic=True, noise="normal", alpha=alpha)))(x)
    np.testing.assert_allclose(g_det, linear_only, rtol=1e-6)  # E[eps] = 0: no stochastic path


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("noise", rj.NOISE_KINDS)
def test_check_grads_reverse_mode_at_a_fixed_key(unit, noise):
    f, _, _, xt = UNITS[unit]
    with jax.enable_x64(True):
        key = jax.random.key(3)
        # away from kinks: finite differences are exact only where the function is smooth
        x = jnp.array([-3.1, -1.7, -0.4, 0.6, 1.4, 2.6, 5.0], jnp.float64) * xt
        p = jnp.linspace(-1.0, 1.0, 7)
        args = (x, p, jnp.float64(1.15), jnp.float64(0.5))
        check_grads(
            lambda x, p, a, c: f(x, key, p=p, alpha=a, c=c, noise=noise),
            args,
            order=2,
            modes=["rev"],
        )


def test_custom_vjp_and_autodiff_paths_agree(key):
    x = kink_grid(1.0)
    for residual in ("noise", "key"):

        def loss(x, p, autodiff, residual=residual):
            return jnp.sum(
                rj.noisy_hard_tanh(x, key, p=p, autodiff=autodiff, residual=residual) ** 2
            )

        a = jax.grad(loss, argnums=(0, 1))(x, 0.7, False)
        b = jax.grad(loss, argnums=(0, 1))(x, 0.7, True)
        for ga, gb in zip(a, b, strict=True):
            np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-7)


def test_forward_mode_error_is_readable_and_autodiff_offers_it(key):
    x = jnp.array([2.0, -3.0])
    with pytest.raises(TypeError, match="noisy_hard_tanh: forward-mode .* autodiff=True"):
        jax.jvp(lambda x: rj.noisy_hard_tanh(x, key), (x,), (jnp.ones_like(x),))
    with pytest.raises(TypeError, match="noisy_hard_sigmoid: forward-mode"):
        jax.jacfwd(lambda x: rj.noisy_hard_sigmoid(x, key))(x)
    jf = jax.jacfwd(lambda x: rj.noisy_hard_tanh(x, key, autodiff=True))(x)
    jr = jax.jacrev(lambda x: rj.noisy_hard_tanh(x, key))(x)
    np.testing.assert_allclose(jf, jr, rtol=1e-6)
    jax.jvp(lambda x: rj.noisy_hard_tanh(x, deterministic=True), (x,), (x,))  # no noise: fine


# --------------------------------------------------------------------------------------
# Residual policies.


def test_residual_policies_give_identical_gradients(key):
    x = jnp.linspace(-5.0, 5.0, 101).reshape(1, 101)
    p = jnp.linspace(-1.0, 1.0, 101)

    def grads(residual):
        def loss(x, p, c):
            return jnp.sum(jnp.sin(rj.noisy_hard_tanh(x, key, p=p, c=c, residual=residual)))

        return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(x, p, 0.5)

    for a, b in zip(grads("noise"), grads("key"), strict=True):
        np.testing.assert_array_equal(a, b)


def _saved(capsys, fn, *args):
    print_saved_residuals(fn, *args)
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("residual, n_full", [("noise", 2), ("key", 1)])
def test_saved_residuals_are_x_plus_noise_or_key(capsys, key, residual, n_full):
    x = jnp.ones((4, 8))
    p = jnp.zeros((8,))
    lines = _saved(
        capsys, lambda x, p: jnp.sum(rj.noisy_hard_tanh(x, key, p=p, residual=residual)), x, p
    )
    full = [line for line in lines if line.startswith("f32[4,8]")]
    assert len(full) == n_full, lines  # x, plus the noise under "noise"
    assert any(line.startswith("f32[8]") for line in lines), lines  # p
    assert any(line.startswith("key<") for line in lines) == (residual == "key"), lines


# --------------------------------------------------------------------------------------
# Transformations.

KEYS = {"typed": jax.random.key, "legacy": jax.random.PRNGKey}


@pytest.mark.parametrize("make_key", KEYS.values(), ids=KEYS.keys())
def test_transformations_agree(make_key):
    key = make_key(5)
    x = jnp.linspace(-4.0, 4.0, 16)

    def loss(x, key):
        return jnp.sum(rj.noisy_hard_tanh(x, key, noise="normal") ** 2)

    g = jax.grad(loss)(x, key)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(x, key), g, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(jax.checkpoint(loss))(x, key), g, rtol=1e-6)
    v, g2 = jax.value_and_grad(loss)(x, key)
    np.testing.assert_allclose(g2, g, rtol=1e-6)
    np.testing.assert_allclose(v, loss(x, key), rtol=1e-6)
    keys = jax.random.split(key, 3)
    xs = jnp.stack([x, x, x])
    gs = jax.vmap(jax.grad(loss))(xs, keys)
    for i in range(3):
        np.testing.assert_allclose(gs[i], jax.grad(loss)(x, keys[i]), rtol=1e-6)
    assert not np.allclose(gs[0], gs[1])  # per-example keys: per-example noise
    y_pmap = jax.pmap(lambda x, k: rj.noisy_hard_tanh(x, k))(x[None], keys[:1])
    np.testing.assert_allclose(y_pmap[0], rj.noisy_hard_tanh(x, keys[0]), rtol=1e-6)
    g_pmap = jax.pmap(jax.grad(loss))(x[None], keys[:1])
    np.testing.assert_allclose(g_pmap[0], jax.grad(loss)(x, keys[0]), rtol=1e-6)


@pytest.mark.slow
def test_scan_recurrence_gets_fresh_noise_per_step_and_exact_gradients(key):
    w = 2.0 * jax.random.normal(jax.random.key(1), (6, 6))
    xs = jax.random.normal(jax.random.key(2), (10, 6))

    def run(w, autodiff):
        def step(h, inputs):
            x_t, k_t = inputs
            h = rj.noisy_hard_tanh(h @ w + x_t, k_t, autodiff=autodiff)
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros(6), (xs, jax.random.split(key, 10)))
        return hs

    hs = run(w, False)
    assert not np.allclose(hs, run_deterministic(w, xs))  # noise reached the recurrence
    loss = jax.jit(jax.grad(lambda w, a: jnp.sum(run(w, a) ** 2)), static_argnums=1)
    np.testing.assert_allclose(loss(w, False), loss(w, True), rtol=1e-5, atol=1e-6)


def run_deterministic(w, xs):
    def step(h, x_t):
        h = rj.noisy_hard_tanh(h @ w + x_t, deterministic=True)
        return h, h

    return jax.lax.scan(step, jnp.zeros(6), xs)[1]


def test_changing_c_every_call_compiles_once(key):
    x = jnp.linspace(-4.0, 4.0, 32)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(x, key, c):
        return jax.grad(lambda x: jnp.sum(rj.noisy_hard_tanh(x, key, c=c)))(x)

    outs = [step(x, key, float(c)) for c in np.linspace(30.0, 0.5, 100)]  # Python floats
    assert step._cache_size() == 1
    assert not np.allclose(outs[0], outs[-1])
    # Eager calls with a new Python float each time reuse the library's compiled kernel too.
    kernel = output_noise._output_noise
    rj.noisy_hard_tanh(x, key, c=0.1)
    rj.noisy_hard_tanh(x, key, c=0.0)  # c == 0 takes the noiseless path, compiled once
    before = kernel._cache_size()
    for c in np.linspace(0.0, 3.0, 100):
        rj.noisy_hard_tanh(x, key, c=float(c))
    assert kernel._cache_size() == before


# --------------------------------------------------------------------------------------
# Statistics of the noise.


@pytest.mark.parametrize("noise", rj.NOISE_KINDS)
def test_noise_is_independent_across_elements_and_keys(noise, key):
    n = 20_000
    x = jnp.full((n,), 4.0)
    det = rj.noisy_hard_tanh(x, noise=noise, deterministic=True)[0]
    sigma = 0.5 * (1 / (1 + math.exp(3.0)) - 0.5) ** 2  # Delta = -3, p = 1, c = 0.5
    mean, std = (
        (0.0, 1.0) if noise == "normal" else (math.sqrt(2 / math.pi), math.sqrt(1 - 2 / math.pi))
    )

    def standardised(k):  # d = +1 here, so eps = (phi - E phi) / sigma + E eps
        eps = (rj.noisy_hard_tanh(x, k, noise=noise) - det) / sigma + mean
        return (np.asarray(eps, np.float64) - mean) / std

    z1, z2 = standardised(key), standardised(jax.random.fold_in(key, 1))
    bound = 5 / math.sqrt(n)  # 5 standard errors: a false alarm about once in 10^6 runs
    assert abs(z1.mean()) < bound
    # Var of a sample variance of standardised data is (kurtosis - 1) / n.
    kurtosis = 3.0 if noise == "normal" else 3 + 8 * (math.pi - 3) / (math.pi - 2) ** 2
    assert abs(z1.var() - 1) < 5 * math.sqrt((kurtosis - 1) / n)
    assert abs(np.corrcoef(z1[:-1], z1[1:])[0, 1]) < bound  # neighbours
    assert abs(np.corrcoef(z1, z2)[0, 1]) < bound  # keys


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("noise", rj.NOISE_KINDS)
@given(
    depth=st.floats(0.05, 8.0),
    sign=st.sampled_from([-1.0, 1.0]),
    p=st.floats(-3.0, 3.0),
    alpha=st.floats(0.5, 2.0),
    c=st.floats(0.1, 5.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_monte_carlo_mean_matches_deterministic_expectation(
    unit, noise, depth, sign, p, alpha, c, seed
):
    f, h, u, xt = UNITS[unit]
    x = jnp.float32(sign * (xt + depth))
    n = 4096
    ys = _mc_samples(f, noise, x, jax.random.key(seed), p, alpha, c)
    expected = float(f(x[None], p=p, alpha=alpha, c=c, noise=noise, deterministic=True)[0])
    delta = float(h(x) - u(x))
    sigma = c * (1 / (1 + math.exp(-p * delta)) - 0.5) ** 2
    std_eps = 1.0 if noise == "normal" else math.sqrt(1 - 2 / math.pi)
    # 5 standard errors of the mean, plus float32 rounding of the summands
    tol = 5 * sigma * std_eps / math.sqrt(n) + 1e-6 * (1 + abs(expected))
    assert abs(float(jnp.mean(ys)) - expected) <= tol


@jax.jit
def _mc_kernel(x, keys, p, alpha, c):
    out = {}
    for name, (f, *_rest) in UNITS.items():
        for noise in rj.NOISE_KINDS:
            out[name, noise] = jax.vmap(
                lambda k, f=f, noise=noise: f(x[None], k, p=p, alpha=alpha, c=c, noise=noise)[0]
            )(keys)
    return out


def _mc_samples(f, noise, x, key, p, alpha, c):
    name = "tanh" if f is rj.noisy_hard_tanh else "sigmoid"
    return _mc_kernel(x, jax.random.split(key, 4096), p, alpha, c)[name, noise]


@pytest.mark.parametrize("unit", UNITS)
@given(
    xs=st.lists(st.floats(-1.0, 1.0), min_size=16, max_size=16),
    p=st.floats(-5.0, 5.0),
    alpha=st.floats(0.0, 3.0),
    c=st.floats(0.0, 50.0),
    seed=st.integers(0, 2**31 - 1),
    noise=st.sampled_from(rj.NOISE_KINDS),
)
def test_no_noise_where_h_is_linear(unit, xs, p, alpha, c, seed, noise):
    f, h, _, xt = UNITS[unit]
    x = jnp.array(xs, jnp.float32) * xt  # |x| <= x_t
    y = _linear_kernel(unit, noise, x, jax.random.key(seed), p, alpha, c)
    np.testing.assert_array_equal(y, h(x))


@jax.jit
def _linear_kernel_all(x, key, p, alpha, c):
    return {
        (name, noise): f(x, key, p=p, alpha=alpha, c=c, noise=noise)
        for name, (f, *_rest) in UNITS.items()
        for noise in rj.NOISE_KINDS
    }


def _linear_kernel(unit, noise, x, key, p, alpha, c):
    return _linear_kernel_all(x, key, p, alpha, c)[unit, noise]


# --------------------------------------------------------------------------------------
# Half-normal direction, alpha = 1 and the user-built unit (generalisation).


@pytest.mark.parametrize("unit", UNITS)
def test_half_normal_noise_points_back_to_h(unit, key):
    f, h, u, xt = UNITS[unit]
    x = jnp.concatenate([jnp.linspace(-6, -xt - 0.1, 50), jnp.linspace(xt + 0.1, 6, 50)])
    mean_part = f(x, key, c=0.0)  # alpha*h + (1-alpha)*u, no noise
    moved = f(x, key) - mean_part
    toward_h = jnp.sign(h(x) - mean_part)
    assert bool(jnp.all(moved * toward_h >= 0)) and bool(jnp.any(moved != 0))


def test_alpha_one_turns_the_noise_off(key):
    x = jnp.linspace(-5.0, 5.0, 41)
    np.testing.assert_array_equal(rj.noisy_hard_tanh(x, key, alpha=1.0), rj.hard_tanh(x))


def test_library_units_are_instances_of_the_public_builder(key):
    x = jnp.linspace(-5.0, 5.0, 41)
    mine = rj.NoisyUnit(h=rj.hard_tanh, u=lambda x: x, threshold=1.0, alpha=1.15, c=0.5)
    np.testing.assert_array_equal(mine(x, key, p=0.3), rj.noisy_hard_tanh(x, key, p=0.3))
    np.testing.assert_array_equal(rj.HARD_SIGMOID_UNIT(x, key), rj.noisy_hard_sigmoid(x, key))


def test_user_built_noisy_rectifier(key):
    unit = rj.NoisyUnit(h=rj.relu, u=lambda x: x, threshold=(0.0, math.inf), name="noisy_relu")
    x = jnp.linspace(-3.0, 3.0, 25) + 0.01
    y = unit(x, key)
    pos = x > 0
    np.testing.assert_array_equal(y[pos], x[pos])
    assert bool(jnp.all(y[~pos] < (1 - 1.15) * x[~pos]))  # half-normal noise pushes down to 0
    eps = ref_eps(key, x.shape, "half_normal")
    want = jax.grad(lambda x: jnp.sum(ref_phi(jax.nn.relu, lambda t: t, x, eps, 1.0, 1.15, 0.5)))(x)
    np.testing.assert_allclose(jax.grad(lambda x: jnp.sum(unit(x, key)))(x), want, rtol=1e-5)
    assert bool(jnp.all(unit.saturated(x) == ~pos))
    with pytest.raises(ValueError, match="noisy_relu: c must be a finite number >= 0"):
        unit(x, key, c=-1.0)


def test_noise_direction_is_right_for_a_unit_whose_linear_range_excludes_zero(key):
    # h = clip(x, 1, 3), u = x: for x in (0, 1) the unit saturates *below*, Delta > 0 while x > 0.
    unit = rj.NoisyUnit(h=lambda x: jnp.clip(x, 1.0, 3.0), u=lambda x: x, threshold=(1.0, 3.0))
    x = jnp.linspace(0.05, 0.95, 19)
    mean_part = unit(x, key, c=0.0)
    assert bool(jnp.all(unit(x, key, c=4.0) < mean_part))  # pushed down towards h = 1


# --------------------------------------------------------------------------------------
# Input-noise family (the paper's §5).

INPUT = {
    "tanh": (
        rj.input_noisy_hard_tanh,
        rj.learned_input_noisy_hard_tanh,
        rj.saturated_input_noisy_hard_tanh,
        jax.nn.hard_tanh,
        lambda x: x,
        1.0,
        0.5,
    ),
    "sigmoid": (
        rj.input_noisy_hard_sigmoid,
        rj.learned_input_noisy_hard_sigmoid,
        rj.saturated_input_noisy_hard_sigmoid,
        ref_hard_sigmoid,
        lambda x: 0.25 * x + 0.5,
        2.0,
        0.15,
    ),
}


@pytest.mark.parametrize("unit", INPUT)
def test_input_noise_variants_match_their_formulas(unit, key):
    nani, nanil, nanis, h, u, xt, c = INPUT[unit]
    x = jnp.linspace(-3 * xt, 3 * xt, 61) + 0.013
    xi = jax.random.normal(key, x.shape)
    np.testing.assert_allclose(nani(x, key), h(x + 0.05 * xi), rtol=1e-6)
    np.testing.assert_allclose(nani(x, key, s=0.3), h(x + 0.3 * xi), rtol=1e-6)
    sat = jnp.abs(x) >= xt
    np.testing.assert_allclose(nanis(x, key), h(x + jnp.where(sat, 0.25, 0.0) * xi), rtol=1e-6)
    np.testing.assert_array_equal(nanis(x, key)[~sat], h(x)[~sat])  # exactly untouched
    p = jnp.linspace(-2.0, 2.0, 61)
    sigma = c * (jax.nn.sigmoid(p * (h(x) - u(x))) - 0.5) ** 2
    np.testing.assert_allclose(nanil(x, key, p=p), h(x + sigma * xi), rtol=1e-6)
    for f in (nani, nanil, nanis):
        np.testing.assert_array_equal(f(x, deterministic=True), h(x))


@pytest.mark.parametrize("unit", INPUT)
def test_learned_input_noise_gives_p_a_gradient(unit, key):
    _, nanil, *_ = INPUT[unit]
    x = jnp.linspace(1.2, 6.0, 64) * INPUT[unit][5]
    g = jax.grad(lambda p: jnp.sum(nanil(x, key, p=p, c=40.0)))(jnp.full((64,), 2.0))
    assert bool(jnp.any(g != 0)) and bool(jnp.all(jnp.isfinite(g)))


@pytest.mark.parametrize("unit", INPUT)
@given(
    xs=st.lists(st.floats(-1e3, 1e3), min_size=16, max_size=16),
    s=st.floats(0.0, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_input_noise_output_stays_in_the_range_of_h(unit, xs, s, seed):
    lo = -1.0 if unit == "tanh" else 0.0
    for y in _input_kernel(jnp.array(xs, jnp.float32), jax.random.key(seed), s)[unit]:
        assert bool(jnp.all((y >= lo) & (y <= 1.0)))


@jax.jit
def _input_kernel(x, key, s):
    return {
        name: (nani(x, key, s=s), nanil(x, key, p=s, c=4 * s), nanis(x, key, s=s))
        for name, (nani, nanil, nanis, *_rest) in INPUT.items()
    }


# --------------------------------------------------------------------------------------
# Bad input.


def test_errors_name_the_function_the_argument_and_the_fix(key):
    x = jnp.ones((4, 3))
    with pytest.raises(
        ValueError,
        match=r"noisy_hard_tanh: noise='gauss' is not one of "
        r"\('half_normal', 'normal'\)",
    ):
        rj.noisy_hard_tanh(x, key, noise="gauss")
    with pytest.raises(ValueError, match=r"noisy_hard_tanh: residual='all' is not one of"):
        rj.noisy_hard_tanh(x, key, residual="all")
    with pytest.raises(ValueError, match=r"noisy_hard_sigmoid: c must be a finite.* >= 0.*-0.5"):
        rj.noisy_hard_sigmoid(x, key, c=-0.5)
    with pytest.raises(ValueError, match=r"c must be .* >= 0.*holding -1"):  # host arrays are
        rj.noisy_hard_tanh(x, key, c=np.array([0.5, -1.0, 0.5], np.float32))  # checked; device
    # arrays are not read back (no device-to-host copy per eager call)
    with pytest.raises(
        ValueError,
        match=r"noisy_hard_tanh: p with shape \(4,\) does not broadcast "
        r"to x's shape \(4, 3\).*shape \(3,\)",
    ):
        rj.noisy_hard_tanh(x, key, p=jnp.ones(4))
    with pytest.raises(TypeError, match=r"noisy_hard_tanh: alpha must be a float.*int32"):
        rj.noisy_hard_tanh(x, key, alpha=jnp.array(1))
    with pytest.raises(TypeError, match=r"noisy_hard_tanh: deterministic must be a Python bool"):
        rj.noisy_hard_tanh(x, key, deterministic=jnp.array(True))
    with pytest.raises(TypeError, match=r"noisy_hard_tanh: key must be a single PRNG key.*\(2,\)"):
        rj.noisy_hard_tanh(x, jax.random.split(key))
    with pytest.raises(TypeError, match="did you swap x and key"):
        rj.noisy_hard_tanh(key, x)
    with pytest.raises(ValueError, match=r"input_noisy_hard_tanh: s must be a finite number >= 0"):
        rj.input_noisy_hard_tanh(x, key, s=-0.1)
    with pytest.raises(ValueError, match=r"saturated_input_noisy_hard_sigmoid: s must be .* >= 0"):
        rj.saturated_input_noisy_hard_sigmoid(x, key, s=-1.0)
    with pytest.raises(ValueError, match=r"NoisyUnit: threshold must be"):
        rj.NoisyUnit(h=rj.hard_tanh, u=lambda x: x, threshold=-1.0)
    with pytest.raises(TypeError, match=r"NoisyUnit: u must be a callable"):
        rj.NoisyUnit(h=rj.hard_tanh, u=1.0, threshold=1.0)


def test_traced_c_is_not_checked_but_a_nan_c_is_visible_everywhere(key):
    # A traced c cannot be checked; a NaN schedule value must not go unnoticed.
    x = jnp.array([3.0, 0.5])
    y = jax.jit(lambda c: rj.noisy_hard_tanh(x, key, c=c))(jnp.nan)
    assert bool(jnp.all(jnp.isnan(y)))
    y = jax.jit(lambda c: rj.noisy_hard_tanh(x, key, c=c))(-1.0)  # traced: runs, noise flips
    assert float(y[1]) == 0.5


# --------------------------------------------------------------------------------------
# The fast generator, per call and per module.


@pytest.mark.parametrize("residual", ["noise", "key"])
def test_fast_generator_values_and_gradients_follow_the_formula(residual, key):
    from rectify_jax import noise

    x = kink_grid(1.0)
    eps = jnp.abs(noise.fast_normal(key, x.shape))

    def lib(x, p):
        return jnp.sum(rj.noisy_hard_tanh(x, key, p=p, generator="fast", residual=residual) ** 2)

    def ref(x, p):
        return jnp.sum(ref_phi(jax.nn.hard_tanh, lambda t: t, x, eps, p, 1.15, 0.5) ** 2)

    np.testing.assert_allclose(lib(x, 0.7), ref(x, 0.7), rtol=1e-6)
    for g, r in zip(jax.grad(lib, (0, 1))(x, 0.7), jax.grad(ref, (0, 1))(x, 0.7), strict=True):
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=1e-6)
    xi = noise.fast_normal(key, x.shape)
    np.testing.assert_allclose(
        rj.input_noisy_hard_tanh(x, key, generator="fast"),
        jax.nn.hard_tanh(x + 0.05 * xi),
        rtol=1e-6,
    )
    neg = -jnp.ones(64)
    slopes = rj.rrelu(neg, key, generator="fast") / neg
    assert bool(jnp.all((slopes >= 1 / 8) & (slopes <= 1 / 3)))
    assert not np.array_equal(rj.nrelu(x, key, generator="fast"), rj.nrelu(x, key))
    with pytest.raises(ValueError, match=r"noisy_hard_tanh: generator='philox' is not one of"):
        rj.noisy_hard_tanh(x, key, generator="philox")


@pytest.mark.slow
def test_modules_select_the_generator(key):
    import flax.linen as nn  # noqa: F401
    from flax import nnx

    from rectify_jax import linen as rjl
    from rectify_jax import nnx as rjx

    x = jnp.linspace(-4.0, 4.0, 24).reshape(2, 12)
    layer = rjl.NoisyHardTanh(generator="fast")
    variables = layer.init(jax.random.key(0), x, deterministic=True)
    p = variables["params"]["p"]
    want = rj.noisy_hard_tanh(x, key, p=p, generator="fast")
    np.testing.assert_array_equal(layer.apply(variables, x, deterministic=False, rng=key), want)
    xlayer = rjx.NoisyHardTanh(12, generator="fast", rngs=nnx.Rngs(0))
    xlayer.p[...] = p
    np.testing.assert_array_equal(xlayer(x, rngs=key), want)
    cell = rjl.NoisyLSTMCell(4, generator="fast")
    carry = cell.initialize_carry(None, (2, 12))
    v = cell.init({"params": jax.random.key(0), "noise": key}, carry, x)
    y_fast = cell.apply(v, carry, 3 * x, rng=key)[1]
    y_jax = rjl.NoisyLSTMCell(4).apply(v, carry, 3 * x, rng=key)[1]
    assert not np.allclose(y_fast, y_jax)
    with pytest.raises(ValueError, match="generator='x' is not one of"):
        rjx.NoisyGRUCell(2, 3, generator="x", rngs=nnx.Rngs(0))
