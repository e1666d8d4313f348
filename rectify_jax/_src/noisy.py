"""Noisy activation functions (Gulcehre et al. 2016, arXiv:1603.00391).

One implementation of the noise math, over a hard-saturating function ``h``, its
first-order Taylor expansion ``u`` at 0 and its saturation threshold. A
:class:`NoisyUnit` bundles the three; :func:`noisy_hard_tanh` and
:func:`noisy_hard_sigmoid` are two instances, a user's own unit is a third.

Output noise (NAN / NAH)::

    Delta(x)   = h(x) - u(x)
    sigma(x)   = c * (sigmoid(p * Delta(x)) - 1/2)**2
    d(x)       = sgn(Delta(x)) * sgn(1 - alpha)    # = -sgn(x) sgn(1 - alpha) for units that
                                                   #   saturate away from 0 (all of ours)
    phi(x, xi) = alpha*h(x) + (1 - alpha)*u(x) + d(x) * sigma(x) * eps,  eps = xi or |xi|

computed as ``h + (alpha - 1) * Delta + ...`` so that ``phi == h`` holds exactly
where ``Delta == 0``.

Input noise (NANI / NANIL / NANIS, the paper's §5): ``h(x + scale(x) * xi)``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rectify_jax._src import activations
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v

RESIDUALS = ("noise", "key")

# --------------------------------------------------------------------------------------
# The math, in the compute dtype. Everything here is elementwise in x.


def _h_u(unit, x):
    return unit.h(x).astype(x.dtype), unit.u(x).astype(x.dtype)


def _sigma(delta, p, c):
    return c * (jax.nn.sigmoid(p * delta) - 0.5) ** 2


def _phi(unit, x, p, alpha, c, eps):
    """The plain output-noise formula; differentiable by autodiff in both modes."""
    h, u = _h_u(unit, x)
    delta = h - u
    d = jnp.sign(delta) * jnp.sign(1 - alpha)
    return h + (alpha - 1) * delta + d * _sigma(delta, p, c) * eps


def _sum_to_shape(g, like):
    """Sums a cotangent of x's shape down to the (broadcastable) shape of ``like``."""
    lead = g.ndim - like.ndim
    g = jnp.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(like.shape) if n == 1 and g.shape[i] != 1)
    return jnp.sum(g, axis=axes, keepdims=True).astype(like.dtype)


def _cast(dtype, *arrays):
    return tuple(a.astype(dtype) for a in arrays)


# --------------------------------------------------------------------------------------
# Output noise: a custom_vjp carrying the three gradient paths.


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _noisy(unit, noise, generator, residual, x, key, p, alpha, c):
    """phi(x, eps) with eps drawn from ``key``.

    Differentiable in x, p, alpha and c (reverse mode only); the key gets no
    cotangent. ``residual`` chooses what the forward pass keeps for the backward:
    ``"noise"`` keeps (x, eps, p, alpha, c), ``"key"`` keeps (x, key, p, alpha, c)
    and draws eps again in the backward pass. Both give identical gradients.
    """
    cdt = v.compute_dtype(x.dtype)
    eps = noise_lib.sample(key, x.shape, noise, cdt, generator)
    return _phi(unit, *_cast(cdt, x, p, alpha, c), eps).astype(x.dtype)


def _noisy_fwd(unit, noise, generator, residual, x, key, p, alpha, c):
    cdt = v.compute_dtype(x.dtype)
    eps = noise_lib.sample(key, x.shape, noise, cdt, generator)
    out = _phi(unit, *_cast(cdt, x, p, alpha, c), eps).astype(x.dtype)
    return out, (x, key if residual == "key" else eps, p, alpha, c)


def _noisy_bwd(unit, noise, generator, residual, res, g):
    x, saved, p, alpha, c = res
    cdt = v.compute_dtype(x.dtype)
    eps = noise_lib.sample(saved, x.shape, noise, cdt, generator) if residual == "key" else saved
    xc, pc, ac, cc, g = _cast(cdt, x, p, alpha, c, g)
    ones = jnp.ones_like(xc)
    h, dh = jax.jvp(lambda t: unit.h(t).astype(cdt), (xc,), (ones,))
    u, du = jax.jvp(lambda t: unit.u(t).astype(cdt), (xc,), (ones,))
    delta, ddelta = h - u, dh - du
    s = jax.nn.sigmoid(pc * delta)
    k = g * jnp.sign(delta) * jnp.sign(1 - ac) * eps  # g * d(x) * eps
    k_s = k * 2 * cc * (s - 0.5) * s * (1 - s)  # g d eps dsigma/dz at z = p * Delta
    # alpha h' + (1 - alpha) u' (nonlinear + linear paths), then the stochastic path
    gx = g * (dh + (ac - 1) * ddelta) + k_s * pc * ddelta
    return (
        gx.astype(x.dtype),
        None,
        _sum_to_shape(k_s * delta, p),
        _sum_to_shape(g * delta, alpha),
        _sum_to_shape(k * (s - 0.5) ** 2, c),
    )


_noisy.defvjp(_noisy_fwd, _noisy_bwd)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5))
def _output_noise(unit, noise, generator, deterministic, residual, autodiff, x, key, p, alpha, c):
    cdt = v.compute_dtype(x.dtype)
    if deterministic:
        eps = noise_lib.NOISE_MEAN[noise]
    elif autodiff:
        eps = noise_lib.sample(key, x.shape, noise, cdt, generator)
    else:
        return _noisy(unit, noise, generator, residual, x, key, p, alpha, c)
    return _phi(unit, *_cast(cdt, x, p, alpha, c), eps).astype(x.dtype)


_FORWARD_MODE_HINT = (
    "{fn}: forward-mode differentiation (jax.jvp, jax.jacfwd, jax.hessian, jax.linearize) "
    "is not supported with noise on: its gradient is a jax.custom_vjp, which JAX "
    "differentiates in reverse mode only. Use jax.grad / jax.vjp / jax.jacrev, or pass "
    "autodiff=True to differentiate the plain formula instead (same values, both modes), "
    "or deterministic=True."
)


def _output_noise_checked(
    fn, unit, x, key, p, alpha, c, noise, deterministic, residual, autodiff, generator="jax"
):
    x = v.float_input(fn, x)
    v.one_of(fn, "noise", noise, noise_lib.NOISE_KINDS)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    v.one_of(fn, "residual", residual, RESIDUALS)
    deterministic = v.static_bool(fn, "deterministic", deterministic)
    autodiff = v.static_bool(fn, "autodiff", autodiff)
    p, alpha, c = (
        v.param(fn, name, val, x) for name, val in (("p", p), ("alpha", alpha), ("c", c))
    )
    v.nonnegative(fn, "c", c)
    key = None if deterministic else noise_lib.as_key(fn, key)
    try:
        return _output_noise(
            unit, noise, generator, deterministic, residual, autodiff, x, key, p, alpha, c
        )
    except TypeError as e:
        if "forward-mode" in str(e):
            raise TypeError(_FORWARD_MODE_HINT.format(fn=fn)) from e
        raise


# --------------------------------------------------------------------------------------
# Input noise: ordinary autodiff through h(x + scale * xi).


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _input_noise(unit, mode, generator, deterministic, x, key, s, p, c):
    cdt = v.compute_dtype(x.dtype)
    xc = x.astype(cdt)
    if not deterministic:
        if mode == "fixed":
            scale = s.astype(cdt)
        elif mode == "saturated":
            scale = jnp.where(unit.saturated(xc), s.astype(cdt), 0.0)
        else:
            h, u = _h_u(unit, xc)
            scale = _sigma(h - u, p.astype(cdt), c.astype(cdt))
        xc = xc + scale * noise_lib.sample(key, x.shape, "normal", cdt, generator)
    return unit.h(xc).astype(x.dtype)


