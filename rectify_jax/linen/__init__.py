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
from rectify_jax.linen._modules import RNN as RNN
from rectify_jax.linen._modules import IRNNCell as IRNNCell
from rectify_jax.linen._modules import rnn as rnn
from rectify_jax.linen._modules import set_noise_scale as set_noise_scale

# One module per layer description: PReLU, TLU, RReLU, NReLU, NoisyActivation,
# NoisyHardTanh, NoisyHardSigmoid, InputNoisy, SaturatedInputNoisy, LearnedInputNoisy,
# NoisyLSTMCell, NoisyGRUCell.
globals().update(MODULES)

__all__ = [
    "MODULES",
    *MODULES,
    "IRNNCell",
    "NOISE_SCALE",
    "RNN",
    "capture_preactivations",
    "noisy_path_shares",
    "rnn",
    "set_noise_scale",
]
