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
    return jnp.where(xc >= 0, xc, a * jnp.minimum(xc, 0.0)).astype(x.dtype)  # no 0 * inf


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
      lower: smallest slope (default 1/8), a scalar or an array broadcastable to ``x``.
      upper: largest slope (default 1/3); must be >= ``lower``.
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
    fn = "rrelu"
    x = v.float_input(fn, x)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    deterministic = v.static_bool(fn, "deterministic", deterministic)
    lower_in, upper_in = lower, upper
    lower, upper = v.param(fn, "lower", lower, x), v.param(fn, "upper", upper, x)
    if not isinstance(lower_in, jax.Array) and not isinstance(upper_in, jax.Array):
        # checked on host values only: arrays on a device are not read back
        lo, hi = np.asarray(lower_in), np.asarray(upper_in)
        if np.any(lo > hi):
            raise ValueError(f"{fn}: lower must be <= upper, got lower={lo} and upper={hi}")
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
    fn = "nrelu"
    x = v.float_input(fn, x)
    v.one_of(fn, "generator", generator, noise_lib.GENERATORS)
    deterministic = v.static_bool(fn, "deterministic", deterministic)
    key = None if deterministic else noise_lib.as_key(fn, key)
    return _nrelu(x, key, deterministic, generator)
