"""Noise generators for the stochastic and noisy activations.

Every function that draws noise takes ``generator="jax"`` (default: ``jax.random``'s
numbers) or ``generator="fast"``: a counter-based generator seeded from the same key,
in which element ``i`` of the noise is a keyed hash of ``i`` alone. It costs a few
integer operations and an inverse error function per element instead of a
threefry block, and its values are the same however the array is sharded,
batched or split across devices. Its normal maps the top 24 bits of the hash to one of
2**24 symmetric, exactly representable points strictly inside (-1, 1) before the inverse
error function, so every draw is finite and the tails are cut at about 5.42 standard
deviations; its uniform (used by :func:`rectify_jax.rrelu`) has 23 bits and lies in
[2**-24, 1 - 2**-24], never 0 or 1.

With ``generator="jax"`` the normal noise is :func:`jax_normal`: the numbers of
``jax.random.normal``, bit for bit, computed from a written-out threefry2x32 that XLA
fuses into one kernel (JAX's own CPU lowering runs the hash as a loop of separate
kernels, several times slower); keys of other implementations and float64 noise go
to ``jax.random.normal`` itself.

Examples:
  >>> from rectify_jax import noise
  >>> xi = noise.fast_normal(jax.random.key(0), (4, 3))
  >>> bool(jnp.all(xi.reshape(-1) == noise.fast_normal(jax.random.key(0), (12,))))
  True
  >>> key = jax.random.key(1)
  >>> bool(jnp.all(noise.jax_normal(key, (5,)) == jax.random.normal(key, (5,))))
  True
"""

from rectify_jax._src.noise import GENERATORS as GENERATORS
from rectify_jax._src.noise import NOISE_KINDS as NOISE_KINDS
from rectify_jax._src.noise import NOISE_MEAN as NOISE_MEAN
from rectify_jax._src.noise import NOISE_STD as NOISE_STD
from rectify_jax._src.noise import fast_bits as fast_bits
from rectify_jax._src.noise import fast_normal as fast_normal
from rectify_jax._src.noise import fast_uniform as fast_uniform
from rectify_jax._src.noise import jax_normal as jax_normal
from rectify_jax._src.noise import sample as sample

__all__ = [
    "GENERATORS",
    "NOISE_KINDS",
    "NOISE_MEAN",
    "NOISE_STD",
    "fast_bits",
    "fast_normal",
    "fast_uniform",
    "jax_normal",
    "sample",
]
