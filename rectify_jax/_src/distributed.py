"""Keys for code that runs per shard (``jax.shard_map``, ``jax.pmap``)."""

from __future__ import annotations

import jax

from rectify_jax._src import noise as noise_lib


def shard_key(key: jax.Array, axis_name: str | tuple[str, ...]) -> jax.Array:
    r"""A key of its own for every shard along ``axis_name``.

    .. math::
      k_i = \mathrm{fold\_in}(k, i), \qquad i = \text{the shard's index along the axis}

    Inside ``shard_map`` (or ``pmap``) a key passed in replicated is the same on
    every shard, so every shard would draw the same noise. Folding in the shard's
    index along the named mesh axes gives independent noise per shard.

    How the values relate to a single-device run: under plain ``jax.jit`` with a
    sharded input (no ``shard_map``), the library draws the noise for the *global*
    array, and the values are the same whatever the mesh (partitionable threefry, or
    ``generator="fast"``). Inside ``shard_map`` each shard draws for its *local*
    block from ``shard_key(key, axis)``: independent across shards and reproducible
    for a given mesh, but not equal to the single-device values, and different for a
    different number of shards. Prefer ``jit`` with shardings when the values must
    not depend on the mesh.

    Args:
      key: a PRNG key, replicated across the shards.
      axis_name: the mesh axis name, or a tuple of names (folded in one after another).

    Returns:
      A typed key, different on every shard.

    Examples:
      >>> from functools import partial
      >>> from jax.sharding import Mesh, PartitionSpec as P
      >>> mesh = Mesh(jax.devices()[:1], ("data",))
      >>> @partial(jax.shard_map, mesh=mesh, in_specs=(P("data"), P()), out_specs=P("data"))
      ... def noisy(x, key):
      ...     return rj.noisy_hard_tanh(x, rj.shard_key(key, "data"))
      >>> noisy(jnp.full((4,), 3.0), jax.random.key(0)).shape
      (4,)
    """
    key = noise_lib.as_key("shard_key", key)
    names = (axis_name,) if isinstance(axis_name, str) else tuple(axis_name)
    for name in names:
        key = jax.random.fold_in(key, jax.lax.axis_index(name))
    return key
