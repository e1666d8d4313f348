"""What every Equinox module of rectify_jax shares: keys, the test-time switch, noise scales."""

from __future__ import annotations

import equinox as eqx
import jax

from rectify_jax._src import noise as noise_lib
from rectify_jax._src import validation as v


def init_key(owner: str, key) -> jax.Array:
    """The constructor's ``key``, checked: a clear error when parameters need one."""
    if key is None:
        raise ValueError(f"{owner}: key= is needed to initialise the parameters")
    return noise_lib.as_key(owner, key)


def is_inference(owner: str, field: bool, inference: bool | None) -> bool:
    """The call's ``inference`` if given, else the module's field; a Python bool."""
    return v.static_bool(owner, "inference", field if inference is None else inference)


def ignored_noise_arguments(owner: str, key, inference) -> tuple[bool, None]:
    """``(True, None)`` for a module without noise, whose call takes ``key`` and
    ``inference`` as every module's does: checked (a bad value is still an error), unused."""
    if key is not None:
        noise_lib.as_key(owner, key)
    if inference is not None:
        v.static_bool(owner, "inference", inference)
    return True, None


def noise_key(owner: str, key) -> jax.Array:
    """The call's ``key`` when noise is on: a typed key, or a ValueError naming ``owner``."""
    if key is None:
        raise ValueError(
            f"{owner}: noise is on but no key was given: call it with "
            "key=jax.random.key(...), or with inference=True (or after "
            "eqx.nn.inference_mode(model)) for the test-time function"
        )
    return noise_lib.as_key(owner, key)


def _has_noise_scales(node) -> bool:
    return isinstance(node, eqx.Module) and bool(getattr(type(node), "noise_scales", ()))


def noise_scales(model) -> list[jax.Array]:
    """Every noise-scale array of every rectify_jax module in ``model``, in tree order.

    A module lists the names of its noise-scale fields in its class attribute
    ``noise_scales`` (``("c",)``; ``("gate_c", "tanh_c")`` for the cells); a field that is
    None (a cell with hard or soft gates) has none.
    """
    return [
        getattr(node, name)
        for node in jax.tree.leaves(model, is_leaf=_has_noise_scales)
        if _has_noise_scales(node)
        for name in type(node).noise_scales
        if getattr(node, name) is not None
    ]


def set_noise_scale(model, c):
    """Returns ``model`` with every noise scale of every rectify_jax module in it set to ``c``.

    The noise scales are the array fields ``c`` of the noisy activations and ``gate_c``,
    ``tanh_c`` of the noisy cells. ``eqx.tree_at`` replaces their values, keeping each
    one's dtype and shape, not the model's structure: a step compiled with
    ``eqx.filter_jit`` that takes the model (or ``c``) as an argument does not recompile
    when ``c`` changes, so ``c`` can follow any optax schedule.

    The modules apply ``jax.lax.stop_gradient`` to their noise scales, so a standard
    Equinox loop (``eqx.partition(model, eqx.is_inexact_array)``, ``eqx.filter_grad``)
    gives them zero gradients and Adam or SGD leave them unchanged; an optimiser with
    weight decay would still shrink them: leave them out of its mask (the package
    docstring shows how).

    Args:
      model: any pytree holding rectify_jax Equinox modules.
      c: the new noise scale (scalar, >= 0), e.g. ``schedule(step)``.

    Returns:
      The model with its noise scales replaced; the input is not modified.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> layer = rje.NoisyHardSigmoid(2, key=jax.random.key(0))
      >>> rje.set_noise_scale(layer, 1.0).c
      Array(1., dtype=float32)
    """
    old = noise_scales(model)
    if not old:
        return model
    new = noise_lib.fill_noise_scale("set_noise_scale", old, c)
    return eqx.tree_at(noise_scales, model, new)


def check_size(owner: str, name: str, value) -> int:
    """A size (``features``, ``input_size``, ``hidden_size``), checked: a positive int."""
    return v.size(owner, name, value)
