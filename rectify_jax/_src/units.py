"""Noisy units and the paper's defaults: the one place where alpha, c and s are written.

A :class:`NoisyUnit` bundles a hard-saturating function ``h``, its first-order Taylor
expansion ``u`` at 0 and its saturation threshold, with the defaults of its noise:
``alpha`` and ``c`` for output noise (NAN / NAH), ``input_s`` (NANI) and ``saturated_s``
(NANIS) for input noise. :data:`HARD_TANH_UNIT` and :data:`HARD_SIGMOID_UNIT` hold the
values of Gulcehre et al. (2016) and the authors' code; every function, layer and cell
of the library that needs one of these numbers reads it from here.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rectify_jax._src import activations, input_noise, output_noise
from rectify_jax._src import validation as v

HARD_TANH_ALPHA = 1.15
"""The noisy hard tanh's mixing factor alpha (Gulcehre et al. 2016)."""
HARD_TANH_C = 0.5
"""The noisy hard tanh's noise scale c (Gulcehre et al. 2016)."""
HARD_SIGMOID_ALPHA = 1.1
"""The noisy hard sigmoid's mixing factor alpha (Gulcehre et al. 2016)."""
HARD_SIGMOID_C = 0.15
"""The noisy hard sigmoid's noise scale c (Gulcehre et al. 2016)."""
INPUT_S = 0.05
"""The fixed input-noise scale s of NANI (the authors' code)."""
SATURATED_S = 0.25
"""The input-noise scale s of NANIS, noise only where the unit saturates (the authors' code)."""


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
    Here ``alpha`` is the noisy units' mixing factor (not the ELU/TLU saturation
    value): :math:`\alpha > 1` pushes the mean away from ``u`` and the half-normal
    noise back towards ``h``. :math:`d` points the noise back towards ``h``; for units
    that saturate away from 0 (hard tanh, hard sigmoid, a left-saturating rectifier)
    it equals the paper's :math:`-\mathrm{sgn}(x)\,\mathrm{sgn}(1-\alpha)`, and it
    stays right for units whose linear range does not contain 0. At test time
    (``deterministic=True``) the noise is replaced by its mean,
    :math:`E[\epsilon] = 0` (normal) or :math:`\sqrt{2/\pi}` (half-normal).

    The methods :meth:`input_noise` (NANI), :meth:`learned_input_noise` (NANIL)
    and :meth:`saturated_input_noise` (NANIS) put the noise inside ``h`` instead.

    **Gradients.** With noise on, the output-noise gradient is a
    :func:`jax.custom_vjp` returning the three paths of the paper for ``x``
    (linear :math:`(1-\alpha) u'`, nonlinear :math:`\alpha h'` and stochastic
    :math:`d\,\epsilon\,2c(s - \frac12)s(1-s)\,p\,\Delta'` with
    :math:`s = \mathrm{sigmoid}(p\Delta)`) and for ``p``, ``alpha`` and ``c``; the
    key gets no cotangent. One kernel computes the paths; the backward pass sums
    them and :func:`rectify_jax.diagnostics.noisy_gradient_paths` returns them. It is
    reverse mode only: ``jax.jvp``/``jax.jacfwd`` raise a TypeError that says so;
    pass ``autodiff=True`` to differentiate the plain formula instead (identical
    values, both modes, memory left to XLA). Derivatives of ``h`` and ``u`` come from
    ``jax.jvp``, so the kink convention is that of your ``h`` (for :func:`hard_tanh`:
    1 at :math:`\pm 1`).

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
      alpha: default mixing factor :math:`\alpha` of output noise, finite (1 turns the
        noise off: a number 1 gives ``h(x)`` itself, defined also at :math:`\pm\infty`).
      c: default noise scale, finite and :math:`c \ge 0` (output noise and NANIL).
      input_s: default fixed noise scale :math:`s \ge 0` of :meth:`input_noise` (NANI).
      saturated_s: default noise scale :math:`s \ge 0` of :meth:`saturated_input_noise`
        (NANIS).
      delta: :math:`\Delta(x) = h(x) - u(x)` written so that it does not cancel, or None
        for ``h(x) - u(x)``. Where ``h`` saturates next to its threshold, ``h`` and ``u``
        are close and ``u(x)`` is rounded (for the hard sigmoid, ``x/4 + 1/2``), so their
        difference keeps only the digits that rounding left; the hard sigmoid's
        :math:`(\mathrm{clip}(x, -2, 2) - x)/4` is exact there.

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
    alpha: float = HARD_TANH_ALPHA
    c: float = HARD_TANH_C
    input_s: float = INPUT_S
    saturated_s: float = SATURATED_S
    delta: Callable[[jax.Array], jax.Array] | None = None

    def h_minus_u(self, x: jax.Array) -> jax.Array:
        r""":math:`\Delta(x) = h(x) - u(x)` in x's dtype, from :attr:`delta` if given."""
        if self.delta is not None:
            return self.delta(x).astype(x.dtype)
        return self.h(x).astype(x.dtype) - self.u(x).astype(x.dtype)

    def __post_init__(self):
        for field in ("h", "u"):
            if not callable(getattr(self, field)):
                raise TypeError(
                    f"NoisyUnit: {field} must be a callable, got {getattr(self, field)!r}"
                )
        if self.delta is not None and not callable(self.delta):
            raise TypeError(f"NoisyUnit: delta must be a callable or None, got {self.delta!r}")
        if not isinstance(self.name, str):
            raise TypeError(f"NoisyUnit: name must be a str, got {v.shown(self.name)}")
        lower, upper = self.bounds
        if not lower < upper:
            raise ValueError(
                "NoisyUnit: threshold must be a positive x_t or a pair (lower, upper) with "
                f"lower < upper, got {self.threshold!r}"
            )
        v.finite("NoisyUnit", "alpha", self.alpha)
        for field in ("c", "input_s", "saturated_s"):
            v.finite_nonnegative("NoisyUnit", field, getattr(self, field))

    @property
    def bounds(self) -> tuple[float, float]:
        """``(lower, upper)``: the input is saturated at or beyond these."""
        t = self.threshold
        pair = isinstance(t, (tuple, list))
        if pair and len(t) != 2:
            raise ValueError(f"NoisyUnit: threshold pair must have 2 entries, got {t!r}")
        values = t if pair else (t,)
        if not all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in values):
            raise TypeError(
                "NoisyUnit: threshold must be a number x_t or a pair of numbers (lower, upper), "
                f"got {v.shown(t)}"
            )
        return (float(t[0]), float(t[1])) if pair else (-float(t), float(t))

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
        options = output_noise.Options(noise, generator, residual, deterministic, autodiff)
        return output_noise.apply(self.name, self, x, key, p, alpha, c, options)

    def input_noise(
        self,
        x: ArrayLike,
        key: jax.Array | None = None,
        *,
        s: ArrayLike | None = None,
        deterministic: bool = False,
        generator: str = "jax",
    ) -> jax.Array:
        r"""NANI: :math:`h(x + s\,\xi)`, fixed noise scale ``s`` (default :attr:`input_s`)."""
        options = input_noise.Options("fixed", generator, deterministic)
        return input_noise.apply(f"{self.name}.input_noise", self, x, key, options, s=s)

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
        options = input_noise.Options("learned", generator, deterministic)
        name = f"{self.name}.learned_input_noise"
        return input_noise.apply(name, self, x, key, options, p=p, c=c)

    def saturated_input_noise(
        self,
        x: ArrayLike,
        key: jax.Array | None = None,
        *,
        s: ArrayLike | None = None,
        deterministic: bool = False,
        generator: str = "jax",
    ) -> jax.Array:
        r"""NANIS: :math:`h(x + 1[\text{saturated}]\,s\,\xi)` (default :attr:`saturated_s`)."""
        options = input_noise.Options("saturated", generator, deterministic)
        name = f"{self.name}.saturated_input_noise"
        return input_noise.apply(name, self, x, key, options, s=s)


