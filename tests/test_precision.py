"""Values and gradients against a 50-digit reference (mpmath) with the same noise.

The contract (docs/conventions.md, "Precision"): on a grid of x up to +-1e4, p in [-50, 50],
c in [0, 30] and two alphas, in float32 and float64, every value and every gradient (x, p,
alpha, c, s; both residuals, which give the same bits; both generators) is within ``ULPS``
units in the last place of the reference, measured on the *scale* of the formula: the sum
of the magnitudes of the terms that are added (for a product, the magnitude of the result
itself, so the error is relative). Where the terms do not cancel this is the relative
error; where they do (an output that crosses 0 between the mean and the noise), no
floating-point sum can be relative to the tiny result. Two more allowances, each forced by
the inputs rather than by the computation:

- the derivative of the noise scale decays like ``exp(-|p Delta|)``, which turns the
  half-ulp rounding of the product ``p Delta`` into ``|p Delta| / 2`` ulp: the x- and
  p-gradients are measured in ulps over ``kappa = 1 + |p Delta| / 2``;
- results below ``FLOOR_TINIES`` times the dtype's smallest normal number count as exact.

The bounds: XLA's float32 ``tanh`` is up to 3.7 ulp off on this CPU (measured), and the
noise scale squares it, so the c-gradient (``tanh^2``) has 8; the rest 4-5. The smooth
deterministic functions' derivatives (sigmoid, tanh, tlu, elu, softplus) are relative
too, where jax.nn's autodiff cancels in saturation. Each test prints its worst case
(``pytest -s``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import rectify_jax as rj
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import registry

mp.mp.dps = 50

ULPS = {"value": 5, "x": 4, "p": 5, "alpha": 1, "c": 8, "s": 1}
RECTIFIER_ULPS = 4
FLOOR_TINIES = 4

X = sorted(
    {0.0, 1e-30, 1e-3, 0.25, 0.5, 0.999, 1.0, 1.001, 1.25, 1.5, 1.999, 2.0, 2.001, 2.5, 3.0}
    | {5.0, 7.7, 10.0, 33.3, 100.0, 1e3, 1e4}
)
X = [-v for v in X if v] + X
P = [-50.0, -7.0, -1.0, -0.1, 0.0, 0.1, 1.0, 7.0, 50.0]
C = [0.0, 0.15, 0.5, 3.0, 30.0]


# --------------------------------------------------------------------------------------
# The reference: Gulcehre et al.'s formulas in 50 digits.


def _clip(x, lo, hi):
    return max(lo, min(hi, x))


UNITS = {
    # name: (function, h, h', u, u', default alpha); h' at the kinks as the library's h
    "noisy_hard_tanh": (
        rj.noisy_hard_tanh,
        lambda x: _clip(x, -1, 1),
        lambda x: mp.mpf(1) if -1 <= x <= 1 else mp.mpf(0),
        lambda x: x,
        lambda x: mp.mpf(1),
        1.15,
    ),
    "noisy_hard_sigmoid": (
        rj.noisy_hard_sigmoid,
        lambda x: _clip(x / 4 + mp.mpf(1) / 2, 0, 1),
        lambda x: mp.mpf(1) / 4 if -2 <= x <= 2 else mp.mpf(0),
        lambda x: x / 4 + mp.mpf(1) / 2,
        lambda x: mp.mpf(1) / 4,
        1.1,
    ),
}


def reference_sigma(z, c):
    """sigma = c (sigmoid(z) - 1/2)^2 and its derivative 2c (s - 1/2) s (1 - s) in z.

    Written with tanh and sech (s - 1/2 = tanh(z/2)/2, s (1 - s) = sech(z/2)^2 / 4):
    50 digits of s would leave nothing of 1 - s beyond |z| = 115.
    """
    t, sech = mp.tanh(z / 2), mp.sech(z / 2)
    return c * t * t / 4, c * t * sech * sech / 4


def test_the_reference_noise_scale_is_the_papers_formula():
    for z, c in itertools.product([-40.0, -3.0, -0.01, 0.0, 1e-5, 0.7, 12.0, 40.0], [0.5, 30.0]):
        z, c = mp.mpf(z), mp.mpf(c)
        s = 1 / (1 + mp.exp(-z))
        sigma, dsigma = reference_sigma(z, c)
        assert mp.almosteq(sigma, c * (s - mp.mpf(1) / 2) ** 2, rel_eps=mp.mpf(10) ** -30)
        paper = 2 * c * (s - mp.mpf(1) / 2) * s * (1 - s)
        assert mp.almosteq(dsigma, paper, rel_eps=mp.mpf(10) ** -30, abs_eps=0)
        assert mp.almosteq(dsigma, mp.diff(lambda z, c=c: reference_sigma(z, c)[0], z), 1e-25)


def reference_output_noise(unit: str, x, eps, p, alpha, c) -> dict[str, tuple]:
    """``{name: (value, scale, condition)}`` for phi and its gradients, in 50 digits."""
    _, h_, dh_, u_, du_, _ = UNITS[unit]
    x, eps, p, alpha, c = (mp.mpf(float(a)) for a in (x, eps, p, alpha, c))
    h, dh, u, du = h_(x), dh_(x), u_(x), du_(x)
    delta = h - u
    d = mp.sign(delta) * mp.sign(1 - alpha)
    sigma, dsigma_dz = reference_sigma(p * delta, c)
    stochastic = d * eps * dsigma_dz * p * (dh - du)
    phi_terms = (h, (alpha - 1) * delta, d * sigma * eps)
    dx_terms = (alpha * dh, (1 - alpha) * du, stochastic)
    dp = d * eps * dsigma_dz * delta
    dc = d * eps * sigma / c if c else d * eps * mp.tanh(p * delta / 2) ** 2 / 4
    # exp(-|z|) in dsigma/dz turns the half-ulp rounding of z = p * Delta into |z|/2 ulp
    kappa = 1 + abs(p * delta) / 2
    return {
        "value": (sum(phi_terms), sum(abs(t) for t in phi_terms), 1),
        "x": (sum(dx_terms), sum(abs(t) for t in dx_terms), kappa),
        "p": (dp, abs(dp), kappa),
        "alpha": (delta, abs(delta), 1),
        "c": (dc, abs(dc), 1),
    }


# --------------------------------------------------------------------------------------
# The library, on the whole grid at once.


def _grid(unit: str, dtype):
    alphas = [UNITS[unit][5], 0.5]
    rows = list(itertools.product(X, P, C, alphas))
    return [jnp.asarray([r[i] for r in rows], dtype) for i in range(4)]


def library_output_noise(unit, dtype, noise, generator, residual, key):
    """Values and per-element gradients of ``unit`` on the grid, and the noise it used."""
    fn = UNITS[unit][0]
    x, p, c, alpha = _grid(unit, dtype)

    def f(x, p, alpha, c):
        kw = dict(p=p, alpha=alpha, c=c, noise=noise, generator=generator, residual=residual)
        return fn(x, key, **kw)

    value, vjp = jax.vjp(f, x, p, alpha, c)
    gx, gp, galpha, gc = vjp(jnp.ones_like(value))
    eps = noise_lib.sample(key, x.shape, noise, dtype, generator)
    got = {"value": value, "x": gx, "p": gp, "alpha": galpha, "c": gc}
    return (x, p, c, alpha, eps), {k: np.asarray(v) for k, v in got.items()}


def ulps(got, want, scale, dtype) -> float:
    """|got - want| in units of the last place of ``scale`` (0 below the floor)."""
    finfo = np.finfo(dtype)
    err = abs(mp.mpf(float(got)) - want)
    floor = FLOOR_TINIES * mp.mpf(float(finfo.tiny))
    if err <= floor:
        return 0.0
    spacing = mp.mpf(float(np.spacing(np.asarray(float(scale), dtype))))
    return float(err / spacing)


def worst(inputs, got, reference: Callable, dtype, names=("x", "p", "c", "alpha", "eps")):
    """Per quantity: the largest error in ulps of the scale over the condition number,
    and where it happens."""
    out: dict[str, tuple] = {}
    cols = [np.asarray(a) for a in inputs]
    for i in range(len(cols[0])):
        point = {name: col[i] for name, col in zip(names, cols, strict=True)}
        ref = reference(**point)
        for name, (want, scale, kappa) in ref.items():
            e = ulps(got[name][i], want, scale, dtype) / float(kappa)
            if e > out.get(name, (-1.0,))[0]:
                out[name] = (e, point)
    return out


CASES = [
    (unit, dtype, noise, generator)
    for unit in UNITS
    for dtype in (jnp.float32, jnp.float64)
    for noise in ("half_normal", "normal")
    for generator in ("jax", "fast")
]


@pytest.mark.slow  # a 50-digit reference per grid point
@pytest.mark.parametrize("unit, dtype, noise, generator", CASES)
def test_output_noise_values_and_gradients_within_ulps_of_50_digits(unit, dtype, noise, generator):
    with jax.enable_x64(dtype == jnp.float64):
        key = jax.random.key(7)
        inputs, got = library_output_noise(unit, dtype, noise, generator, "noise", key)
        _, keyed = library_output_noise(unit, dtype, noise, generator, "key", key)
        for name in got:  # residual="key" redraws the same noise: the same bits
            np.testing.assert_array_equal(keyed[name], got[name], err_msg=name)

        def reference(x, eps, p, alpha, c):
            return reference_output_noise(unit, x, eps, p, alpha, c)

        errors = worst(inputs, got, reference, dtype)
    print(f"\n{unit} {jnp.dtype(dtype).name} {noise} {generator}: worst error in ulps")
    for name, (e, where) in errors.items():
        print(f"  {name:<6} {e:6.2f}  at {where}")
    assert all(e <= ULPS[name] for name, (e, _) in errors.items()), errors


# --------------------------------------------------------------------------------------
# Input noise: h(x + scale(x) * xi), plain autodiff.

INPUT_FNS = {
    # (unit, mode): the public function
    ("noisy_hard_tanh", "fixed"): rj.input_noisy_hard_tanh,
    ("noisy_hard_tanh", "learned"): rj.learned_input_noisy_hard_tanh,
    ("noisy_hard_tanh", "saturated"): rj.saturated_input_noisy_hard_tanh,
    ("noisy_hard_sigmoid", "fixed"): rj.input_noisy_hard_sigmoid,
    ("noisy_hard_sigmoid", "learned"): rj.learned_input_noisy_hard_sigmoid,
    ("noisy_hard_sigmoid", "saturated"): rj.saturated_input_noisy_hard_sigmoid,
}
THRESHOLD = {"noisy_hard_tanh": 1, "noisy_hard_sigmoid": 2}


def reference_input_noise(unit, mode, x, xi, p, c, s) -> dict[str, tuple]:
    """``{name: (value, scale, condition)}`` of h(x + scale(x) xi) and its gradients."""
    _, h_, dh_, u_, du_, _ = UNITS[unit]
    x, xi, p, c, s = (mp.mpf(float(a)) for a in (x, xi, p, c, s))
    delta = h_(x) - u_(x)
    if mode == "learned":
        scale, dscale_dz = reference_sigma(p * delta, c)
        dscale_dx = dscale_dz * p * (dh_(x) - du_(x))
    else:
        on = mode == "fixed" or abs(x) >= THRESHOLD[unit]
        scale, dscale_dx = (s if on else mp.mpf(0)), mp.mpf(0)
    y = x + scale * xi
    slope = dh_(y)
    size = abs(x) + abs(scale * xi)  # what the sum x + scale * xi is rounded on
    value_scale = size * slope + (abs(h_(y)) if slope == 0 else abs(h_(y) - slope * y))
    out = {
        "value": (h_(y), value_scale, 1),
        "x": (slope * (1 + xi * dscale_dx), slope * (1 + abs(xi * dscale_dx)), 1),
    }
    if mode == "learned":
        kappa = 1 + abs(p * delta) / 2
        out["x"] = (out["x"][0], out["x"][1], kappa)
        out["p"] = (slope * xi * dscale_dz * delta, abs(slope * xi * dscale_dz * delta), kappa)
        ds_dc = reference_sigma(p * delta, mp.mpf(1))[0]
        out["c"] = (slope * xi * ds_dc, abs(slope * xi * ds_dc), 1)
    else:
        ds = slope * xi * (1 if on else 0)
        out["s"] = (ds, abs(ds), 1)
    return out


INPUT_CASES = [
    (unit, mode, dtype, generator)
    for (unit, mode) in INPUT_FNS
    for dtype in (jnp.float32, jnp.float64)
    for generator in ("jax", "fast")
]


@pytest.mark.slow  # a 50-digit reference per grid point
@pytest.mark.parametrize("unit, mode, dtype, generator", INPUT_CASES)
def test_input_noise_values_and_gradients_within_ulps_of_50_digits(unit, mode, dtype, generator):
    fn = INPUT_FNS[unit, mode]
    with jax.enable_x64(dtype == jnp.float64):
        key = jax.random.key(11)
        x, p, c, _ = _grid(unit, dtype)
        s = jnp.abs(p) / 10  # 0 to 5: the fixed and saturated modes' scales
        if mode == "learned":
            args, names = (x, p, c), ("x", "p", "c")
            value, vjp = jax.vjp(lambda x, p, c: fn(x, key, p=p, c=c, generator=generator), *args)
        else:
            args, names = (x, s), ("x", "s")
            value, vjp = jax.vjp(lambda x, s: fn(x, key, s=s, generator=generator), *args)
        grads = vjp(jnp.ones_like(value))
        got = {n: np.asarray(g) for n, g in zip(names, grads, strict=True)}
        got["value"] = np.asarray(value)
        xi = noise_lib.sample(key, x.shape, "normal", dtype, generator)

        def reference(x, xi, p, s, c):
            return reference_input_noise(unit, mode, x, xi, p, c, s)

        errors = worst((x, p, c, s, xi), got, reference, dtype, ("x", "p", "c", "s", "xi"))
    print(f"\n{unit} {mode} {jnp.dtype(dtype).name} {generator}: worst error in ulps")
    for name, (e, where) in errors.items():
        print(f"  {name:<6} {e:6.2f}  at {where}")
    assert all(e <= ULPS[name] for name, (e, _) in errors.items()), errors


# --------------------------------------------------------------------------------------
# The rectifiers and their smooth cousins: value and d/dx (and d/dslope) of each.


def _sig(x):
    return 1 / (1 + mp.exp(-x))


RECTIFIERS = {
    # name: (call(x, key), reference(x, noise) -> (value, dvalue/dx), noise(key, x) or None)
    "relu": (lambda x, k: rj.relu(x), lambda x, n: (max(x, 0), mp.mpf(x > 0)), None),
    "leaky_relu": (
        lambda x, k: rj.leaky_relu(x, 0.01),
        lambda x, n: (x if x >= 0 else 0.01 * x, mp.mpf(1) if x >= 0 else mp.mpf(0.01)),
        None,
    ),
    "elu": (
        lambda x, k: rj.elu(x),
        lambda x, n: (x, mp.mpf(1)) if x > 0 else (mp.expm1(x), mp.exp(x)),
        None,
    ),
    "softplus": (
        lambda x, k: rj.softplus(x),
        lambda x, n: (mp.log1p(mp.exp(x)), _sig(x)),
        None,
    ),
    "sigmoid": (lambda x, k: rj.sigmoid(x), lambda x, n: (_sig(x), _sig(x) * _sig(-x)), None),
    "tanh": (lambda x, k: rj.tanh(x), lambda x, n: (mp.tanh(x), mp.sech(x) ** 2), None),
    "tlu": (
        lambda x, k: rj.tlu(x, 0.5),
        lambda x, n: (x, mp.mpf(1)) if x >= 0 else (0.5 * mp.tanh(x), 0.5 * mp.sech(x) ** 2),
        None,
    ),
    "rrelu": (
        lambda x, k: rj.rrelu(x, k),
        lambda x, a: (x, mp.mpf(1)) if x >= 0 else (a * x, a),
        lambda k, x: noise_lib.uniform(k, x.shape, x.dtype, 1 / 8, 1 / 3),
    ),
    "nrelu": (
        lambda x, k: rj.nrelu(x, k),
        lambda x, xi: (
            max(x + mp.sqrt(_sig(x)) * xi, 0),
            (1 + xi * mp.sqrt(_sig(x)) * _sig(-x) / 2) * (x + mp.sqrt(_sig(x)) * xi > 0),
        ),
        lambda k, x: noise_lib.sample(k, x.shape, "normal", x.dtype),
    ),
}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", list(RECTIFIERS))
def test_rectifiers_within_ulps_of_50_digits(name, dtype):
    call, reference, draw = RECTIFIERS[name]
    with jax.enable_x64(dtype == jnp.float64):
        key = jax.random.key(3)
        x = jnp.asarray(X + [v / 7 for v in X] + [-20.0, -80.0, 20.0, 80.0], dtype)
        value, vjp = jax.vjp(lambda x: call(x, key), x)
        (gx,) = vjp(jnp.ones_like(value))
        noise = np.zeros(x.shape) if draw is None else np.asarray(draw(key, x))
        got = {"value": np.asarray(value), "x": np.asarray(gx)}

        def ref(x, noise):
            x, noise = mp.mpf(float(x)), mp.mpf(float(noise))
            v, d = reference(x, noise)
            # nrelu's x + sqrt(sigmoid(x)) xi may cancel: measured on the sum's terms
            size = abs(x) + abs(mp.sqrt(_sig(x)) * noise) if name == "nrelu" and v else abs(v)
            return {"value": (v, size, 1), "x": (d, abs(d), 1)}

        errors = worst((x, noise), got, ref, dtype, ("x", "noise"))
    print(f"\n{name} {jnp.dtype(dtype).name}: worst error in ulps")
    for q, (e, where) in errors.items():
        print(f"  {q:<6} {e:6.2f}  at {where}")
    assert all(e <= RECTIFIER_ULPS for e, _ in errors.values()), errors


# --------------------------------------------------------------------------------------
# NaN, and the same numbers however the function is called.


@pytest.mark.parametrize("entry", registry.ACTIVATIONS, ids=lambda e: e.name)
def test_nan_in_gives_nan_out_and_the_gradient_of_the_jax_nn_twin(entry):
    x = jnp.array([jnp.nan, -3.0, 0.5, 3.0])
    key = jax.random.key(0)
    y, vjp = jax.vjp(lambda x: entry.call(x, key), x)
    (g,) = vjp(jnp.ones_like(y))
    assert bool(jnp.isnan(y[0])) and not bool(jnp.any(jnp.isnan(y[1:])))
    if entry.jax_nn is not None:
        (twin,) = jax.vjp(entry.jax_nn, x)[1](jnp.ones_like(y))
        np.testing.assert_array_equal(np.asarray(g[:1]), np.asarray(twin[:1]))


FUSED_MULTIPLY_ADD = {"input_noisy_hard_tanh", "input_noisy_hard_sigmoid"}
"""``x + s * xi`` with a constant ``s``: XLA may fuse it into one multiply-add when the
call is inlined in a larger jitted function (one rounding instead of two)."""


@pytest.mark.parametrize("entry", registry.ACTIVATIONS, ids=lambda e: e.name)
def test_eager_and_jit_give_the_same_bits(entry):
    x = jax.random.normal(jax.random.key(5), (64, 128)) * 3
    key = jax.random.key(9)
    eager = entry.call(x, key)
    inlined = jax.jit(lambda x: entry.call(x, key) * 2.0)(x) / 2.0
    grad = jax.grad(lambda x: entry.call(x, key).sum())(x)
    np.testing.assert_array_equal(jax.jit(jax.grad(lambda x: entry.call(x, key).sum()))(x), grad)
    jitted = jax.jit(lambda x: entry.call(x, key))(x)
    if entry.name in FUSED_MULTIPLY_ADD:  # one rounding of x + s xi (and of h) apart
        before_h = jnp.abs(x) + 0.05 * 6  # |x| + s |xi|, |xi| < 6
        for y in (jitted, inlined):
            bound = jnp.spacing(before_h) + jnp.spacing(jnp.abs(eager))
            assert bool(jnp.all(jnp.abs(y - eager) <= bound))
    else:
        np.testing.assert_array_equal(jitted, eager)
        np.testing.assert_array_equal(inlined, eager)
