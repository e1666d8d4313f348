"""Capturing pre-activations from NNX models for rectify_jax.diagnostics."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rectify_jax._src.diagnostics import sown_path_shares
from rectify_jax.nnx.activations import NoisyActivation, NoisyHardSigmoid, NoisyHardTanh

_OUTPUT_NOISE = (NoisyActivation, NoisyHardTanh, NoisyHardSigmoid)
"""The layers that sow their inputs as ``"noisy_inputs"`` inside ``nnx.capture``."""


def capture_preactivations(
    model: nnx.Module, *args, layers: tuple[type, ...] = (nnx.Linear,), **kwargs
):
    """Calls ``model(*args, **kwargs)`` and returns its output with the layers' pre-activations.

    Uses ``nnx.capture`` with ``method_outputs``, so the model needs no ``sow``: the
    outputs of every submodule of the given types (default ``nnx.Linear``) are
    returned by path. ``nnx.capture`` cannot look inside ``nnx.RNN``'s scan (its
    capture dict would change the scan carry); for recurrent cells use
    :func:`cell_preactivations`.

    Returns:
      ``(output, {path: pre-activations})``, e.g. ``{"l1": ..., "l2": ...}``.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> class MLP(nnx.Module):
      ...     def __init__(self, rngs):
      ...         self.l1, self.l2 = nnx.Linear(3, 8, rngs=rngs), nnx.Linear(8, 2, rngs=rngs)
      ...     def __call__(self, x):
      ...         return self.l2(rj.relu(self.l1(x)))
      >>> _, pre = rjx.capture_preactivations(MLP(nnx.Rngs(0)), jnp.ones((4, 3)))
      >>> {k: v.shape for k, v in pre.items()}
      {'l1': (4, 8), 'l2': (4, 2)}
    """
    wanted = {path for path, m in nnx.iter_modules(model) if isinstance(m, layers)}
    out, captured = nnx.capture(model, nnx.Intermediate, method_outputs=nnx.Intermediate)(
        *args, **kwargs
    )
    found = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(captured))[0]:
        keys = tuple(getattr(k, "key", getattr(k, "idx", k)) for k in path)
        module_path = keys[: keys.index("__call__")] if "__call__" in keys else None
        if module_path in wanted:
            found["/".join(map(str, module_path))] = leaf
    return out, found


def cell_preactivations(cell, inputs: jax.Array, carry=None, *, rngs=None):
    """Runs a noisy NNX cell over ``inputs`` (batch, time, features), collecting its
    noisy units' pre-activations at every step.

    The loop is unrolled in Python (fine under ``nnx.jit`` for diagnostic lengths).

    Returns:
      ``(outputs, {gate: pre-activations})``, each of shape ``(batch, time, hidden)``.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> cell = rjx.NoisyGRUCell(3, 4, rngs=nnx.Rngs(0))
      >>> ys, pre = rjx.cell_preactivations(cell, jnp.ones((2, 5, 3)))
      >>> ys.shape, sorted(pre), pre["update_gate"].shape
      ((2, 5, 4), ['candidate', 'reset_gate', 'update_gate'], (2, 5, 4))
    """
    if carry is None:
        carry = cell.initialize_carry(inputs[:, 0].shape)
    ys, pres = [], []
    for t in range(inputs.shape[1]):
        carry, y, pre = cell.step_with_preactivations(carry, inputs[:, t], rngs=rngs)
        ys.append(y)
        pres.append(pre)
    stacked = jax.tree.map(lambda *a: jnp.stack(a, axis=1), *pres)
    return jnp.stack(ys, axis=1), stacked


def noisy_path_shares(model: nnx.Module, loss_fn, *args, **kwargs):
    """Per noisy layer, the share of dL/dx carried by the linear, nonlinear and stochastic paths.

    For every noisy output layer in ``model`` (:class:`~rectify_jax.nnx.NoisyActivation`,
    :class:`~rectify_jax.nnx.NoisyHardTanh`, :class:`~rectify_jax.nnx.NoisyHardSigmoid`):
    runs the model under ``nnx.capture`` with a perturbation on the layer's output
    (giving :math:`g = \\partial L/\\partial\\phi`) and the layer's local path derivatives for
    the noise it drew, then combines them. Each call advances the modules' noise streams.

    Args:
      model: the NNX model (its noisy layers in training mode).
      loss_fn: ``output -> scalar``.
      \\*args, \\*\\*kwargs: the model's inputs.

    Returns:
      ``{layer path: {"linear": share, "nonlinear": share, "stochastic": share}}``.

    Examples:
      >>> from flax import nnx
      >>> from rectify_jax import nnx as rjx
      >>> model = nnx.Sequential(nnx.Linear(4, 8, rngs=nnx.Rngs(0)),
      ...                        rjx.NoisyHardTanh(8, rngs=nnx.Rngs(1)))
      >>> x = 3 * jax.random.normal(jax.random.key(0), (16, 4))
      >>> shares = rjx.noisy_path_shares(model, jnp.sum, x)
      >>> sorted(shares), round(sum(map(float, shares["layers/1"].values())), 4)
      (['layers/1'], 1.0)
    """
    layers = [(path, m) for path, m in nnx.iter_modules(model) if isinstance(m, _OUTPUT_NOISE)]
    _, zeros = nnx.capture(model, nnx.Perturbation)(*args, **kwargs)

    def loss(model, perturbations):
        out, sown = nnx.capture(model, nnx.Intermediate, init=perturbations)(*args, **kwargs)
        return loss_fn(out), sown

    grads, sown = nnx.grad(loss, argnums=1, has_aux=True)(model, zeros)
    shares = {}
    for path, m in layers:
        g: Any = nnx.to_pure_dict(grads)
        local: Any = nnx.to_pure_dict(sown)
        for key in path:
            g, local = g[key], local[key]
        inputs = local["noisy_inputs"][0]
        shares["/".join(map(str, path))] = sown_path_shares(m, inputs, g["output"])
    return shares
