"""PRNG keys and noise sampling for the stochastic and noisy activations.

Keys: both typed keys (``jax.random.key``) and legacy raw ``uint32`` keys
(``jax.random.PRNGKey``) are accepted; legacy keys are wrapped into typed keys
(of the default implementation) before anything else sees them, so the same seed
gives the same noise either way.

Noise dtype policy: noise is drawn in the compute dtype (float32 for 16- and
32-bit inputs, float64 for float64), so a bfloat16 model gets the same noise
values as its float32 twin, rounded once at the output.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from rectify_jax._src import validation as v

NOISE_KINDS = ("half_normal", "normal")
"""The noise of the noisy units: ``"half_normal"`` (NAH, ``|xi|``) or ``"normal"`` (NAN, ``xi``)."""

NOISE_MEAN = {"normal": 0.0, "half_normal": math.sqrt(2.0 / math.pi)}
"""``E[eps]`` per noise kind: 0 for ``xi``, ``sqrt(2/pi)`` for ``|xi|``, ``xi ~ N(0, 1)``."""
NOISE_STD = {"normal": 1.0, "half_normal": math.sqrt(1.0 - 2.0 / math.pi)}
"""The standard deviation of ``eps`` per noise kind: 1 (``xi``), ``sqrt(1 - 2/pi)`` (``|xi|``)."""


@functools.cache
def _raw_key_shape() -> tuple[int, ...]:
    return jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape


@functools.cache
def _default_key_dtype():
    return jax.eval_shape(lambda: jax.random.key(0)).dtype


def as_key(fn: str, key, name: str = "key") -> jax.Array:
    """Checks ``key`` (the argument ``name`` of ``fn``) and returns it as a typed key.

    Raises:
      ValueError: if ``key`` is None (noise needs a key).
      TypeError: if ``key`` is neither a single typed key nor a raw uint32 key.
    """
    if isinstance(key, jax.Array) and key.dtype == _default_key_dtype() and key.shape == ():
        return key  # the common case, checked first
    if key is None:
        raise ValueError(
            f"{fn}: {name} is None but the noise is on; pass {name}=jax.random.key(seed) "
            "(split it for every call), or set deterministic=True for the test-time function"
        )
    dtype = getattr(key, "dtype", None)
    shape = tuple(getattr(key, "shape", ()))
    # jax.dtypes re-exports issubdtype without "as", so pyright's stub reading calls it private
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):  # pyright: ignore[reportPrivateImportUsage]
        if shape != ():
            raise TypeError(
                f"{fn}: {name} must be a single PRNG key, got a batch of keys with shape {shape}; "
                "use jax.vmap over the keys, or jax.random.split(key) and pass one"
            )
        return key
    if dtype is not None and np.dtype(dtype) == np.uint32 and shape == _raw_key_shape():
        return jax.random.wrap_key_data(key)
    shown = (
        f"{type(key).__name__} with dtype {dtype} and shape {shape}"
        if dtype is not None
        else repr(key)
    )
    raise TypeError(
        f"{fn}: {name} must be a PRNG key from jax.random.key(seed) or jax.random.PRNGKey(seed), "
        f"got {shown}"
    )


GENERATORS = ("jax", "fast")
"""Noise generators: ``"jax"`` (``jax.random``, the default) and ``"fast"`` (counter-based)."""

_GOLDEN = 0x9E3779B9


def _mix32(x: jax.Array) -> jax.Array:
    """lowbias32 (C. Wellons): a bijective uint32 mixer with full avalanche."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _check(fn: str, key, shape, dtype=None) -> tuple[jax.Array, tuple[int, ...]]:
    """The checked ``key`` (a typed key) and ``shape`` (a tuple) of a public generator;
    ``dtype`` must be a supported float dtype when given."""
    if dtype is not None:
        v.float_dtype(fn, "dtype", dtype)
    return as_key(fn, key), v.shape(fn, "shape", shape)


def fast_bits(key: jax.Array, shape) -> jax.Array:
    """32 random bits per element: a keyed hash of the element's flat index.

    ``bits[i] = mix(mix(mix(i ^ k0) + k1) ^ (k0 + golden))`` with ``(k0, k1)`` the
    first and last words of the key's data. Element ``i`` depends only on the key and
    ``i``, so the values do not depend on how the array is sharded or batched.

    Examples:
      >>> bits = rj.noise.fast_bits(jax.random.key(0), (2, 3))
      >>> bits.dtype, bool(jnp.all(bits.reshape(-1) == rj.noise.fast_bits(jax.random.key(0), (6,))))
      (dtype('uint32'), True)
    """
    return _bits(*_check("fast_bits", key, shape))


