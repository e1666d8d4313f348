"""A recurrent cell over a whole sequence: framework-neutral pieces of every ``RNN``.

The linen, NNX and Equinox ``RNN`` classes run a cell over time with the options of
``flax.linen.RNN`` (``time_major``, ``return_carry``, ``reverse``, ``keep_order``,
``unroll``, ``seq_lengths``). What they share is written here once: the noise of all
steps drawn before the loop (:func:`step_inputs`), the loop itself for frameworks that
scan a pure step (:func:`scan`), and the handling of the time axis, reversal and
padding (:func:`over_time`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, overload

import jax
import jax.numpy as jnp
from flax.linen.recurrent import flip_sequences


def step_inputs(draw: Callable[[jax.Array], object], key, length: int, residual: str) -> dict:
    """What each of ``length`` steps gets besides its input, stacked on a leading time axis.

    Step ``t`` has the key ``split(key, length)[t]``. With ``residual="noise"`` every
    step's noise, ``draw(key_t)``, is drawn in one vectorised call before the loop
    (``{"noise": ...}``): on a CPU much faster than drawing inside it, where XLA
    recomputes the generator in each reader, and no more memory, since the backward pass
    keeps the noise anyway. With ``residual="key"`` each step gets its key
    (``{"key": ...}``) and draws its noise itself, in the forward and again in the
    backward pass, so no noise array of the sequence's size is kept. Both give the same
    numbers. ``key`` is None when the cell draws no noise: ``{}``.
    """
    if key is None:
        return {}
    keys = jax.random.split(key, length)
    if residual == "key":
        return {"key": keys}
    return {"noise": jax.vmap(draw)(keys)}


def scan(step, carry, xs, per_step: dict, *, unroll: int = 1, keep_carries: bool = False):
    """``jax.lax.scan`` of ``step(carry, x, key, noise) -> (carry, y)`` over ``xs`` (time first).

    Returns ``(carry, ys, carries)``: ``carries`` is every step's carry stacked on time
    when ``keep_carries`` (for :func:`over_time`'s ``seq_lengths``), else None.
    """

    def body(carry, inputs):
        x, given = inputs
        carry, y = step(carry, x, given.get("key"), given.get("noise"))
        return carry, ((carry, y) if keep_carries else y)

    carry, out = jax.lax.scan(body, carry, (xs, per_step), unroll=unroll)
    return (carry, out[1], out[0]) if keep_carries else (carry, out, None)


def last_valid(carries, seq_lengths):
    """The carry at step ``seq_lengths - 1`` of each sequence, from carries stacked on time."""
    last = jnp.asarray(seq_lengths) - 1

    def pick(a):
        index = last.reshape((1, *last.shape) + (1,) * (a.ndim - 1 - last.ndim))
        index = jnp.broadcast_to(index, (1, *a.shape[1:]))
        return jnp.take_along_axis(a, index, axis=0)[0]

    return jax.tree.map(pick, carries)


def over_time(
    run,
    inputs,
    *,
    time_major: bool = False,
    return_carry: bool = False,
    reverse: bool = False,
    keep_order: bool = False,
    seq_lengths=None,
    num_feature_axes: int = 1,
    owner: str = "RNN",
):
    """Calls ``run(xs, keep_carries) -> (carry, ys, carries)`` with time moved to the front.

    As ``flax.linen.RNN``: ``inputs`` is ``(*batch, time, features)``, or ``(time, *batch,
    features)`` when ``time_major``; ``reverse`` runs from the last step to the first and
    returns the outputs in that order unless ``keep_order``; ``seq_lengths`` (``(*batch)``
    integers) marks the steps past each sequence's length as padding: a reversed sequence
    keeps its padding at the end, and the carry returned is the one after the sequence's
    last step (the outputs at padded steps are computed but mean nothing). A cell with
    ``num_feature_axes`` > 1 (a convolutional cell) has that many trailing feature axes.
    Returns the outputs laid out as ``inputs``, or ``(carry, outputs)`` with ``return_carry``.
    """
    inputs = jnp.asarray(inputs)
    if inputs.ndim < num_feature_axes + 1:
        raise ValueError(
            f"{owner}: inputs must have a time and a feature axis, (*batch, time, features) "
            f"or with time_major=True (time, *batch, features); got shape {inputs.shape}"
        )
    batch_dims = inputs.ndim - 1 - num_feature_axes
    time_axis = 0 if time_major else batch_dims
    if reverse:
        inputs = flip_sequences(inputs, seq_lengths, batch_dims, time_major)
    keep_carries = seq_lengths is not None and return_carry
    carry, ys, carries = run(jnp.moveaxis(inputs, time_axis, 0), keep_carries)
    if keep_carries:
        carry = last_valid(carries, seq_lengths)
    ys = jnp.moveaxis(ys, 0, time_axis)
    if reverse and keep_order:
        ys = flip_sequences(ys, seq_lengths, batch_dims, time_major)
    return (carry, ys) if return_carry else ys


@overload
def initial_carry(
    carry_init, key, batch_shape, features: int, dtype, parts: Literal[1]
) -> jax.Array: ...
@overload
def initial_carry(
    carry_init, key, batch_shape, features: int, dtype, parts: Literal[2]
) -> tuple[jax.Array, jax.Array]: ...
@overload
def initial_carry(
    carry_init, key, batch_shape, features: int, dtype, parts: int
) -> jax.Array | tuple[jax.Array, ...]: ...
def initial_carry(
    carry_init, key, batch_shape, features: int, dtype, parts: int
) -> jax.Array | tuple[jax.Array, ...]:
    """A carry of ``parts`` arrays ``(*batch_shape, features)`` from ``carry_init`` (zeros
    when None), each drawn with its own key split from ``key`` (``jax.random.key(0)`` when
    None) as flax's cells do; a single array when ``parts == 1``."""
    init = jax.nn.initializers.zeros if carry_init is None else carry_init
    key = jax.random.key(0) if key is None else key
    shape = (*batch_shape, features)
    if parts == 1:
        return init(key, shape, dtype)
    return tuple(init(k, shape, dtype) for k in jax.random.split(key, parts))
