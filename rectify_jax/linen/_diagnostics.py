"""Capturing pre-activations from linen models for rectify_jax.diagnostics."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax

from rectify_jax._src.diagnostics import sown_path_shares
from rectify_jax.linen.activations import NoisyActivation, NoisyHardSigmoid, NoisyHardTanh


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
      \\*args: inputs to ``apply``.
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
        if "noisy_inputs" in keys:  # sown for noisy_path_shares, not a pre-activation
            continue
        keys = [k for k in keys if k not in ("__call__", "preactivations") and not k.isdigit()]
        found["/".join(keys)] = leaf
    return found


def noisy_path_shares(module: nn.Module, variables, loss_fn, *args, **apply_kwargs):
    """Per noisy layer, the share of dL/dx carried by the linear, nonlinear and stochastic paths.

    Runs the model once with noise on and takes :math:`g = \\partial L/\\partial\\phi` at
    every noisy output unit (linen ``perturb``); each such layer sows only its inputs
    (``x``, the key, ``p``, ``c``) as ``"noisy_inputs"``, and the paths are rebuilt here
    with the kernel of the layer's own backward pass. Pass the same ``rngs`` you train with.

    Args:
      module: the linen model (its noisy layers must run with ``deterministic=False``).
      variables: its variables (``params`` and ``noise_scale``).
      loss_fn: ``output -> scalar``.
      \\*args, \\*\\*apply_kwargs: inputs and keywords for ``apply`` (``rngs={'noise': key}``).

    Returns:
      ``{layer path: {"linear": share, "nonlinear": share, "stochastic": share}}``.

    Examples:
      >>> import flax.linen as nn
      >>> from rectify_jax import linen as rjl
      >>> model = nn.Sequential([nn.Dense(8), rjl.NoisyHardTanh(deterministic=False)])
      >>> x = 3 * jax.random.normal(jax.random.key(0), (16, 4))
      >>> rngs = {"noise": jax.random.key(1)}
      >>> variables = model.init({"params": jax.random.key(2), **rngs}, x)
      >>> shares = rjl.noisy_path_shares(model, variables, jnp.sum, x, rngs=rngs)
      >>> sorted(shares["layers_1"]), round(sum(map(float, shares["layers_1"].values())), 4)
      (['linear', 'nonlinear', 'stochastic'], 1.0)
    """
    options = {}

    def record(next_fun, args, kwargs, context):  # each noisy layer, by path
        if context.method_name == "__call__" and isinstance(
            context.module, (NoisyActivation, NoisyHardTanh, NoisyHardSigmoid)
        ):
            scope = context.module.scope
            assert scope is not None, "an intercepted call runs on a bound module"
            options[tuple(scope.path)] = context.module
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        _, state = module.apply(
            variables, *args, mutable=["intermediates", "perturbations"], **apply_kwargs
        )

    def loss(perturbations):
        out = module.apply({**variables, "perturbations": perturbations}, *args, **apply_kwargs)
        return loss_fn(out)

    g = jax.grad(loss)(state["perturbations"])
    return {
        "/".join(path): sown_path_shares(options[path], sown, _get(g, path)["output"])
        for path, sown in _sown(state["intermediates"]).items()
    }


def _sown(tree, prefix=()):
    """``{'layers_1': {'noisy_inputs': (inputs,)}}`` -> ``{('layers_1',): inputs}``."""
    found = {}
    for key, value in tree.items():
        if key == "noisy_inputs":
            found[prefix] = value[0]
        elif isinstance(value, dict):
            found.update(_sown(value, (*prefix, key)))
    return found


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree
