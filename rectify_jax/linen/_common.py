"""What every linen module of rectify_jax shares: the noise stream and the noise scales."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax

from rectify_jax._src import arguments
from rectify_jax._src.noise import as_key, fill_noise_scale

NOISE_SCALE = "noise_scale"
"""The variable collection holding every noisy module's noise scale (not trained).

Optional: applied with ``{"params": params}`` alone, a module uses the default of its
``c`` attribute (``gate_c`` / ``tanh_c`` for cells)."""


def check_fields(module: nn.Module) -> None:
    """Checks the module's fields, its constructor's arguments, at construction
    (``__post_init__``): every field with a rule in :func:`rectify_jax._src.arguments.check`."""
    fields = dataclasses.fields(module)  # pyright: ignore[reportArgumentType]
    values = {f.name: getattr(module, f.name) for f in fields}
    arguments.check_known(module.__class__.__name__, values)


def noise_key(module: nn.Module, rng: jax.Array | None = None, collection: str | None = None):
    """The key for this call: ``rng`` if given, else a fresh key from the module's stream.

    ``collection`` defaults to the module's ``rng_collection``. A missing stream is an
    error: ``make_rng`` would silently fall back to ``"params"``.
    """
    if rng is not None:
        return as_key(module.__class__.__name__, rng, "rng")
    stream: str = module.rng_collection if collection is None else collection
    if not module.has_rng(stream):
        raise ValueError(
            f"{type(module).__name__}: deterministic=False but no PRNG stream {stream!r} "
            f"was given. Pass it to init and apply, e.g. model.init({{'params': k1, "
            f"'{stream}': k2}}, x) and model.apply(variables, x, rngs={{'{stream}': "
            "key}), or set deterministic=True (test time)."
        )
    return module.make_rng(stream)


def noise_scale(module: nn.Module, name: str, default):
    """The noise scale ``name``: the ``"noise_scale"`` collection's value if the variables
    hold it (created at init), else ``default`` (e.g. applied with ``{"params": p}``)."""
    if module.is_initializing() or module.has_variable(NOISE_SCALE, name):
        return module.variable(
            NOISE_SCALE, name, lambda: jax.numpy.asarray(default, module.param_dtype)
        ).value
    return default


def set_noise_scale(variables: Mapping[str, Any], c) -> dict[str, Any]:
    """Returns ``variables`` with every noise scale of the model set to ``c``.

    Feed the value of any optax schedule at the current step; under ``jax.jit`` ``c``
    is a traced argument, so a new value every step does not recompile.

    Args:
      variables: the model's variables, with the ``"noise_scale"`` collection made by init.
      c: the new noise scale (scalar, >= 0), e.g. ``schedule(step)``.

    Returns:
      A new variables dict; the input is not modified.

    Examples:
      >>> from rectify_jax import linen as rjl
      >>> layer = rjl.NoisyHardTanh(deterministic=True)
      >>> variables = layer.init(jax.random.key(0), jnp.ones((2, 3)))
      >>> rjl.set_noise_scale(variables, 30.0)["noise_scale"]
      {'c': Array(30., dtype=float32)}
    """
    if NOISE_SCALE not in variables:
        raise ValueError(
            f"set_noise_scale: variables has no {NOISE_SCALE!r} collection (it has "
            f"{sorted(variables)}); pass the full output of model.init, not only its 'params'"
        )
    return {
        **variables,
        NOISE_SCALE: fill_noise_scale("set_noise_scale", variables[NOISE_SCALE], c),
    }
