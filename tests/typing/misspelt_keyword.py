"""Misspelt keywords that pyright must report (tests/test_modules.py checks that it does)."""

from flax import nnx

from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx

layer = rjl.NoisyHardTanh(determinstic=True)
cell = rjx.NoisyLSTMCell(3, hiden_features=4, rngs=nnx.Rngs(0))
