"""flax.linen modules and recurrent cells for rectify_jax.

Randomness follows ``flax.linen.Dropout``: stochastic modules draw from the
``"noise"`` PRNG stream (``rngs={'noise': key}`` in ``init``/``apply``) and take
``deterministic`` as an attribute or call argument. A missing stream is an error,
never a silent fallback to ``'params'``.

Annealing: each noisy module keeps its noise scale ``c`` in the ``"noise_scale"``
variable collection; :func:`set_noise_scale` writes a new value (e.g. from an optax
schedule) into the variables passed to ``apply``. The collection is not trained and,
being an argument of the jitted step, changing it does not recompile.
"""

from rectify_jax.linen._diagnostics import capture_preactivations as capture_preactivations
from rectify_jax.linen._diagnostics import noisy_path_shares as noisy_path_shares
from rectify_jax.linen._modules import MODULES as MODULES
from rectify_jax.linen._modules import NOISE_SCALE as NOISE_SCALE
from rectify_jax.linen._modules import TLU as TLU
from rectify_jax.linen._modules import InputNoisy as InputNoisy
from rectify_jax.linen._modules import IRNNCell as IRNNCell
from rectify_jax.linen._modules import LearnedInputNoisy as LearnedInputNoisy
from rectify_jax.linen._modules import NoisyActivation as NoisyActivation
from rectify_jax.linen._modules import NoisyGRUCell as NoisyGRUCell
from rectify_jax.linen._modules import NoisyHardSigmoid as NoisyHardSigmoid
from rectify_jax.linen._modules import NoisyHardTanh as NoisyHardTanh
from rectify_jax.linen._modules import NoisyLSTMCell as NoisyLSTMCell
from rectify_jax.linen._modules import NReLU as NReLU
from rectify_jax.linen._modules import PReLU as PReLU
from rectify_jax.linen._modules import RReLU as RReLU
from rectify_jax.linen._modules import SaturatedInputNoisy as SaturatedInputNoisy
from rectify_jax.linen._modules import rnn as rnn
from rectify_jax.linen._modules import set_noise_scale as set_noise_scale

__all__ = [
    "MODULES",
    "IRNNCell",
    "InputNoisy",
    "LearnedInputNoisy",
    "NOISE_SCALE",
    "NReLU",
    "NoisyActivation",
    "NoisyGRUCell",
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisyLSTMCell",
    "PReLU",
    "RReLU",
    "SaturatedInputNoisy",
    "TLU",
    "capture_preactivations",
    "noisy_path_shares",
    "rnn",
    "set_noise_scale",
]
