"""Diagnostics from the rectifier literature: sparsity, dispersion, saturation, dead units,
mean shift, gradient flow (Maas et al. 2013; Glorot et al. 2011). Jit-able and accumulable
over batches.

Capture from Flax models with :func:`rectify_jax.linen.capture_preactivations` and
:func:`rectify_jax.nnx.capture_preactivations`; plots are in :mod:`rectify_jax.plotting`.
"""

from rectify_jax._src.diagnostics import ACTIVITIES as ACTIVITIES
from rectify_jax._src.diagnostics import Activity as Activity
from rectify_jax._src.diagnostics import CodeStats as CodeStats
from rectify_jax._src.diagnostics import CodeSummary as CodeSummary
from rectify_jax._src.diagnostics import GradientPaths as GradientPaths
from rectify_jax._src.diagnostics import activity as activity
from rectify_jax._src.diagnostics import code_statistics as code_statistics
from rectify_jax._src.diagnostics import grad_norms as grad_norms
from rectify_jax._src.diagnostics import hidden_grad_norms as hidden_grad_norms
from rectify_jax._src.diagnostics import init as init
from rectify_jax._src.diagnostics import noisy_gradient_paths as noisy_gradient_paths
from rectify_jax._src.diagnostics import path_shares as path_shares
from rectify_jax._src.diagnostics import summarize as summarize
from rectify_jax._src.diagnostics import update as update
from rectify_jax._src.diagnostics import update_tree as update_tree

__all__ = [
    "ACTIVITIES",
    "Activity",
    "CodeStats",
    "CodeSummary",
    "GradientPaths",
    "activity",
    "code_statistics",
    "grad_norms",
    "hidden_grad_norms",
    "init",
    "noisy_gradient_paths",
    "path_shares",
    "summarize",
    "update",
    "update_tree",
]