def _identity(x):
    return x


def _quarter_linear(x):
    return 0.25 * x + 0.5


def _hard_sigmoid_delta(x):
    # clip(x/4 + 1/2, 0, 1) - (x/4 + 1/2) = (clip(x, -2, 2) - x) / 4, without rounding x/4 + 1/2
    return 0.25 * (jnp.where(x > 2.0, 2.0, jnp.where(x < -2.0, -2.0, x)) - x)


HARD_TANH_UNIT = NoisyUnit(
    h=activations.hard_tanh,
    u=_identity,
    threshold=1.0,
    name="noisy_hard_tanh",
    alpha=HARD_TANH_ALPHA,
    c=HARD_TANH_C,
    input_s=INPUT_S,
    saturated_s=SATURATED_S,
)
"""The noisy hard tanh: ``h = clip(x, -1, 1)``, ``u(x) = x``, ``x_t = 1``; defaults
``alpha = 1.15``, ``c = 0.5`` (output noise, Gulcehre et al. 2016), ``input_s = 0.05``
(NANI) and ``saturated_s = 0.25`` (NANIS), the values of the authors' code.
``HARD_TANH_UNIT(x, key)`` is :func:`noisy_hard_tanh`."""

HARD_SIGMOID_UNIT = NoisyUnit(
    h=activations.hard_sigmoid,
    u=_quarter_linear,
    threshold=2.0,
    name="noisy_hard_sigmoid",
    alpha=HARD_SIGMOID_ALPHA,
    c=HARD_SIGMOID_C,
    input_s=INPUT_S,
    saturated_s=SATURATED_S,
    delta=_hard_sigmoid_delta,
)
"""The noisy hard sigmoid: ``h = clip(x/4 + 1/2, 0, 1)``, ``u(x) = x/4 + 1/2``, ``x_t = 2``;
defaults ``alpha = 1.1``, ``c = 0.15`` (Gulcehre et al. 2016), ``input_s = 0.05`` and
``saturated_s = 0.25``. ``HARD_SIGMOID_UNIT(x, key)`` is :func:`noisy_hard_sigmoid`."""


def default(value, unit_value):
    """``value``, or the unit's default when ``value`` is None."""
    return unit_value if value is None else value
