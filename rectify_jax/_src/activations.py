"""Deterministic activations: pure, elementwise, output dtype = input dtype.

Every public function checks its arguments in Python (once per trace), then runs
one jitted kernel. 16-bit inputs are computed in float32 and cast back. The
derivative at each kink is a decision, stated in the docstring and pinned by a test.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rectify_jax._src import validation as v


@functools.partial(jax.jit, static_argnums=0)
def _apply(kernel, x, *params):
    """Runs ``kernel`` in the compute dtype of ``x`` and casts the result back to x's dtype."""
    cdt = v.compute_dtype(x.dtype)
    return kernel(x.astype(cdt), *(p.astype(cdt) for p in params)).astype(x.dtype)


def _relu(x):
    return jax.nn.relu(x)  # custom_jvp: relu'(0) = 0


def leaky_kernel(x, slope):
    """``x`` where ``x >= 0``, else ``slope * x``; shared by leaky_relu, prelu and rrelu.

    The unused branch sees 0 where ``x > 0`` (at ``x = +inf``, ``slope * x`` would send
    ``0 * inf = NaN`` into the slope's gradient); a NaN ``x`` takes the ``slope * x``
    branch, so its gradient is ``slope``, as in :func:`jax.nn.leaky_relu`.
    """
    return jnp.where(x >= 0, x, slope * jnp.where(x > 0, 0.0, x))


def half_tanh_and_sech2(z):
    r""":math:`t = \tanh(z/2)` and :math:`1 - t^2 = \mathrm{sech}^2(z/2)`, both to a few ulp.

    ``1 - t * t`` cancels where ``tanh`` saturates: at :math:`z = 12` it has lost 3
    digits in float32, and from :math:`z \approx 17` it is exactly 0 where the true value
    is about :math:`4e^{-|z|}`. Written as :math:`4e/(1+e)^2` with :math:`e = e^{-|z|}`
    it keeps its relative precision until ``e`` underflows.
    """
    e = jnp.exp(-jnp.abs(z))
    return half_tanh(z, e), 4 * e / (1 + e) / (1 + e)


def half_tanh(z, e=None):
    """``tanh(z / 2)``; in float64 as ``-sgn(z) expm1(-|z|) / (1 + e^{-|z|})``: XLA's
    float64 tanh on the CPU is up to 6.5 ulp off near saturation (measured), this form
    2.7 ulp. In other dtypes XLA's tanh (3.7 ulp in float32, where the other form is not
    better) is kept: it is the cheaper one."""
    if z.dtype != jnp.float64:
        return jnp.tanh(0.5 * z)
    a = jnp.abs(z)
    e = jnp.exp(-a) if e is None else e
    return -jnp.sign(z) * jnp.expm1(-a) / (1 + e)


# The smooth functions' derivatives are written out (custom_jvp, so both modes and every
# order): autodiff gives s (1 - s), 1 - tanh^2 and expm1(x) + 1, which cancel where the
# function saturates (1 - tanh(x)^2 is exactly 0 from x = 9 in float32, where the true
# value is 6e-8). The forms below keep their relative precision until exp underflows.


@jax.custom_jvp
def _elu(x, alpha):
    # expm1 of the clamped value keeps the unused branch finite (no inf * 0 in the gradient).
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.where(x > 0, 0.0, x)))


@_elu.defjvp
def _elu_jvp(primals, tangents):
    (x, alpha), (dx, dalpha) = primals, tangents
    negative = jnp.where(x > 0, 0.0, x)
    slope = alpha * jnp.exp(negative)  # elu' = alpha e^x, not expm1(x) + 1
    return _elu(x, alpha), jnp.where(x > 0, dx, slope * dx + jnp.expm1(negative) * dalpha)


