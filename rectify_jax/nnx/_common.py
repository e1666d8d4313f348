"""What every NNX module of rectify_jax shares: PRNG sources and the noise scales."""

from __future__ import annotations

import jax
from flax import nnx

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v

RngSource = nnx.Rngs | nnx.RngStream | jax.Array | None
"""What ``rngs`` may be, in a constructor or a call: as for ``nnx.Dropout``, plus a key."""


class NoiseScale(nnx.Variable):
    """The noise scale ``c`` of a noisy module: state that is annealed, not trained.

    ``nnx.grad`` and ``nnx.Optimizer(..., wrt=nnx.Param)`` leave it alone;
    :func:`set_noise_scale` writes it.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> layer = rjx.NoisyHardTanh(3, rngs=nnx.Rngs(0))
      >>> isinstance(layer.c, rjx.NoiseScale), float(layer.c[...])
      (True, 0.5)
    """


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


def check_source(owner: str, rngs) -> None:
    """Raises a TypeError unless ``rngs`` is an ``nnx.Rngs``, an ``RngStream``, a key or None."""
    if rngs is None or isinstance(rngs, (nnx.Rngs, nnx.RngStream, jax.Array)):
        return
    raise TypeError(
        f"{owner}: rngs must be an nnx.Rngs, an nnx.RngStream, a PRNG key or None, "
        f"got {type(rngs).__name__}"
    )


def param_rngs(owner: str, rngs: RngSource) -> nnx.Rngs | None:
    """The ``nnx.Rngs`` whose ``params`` stream initialises a module's parameters.

    An ``nnx.Rngs`` is used as it is (so ``nnx.Linear`` submodules draw what flax's
    would from it); an ``RngStream`` gives a fork of itself, a key ``fold_in(key, 1)``
    (the key itself seeds the noise, :func:`noise_stream`). None without ``rngs``.
    """
    check_source(owner, rngs)
    if rngs is None or isinstance(rngs, nnx.Rngs):
        return rngs
    if isinstance(rngs, nnx.RngStream):
        return nnx.Rngs(params=rngs.fork())
    return nnx.Rngs(params=jax.random.fold_in(noise_lib.as_key(owner, rngs), 1))


def need_params(owner: str, rngs: nnx.Rngs | None) -> nnx.Rngs:
    """``rngs`` (from :func:`param_rngs`), or the error of a module that needs a key."""
    if rngs is None:
        raise ValueError(
            f"{owner}: rngs= is needed to initialise the parameters, e.g. rngs=nnx.Rngs(0)"
        )
    return rngs


def noise_stream(owner: str, rngs: RngSource, collection: str):
    """The module's own noise stream, as ``nnx.Dropout`` keeps it: a fork of the
    ``collection`` stream of an ``nnx.Rngs`` (``default`` as a fallback), a fork of an
    ``RngStream``, or a stream seeded by a key. None (the error comes at a noisy call)
    without ``rngs`` or when an ``nnx.Rngs`` has neither stream.

    Call it after the parameters are drawn: forking advances the stream, which an
    ``nnx.Rngs`` without a ``collection`` stream shares with ``params``.
    """
    check_source(owner, rngs)
    if isinstance(rngs, nnx.Rngs):
        streams = set(rngs)
        if collection not in streams and "default" not in streams:
            return nnx.data(None)
        return rngs[collection].fork()
    if isinstance(rngs, nnx.RngStream):
        return rngs.fork()
    if rngs is None:
        return nnx.data(None)
    return nnx.RngStream(noise_lib.as_key(owner, rngs), tag=collection)


def is_deterministic(module, deterministic: bool | None) -> bool:
    """``deterministic`` if given, else the module's attribute, as a Python bool."""
    det = module.deterministic if deterministic is None else deterministic
    return v.static_bool(type(module).__name__, "deterministic", det)


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
    check_source(type(module).__name__, source)
    return noise_lib.as_key(type(module).__name__, source)


def capturing(module: nnx.Module) -> bool:
    """True inside ``nnx.capture`` (flax marks the module so); sow and perturb only then."""
    return hasattr(module, "__captures__")
