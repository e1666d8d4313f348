"""flax.linen modules and recurrent cells for rectify_jax.

Randomness follows ``flax.linen.Dropout``: stochastic modules draw from the
``"noise"`` PRNG stream (``rngs={'noise': key}`` in ``init``/``apply``) and take
``deterministic`` as an attribute or call argument. A missing stream is an error,
never a silent fallback to ``'params'``.

Annealing: each noisy module keeps its noise scale ``c`` in the ``"noise_scale"``
variable collection; :func:`set_noise_scale` writes a new value (e.g. from an optax
schedule) into the variables passed to ``apply``. The collection is not trained and,
being an argument of the jitted step, changing it does not recompile. Applied with
``{"params": params}`` alone, a module uses its attribute's value.
"""

from rectify_jax.linen._common import NOISE_SCALE as NOISE_SCALE
from rectify_jax.linen._common import set_noise_scale as set_noise_scale
from rectify_jax.linen._diagnostics import capture_preactivations as capture_preactivations
from rectify_jax.linen._diagnostics import noisy_path_shares as noisy_path_shares
from rectify_jax.linen.activations import TLU as TLU
from rectify_jax.linen.activations import InputNoisy as InputNoisy
from rectify_jax.linen.activations import LearnedInputNoisy as LearnedInputNoisy
from rectify_jax.linen.activations import NoisyActivation as NoisyActivation
from rectify_jax.linen.activations import NoisyHardSigmoid as NoisyHardSigmoid
from rectify_jax.linen.activations import NoisyHardTanh as NoisyHardTanh
from rectify_jax.linen.activations import NReLU as NReLU
from rectify_jax.linen.activations import PReLU as PReLU
from rectify_jax.linen.activations import RReLU as RReLU
from rectify_jax.linen.activations import SaturatedInputNoisy as SaturatedInputNoisy
from rectify_jax.linen.recurrent import RNN as RNN
from rectify_jax.linen.recurrent import IRNNCell as IRNNCell
from rectify_jax.linen.recurrent import NoisyGRUCell as NoisyGRUCell
from rectify_jax.linen.recurrent import NoisyLSTMCell as NoisyLSTMCell
from rectify_jax.linen.recurrent import rnn as rnn

__all__ = [
    "NOISE_SCALE",
    "RNN",
    "TLU",
    "IRNNCell",
    "InputNoisy",
    "LearnedInputNoisy",
    "NReLU",
    "NoisyActivation",
    "NoisyGRUCell",
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisyLSTMCell",
    "PReLU",
    "RReLU",
    "SaturatedInputNoisy",
    "capture_preactivations",
    "noisy_path_shares",
    "rnn",
    "set_noise_scale",
]
