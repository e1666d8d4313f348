"""The library's noisy activation functions: output noise (NAN / NAH) and input noise
(NANI / NANIL / NANIS) of the hard tanh and the hard sigmoid (Gulcehre et al. 2016,
arXiv:1603.00391).

Each is one explicit function over a unit of :mod:`rectify_jax._src.units` and the
mechanisms of :mod:`~rectify_jax._src.output_noise` (the formula, the gradient kernel and
its custom VJP) and :mod:`~rectify_jax._src.input_noise`; the paper's values are the
defaults of their signatures, read from the named constants of the units.
"""

from __future__ import annotations

import jax
from jax.typing import ArrayLike

from rectify_jax._src import input_noise, output_noise
from rectify_jax._src.units import (
    HARD_SIGMOID_ALPHA,
    HARD_SIGMOID_C,
    HARD_SIGMOID_UNIT,
    HARD_TANH_ALPHA,
    HARD_TANH_C,
    HARD_TANH_UNIT,
    INPUT_S,
    SATURATED_S,
)

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
      p: noise-slope parameter, learned (one per unit, initialised U[-1, 1]), finite;
        scalar or array broadcastable to ``x``.
      alpha: the mixing factor of ``h`` and ``u`` (not the ELU/TLU alpha), finite; None
        means ``HARD_TANH_UNIT.alpha`` (1.15, the authors' code). ``alpha=1`` turns the
        noise off: the output is ``hard_tanh(x)``, also at ``x = +-inf`` (where the
        formula's ``(alpha - 1) * Delta`` would be ``0 * inf``); given as a number (or
        NumPy array), no key is needed.
      c: noise scale, a finite number >= 0; None means ``HARD_TANH_UNIT.c`` (0.5). May be
        a traced value that changes every step (annealing) without recompiling.
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

    Raises:
      TypeError, ValueError: naming the argument, for a non-float ``x``, a non-finite
        ``p``, ``alpha`` or ``c``, a negative ``c``, an unknown option. Values are
        checked where they are Python numbers or NumPy arrays; JAX arrays are not read
        back (docs: conventions, "Argument checks").

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
    options = output_noise.Options(noise, generator, residual, deterministic, autodiff)
    return output_noise.apply("noisy_hard_tanh", HARD_TANH_UNIT, x, key, p, alpha, c, options)


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
      p: noise-slope parameter (learned, one per unit), finite, broadcastable to ``x``.
      alpha: the mixing factor of ``h`` and ``u``, finite; None means
        ``HARD_SIGMOID_UNIT.alpha`` (1.1, the authors' code). ``alpha=1`` is
        ``hard_sigmoid(x)``, as in :func:`noisy_hard_tanh`.
      c: noise scale, a finite number >= 0; None means ``HARD_SIGMOID_UNIT.c`` (0.15).
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
    options = output_noise.Options(noise, generator, residual, deterministic, autodiff)
    return output_noise.apply("noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, p, alpha, c, options)


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
      s: noise scale, a finite number >= 0; None means ``HARD_TANH_UNIT.input_s`` (0.05,
        the authors' code).
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
    options = input_noise.Options("fixed", generator, deterministic)
    return input_noise.apply("input_noisy_hard_tanh", HARD_TANH_UNIT, x, key, options, s=s)


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
      s: noise scale, a finite number >= 0; None means ``HARD_SIGMOID_UNIT.input_s`` (0.05).
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
    options = input_noise.Options("fixed", generator, deterministic)
    return input_noise.apply("input_noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, options, s=s)


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
      p: learned noise slope, finite, broadcastable to ``x``.
      c: noise scale, a finite number >= 0; None means ``HARD_TANH_UNIT.c`` (0.5).
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
    options = input_noise.Options("learned", generator, deterministic)
    return input_noise.apply(
        "learned_input_noisy_hard_tanh", HARD_TANH_UNIT, x, key, options, p=p, c=c
    )


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
      p: learned noise slope, finite, broadcastable to ``x``.
      c: noise scale, a finite number >= 0; None means ``HARD_SIGMOID_UNIT.c`` (0.15).
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
    options = input_noise.Options("learned", generator, deterministic)
    return input_noise.apply(
        "learned_input_noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, options, p=p, c=c
    )


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
      s: noise scale in saturation, a finite number >= 0; None means
        ``HARD_TANH_UNIT.saturated_s`` (0.25, the authors' code).
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
    options = input_noise.Options("saturated", generator, deterministic)
    return input_noise.apply(
        "saturated_input_noisy_hard_tanh", HARD_TANH_UNIT, x, key, options, s=s
    )


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
      s: noise scale in saturation, a finite number >= 0; None means
        ``HARD_SIGMOID_UNIT.saturated_s`` (0.25).
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
    options = input_noise.Options("saturated", generator, deterministic)
    return input_noise.apply(
        "saturated_input_noisy_hard_sigmoid", HARD_SIGMOID_UNIT, x, key, options, s=s
    )
