"""Capturing pre-activations from NNX models for rectify_jax.diagnostics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


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
