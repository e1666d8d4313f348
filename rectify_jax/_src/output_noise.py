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
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.interpreters import ad

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.activations import half_tanh, half_tanh_and_sech2

if TYPE_CHECKING:  # the units are data of a higher layer; only their type is named here
    from rectify_jax._src.units import NoisyUnit

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


@jax.custom_jvp
def sigma(delta, p, c):
    r"""The noise scale :math:`c\,(\mathrm{sigmoid}(p\Delta) - 1/2)^2` (shared with NANIL).

    Computed as :math:`\frac c4 \tanh^2(p\Delta/2)`, the same function
    (:math:`\mathrm{sigmoid}(z) - \frac12 = \frac12\tanh(z/2)`) with one cheap
    transcendental instead of an exponential and a division. Its derivative (a
    ``jax.custom_jvp``, so both modes) is
    :math:`\partial\sigma/\partial z = \frac c4\,t\,\mathrm{sech}^2(z/2)` at
    :math:`z = p\Delta`, from :func:`half_tanh_and_sech2`: autodiff of ``tanh`` would
    give :math:`1 - t^2`, which cancels to 0 where the noise saturates.
    """
    return 0.25 * c * half_tanh(p * delta) ** 2


@sigma.defjvp
def _sigma_jvp(primals, tangents):
    delta, p, c = primals
    d_delta, d_p, d_c = tangents
    t, sech2 = half_tanh_and_sech2(p * delta)
    dsigma_dz = 0.25 * c * t * sech2
    out = 0.25 * c * t * t
    return out, dsigma_dz * (p * d_delta + delta * d_p) + 0.25 * t * t * d_c


def _phi(unit, x, p, alpha, c, eps):
    """The plain output-noise formula; differentiable by autodiff in both modes."""
    h, delta = unit.h(x).astype(x.dtype), unit.h_minus_u(x)
    d = jnp.sign(delta) * jnp.sign(1 - alpha)
    return h + (alpha - 1) * _mixed(delta, alpha) + d * sigma(delta, p, c) * eps


def _mixed(delta, alpha):
    """``Delta`` as the mixing term ``(alpha - 1) * Delta`` and its alpha-gradient see it.

    Where ``alpha == 1`` (an array's value, unknown when tracing) and ``Delta`` is
    infinite (``x = +-inf``) it is 0, not ``0 * inf = NaN``: the output is ``h(x)``, as
    with a Python-number ``alpha = 1``, and that element's alpha-gradient is 0.
    """
    return jnp.where((alpha == 1) & jnp.isinf(delta), 0.0, delta)


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
    _, dh = jax.jvp(lambda t: unit.h(t).astype(x.dtype), (x,), (ones,))
    _, du = jax.jvp(lambda t: unit.u(t).astype(x.dtype), (x,), (ones,))
    delta, ddelta = jax.jvp(unit.h_minus_u, (x,), (ones,))
    t, sech2 = half_tanh_and_sech2(p * delta)  # sigmoid(p Delta) - 1/2 = t / 2
    k = g * jnp.sign(delta) * jnp.sign(1 - alpha) * eps  # g * d(x) * eps
    # g d eps dsigma/dz at z = p Delta: 2c (s - 1/2) s (1 - s) = c t sech^2(z/2) / 4
    k_s = k * 0.25 * c * t * sech2
    return Paths(
        linear=g * (1 - alpha) * du,
        nonlinear=g * alpha * dh,
        stochastic=k_s * p * ddelta,
        # 0 where the noise scale is flat: at x = +-inf, k_s = 0 and delta = -+inf
        p=jnp.where(k_s == 0, 0.0, k_s * delta),
        alpha=g * _mixed(delta, alpha),
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
    return _phi(unit, *_cast(cdt, x, p, alpha, c), eps=eps.astype(cdt)).astype(x.dtype)


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
    return _phi(unit, *_cast(cdt, x, p, alpha, c), eps=eps).astype(x.dtype)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _output_noise(unit, options, x, key, p, alpha, c):
    cdt = v.compute_dtype(x.dtype)
    if options.deterministic:
        return expected(unit, x, p, alpha, c, options.noise)
    if options.residual == "key" and not options.autodiff:
        return with_key(unit, options, x, key, p, alpha, c)
    eps = _draw(key, x, options, cdt)
    if options.autodiff:
        return _phi(unit, *_cast(cdt, x, p, alpha, c), eps=eps).astype(x.dtype)
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


def _is_one(alpha) -> bool:
    """True for a host ``alpha`` (Python number, NumPy array) equal to 1 everywhere; JAX
    arrays are not read back."""
    if isinstance(alpha, (int, float, np.floating)) and not isinstance(alpha, bool):
        return alpha == 1
    return isinstance(alpha, np.ndarray) and alpha.size > 0 and bool(np.all(alpha == 1))


@functools.partial(jax.jit, static_argnums=0)
def _h_only(unit, x):
    """``h(x)``: output noise with ``alpha == 1`` (no noise, no mixing), defined for every x."""
    return unit.h(x.astype(v.compute_dtype(x.dtype))).astype(x.dtype)


def apply(fn: str, unit: NoisyUnit, x, key, p, alpha, c, options: Options) -> jax.Array:
    """Checks the arguments of an output-noise call (naming ``fn``) and runs it.

    ``alpha`` and ``c`` of None fall back to the unit's defaults. ``deterministic=True``
    and a host ``c == 0`` skip the noise draw (same values). A host ``alpha == 1`` is
    ``h(x)`` itself: the formula's ``d = 0`` and ``(alpha - 1) * Delta = 0``, taken as 0
    also where ``Delta`` is infinite (``x = +-inf``), with no noise and no key needed.
    """
    x = v.float_input(fn, x)
    options = options.checked(fn)
    alpha = unit.alpha if alpha is None else alpha
    c = unit.c if c is None else c
    h_only = _is_one(v.finite(fn, "alpha", alpha))
    no_noise = options.deterministic or _is_zero(c) or h_only
    p = v.param(fn, "p", p, x)
    alpha = v.param(fn, "alpha", alpha, x)
    c = v.param(fn, "c", c, x, minimum=0.0, why="it scales the noise")
    if h_only:
        return _h_only(unit, x)
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
