"""What every NNX module of rectify_jax shares: PRNG sources and the noise scales."""

from __future__ import annotations

import jax
from flax import nnx

from rectify_jax._src import noise as noise_lib

RngSource = nnx.Rngs | nnx.RngStream | jax.Array | None


class NoiseScale(nnx.Variable):
    """The noise scale ``c`` of a noisy module: state that is annealed, not trained."""


def set_noise_scale(model: nnx.Module, c) -> None:
    """Sets every :class:`NoiseScale` in ``model`` to ``c``, in place.

    Call it inside an ``nnx.jit`` train step with ``c`` from an optax schedule: ``c``
    is a traced argument, so a new value every step does not recompile, and
    ``nnx.grad`` (which differentiates ``nnx.Param`` only) leaves it alone.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyHardTanh(3, rngs=nnx.Rngs(0))
      >>> rjx.set_noise_scale(layer, 30.0)
      >>> layer.c[...]
      Array(30., dtype=float32)
    """
    state = nnx.state(model, NoiseScale)
    nnx.update(model, noise_lib.fill_noise_scale("set_noise_scale", state, c))


def streams(owner: str, rngs, collection: str):
    """(a key for the parameters, the module's own noise stream) from what it was given.

    As ``nnx.Dropout``: an ``nnx.Rngs`` gives its ``params`` key and a fork of its noise
    stream (``default`` as a fallback); an ``RngStream`` or a key serves both.
    """
    if rngs is None:
        return None, nnx.data(None)
    if isinstance(rngs, nnx.Rngs):
        return rngs.params, rngs[collection].fork()
    if isinstance(rngs, nnx.RngStream):
        return rngs, rngs.fork()
    if isinstance(rngs, jax.Array):
        key = noise_lib.as_key(owner, rngs)
        return nnx.RngStream(jax.random.fold_in(key, 1), tag="params"), nnx.RngStream(
            key, tag=collection
        )
    raise TypeError(
        f"{owner}: rngs must be an nnx.Rngs, an nnx.RngStream, a PRNG key or None, "
        f"got {type(rngs).__name__}"
    )


def call_key(module, deterministic: bool, rngs: RngSource):
    """The key for this call: None without noise, else from ``rngs`` or the module's stream."""
    if deterministic:
        return None
    source = module.rngs if rngs is None else rngs
    if isinstance(source, nnx.Rngs):
        return source[module.rng_collection]()
    if isinstance(source, nnx.RngStream):
        return source()
    if source is None:
        raise ValueError(
            f"{type(module).__name__}: deterministic=False but there is no PRNG source. Either\n"
            f"  1. pass rngs=nnx.Rngs({module.rng_collection}=seed) (or nnx.Rngs(seed)) to "
            f"the constructor,\n"
            f"  2. pass rngs= (an nnx.Rngs, RngStream or key) to the call, or\n"
            f"  3. call model.eval() or pass deterministic=True for the test-time function."
        )
    return noise_lib.as_key(type(module).__name__, source)


def capturing(module: nnx.Module) -> bool:
    """True inside ``nnx.capture`` (flax marks the module so); sow and perturb only then."""
    return hasattr(module, "__captures__")
