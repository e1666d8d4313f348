"""Output noise, NAN / NAH (Gulcehre et al. 2016, arXiv:1603.00391).

Over a :class:`~rectify_jax._src.units.NoisyUnit` (``h``, its linearisation ``u``)::

    Delta(x)   = h(x) - u(x)
    sigma(x)   = c * (sigmoid(p * Delta(x)) - 1/2)**2
    d(x)       = sgn(Delta(x)) * sgn(1 - alpha)
    phi(x, xi) = alpha*h(x) + (1 - alpha)*u(x) + d(x) * sigma(x) * eps,  eps = xi or |xi|

computed as ``h + (alpha - 1) * Delta + ...`` so that ``phi == h`` holds exactly where
``Delta == 0``. Three pieces, each written once:

- :func:`_phi`, the plain formula (differentiable by autodiff in both modes);
- :func:`gradient_paths`, the one kernel for the gradient: the linear, nonlinear and
  stochastic paths of ``dL/dx`` and the cotangents of ``p``, ``alpha`` and ``c``;
- :func:`_noisy`, the ``jax.custom_vjp`` whose backward pass sums the kernel's paths
  (and that :func:`rectify_jax.diagnostics.noisy_gradient_paths` returns one by one).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.interpreters import ad
from jax.typing import ArrayLike

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.units import (
    HARD_SIGMOID_ALPHA,
    HARD_SIGMOID_C,
    HARD_SIGMOID_UNIT,
    HARD_TANH_ALPHA,
    HARD_TANH_C,
    HARD_TANH_UNIT,
    NoisyUnit,
    default,
)

RESIDUALS = ("noise", "key")


@dataclasses.dataclass(frozen=True)
class Options:
    """The static options of an output-noise call (hashable: a ``jax.jit`` static argument).

    Attributes:
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      generator: ``"jax"`` or ``"fast"``.
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      deterministic: the test-time function (noise replaced by its mean).
      autodiff: differentiate the plain formula instead of the custom VJP.
    """

    noise: str = "half_normal"
    generator: str = "jax"
    residual: str = "noise"
    deterministic: bool = False
    autodiff: bool = False

    def checked(self, fn: str) -> Options:
        """Raises a clear error for a bad option; returns the options with plain bools.

        Valid options are remembered, so an eager call checks them once, not every time.
        """
        try:
            # the types are part of the key: 1 == True, but only a bool is accepted
            return _checked(self, fn, type(self.deterministic), type(self.autodiff))
        except TypeError:  # an unhashable option (e.g. an array for a bool): check it uncached
            return self._check(fn)

    def _check(self, fn: str) -> Options:
        v.one_of(fn, "noise", self.noise, noise_lib.NOISE_KINDS)
        v.one_of(fn, "generator", self.generator, noise_lib.GENERATORS)
        v.one_of(fn, "residual", self.residual, RESIDUALS)
        return dataclasses.replace(
            self,
            deterministic=v.static_bool(fn, "deterministic", self.deterministic),
            autodiff=v.static_bool(fn, "autodiff", self.autodiff),
        )


@functools.lru_cache(maxsize=256)
def _checked(options: Options, fn: str, *types) -> Options:
    return options._check(fn)


# --------------------------------------------------------------------------------------
# The math, in the compute dtype. Everything here is elementwise in x.


def _h_u(unit, x):
    return unit.h(x).astype(x.dtype), unit.u(x).astype(x.dtype)


def sigma(delta, p, c):
    """The noise scale :math:`c\\,(\\mathrm{sigmoid}(p\\Delta) - 1/2)^2` (shared with NANIL).

    Computed as :math:`\\frac c4 \\tanh^2(p\\Delta/2)`, the same function
    (:math:`\\mathrm{sigmoid}(z) - \\frac12 = \\frac12\\tanh(z/2)`) with one cheap
    transcendental instead of an exponential and a division.
    """
    return 0.25 * c * jnp.tanh(0.5 * p * delta) ** 2


def _phi(unit, x, p, alpha, c, eps):
    """The plain output-noise formula; differentiable by autodiff in both modes."""
    h, u = _h_u(unit, x)
    delta = h - u
    d = jnp.sign(delta) * jnp.sign(1 - alpha)
    return h + (alpha - 1) * delta + d * sigma(delta, p, c) * eps


class Paths(NamedTuple):
    """The gradient of ``phi`` split by path, each of x's shape (times the cotangent ``g``).

    ``linear + nonlinear + stochastic`` is ``dL/dx``; ``p``, ``alpha`` and ``c`` are the
    elementwise cotangents of those parameters (before summing to their shapes).
    """

    linear: jax.Array
    nonlinear: jax.Array
    stochastic: jax.Array
    p: jax.Array
    alpha: jax.Array
    c: jax.Array


def gradient_paths(unit, x, eps, p, alpha, c, g) -> Paths:
    r"""The one kernel of the noisy gradient, in the compute dtype.

    With :math:`s = \mathrm{sigmoid}(p\Delta)` and :math:`k = g\,d\,\epsilon`:
    linear :math:`g(1-\alpha)u'`, nonlinear :math:`g\alpha h'`, stochastic
    :math:`k\,2c(s-\frac12)s(1-s)\,p\,\Delta'`; :math:`\partial/\partial p =
    k\,2c(s-\frac12)s(1-s)\,\Delta`, :math:`\partial/\partial\alpha = g\Delta`,
    :math:`\partial/\partial c = k(s-\frac12)^2`. Derivatives of ``h`` and ``u`` come
    from ``jax.jvp``, so their kink conventions are the unit's.
    """
    ones = jnp.ones_like(x)
    h, dh = jax.jvp(lambda t: unit.h(t).astype(x.dtype), (x,), (ones,))
    u, du = jax.jvp(lambda t: unit.u(t).astype(x.dtype), (x,), (ones,))
    delta = h - u
    t = jnp.tanh(0.5 * p * delta)  # sigmoid(p Delta) - 1/2 = t / 2
    k = g * jnp.sign(delta) * jnp.sign(1 - alpha) * eps  # g * d(x) * eps
    # g d eps dsigma/dz at z = p Delta: 2c (s - 1/2) s (1 - s) = c t (1 - t^2) / 4
    k_s = k * 0.25 * c * t * (1 - t * t)
    return Paths(
        linear=g * (1 - alpha) * du,
        nonlinear=g * alpha * dh,
        stochastic=k_s * p * (dh - du),
        p=k_s * delta,
        alpha=g * delta,
        c=k * 0.25 * t * t,
    )


def _sum_to_shape(g, like):
    """Sums a cotangent of x's shape down to the (broadcastable) shape of ``like``."""
    lead = g.ndim - like.ndim
    g = jnp.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(like.shape) if n == 1 and g.shape[i] != 1)
    return jnp.sum(g, axis=axes, keepdims=True).astype(like.dtype)


def _cast(dtype, *arrays):
    return tuple(a.astype(dtype) for a in arrays)


def _draw(key, x, options: Options, dtype):
    return noise_lib.sample(key, x.shape, options.noise, dtype, options.generator)


# --------------------------------------------------------------------------------------
# The custom_vjps: forward, backward and defvjp together. Both differentiate x, p, alpha
# and c with the kernel above (reverse mode only); the noise and the key get no cotangent.


def _cotangents(unit, res, eps, g):
    x, _, p, alpha, c = res
    cdt = v.compute_dtype(x.dtype)
    paths = gradient_paths(unit, *_cast(cdt, x, eps, p, alpha, c, g))
    gx = paths.nonlinear + paths.linear + paths.stochastic
    return (
        gx.astype(x.dtype),
        None,
        _sum_to_shape(paths.p, p),
        _sum_to_shape(paths.alpha, alpha),
        _sum_to_shape(paths.c, c),
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _noisy(unit, x, eps, p, alpha, c):
    """phi(x, eps) for given noise ``eps``; residuals: (x, eps, p, alpha, c).

    This is ``residual="noise"``: the forward keeps the noise it was given (one extra
    array of x's size) and the backward uses it.
    """
    cdt = v.compute_dtype(x.dtype)
    return _phi(unit, *_cast(cdt, x, p, alpha, c), eps.astype(cdt)).astype(x.dtype)


def _noisy_fwd(unit, x, eps, p, alpha, c):
    return _noisy(unit, x, eps, p, alpha, c), (x, eps, p, alpha, c)


def _noisy_bwd(unit, res, g):
    return _cotangents(unit, res, res[1], g)


_noisy.defvjp(_noisy_fwd, _noisy_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _noisy_keyed(unit, options, x, key, p, alpha, c):
    """phi(x, eps) with eps drawn from ``key``; residuals: (x, key, p, alpha, c).

    This is ``residual="key"``: the forward keeps only the key and the backward draws
    the same noise again (no extra array, one more RNG call). Same gradients as
    :func:`_noisy` for the same noise.
    """
    cdt = v.compute_dtype(x.dtype)
    return _noisy(unit, x, _draw(key, x, options, cdt), p, alpha, c)


def _noisy_keyed_fwd(unit, options, x, key, p, alpha, c):
    return _noisy_keyed(unit, options, x, key, p, alpha, c), (x, key, p, alpha, c)


def _noisy_keyed_bwd(unit, options, res, g):
    x, key = res[0], res[1]
    return _cotangents(unit, res, _draw(key, x, options, v.compute_dtype(x.dtype)), g)


_noisy_keyed.defvjp(_noisy_keyed_fwd, _noisy_keyed_bwd)


def with_noise(unit: NoisyUnit, x, eps, p, alpha, c) -> jax.Array:
    """Output noise with the noise ``eps`` given (already ``|xi|`` for NAH), unchecked.

    For callers that draw the noise themselves (the recurrent cells); the same values
    and gradients as the keyed functions with ``residual="noise"`` for the same noise.
    """
    return _noisy(unit, x, eps, p, alpha, c)


def with_key(unit: NoisyUnit, options: Options, x, key, p, alpha, c) -> jax.Array:
    """Output noise drawn from ``key`` inside, kept as the key for the backward pass
    (``residual="key"``), unchecked; the same values and gradients as
    :func:`with_noise` with the noise ``noise_lib.sample(key, x.shape, ...)``."""
    return _noisy_keyed(unit, options, x, key, p, alpha, c)


def expected(unit: NoisyUnit, x, p, alpha, c, noise: str) -> jax.Array:
    """The test-time function: the noise replaced by its mean, plain autodiff, unchecked."""
    cdt = v.compute_dtype(x.dtype)
    eps = noise_lib.NOISE_MEAN[noise]
    return _phi(unit, *_cast(cdt, x, p, alpha, c), eps).astype(x.dtype)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _output_noise(unit, options, x, key, p, alpha, c):
    cdt = v.compute_dtype(x.dtype)
    if options.deterministic:
        return expected(unit, x, p, alpha, c, options.noise)
    if options.residual == "key" and not options.autodiff:
        return with_key(unit, options, x, key, p, alpha, c)
    eps = _draw(key, x, options, cdt)
    if options.autodiff:
        return _phi(unit, *_cast(cdt, x, p, alpha, c), eps).astype(x.dtype)
    return _noisy(unit, x, eps, p, alpha, c)


_FORWARD_MODE_HINT = (
    "{fn}: forward-mode differentiation (jax.jvp, jax.jacfwd, jax.hessian) is not "
    "supported with noise on: its gradient is a jax.custom_vjp, which JAX differentiates "
    "in reverse mode only. Use jax.grad / jax.vjp / jax.jacrev, or pass autodiff=True to "
    "differentiate the plain formula instead (same values, both modes), or "
    "deterministic=True."
)


def _is_zero(c) -> bool:
    """True for a Python-number (or NumPy) c of 0; arrays on a device are not read back."""
    return isinstance(c, (int, float)) and not isinstance(c, bool) and c == 0


def apply(fn: str, unit: NoisyUnit, x, key, p, alpha, c, options: Options) -> jax.Array:
    """Checks the arguments of an output-noise call (naming ``fn``) and runs it.

    ``alpha`` and ``c`` of None fall back to the unit's defaults. ``deterministic=True``
    and a Python ``c == 0`` skip the noise draw (same values).
    """
    x = v.float_input(fn, x)
    options = options.checked(fn)
    alpha, c = default(alpha, unit.alpha), default(c, unit.c)
    v.nonnegative(fn, "c", c)
    no_noise = options.deterministic or _is_zero(c)
    p, alpha, c = (
        v.param(fn, name, val, x) for name, val in (("p", p), ("alpha", alpha), ("c", c))
    )
    if no_noise:
        options = dataclasses.replace(options, deterministic=True)
        key = None
    else:
        key = noise_lib.as_key(fn, key)
    try:
        return _output_noise(unit, options, x, key, p, alpha, c)
    except TypeError as e:
        # custom_vjp under forward mode: recognised by the tracers it was called with.
        if any(isinstance(a, ad.JVPTracer) for a in (x, p, alpha, c)):
            raise TypeError(_FORWARD_MODE_HINT.format(fn=fn)) from e
        raise


# --------------------------------------------------------------------------------------
# The library's two output-noise functions.


def noisy_hard_tanh(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    p: ArrayLike = 1.0,
    alpha: ArrayLike = HARD_TANH_ALPHA,
    c: ArrayLike = HARD_TANH_C,
    noise: str = "half_normal",
    deterministic: bool = False,
    residual: str = "noise",
    autodiff: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""Noisy hard tanh: hard tanh with noise where it saturates (NAH / NAN).

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = \alpha\,h(x) + (1 - \alpha)\,x + d(x)\,\sigma(x)\,\epsilon

    with :math:`h` = :func:`hard_tanh`, :math:`u(x) = x`, :math:`x_t = 1`,
    :math:`\Delta = h(x) - x`, :math:`\sigma(x) = c\,(\mathrm{sigmoid}(p\Delta) - \frac12)^2`,
    :math:`d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1-\alpha)` and :math:`\epsilon = |\xi|`
    (``"half_normal"``) or :math:`\xi` (``"normal"``), :math:`\xi \sim \mathcal N(0,1)`
    i.i.d. per element. For :math:`|x| \le 1` the output is exactly ``x``.
    With ``deterministic=True`` the noise is replaced by its expectation
    (the test-time function).

    The gradient (reverse mode, :func:`jax.custom_vjp`) has three paths: linear
    :math:`(1-\alpha)`, nonlinear :math:`\alpha h'(x)`, and stochastic
    :math:`d\,\epsilon\,\partial\sigma/\partial x`, which keeps the gradient
    non-zero in saturation; ``p``, ``alpha`` and ``c`` get gradients too, the key
    none. See :class:`NoisyUnit` for the formulas, ``residual`` and ``autodiff``.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key (``jax.random.key(seed)`` or ``jax.random.PRNGKey(seed)``);
        may be None only with ``deterministic=True``.
      p: noise-slope parameter, learned (one per unit, initialised U[-1, 1]);
        scalar or array broadcastable to ``x``.
      alpha: the mixing factor of ``h`` and ``u`` (not the ELU/TLU alpha); None means
        ``HARD_TANH_UNIT.alpha`` (1.15, the authors' code).
      c: noise scale, >= 0; None means ``HARD_TANH_UNIT.c`` (0.5). May be a traced
        value that changes every step (annealing) without recompiling.
      noise: ``"half_normal"`` (NAH, default) or ``"normal"`` (NAN).
      deterministic: if True, use the expected value of the noise; no key needed.
      residual: ``"noise"`` keeps the noise for the backward pass, ``"key"``
        redraws it from the key (less memory, one more RNG call).
      autodiff: if True, differentiate the plain formula with JAX autodiff
        (allows forward mode) instead of the custom VJP.
      generator: ``"jax"`` (``jax.random``, default) or ``"fast"``: a counter-based
        generator seeded from the key, several times cheaper on CPU, whose values
        do not depend on sharding (see ``rectify_jax.noise``).

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> key = jax.random.key(0)
      >>> x = jnp.array([-0.5, 0.0, 0.5])
      >>> rj.noisy_hard_tanh(x, key)  # |x| <= 1: no noise, exactly hard tanh
      Array([-0.5,  0. ,  0.5], dtype=float32)
      >>> g = jax.grad(lambda x: rj.noisy_hard_tanh(x, key).sum())(jnp.array([3.0]))
      >>> bool(g[0] != 0)  # saturated, yet the gradient flows
      True
      >>> rj.noisy_hard_tanh(jnp.array([2.0]), deterministic=True, noise="normal")  # 1.15 - 0.3
      Array([0.85], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      ICML, arXiv:1603.00391.
    """
    options = Options(noise, generator, residual, deterministic, autodiff)
    return apply("noisy_hard_tanh", HARD_TANH_UNIT, x, key, p, alpha, c, options)


def noisy_hard_sigmoid(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    p: ArrayLike = 1.0,
    alpha: ArrayLike = HARD_SIGMOID_ALPHA,
    c: ArrayLike = HARD_SIGMOID_C,
    noise: str = "half_normal",
    deterministic: bool = False,
    residual: str = "noise",
    autodiff: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""Noisy hard sigmoid: hard sigmoid with noise where it saturates (NAH / NAN).

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = \alpha\,h(x) + (1 - \alpha)\,(\tfrac14 x + \tfrac12)
        + d(x)\,\sigma(x)\,\epsilon

    with :math:`h` = :func:`hard_sigmoid` (slope 1/4, :math:`x_t = 2`),
    :math:`u(x) = x/4 + 1/2`, :math:`\Delta = h - u`,
    :math:`\sigma(x) = c\,(\mathrm{sigmoid}(p\Delta) - \frac12)^2`,
    :math:`d(x) = -\mathrm{sgn}(x)\,\mathrm{sgn}(1-\alpha)`, :math:`\epsilon = |\xi|`
    or :math:`\xi`. For :math:`|x| \le 2` the output is exactly ``hard_sigmoid(x)``.
    ``deterministic=True`` replaces the noise by its expectation.

    Gradients, ``residual`` and ``autodiff`` are as in :func:`noisy_hard_tanh`.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      p: noise-slope parameter (learned, one per unit), broadcastable to ``x``.
      alpha: the mixing factor of ``h`` and ``u``; None means ``HARD_SIGMOID_UNIT.alpha``
        (1.1, the authors' code).
      c: noise scale, >= 0; None means ``HARD_SIGMOID_UNIT.c`` (0.15).
      noise: ``"half_normal"`` (NAH, default) or ``"normal"`` (NAN).
      deterministic: if True, use the expected value of the noise; no key needed.
      residual: ``"noise"`` or ``"key"``, what the backward pass keeps.
      autodiff: if True, plain autodiff instead of the custom VJP.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based), as in :func:`noisy_hard_tanh`.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.noisy_hard_sigmoid(jnp.array([-1.0, 0.0, 1.0]), jax.random.key(0))
      Array([0.25, 0.5 , 0.75], dtype=float32)
      >>> y = rj.noisy_hard_sigmoid(jnp.full((1000,), 6.0), jax.random.key(1))
      >>> bool(jnp.all(y >= 0.9))  # mean 1 - 0.1 * 1.5 plus noise pointing back up to h = 1
      True

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      ICML, arXiv:1603.00391.
    """
    options = Options(noise, generator, residual, deterministic, autodiff)
    return apply("noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, p, alpha, c, options)
