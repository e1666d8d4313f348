"""rectify_jax: rectifiers and noisy activation functions for JAX and Flax.

Pure functions with explicit PRNG keys::

    import jax
    import rectify_jax as rj

    y = rj.noisy_hard_tanh(x, jax.random.key(0))
"""

from rectify_jax import diagnostics as diagnostics
from rectify_jax import initializers as initializers
from rectify_jax import noise as noise
from rectify_jax import schedules as schedules
from rectify_jax._src.activations import elu as elu
from rectify_jax._src.activations import hard_sigmoid as hard_sigmoid
from rectify_jax._src.activations import hard_tanh as hard_tanh
from rectify_jax._src.activations import leaky_relu as leaky_relu
from rectify_jax._src.activations import prelu as prelu
from rectify_jax._src.activations import relu as relu
from rectify_jax._src.activations import sigmoid as sigmoid
from rectify_jax._src.activations import softplus as softplus
from rectify_jax._src.activations import tanh as tanh
from rectify_jax._src.activations import tlu as tlu
from rectify_jax._src.distributed import shard_key as shard_key
from rectify_jax._src.noise import NOISE_KINDS as NOISE_KINDS
from rectify_jax._src.noisy import input_noisy_hard_sigmoid as input_noisy_hard_sigmoid
from rectify_jax._src.noisy import input_noisy_hard_tanh as input_noisy_hard_tanh
from rectify_jax._src.noisy import (
    learned_input_noisy_hard_sigmoid as learned_input_noisy_hard_sigmoid,
)
from rectify_jax._src.noisy import (
    learned_input_noisy_hard_tanh as learned_input_noisy_hard_tanh,
)
from rectify_jax._src.noisy import noisy_hard_sigmoid as noisy_hard_sigmoid
from rectify_jax._src.noisy import noisy_hard_tanh as noisy_hard_tanh
from rectify_jax._src.noisy import (
    saturated_input_noisy_hard_sigmoid as saturated_input_noisy_hard_sigmoid,
)
from rectify_jax._src.noisy import (
    saturated_input_noisy_hard_tanh as saturated_input_noisy_hard_tanh,
)
from rectify_jax._src.stochastic import nrelu as nrelu
from rectify_jax._src.stochastic import rrelu as rrelu
from rectify_jax._src.units import HARD_SIGMOID_UNIT as HARD_SIGMOID_UNIT
from rectify_jax._src.units import HARD_TANH_UNIT as HARD_TANH_UNIT
from rectify_jax._src.units import NoisyUnit as NoisyUnit

__version__ = "0.1.0.dev0"

__all__ = [
    "HARD_SIGMOID_UNIT",
    "HARD_TANH_UNIT",
    "NOISE_KINDS",
    "NoisyUnit",
    "diagnostics",
    "elu",
    "hard_sigmoid",
    "hard_tanh",
    "initializers",
    "input_noisy_hard_sigmoid",
    "input_noisy_hard_tanh",
    "leaky_relu",
    "learned_input_noisy_hard_sigmoid",
    "learned_input_noisy_hard_tanh",
    "noisy_hard_sigmoid",
    "noise",
    "noisy_hard_tanh",
    "nrelu",
    "prelu",
    "relu",
    "rrelu",
    "saturated_input_noisy_hard_sigmoid",
    "saturated_input_noisy_hard_tanh",
    "schedules",
    "shard_key",
    "sigmoid",
    "softplus",
    "tanh",
    "tlu",
]
