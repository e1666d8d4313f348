"""Initialisers for the modules (``jax.nn.initializers`` convention)."""

from rectify_jax._src.initializers import blockwise as blockwise
from rectify_jax._src.initializers import identity as identity
from rectify_jax._src.initializers import in_float32 as in_float32
from rectify_jax._src.initializers import uniform_range as uniform_range

__all__ = ["blockwise", "identity", "in_float32", "uniform_range"]
