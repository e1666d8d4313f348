"""Input noise, NANI / NANIL / NANIS (Gulcehre et al. 2016, §5, arXiv:1603.00391).

The noise goes inside ``h``: ``h(x + scale(x) * xi)``, xi ~ N(0, 1) per element, with

- ``"fixed"`` (NANI): ``scale = s`` everywhere;
- ``"learned"`` (NANIL): ``scale = sigma(x) = c (sigmoid(p Delta(x)) - 1/2)**2``, as in
  output noise, so no noise where ``h`` is linear and ``p`` learns through the noise;
- ``"saturated"`` (NANIS): ``scale = s`` where ``h`` saturates, 0 elsewhere.

Gradients are ordinary autodiff (both modes). The defaults of ``s`` and ``c`` are the
unit's (:attr:`NoisyUnit.input_s`, :attr:`NoisyUnit.saturated_s`, :attr:`NoisyUnit.c`).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v
from rectify_jax._src.output_noise import sigma
from rectify_jax._src.units import (
    HARD_SIGMOID_C,
    HARD_SIGMOID_UNIT,
    HARD_TANH_C,
    HARD_TANH_UNIT,
    INPUT_S,
    SATURATED_S,
    NoisyUnit,
    default,
)

MODES = ("fixed", "learned", "saturated")


@dataclasses.dataclass(frozen=True)
class Options:
    """The static options of an input-noise call (hashable: a ``jax.jit`` static argument).

    Attributes:
      mode: ``"fixed"`` (NANI), ``"learned"`` (NANIL) or ``"saturated"`` (NANIS).
      generator: ``"jax"`` or ``"fast"``.
      deterministic: the test-time function ``h(x)``.
    """

    mode: str
    generator: str = "jax"
    deterministic: bool = False

    def checked(self, fn: str) -> Options:
        """Raises a clear error for a bad option; valid ones are remembered (checked once)."""
        try:
            return _checked(self, fn, type(self.deterministic))  # 1 == True: the type counts
        except TypeError:  # an unhashable option: checked uncached, which raises the error
            return self._check(fn)

    def _check(self, fn: str) -> Options:
        v.one_of(fn, "mode", self.mode, MODES)
        v.one_of(fn, "generator", self.generator, noise_lib.GENERATORS)
        det = v.static_bool(fn, "deterministic", self.deterministic)
        return dataclasses.replace(self, deterministic=det)


@functools.lru_cache(maxsize=256)
def _checked(options: Options, fn: str, *types) -> Options:
    return options._check(fn)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _input_noise(unit, options, x, key, s, p, c):
    cdt = v.compute_dtype(x.dtype)
    xc = x.astype(cdt)
    if not options.deterministic:
        if options.mode == "fixed":
            scale = s.astype(cdt)
        elif options.mode == "saturated":
            scale = jnp.where(unit.saturated(xc), s.astype(cdt), 0.0)
        else:
            scale = sigma(
                unit.h(xc).astype(cdt) - unit.u(xc).astype(cdt), p.astype(cdt), c.astype(cdt)
            )
        xc = xc + scale * noise_lib.sample(key, x.shape, "normal", cdt, options.generator)
    return unit.h(xc).astype(x.dtype)


def apply(fn: str, unit: NoisyUnit, x, key, options: Options, *, s=None, p=1.0, c=None):
    """Checks the arguments of an input-noise call (naming ``fn``) and runs it.

    ``s`` of None is the unit's ``input_s`` (NANI) or ``saturated_s`` (NANIS); ``c`` of
    None is the unit's ``c``. ``deterministic=True`` skips the noise draw.
    """
    x = v.float_input(fn, x)
    options = options.checked(fn)
    s = default(s, unit.saturated_s if options.mode == "saturated" else unit.input_s)
    c = default(c, unit.c)
    v.nonnegative(fn, "s", s)
    v.nonnegative(fn, "c", c)
    s, p, c = (v.param(fn, name, val, x) for name, val in (("s", s), ("p", p), ("c", c)))
    key = None if options.deterministic else noise_lib.as_key(fn, key)
    return _input_noise(unit, options, x, key, s, p, c)


def input_noisy_hard_tanh(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    s: ArrayLike = INPUT_S,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""NANI: hard tanh of the input plus Gaussian noise of fixed scale ``s``.

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = h(x + s\,\xi)

    with :math:`h` = :func:`hard_tanh` and :math:`\xi \sim \mathcal N(0, 1)` per
    element; :math:`h(x)` at test time (``deterministic=True``). The noise is added
    everywhere, so it also jitters the linear regime. Gradients are ordinary autodiff.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      s: noise scale, >= 0; None means ``HARD_TANH_UNIT.input_s`` (0.05, the authors' code).
      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, within [-1, 1].

    Examples:
      >>> y = rj.input_noisy_hard_tanh(jnp.linspace(-4.0, 4.0, 9), jax.random.key(0))
      >>> bool(jnp.all((y >= -1.0) & (y <= 1.0)))
      True
      >>> rj.input_noisy_hard_tanh(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions", §5,
      arXiv:1603.00391.
    """
    options = Options("fixed", generator, deterministic)
    return apply("input_noisy_hard_tanh", HARD_TANH_UNIT, x, key, options, s=s)


