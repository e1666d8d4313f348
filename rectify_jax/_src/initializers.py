"""Initialisers used by the modules, in the ``jax.nn.initializers`` calling convention."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def uniform_range(minval: float = -1.0, maxval: float = 1.0):
    r"""Initialiser drawing i.i.d. :math:`U[\mathrm{minval}, \mathrm{maxval})` values.

    The noisy units initialise their noise slope ``p`` with ``uniform_range(-1, 1)``
    (Gulcehre et al. 2016). ``jax.nn.initializers.uniform(scale)`` covers only ``[0, scale)``.

    Examples:
      >>> w = rj.initializers.uniform_range(-1.0, 1.0)(jax.random.key(0), (1000,))
      >>> bool((w.min() >= -1) & (w.max() < 1))
      True
    """
    if not minval < maxval:
        raise ValueError(f"uniform_range: need minval < maxval, got {minval} and {maxval}")

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, minval, maxval)

    return init


def identity(scale: float = 1.0):
    r"""Initialiser returning ``scale`` times the identity matrix (square 2-D shapes only).

    The IRNN (Le, Jaitly & Hinton 2015, arXiv:1504.00941) initialises its recurrent
    kernel this way, so that at the start a ReLU RNN copies its state forward.

    Examples:
      >>> rj.initializers.identity(0.5)(jax.random.key(0), (2, 2))
      Array([[0.5, 0. ],
             [0. , 0.5]], dtype=float32)
    """

    def init(key, shape, dtype=jnp.float32):
        del key
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"identity: needs a square 2-D shape, got {tuple(shape)}")
        return scale * jnp.eye(shape[0], dtype=dtype)

    return init


def blockwise(init, blocks: int):
    r"""Initialiser applying ``init`` to each of ``blocks`` equal column blocks on its own.

    A fused gate kernel of shape ``(n, blocks * hidden)`` (the noisy LSTM and GRU cells
    keep one for all gates) then has the distribution of ``blocks`` separate
    ``(n, hidden)`` kernels, as ``flax.linen.LSTMCell`` and ``GRUCell`` create them (one
    ``Dense`` per gate). It matters for ``orthogonal()``: one orthogonal ``(H, 4H)``
    matrix has gate blocks that are not orthogonal (their singular values spread from
    about 0.9 down to 0), while each block of ``blockwise(orthogonal(), 4)`` is.

    Args:
      init: an initialiser ``(key, shape, dtype) -> array``.
      blocks: how many blocks the last axis splits into (it must divide the axis).

    Examples:
      >>> init = rj.initializers.blockwise(jax.nn.initializers.orthogonal(), 4)
      >>> w = init(jax.random.key(0), (8, 32))
      >>> [bool(jnp.allclose(b.T @ b, jnp.eye(8), atol=1e-5)) for b in jnp.split(w, 4, axis=1)]
      [True, True, True, True]
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"blockwise: blocks must be a positive int, got {blocks!r}")

    def block_init(key, shape, dtype=jnp.float32):
        if not shape or shape[-1] % blocks:
            raise ValueError(
                f"blockwise: the last axis of shape {tuple(shape)} does not split into "
                f"{blocks} equal blocks"
            )
        block = (*shape[:-1], shape[-1] // blocks)
        keys = jax.random.split(key, blocks)
        return jnp.concatenate([init(k, block, dtype) for k in keys], axis=-1)

    return block_init


def in_float32(init):
    r"""``init`` computed in float32 and cast, for 16-bit parameter dtypes.

    Some initialisers cannot run in 16 bits on every backend (``orthogonal()`` needs a
    QR decomposition, which XLA's CPU backend lacks for bfloat16 and float16). Wrapped,
    a 16-bit ``dtype`` draws the float32 values and rounds them once; other dtypes call
    ``init`` unchanged, so float32 and float64 parameters are the same numbers as before.

    Examples:
      >>> init = rj.initializers.in_float32(jax.nn.initializers.orthogonal())
      >>> init(jax.random.key(0), (4, 4), jnp.bfloat16).dtype
      dtype(bfloat16)
    """

    def wrapped(key, shape, dtype=jnp.float32):
        if jnp.dtype(dtype).itemsize < 4 and jnp.issubdtype(dtype, jnp.floating):
            return init(key, shape, jnp.float32).astype(dtype)
        return init(key, shape, dtype)

    return wrapped
