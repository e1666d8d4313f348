"""Capturing pre-activations from linen models for rectify_jax.diagnostics."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax


def _default_layers(module: nn.Module, method_name: str) -> bool:
    return isinstance(module, nn.Dense) and method_name == "__call__"


def capture_preactivations(
    module: nn.Module,
    variables,
    *args,
    layers: Callable[[nn.Module, str], bool] | tuple[type, ...] | None = None,
    **apply_kwargs,
):
    """Runs ``module.apply`` and returns its output with the layers' pre-activations.

    No change to the model is needed: outputs of the selected submodules (by default
    every ``nn.Dense``, whose output is the next activation's input) are collected
    with linen's ``capture_intermediates``, and the noisy cells' own sown
    ``"preactivations"`` (one array per gate, stacked over time by
    :func:`rectify_jax.linen.rnn`) are included too.

    Args:
      module: the linen model.
      variables: its variables.
      *args: inputs to ``apply``.
      layers: a tuple of module types, or a ``(module, method_name) -> bool`` filter
        as for ``capture_intermediates`` (default: ``nn.Dense`` calls).
      **apply_kwargs: passed to ``apply`` (``rngs=``, ``deterministic=``...).

    Returns:
      ``(output, {path: pre-activations})`` with paths such as ``"Dense_0"`` or
      ``"RNN_0/cell/input_gate"``; feed them to :func:`rectify_jax.diagnostics.update`.

    Examples:
      >>> import flax.linen as nn
      >>> from rectify_jax import linen as rjl
      >>> model = nn.Sequential([nn.Dense(8), rj.relu, nn.Dense(2)])
      >>> variables = model.init(jax.random.key(0), jnp.ones((4, 3)))
      >>> _, pre = rjl.capture_preactivations(model, variables, jnp.ones((4, 3)))
      >>> {k: v.shape for k, v in pre.items()}
      {'layers_0': (4, 8), 'layers_2': (4, 2)}
    """
    if layers is None:
        layers = _default_layers
    elif isinstance(layers, tuple):
        types = layers
        layers = lambda mdl, name: isinstance(mdl, types) and name == "__call__"  # noqa: E731
    out, state = module.apply(
        variables, *args, capture_intermediates=layers, mutable=["intermediates"], **apply_kwargs
    )
    return out, _flatten(state.get("intermediates", {}))


def _flatten(tree) -> dict[str, jax.Array]:
    """``{'Dense_0': {'__call__': (x,)}, 'cell': {'preactivations': ({'g': y},)}}`` ->
    ``{'Dense_0': x, 'cell/g': y}``."""
    found = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        keys = [str(getattr(k, "key", getattr(k, "idx", k))) for k in path]
        keys = [k for k in keys if k not in ("__call__", "preactivations") and not k.isdigit()]
        found["/".join(keys)] = leaf
    return found