def input_noisy_hard_sigmoid(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    s: ArrayLike = INPUT_S,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""NANI: hard sigmoid of the input plus Gaussian noise of fixed scale ``s``.

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = h(x + s\,\xi)

    with :math:`h` = :func:`hard_sigmoid` (slope 1/4, :math:`x_t = 2`) and
    :math:`\xi \sim \mathcal N(0, 1)` per element; :math:`h(x)` at test time. The
    noise is added everywhere. Gradients are ordinary autodiff.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      s: noise scale, >= 0; None means ``HARD_SIGMOID_UNIT.input_s`` (0.05).
      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, within [0, 1].

    Examples:
      >>> y = rj.input_noisy_hard_sigmoid(jnp.linspace(-4.0, 4.0, 9), jax.random.key(0))
      >>> bool(jnp.all((y >= 0.0) & (y <= 1.0)))
      True
      >>> rj.input_noisy_hard_sigmoid(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions", §5,
      arXiv:1603.00391.
    """
    options = Options("fixed", generator, deterministic)
    return apply("input_noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, options, s=s)


def learned_input_noisy_hard_tanh(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    p: ArrayLike = 1.0,
    c: ArrayLike = HARD_TANH_C,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""NANIL: hard tanh of the input plus Gaussian noise of learned scale.

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = h(x + \sigma(x)\,\xi),\quad
      \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2

    with :math:`h` = :func:`hard_tanh`, :math:`\Delta = h(x) - x` and
    :math:`\xi \sim \mathcal N(0, 1)` per element: no noise where ``h`` is linear, and
    ``p`` gets a gradient through the noise. :math:`h(x)` at test time.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      p: learned noise slope, broadcastable to ``x``.
      c: noise scale, >= 0; None means ``HARD_TANH_UNIT.c`` (0.5).
      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, within [-1, 1].

    Examples:
      >>> rj.learned_input_noisy_hard_tanh(jnp.array([-0.5, 0.5]), jax.random.key(0))
      Array([-0.5,  0.5], dtype=float32)
      >>> rj.learned_input_noisy_hard_tanh(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions", §5,
      arXiv:1603.00391.
    """
    options = Options("learned", generator, deterministic)
    return apply("learned_input_noisy_hard_tanh", HARD_TANH_UNIT, x, key, options, p=p, c=c)


def learned_input_noisy_hard_sigmoid(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    p: ArrayLike = 1.0,
    c: ArrayLike = HARD_SIGMOID_C,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""NANIL: hard sigmoid of the input plus Gaussian noise of learned scale.

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = h(x + \sigma(x)\,\xi),\quad
      \sigma(x) = c\,(\mathrm{sigmoid}(p\,\Delta(x)) - \tfrac12)^2

    with :math:`h` = :func:`hard_sigmoid`, :math:`\Delta = h(x) - (x/4 + 1/2)` and
    :math:`\xi \sim \mathcal N(0, 1)` per element: no noise where ``h`` is linear.
    :math:`h(x)` at test time.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      p: learned noise slope, broadcastable to ``x``.
      c: noise scale, >= 0; None means ``HARD_SIGMOID_UNIT.c`` (0.15).
      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, within [0, 1].

    Examples:
      >>> rj.learned_input_noisy_hard_sigmoid(jnp.array([-1.0, 1.0]), jax.random.key(0))
      Array([0.25, 0.75], dtype=float32)
      >>> rj.learned_input_noisy_hard_sigmoid(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions", §5,
      arXiv:1603.00391.
    """
    options = Options("learned", generator, deterministic)
    return apply("learned_input_noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, options, p=p, c=c)


def saturated_input_noisy_hard_tanh(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    s: ArrayLike = SATURATED_S,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""NANIS: hard tanh of the input plus Gaussian noise only where it saturates.

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = h(x + 1[|x| \ge 1]\,s\,\xi)

    with :math:`h` = :func:`hard_tanh` and :math:`\xi \sim \mathcal N(0, 1)` per
    element. Inputs in the linear regime pass through untouched; :math:`h(x)` at
    test time.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      s: noise scale in saturation, >= 0; None means ``HARD_TANH_UNIT.saturated_s``
        (0.25, the authors' code).
      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, within [-1, 1].

    Examples:
      >>> rj.saturated_input_noisy_hard_tanh(jnp.array([-0.5, 0.5]), jax.random.key(0))
      Array([-0.5,  0.5], dtype=float32)
      >>> rj.saturated_input_noisy_hard_tanh(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions", §5,
      arXiv:1603.00391.
    """
    options = Options("saturated", generator, deterministic)
    return apply("saturated_input_noisy_hard_tanh", HARD_TANH_UNIT, x, key, options, s=s)


def saturated_input_noisy_hard_sigmoid(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    s: ArrayLike = SATURATED_S,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""NANIS: hard sigmoid of the input plus Gaussian noise only where it saturates.

    Computes the element-wise function:

    .. math::
      \phi(x, \xi) = h(x + 1[|x| \ge 2]\,s\,\xi)

    with :math:`h` = :func:`hard_sigmoid` (:math:`x_t = 2`) and
    :math:`\xi \sim \mathcal N(0, 1)` per element. Inputs in the linear regime pass
    through untouched; :math:`h(x)` at test time.

    Args:
      x: pre-activation, a floating-point array.
      key: a PRNG key; may be None only with ``deterministic=True``.
      s: noise scale in saturation, >= 0; None means ``HARD_SIGMOID_UNIT.saturated_s`` (0.25).
      deterministic: if True, return :math:`h(x)`; no key needed.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) noise generator.

    Returns:
      An array of the same shape and dtype as ``x``, within [0, 1].

    Examples:
      >>> rj.saturated_input_noisy_hard_sigmoid(jnp.array([-1.0, 1.0]), jax.random.key(0))
      Array([0.25, 0.75], dtype=float32)
      >>> rj.saturated_input_noisy_hard_sigmoid(jnp.array([9.0]), deterministic=True)
      Array([1.], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions", §5,
      arXiv:1603.00391.
    """
    options = Options("saturated", generator, deterministic)
    return apply("saturated_input_noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, options, s=s)