@jax.custom_jvp
def _softplus(x):
    return jnp.logaddexp(x, 0.0)


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    # the derivative is sigmoid(x), to 2.5 ulp; logaddexp's own is 15 ulp off at x = 33
    # in float64 (measured against 50 digits)
    (x,), (dx,) = primals, tangents
    return _softplus(x), jax.nn.sigmoid(x) * dx


@jax.custom_jvp
def _sigmoid(x):
    return jax.nn.sigmoid(x)


@_sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    # sigmoid' = e / (1 + e)^2 = sech^2(x / 2) / 4, e = exp(-|x|)
    return _sigmoid(x), 0.25 * half_tanh_and_sech2(x)[1] * dx


@jax.custom_jvp
def _tanh(x):
    return jnp.tanh(x)


@_tanh.defjvp
def _tanh_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _tanh(x), half_tanh_and_sech2(2 * x)[1] * dx


def _hard_sigmoid(x):
    return jnp.where(x > 2.0, 1.0, jnp.where(x < -2.0, 0.0, 0.25 * x + 0.5))


def _hard_tanh(x):
    return jnp.where(x > 1.0, 1.0, jnp.where(x < -1.0, -1.0, x))


@jax.custom_jvp
def _tlu(x, alpha):
    return jnp.where(x >= 0, x, alpha * jnp.tanh(x))


@_tlu.defjvp
def _tlu_jvp(primals, tangents):
    (x, alpha), (dx, dalpha) = primals, tangents
    slope = alpha * half_tanh_and_sech2(2 * x)[1]  # alpha sech^2(x)
    return _tlu(x, alpha), jnp.where(x >= 0, dx, slope * dx + jnp.tanh(x) * dalpha)


def relu(x: ArrayLike) -> jax.Array:
    r"""Rectified linear unit.

    Computes the element-wise function:

    .. math::
      \mathrm{relu}(x) = \max(x, 0)

    The derivative at 0 is taken to be 0 (as in :func:`jax.nn.relu`).

    Args:
      x: input array of a floating-point dtype.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import rectify_jax as rj
      >>> rj.relu(jnp.array([-2.0, 0.0, 3.0]))
      Array([0., 0., 3.], dtype=float32)

    References:
      Nair & Hinton 2010, "Rectified linear units improve restricted Boltzmann machines";
      Glorot, Bordes & Bengio 2011, "Deep Sparse Rectifier Neural Networks".

    See also:
      :func:`leaky_relu`, :func:`prelu`, :func:`rrelu`, :func:`nrelu`
    """
    return _apply(_relu, v.float_input("relu", x))


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> jax.Array:
    r"""Leaky rectified linear unit.

    Computes the element-wise function:

    .. math::
      \mathrm{leaky\_relu}(x) = \begin{cases}
        x, & x \ge 0\\
        a\,x, & x < 0
      \end{cases}

    where :math:`a` is ``negative_slope``. The derivative at 0 is 1 (as in
    :func:`jax.nn.leaky_relu`).

    Args:
      x: input array of a floating-point dtype.
      negative_slope: slope for negative inputs, a scalar or an array broadcastable
        to ``x`` (default 0.01, Maas et al. 2013).

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.leaky_relu(jnp.array([-2.0, 0.0, 3.0]))
      Array([-0.02,  0.  ,  3.  ], dtype=float32)

    References:
      Maas, Hannun & Ng 2013, "Rectifier Nonlinearities Improve Neural Network
      Acoustic Models".
    """
    x = v.float_input("leaky_relu", x)
    return _apply(leaky_kernel, x, v.param("leaky_relu", "negative_slope", negative_slope, x))