def _input_noise_checked(fn, unit, mode, x, key, s, p, c, deterministic, generator="jax"):
    x = v.float_input(fn, x)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    deterministic = v.static_bool(fn, "deterministic", deterministic)
    s, p, c = (v.param(fn, name, val, x) for name, val in (("s", s), ("p", p), ("c", c)))
    v.nonnegative(fn, "s", s)
    v.nonnegative(fn, "c", c)
    key = None if deterministic else noise_lib.as_key(fn, key)
    return _input_noise(unit, mode, generator, deterministic, x, key, s, p, c)


# --------------------------------------------------------------------------------------
# The public builder.


@dataclasses.dataclass(frozen=True)
class NoisyUnit:
    r"""A hard-saturating activation made noisy: ``h``, its linearisation ``u`` and threshold.

    A noisy unit adds noise only where ``h`` saturates, i.e. where
    :math:`\Delta(x) = h(x) - u(x) \ne 0`, with a scale that grows with how far
    into saturation the input is. Calling the unit applies output noise (NAN/NAH):

    .. math::
      \phi(x, \xi) = \alpha h(x) + (1 - \alpha) u(x) + d(x)\,\sigma(x)\,\epsilon,
      \quad \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2,
      \quad d(x) = \mathrm{sgn}(\Delta(x))\,\mathrm{sgn}(1 - \alpha)

    with :math:`\epsilon = \xi` (``noise="normal"``, NAN) or :math:`|\xi|`
    (``noise="half_normal"``, NAH), :math:`\xi \sim \mathcal N(0, 1)` per element.
    :math:`d` points the half-normal noise back towards ``h``; for units that
    saturate away from 0 (hard tanh, hard sigmoid, a left-saturating rectifier)
    it equals the paper's :math:`-\mathrm{sgn}(x)\,\mathrm{sgn}(1-\alpha)`, and it
    stays right for units whose linear range does not contain 0. At test time
    (``deterministic=True``) the noise is replaced by its mean,
    :math:`E[\epsilon] = 0` (normal) or :math:`\sqrt{2/\pi}` (half-normal).

    The methods :meth:`input_noise` (NANI), :meth:`learned_input_noise` (NANIL)
    and :meth:`saturated_input_noise` (NANIS) put the noise inside ``h`` instead.

    **Gradients.** With noise on, the output-noise gradient is a
    :func:`jax.custom_vjp` returning the three paths of the paper for ``x``
    (:math:`\alpha h' + (1-\alpha) u'` plus the stochastic term
    :math:`d\,\epsilon\,2c(s - \frac12)s(1-s)\,p\,\Delta'` with
    :math:`s = \mathrm{sigmoid}(p\Delta)`) and for ``p``, ``alpha`` and ``c``; the
    key gets no cotangent. It is reverse mode only: ``jax.jvp``/``jax.jacfwd``
    raise a TypeError that says so; pass ``autodiff=True`` to differentiate the
    plain formula instead (identical values, both modes, memory left to XLA).
    Derivatives of ``h`` and ``u`` come from ``jax.jvp``, so the kink convention
    is that of your ``h`` (for :func:`hard_tanh`: 1 at :math:`\pm 1`).

    **Memory.** ``residual="noise"`` (default) keeps x, the noise and the
    parameters for the backward pass: one extra array of x's size (in the compute
    dtype), no second random draw. ``residual="key"`` keeps only the key and draws
    the same noise again in the backward pass: no extra array, one more RNG call.

    Attributes:
      h: the hard-saturating function, elementwise and differentiable a.e.
      u: its first-order Taylor expansion at 0 (the linear part ``h`` follows
        between the thresholds).
      threshold: where ``h`` starts saturating: ``x_t`` for units saturating at
        :math:`\pm x_t`, or a pair ``(lower, upper)``; an input is "saturated" when
        :math:`x \le \mathrm{lower}` or :math:`x \ge \mathrm{upper}`. Used by
        :meth:`saturated_input_noise` and by diagnostics; output noise itself
        needs only ``h`` and ``u``.
      name: name used in error messages.
      alpha: default :math:`\alpha` (> 1 pushes the mean away from ``u`` and the
        half-normal noise back towards ``h``; 1 turns the noise off).
      c: default noise scale :math:`c \ge 0`.

    Examples:
      A noisy left-saturating rectifier, built from its parts:

      >>> noisy_relu = rj.NoisyUnit(h=rj.relu, u=lambda x: x, threshold=(0.0, float("inf")),
      ...                           name="noisy_relu", alpha=1.15, c=0.5)
      >>> x = jnp.array([-2.0, 0.5, 3.0])
      >>> y = noisy_relu(x, jax.random.key(0))
      >>> y[1:]  # no noise where relu is linear
      Array([0.5, 3. ], dtype=float32)
      >>> bool(y[0] < 0.3)  # below the mean 0.3 = -(alpha - 1) * x: noise points back to h = 0
      True

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      ICML, arXiv:1603.00391.
    """

    h: Callable[[jax.Array], jax.Array]
    u: Callable[[jax.Array], jax.Array]
    threshold: float | tuple[float, float]
    name: str = "noisy_unit"
    alpha: float = 1.15
    c: float = 0.5

    def __post_init__(self):
        for field in ("h", "u"):
            if not callable(getattr(self, field)):
                raise TypeError(
                    f"NoisyUnit: {field} must be a callable, got {getattr(self, field)!r}"
                )
        lower, upper = self.bounds
        if not lower < upper:
            raise ValueError(
                "NoisyUnit: threshold must be a positive x_t or a pair (lower, upper) with "
                f"lower < upper, got {self.threshold!r}"
            )
        if self.c < 0:
            raise ValueError(f"NoisyUnit: c must be >= 0 (it scales the noise), got {self.c}")

    @property
    def bounds(self) -> tuple[float, float]:
        """``(lower, upper)``: the input is saturated at or beyond these."""
        t = self.threshold
        if isinstance(t, (tuple, list)):
            if len(t) != 2:
                raise ValueError(f"NoisyUnit: threshold pair must have 2 entries, got {t!r}")
            return float(t[0]), float(t[1])
        return -float(t), float(t)

    def saturated(self, x: jax.Array) -> jax.Array:
        r"""Boolean mask :math:`x \le \mathrm{lower}` or :math:`x \ge \mathrm{upper}`."""
        lower, upper = self.bounds
        return (x <= lower) | (x >= upper)

    def __call__(
        self,
        x: ArrayLike,
        key: jax.Array | None = None,
        *,
        p: ArrayLike = 1.0,
        alpha: ArrayLike | None = None,
        c: ArrayLike | None = None,
        noise: str = "half_normal",
        deterministic: bool = False,
        residual: str = "noise",
        autodiff: bool = False,
        generator: str = "jax",
    ) -> jax.Array:
        """Output noise (NAN/NAH); ``alpha`` and ``c`` default to the unit's."""
        return _output_noise_checked(
            self.name,
            self,
            x,
            key,
            p,
            self.alpha if alpha is None else alpha,
            self.c if c is None else c,
            noise,
            deterministic,
            residual,
            autodiff,
            generator,
        )

    def input_noise(
        self,
        x: ArrayLike,
        key: jax.Array | None = None,
        *,
        s: ArrayLike = 0.05,
        deterministic: bool = False,
        generator: str = "jax",
    ) -> jax.Array:
        r"""NANI: :math:`h(x + s\,\xi)`, a fixed noise scale ``s`` (test time :math:`h(x)`)."""
        return _input_noise_checked(
            f"{self.name}.input_noise", self, "fixed", x, key, s, 1.0, 0.0, deterministic, generator
        )

    def learned_input_noise(
        self,
        x: ArrayLike,
        key: jax.Array | None = None,
        *,
        p: ArrayLike = 1.0,
        c: ArrayLike | None = None,
        deterministic: bool = False,
        generator: str = "jax",
    ) -> jax.Array:
        r"""NANIL: :math:`h(x + \sigma(x)\,\xi)`, :math:`\sigma` as in the output noise."""
        return _input_noise_checked(
            f"{self.name}.learned_input_noise",
            self,
            "learned",
            x,
            key,
            0.0,
            p,
            self.c if c is None else c,
            deterministic,
            generator,
        )

    def saturated_input_noise(
        self,
        x: ArrayLike,
        key: jax.Array | None = None,
        *,
        s: ArrayLike = 0.25,
        deterministic: bool = False,
        generator: str = "jax",
    ) -> jax.Array:
        r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)`, noise only where ``h`` saturates."""
        return _input_noise_checked(
            f"{self.name}.saturated_input_noise",
            self,
            "saturated",
            x,
            key,
            s,
            1.0,
            0.0,
            deterministic,
            generator,
        )


def _identity(x):
    return x


def _quarter_linear(x):
    return 0.25 * x + 0.5


HARD_TANH_UNIT = NoisyUnit(
    h=activations.hard_tanh, u=_identity, threshold=1.0, name="noisy_hard_tanh", alpha=1.15, c=0.5
)
"""The noisy hard tanh: ``h = clip(x, -1, 1)``, ``u(x) = x``, ``x_t = 1``; defaults
``alpha = 1.15``, ``c = 0.5`` (Gulcehre et al. 2016). ``HARD_TANH_UNIT(x, key)`` is
:func:`noisy_hard_tanh`."""
HARD_SIGMOID_UNIT = NoisyUnit(
    h=activations.hard_sigmoid,
    u=_quarter_linear,
    threshold=2.0,
    name="noisy_hard_sigmoid",
    alpha=1.1,
    c=0.15,
)
"""The noisy hard sigmoid: ``h = clip(x/4 + 1/2, 0, 1)``, ``u(x) = x/4 + 1/2``, ``x_t = 2``;
defaults ``alpha = 1.1``, ``c = 0.15`` (Gulcehre et al. 2016). ``HARD_SIGMOID_UNIT(x, key)``
is :func:`noisy_hard_sigmoid`."""


def noisy_hard_tanh(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    p: ArrayLike = 1.0,
    alpha: ArrayLike = 1.15,
    c: ArrayLike = 0.5,
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
      alpha: mixes ``h`` and ``u`` (default 1.15, the authors' code).
      c: noise scale, >= 0 (default 0.5); may be a traced value that changes
        every step (annealing) without recompiling.
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
    return _output_noise_checked(
        "noisy_hard_tanh",
        HARD_TANH_UNIT,
        x,
        key,
        p,
        alpha,
        c,
        noise,
        deterministic,
        residual,
        autodiff,
        generator,
    )


def noisy_hard_sigmoid(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    p: ArrayLike = 1.0,
    alpha: ArrayLike = 1.1,
    c: ArrayLike = 0.15,
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
      alpha: mixes ``h`` and ``u`` (default 1.1, the authors' code).
      c: noise scale, >= 0 (default 0.15).
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
    return _output_noise_checked(
        "noisy_hard_sigmoid",
        HARD_SIGMOID_UNIT,
        x,
        key,
        p,
        alpha,
        c,
        noise,
        deterministic,
        residual,
        autodiff,
        generator,
    )


# --------------------------------------------------------------------------------------
# Input-noise functions for the library's two units, made from one template each.

_INPUT_DOC = r"""{title}

    Computes the element-wise function:

    .. math::
      {math}

    with :math:`h` = :func:`{h}` (threshold :math:`x_t = {xt}`) and
    :math:`\xi \sim \mathcal N(0, 1)` per element; :math:`h(x)` at test time
    (``deterministic=True``). {extra} Gradients are ordinary autodiff (both modes).

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
{args}      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, always within the range of ``h``.

    Examples:
      >>> y = rj.{name}(jnp.linspace(-4.0, 4.0, 9), jax.random.key(0))
      >>> bool(jnp.all((y >= {lo}) & (y <= 1.0)))
      True
      >>> rj.{name}(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      §5 (noise injection at the input), arXiv:1603.00391.
    """

_INPUT_KINDS = {
    "fixed": dict(
        prefix="input_noisy",
        s=0.05,
        title="NANI: {h} of the input plus Gaussian noise of fixed scale ``s``.",
        math=r"\phi(x, \xi) = h(x + s\,\xi)",
        extra="The noise is added everywhere, so it also jitters the linear regime.",
        args="      s: noise scale, >= 0 (default 0.05, the authors' code).\n",
    ),
    "learned": dict(
        prefix="learned_input_noisy",
        title="NANIL: {h} of the input plus Gaussian noise of learned scale.",
        math=r"\phi(x, \xi) = h(x + \sigma(x)\,\xi),\quad "
        r"\sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2",
        extra=r"With :math:`\Delta = h - u` as in the output-noise units: no noise where "
        "``h`` is linear, and ``p`` gets a gradient through the noise.",
        args="      p: learned noise slope, broadcastable to ``x``.\n"
        "      c: noise scale, >= 0 (default {c}).\n",
    ),
    "saturated": dict(
        prefix="saturated_input_noisy",
        s=0.25,
        title="NANIS: {h} of the input plus Gaussian noise only where ``h`` saturates.",
        math=r"\phi(x, \xi) = h(x + 1[|x| \ge x_t]\,s\,\xi)",
        extra="Inputs in the linear regime pass through untouched.",
        args="      s: noise scale in saturation, >= 0 (default 0.25, the authors' code).\n",
    ),
}


def _make_input_noisy(unit: NoisyUnit, base: str, mode: str, lo: float):
    spec = _INPUT_KINDS[mode]
    name = f"{spec['prefix']}_{base}"
    if mode == "learned":

        def fn(x, key=None, *, p=1.0, c=unit.c, deterministic=False, generator="jax"):
            return _input_noise_checked(
                name, unit, mode, x, key, 0.0, p, c, deterministic, generator
            )
    else:

        def fn(x, key=None, *, s=spec["s"], deterministic=False, generator="jax"):
            return _input_noise_checked(
                name, unit, mode, x, key, s, 1.0, 0.0, deterministic, generator
            )

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _INPUT_DOC.format(
        title=spec["title"].format(h=base),
        math=spec["math"],
        h=base,
        xt=int(unit.bounds[1]),
        extra=spec["extra"],
        args=spec["args"].format(c=unit.c),
        name=name,
        lo=lo,
    )
    return fn


input_noisy_hard_tanh = _make_input_noisy(HARD_TANH_UNIT, "hard_tanh", "fixed", -1.0)
learned_input_noisy_hard_tanh = _make_input_noisy(HARD_TANH_UNIT, "hard_tanh", "learned", -1.0)
saturated_input_noisy_hard_tanh = _make_input_noisy(HARD_TANH_UNIT, "hard_tanh", "saturated", -1.0)
input_noisy_hard_sigmoid = _make_input_noisy(HARD_SIGMOID_UNIT, "hard_sigmoid", "fixed", 0.0)
learned_input_noisy_hard_sigmoid = _make_input_noisy(
    HARD_SIGMOID_UNIT, "hard_sigmoid", "learned", 0.0
)
saturated_input_noisy_hard_sigmoid = _make_input_noisy(
    HARD_SIGMOID_UNIT, "hard_sigmoid", "saturated", 0.0
)