def _bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    size = math.prod(shape)
    if size >= 2**32:
        raise ValueError(f"fast noise: arrays are limited to 2**32 elements, got shape {shape}")
    data = jax.random.key_data(key)
    k0, k1 = data[..., 0], data[..., -1]
    i = jax.lax.iota(jnp.uint32, size).reshape(shape)
    h = _mix32(i ^ k0)
    h = _mix32(h + k1)
    return _mix32(h ^ (k0 + jnp.uint32(_GOLDEN)))


def fast_uniform(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
    """Uniform on the open interval (0, 1) from :func:`fast_bits`, with 23 bits of resolution.

    ``u = (k + 1/2) / 2**23`` with ``k`` the top 23 bits of :func:`fast_bits`: the midpoints
    of 2**23 equal cells, every one exact in float32, so ``2**-24 <= u <= 1 - 2**-24`` and
    ``u`` is never 0 or 1.

    Examples:
      >>> u = rj.noise.fast_uniform(jax.random.key(0), (100_000,))
      >>> bool((u.min() > 0) & (u.max() < 1)), round(float(u.mean()), 2)
      (True, 0.5)
    """
    key, shape = _check("fast_uniform", key, shape, dtype)
    return _fast_uniform_from_bits(_bits(key, shape)).astype(dtype)


def _fast_uniform_from_bits(bits: jax.Array) -> jax.Array:
    k = (bits >> jnp.uint32(9)).astype(jnp.float32)
    return (k + np.float32(0.5)) * np.float32(2.0**-23)


def _signed_unit_from_bits(bits: jax.Array) -> jax.Array:
    """``v = (2k + 1) / 2**24 - 1`` for ``k = bits >> 8``: 2**24 odd multiples of 2**-24.

    Every value is exact in float32 and the set is symmetric about 0, with
    ``|v| <= 1 - 2**-24 < 1``, so ``erf_inv(v)`` is finite for every ``bits``.
    """
    # k * 2**-23 (k < 2**24) and 1 - 2**-24 are exact floats, and so is their difference:
    # an odd multiple of 2**-24 inside (-1, 1), where float32's spacing is at most 2**-24
    k = (bits >> jnp.uint32(8)).astype(jnp.float32)
    return k * np.float32(2.0**-23) - np.float32(1 - 2.0**-24)


def _fast_normal_from_bits(bits: jax.Array) -> jax.Array:
    return np.float32(math.sqrt(2.0)) * jax.lax.erf_inv(_signed_unit_from_bits(bits))


def fast_normal(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
    """Standard normal by inverting the CDF: ``sqrt(2) erfinv(v)``, ``v = 2u - 1``.

    ``v = (2k + 1) / 2**24 - 1`` with ``k`` the top 24 bits of :func:`fast_bits`, that is
    ``2u - 1`` for ``u`` the midpoint of one of 2**24 equal cells of (0, 1). Every ``v``
    is exact in float32 and ``|v| <= 1 - 2**-24``, so every draw is finite: the values are
    symmetric about 0 and the largest in magnitude is ``sqrt(2) erfinv(1 - 2**-24)``,
    about 5.42 (the normal quantile of ``1 - 2**-25``). The tails beyond it, probability
    about 6e-8, are cut.

    Examples:
      >>> xi = rj.noise.fast_normal(jax.random.key(0), (100_000,))
      >>> round(float(xi.mean()), 1), round(float(xi.std()), 2), bool(jnp.all(jnp.isfinite(xi)))
      (0.0, 1.0, True)
    """
    key, shape = _check("fast_normal", key, shape, dtype)
    return _fast_normal_from_bits(_bits(key, shape)).astype(dtype)


# --------------------------------------------------------------------------------------
# jax.random's numbers, computed faster on CPU.
#
# On the CPU backend JAX lowers threefry2x32 as a rolled loop over its five groups of
# rounds (short compile times), which XLA runs as a while loop of separate kernels: about
# ten times slower than the same hash written out, which XLA fuses into one elementwise
# kernel with its consumers (measured in BENCHMARKS.md). The functions below write the
# hash out and rebuild jax.random.normal from it where the numbers are known to be the
# same (threefry2x32 keys, partitionable bits, float32); every other case calls
# jax.random. Tests compare them with jax.random.normal bit for bit. (Uniforms on other
# ranges than the normal's are left to jax.random: there the last bit of
# floats * (max - min) + min depends on how XLA compiles the caller.)

_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_THREEFRY_PARITY = 0x1BD11BDA


def _rotl(x, r: int):
    return (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))


def threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds (Salmon et al. 2011, Random123), written out.

    ``(k0, k1)`` is the key, ``(x0, x1)`` the counters (uint32 arrays); returns the two
    output words, the same as JAX's ``threefry2x32`` primitive.
    """
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(_THREEFRY_PARITY))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for group in range(5):
        for r in _THREEFRY_ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + jnp.uint32(group + 1)
    return x0, x1


def _same_bits_as_jax(key, dtype) -> bool:
    return (
        jnp.dtype(dtype) == jnp.float32
        and str(jax.random.key_impl(key)) == "threefry2x32"
        and jax.config.jax_threefry_partitionable  # pyright: ignore[reportAttributeAccessIssue]  # jax's Config sets its flags as dynamic attributes
    )


def jax_normal(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
    """``jax.random.normal(key, shape, dtype)``, bit for bit, faster on CPU for float32.

    For a threefry2x32 key with partitionable bits and fewer than 2**32 elements, the
    element with flat index ``i`` hashes the counter ``(0, i)``, keeps the xor of the two
    output words, and maps it as ``jax.random.normal`` does: 23 bits to a uniform on
    [-1 + ulp, 1), then ``sqrt(2) erf_inv``. Anything else calls ``jax.random.normal``.

    Args:
      key: a PRNG key (``jax.random.key(seed)`` or ``jax.random.PRNGKey(seed)``).
      shape: the shape of the result.
      dtype: a floating-point dtype (default float32).

    Returns:
      Standard normal samples, equal to ``jax.random.normal(key, shape, dtype)``.

    Examples:
      >>> key = jax.random.key(0)
      >>> bool(jnp.all(rj.noise.jax_normal(key, (2, 3)) == jax.random.normal(key, (2, 3))))
      True
    """
    key, shape = _check("jax_normal", key, shape, dtype)
    size = math.prod(shape)
    if not _same_bits_as_jax(key, dtype) or size >= 2**32:
        return jax.random.normal(key, shape, dtype)
    data = jax.random.key_data(key)
    i = jax.lax.iota(jnp.uint32, size).reshape(shape)
    b0, b1 = threefry2x32(data[0], data[1], jnp.zeros_like(i), i)
    return _jax_normal_from_bits(b0 ^ b1)


def _jax_normal_from_bits(bits: jax.Array) -> jax.Array:
    """``jax.random.normal``'s map from 32 bits to a float32 normal.

    The top 23 bits make a float in [1, 2); it is moved to a uniform on [-1 + ulp, 1)
    and mapped by ``sqrt(2) erf_inv``. The uniform's largest value is ``1 - 2**-23``, so
    every draw is finite (about 5.33 at most in magnitude).
    """
    one = np.array(1.0, np.float32).view(np.uint32)
    floats = jax.lax.bitcast_convert_type((bits >> jnp.uint32(9)) | one, jnp.float32)
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
    u = jnp.maximum(lo, (floats - np.float32(1.0)) * (np.float32(1.0) - lo) + lo)
    return np.float32(math.sqrt(2.0)) * jax.lax.erf_inv(u)


def sample(key: jax.Array, shape, kind: str, dtype, generator: str = "jax") -> jax.Array:
    """Draws eps: ``xi`` (``"normal"``) or ``|xi|`` (``"half_normal"``), ``xi ~ N(0, 1)``.

    ``generator="jax"`` gives ``jax.random.normal``'s numbers (via :func:`jax_normal`);
    ``generator="fast"`` uses :func:`fast_normal`. ``kind`` must be one of
    :data:`NOISE_KINDS` and ``generator`` one of :data:`GENERATORS` (a ValueError names
    the argument otherwise), ``dtype`` float16, bfloat16, float32 or float64, ``shape`` a
    tuple of ints >= 0; as for every generator here, ``key`` a single PRNG key.

    Examples:
      >>> key = jax.random.key(0)
      >>> eps = rj.noise.sample(key, (3,), "half_normal", jnp.float32)
      >>> bool(jnp.all(eps == jnp.abs(jax.random.normal(key, (3,)))))
      True
    """
    v.one_of("sample", "kind", kind, NOISE_KINDS)
    v.one_of("sample", "generator", generator, GENERATORS)
    key, shape = _check("sample", key, shape, dtype)
    xi = fast_normal(key, shape, dtype) if generator == "fast" else jax_normal(key, shape, dtype)
    return jnp.abs(xi) if kind == "half_normal" else xi


def uniform(key: jax.Array, shape, dtype, minval, maxval, generator: str = "jax") -> jax.Array:
    """Uniform on [minval, maxval) from ``jax.random`` or the fast generator."""
    if generator == "fast":
        # the clip keeps a rounded minval + (maxval - minval) * u inside the closed range
        u = fast_uniform(key, shape, dtype)
        return jnp.clip(minval + (maxval - minval) * u, minval, maxval)
    return jax.random.uniform(key, shape, dtype, jnp.broadcast_to(minval, shape), maxval)


def fill_noise_scale(fn: str, tree, c):
    """Every leaf of ``tree`` (noise-scale arrays) replaced by ``c``, keeping dtype and shape."""
    v.finite_nonnegative(fn, "c", c)
    return jax.tree.map(lambda s: jnp.broadcast_to(jnp.asarray(c, s.dtype), s.shape), tree)