def prelu(x: ArrayLike, alpha: ArrayLike) -> jax.Array:
    r"""Parametric rectified linear unit: a leaky ReLU whose slope is learned.

    Computes the element-wise function:

    .. math::
      \mathrm{prelu}(x) = \begin{cases}
        x, & x \ge 0\\
        \alpha\,x, & x < 0
      \end{cases}

    The derivative at 0 is 1 with respect to ``x``, and 0 with respect to ``alpha``.

    Args:
      x: input array of a floating-point dtype.
      alpha: the learned negative slope (He et al.'s name; the PReLU layers and flax call
        it ``negative_slope``), a scalar or an array broadcastable to ``x`` (one per
        channel: shape ``(features,)``). He et al. initialise it to 0.25.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.prelu(jnp.array([[-2.0, -2.0]]), jnp.array([0.25, 0.5]))
      Array([[-0.5, -1. ]], dtype=float32)

    References:
      He, Zhang, Ren & Sun 2015, "Delving Deep into Rectifiers", arXiv:1502.01852.
    """
    x = v.float_input("prelu", x)
    return _apply(leaky_kernel, x, v.param("prelu", "alpha", alpha, x))


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Exponential linear unit.

    Computes the element-wise function:

    .. math::
      \mathrm{elu}(x) = \begin{cases}
        x, & x > 0\\
        \alpha\,(e^{x} - 1), & x \le 0
      \end{cases}

    The derivative at 0 is ``alpha`` (as in :func:`jax.nn.elu`). Below 0 it is computed
    as :math:`\alpha e^{x}`, relative to a few ulp also deep in saturation, where
    autodiff's :math:`\alpha(\mathrm{expm1}(x) + 1)` rounds to 0 early.

    Args:
      x: input array of a floating-point dtype.
      alpha: the negative saturation value, finite, a scalar or an array broadcastable to
        ``x``.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.elu(jnp.array([-30.0, 0.0, 2.0]))
      Array([-1.,  0.,  2.], dtype=float32)

    References:
      Clevert, Unterthiner & Hochreiter 2015, "Fast and Accurate Deep Network
      Learning by Exponential Linear Units (ELUs)", arXiv:1511.07289.
    """
    x = v.float_input("elu", x)
    return _apply(_elu, x, v.param("elu", "alpha", alpha, x))


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus, the smooth rectifier.

    Computes the element-wise function:

    .. math::
      \mathrm{softplus}(x) = \log(1 + e^{x})

    as ``logaddexp(x, 0)``, which neither overflows for large ``x`` nor loses
    precision for very negative ``x``.

    Args:
      x: input array of a floating-point dtype.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.softplus(jnp.array([-100.0, 0.0, 100.0]))
      Array([  0.       ,   0.6931472, 100.       ], dtype=float32)

    References:
      Dugas, Bengio, Belisle, Nadeau & Garcia 2001, "Incorporating Second-Order
      Functional Knowledge for Better Option Pricing".
    """
    return _apply(_softplus, v.float_input("softplus", x))


def sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logistic sigmoid.

    Computes the element-wise function:

    .. math::
      \mathrm{sigmoid}(x) = \frac{1}{1 + e^{-x}}

    Its derivative is computed as :math:`e/(1+e)^2` with :math:`e = e^{-|x|}`, relative to
    a few ulp also in saturation, where :func:`jax.nn.sigmoid`'s :math:`s(1-s)` cancels.

    Args:
      x: input array of a floating-point dtype.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.sigmoid(jnp.array([0.0]))
      Array([0.5], dtype=float32)

    References:
      Rumelhart, Hinton & Williams 1986, "Learning representations by
      back-propagating errors".

    See also:
      :func:`hard_sigmoid`, :func:`noisy_hard_sigmoid`
    """
    return _apply(_sigmoid, v.float_input("sigmoid", x))


def tanh(x: ArrayLike) -> jax.Array:
    r"""Hyperbolic tangent.

    Computes the element-wise function:

    .. math::
      \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}

    Its derivative is computed as :math:`4e/(1+e)^2` with :math:`e = e^{-2|x|}`, relative
    to a few ulp also in saturation, where autodiff's :math:`1 - \tanh^2 x` is 0 from
    :math:`|x| = 9` in float32.

    Args:
      x: input array of a floating-point dtype.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.tanh(jnp.array([0.0]))
      Array([0.], dtype=float32)

    References:
      LeCun, Bottou, Orr & Mueller 1998, "Efficient BackProp" (why tanh, zero-mean,
      beats the logistic sigmoid in hidden layers).

    See also:
      :func:`hard_tanh`, :func:`noisy_hard_tanh`, :func:`tlu`
    """
    return _apply(_tanh, v.float_input("tanh", x))


def hard_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Hard sigmoid of Gulcehre et al. (2016): the first-order Taylor expansion of
    the sigmoid at 0, clipped to [0, 1].

    Computes the element-wise function:

    .. math::
      \mathrm{hard\_sigmoid}(x) = \begin{cases}
        0, & x < -2\\
        \tfrac14 x + \tfrac12, & -2 \le x \le 2\\
        1, & 2 < x
      \end{cases}

    with linearisation :math:`u(x) = x/4 + 1/2` and saturation threshold
    :math:`x_t = 2`. The derivative at :math:`x = \pm 2` is 1/4 (the linear side),
    like :func:`jax.nn.hard_tanh` at its corners.

    Note:
      This is **not** :func:`jax.nn.hard_sigmoid`. JAX, Keras 3 and PyTorch use
      ``relu6(x + 3) / 6`` (slope 1/6, saturating at :math:`\pm 3`); Theano's and
      Keras 2's built-in used slope 0.2 (saturating at :math:`\pm 2.5`). The slope
      1/4 here matches the sigmoid's own slope at 0 and the noisy-activation
      paper's code.

    Args:
      x: input array of a floating-point dtype.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.hard_sigmoid(jnp.array([-3.0, -1.0, 0.0, 1.0, 3.0]))
      Array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      arXiv:1603.00391.
    """
    return _apply(_hard_sigmoid, v.float_input("hard_sigmoid", x))


def hard_tanh(x: ArrayLike) -> jax.Array:
    r"""Hard tanh: the identity clipped to [-1, 1].

    Computes the element-wise function:

    .. math::
      \mathrm{hard\_tanh}(x) = \begin{cases}
        -1, & x < -1\\
        x, & -1 \le x \le 1\\
        1, & 1 < x
      \end{cases}

    with linearisation :math:`u(x) = x` and saturation threshold :math:`x_t = 1`.
    The derivative at :math:`x = \pm 1` is 1 (as in :func:`jax.nn.hard_tanh`).

    Args:
      x: input array of a floating-point dtype.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.hard_tanh(jnp.array([-3.0, 0.5, 3.0]))
      Array([-1. ,  0.5,  1. ], dtype=float32)

    References:
      Gulcehre, Moczulski, Denil & Bengio 2016, "Noisy Activation Functions",
      arXiv:1603.00391.
    """
    return _apply(_hard_tanh, v.float_input("hard_tanh", x))


def tlu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Tanh linear unit: identity for :math:`x \ge 0`, a scaled tanh below.

    Computes the element-wise function:

    .. math::
      \mathrm{tlu}(x) = \begin{cases}
        x, & x \ge 0\\
        \alpha \tanh(x), & x < 0
      \end{cases}

    Its outputs are closer to zero-mean than ReLU's, no unit is dead (the negative
    side has gradient :math:`\alpha (1 - \tanh^2 x)`), and the negative side
    saturates softly at :math:`-\alpha`. The derivative at 0 is 1.

    Args:
      x: input array of a floating-point dtype.
      alpha: the negative saturation value, finite, a scalar or an array broadcastable
        to ``x``; may be learned.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> rj.tlu(jnp.array([-30.0, 0.0, 2.0]), alpha=0.5)
      Array([-0.5,  0. ,  2. ], dtype=float32)

    References:
      Jiang & Wang 2018, tanh linear unit in recurrent neural networks.
    """
    x = v.float_input("tlu", x)
    return _apply(_tlu, x, v.param("tlu", "alpha", alpha, x))
