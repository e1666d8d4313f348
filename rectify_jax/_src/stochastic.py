"""Stochastic rectifiers: randomised leaky ReLU and noisy ReLU.

Both take an explicit PRNG key; ``deterministic=True`` gives the test-time
function and needs no key. Gradients are ordinary autodiff with the noise held
fixed by the key.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from rectify_jax._src import activations
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v


@functools.partial(jax.jit, static_argnames=("deterministic", "generator"))
def _rrelu(x, key, lower, upper, deterministic, generator):
    cdt = v.compute_dtype(x.dtype)
    xc, lower, upper = x.astype(cdt), lower.astype(cdt), upper.astype(cdt)
    if deterministic:
        a = (lower + upper) / 2
    else:
        a = noise_lib.uniform(key, x.shape, cdt, lower, upper, generator)
    return activations.leaky_kernel(xc, a).astype(x.dtype)


@functools.partial(jax.jit, static_argnames=("deterministic", "generator"))
def _nrelu(x, key, deterministic, generator):
    xc = x.astype(v.compute_dtype(x.dtype))
    if not deterministic:
        xi = noise_lib.sample(key, x.shape, "normal", xc.dtype, generator)
        # sqrt(sigmoid(x)) as exp(log_sigmoid(x) / 2): finite gradient where sigmoid underflows.
        xc = xc + jnp.exp(0.5 * jax.nn.log_sigmoid(xc)) * xi
    return jax.nn.relu(xc).astype(x.dtype)


def rrelu(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    lower: ArrayLike = 1 / 8,
    upper: ArrayLike = 1 / 3,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""Randomised leaky ReLU: a leaky ReLU whose negative slope is drawn per element.

    Computes the element-wise function:

    .. math::
      \mathrm{rrelu}(x) = \begin{cases}
        x, & x \ge 0\\
        a\,x, & x < 0
      \end{cases}
      \qquad a \sim U(\mathrm{lower}, \mathrm{upper})

    with a fresh :math:`a` for every element in training, and the mean slope
    :math:`a = (\mathrm{lower} + \mathrm{upper}) / 2` at test time
    (``deterministic=True``). The derivative at 0 is 1.

    Args:
      x: input array of a floating-point dtype.
      key: a PRNG key (``jax.random.key`` or ``jax.random.PRNGKey``); may be None only
        with ``deterministic=True``.
      lower: smallest slope (default 1/8), a finite number >= 0 or an array of them
        broadcastable to ``x``.
      upper: largest slope (default 1/3), finite and >= ``lower`` (elementwise).
      deterministic: if True, use the mean slope and no randomness.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) generator.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> y = rj.rrelu(jnp.full((4,), -1.0), jax.random.key(0))
      >>> bool(jnp.all((y <= -1 / 8) & (y >= -1 / 3)))
      True
      >>> rj.rrelu(jnp.array([-6.0, 2.0]), deterministic=True, lower=0.25, upper=0.75)
      Array([-3.,  2.], dtype=float32)

    References:
      Xu, Wang, Chen & Li 2015, "Empirical Evaluation of Rectified Activations in
      Convolutional Network", arXiv:1505.00853.
    """
    return apply_rrelu("rrelu", x, key, lower, upper, deterministic, generator)


_SLOPE = "a slope of the negative side"


def check_bounds(fn: str, lower, upper) -> None:
    """Checks RReLU's slopes: each a finite number >= 0 (or an array of them), and
    ``lower <= upper``, elementwise, where both are host values (Python numbers, NumPy
    arrays; JAX arrays are not read back)."""
    v.finite_nonnegative(fn, "lower", lower, why=_SLOPE)
    v.finite_nonnegative(fn, "upper", upper, why=_SLOPE)
    if isinstance(lower, jax.Array) or isinstance(upper, jax.Array):
        return
    lo, hi = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
    if np.any(lo > hi):
        raise ValueError(
            f"{fn}: lower must be <= upper (the slopes are drawn from U[lower, upper]), "
            f"got lower={lower!r} and upper={upper!r}"
        )


def apply_rrelu(fn: str, x, key, lower, upper, deterministic, generator) -> jax.Array:
    """Checks the arguments of an RReLU call (naming ``fn``: the function or a layer) and
    runs it."""
    x = v.float_input(fn, x)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    deterministic = v.static_bool(fn, "deterministic", deterministic)
    check_bounds(fn, lower, upper)
    lower, upper = v.param(fn, "lower", lower, x), v.param(fn, "upper", upper, x)
    key = None if deterministic else noise_lib.as_key(fn, key)
    return _rrelu(x, key, lower, upper, deterministic, generator)


def nrelu(
    x: ArrayLike,
    key: jax.Array | None = None,
    *,
    deterministic: bool = False,
    generator: str = "jax",
) -> jax.Array:
    r"""Noisy ReLU: a ReLU of the input plus Gaussian noise whose variance is sigmoid(x).

    Computes the element-wise function:

    .. math::
      \mathrm{nrelu}(x) = \max\!\left(0,\; x + \sqrt{\mathrm{sigmoid}(x)}\,\xi\right),
      \qquad \xi \sim \mathcal N(0, 1)

    in training, and :math:`\max(x, 0)` at test time (``deterministic=True``).
    The derivative where the noisy argument is 0 is 0, as for :func:`relu`.

    Args:
      x: input array of a floating-point dtype.
      key: a PRNG key; may be None only with ``deterministic=True``.
      deterministic: if True, return ``relu(x)``.
      generator: ``"jax"`` (default) or ``"fast"`` (counter-based) generator.

    Returns:
      An array of the same shape and dtype as ``x``.

    Examples:
      >>> bool(jnp.all(rj.nrelu(jnp.linspace(-3, 3, 7), jax.random.key(0)) >= 0))
      True
      >>> rj.nrelu(jnp.array([-1.0, 2.0]), deterministic=True)
      Array([0., 2.], dtype=float32)

    References:
      Nair & Hinton 2010, "Rectified linear units improve restricted Boltzmann machines".
    """
    return apply_nrelu("nrelu", x, key, deterministic, generator)


def apply_nrelu(fn: str, x, key, deterministic, generator) -> jax.Array:
    """Checks the arguments of an NReLU call (naming ``fn``: the function or a layer) and
    runs it."""
    x = v.float_input(fn, x)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    deterministic = v.static_bool(fn, "deterministic", deterministic)
    key = None if deterministic else noise_lib.as_key(fn, key)
    return _nrelu(x, key, deterministic, generator)
