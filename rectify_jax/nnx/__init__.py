"""flax.nnx modules and recurrent cells for rectify_jax.

Randomness follows ``nnx.Dropout``: stochastic modules take ``rngs`` in the
constructor (an ``nnx.Rngs`` whose ``"noise"`` stream is used, falling back to
``default``; an ``RngStream``; or a key) and optionally at call time, honour
``deterministic`` and follow ``model.eval()`` / ``model.train()``.

Annealing: each noisy module keeps its noise scale ``c`` in a :class:`NoiseScale`
variable; :func:`set_noise_scale` sets them all (inside ``nnx.jit``, without
recompiling). ``nnx.grad`` and ``nnx.Optimizer(..., wrt=nnx.Param)`` leave it alone.

Recurrent: :class:`NoisyLSTMCell` and :class:`NoisyGRUCell` are drop-ins for
``nnx.LSTMCell`` and ``nnx.GRUCell`` (same arguments, submodules and weights);
:class:`RNN` runs them over a sequence with every step's noise drawn in one call
(faster than ``nnx.RNN``, which also runs them, drawing inside the loop).
"""

from rectify_jax.nnx._common import NoiseScale as NoiseScale
from rectify_jax.nnx._common import set_noise_scale as set_noise_scale
from rectify_jax.nnx._diagnostics import capture_preactivations as capture_preactivations
from rectify_jax.nnx._diagnostics import cell_preactivations as cell_preactivations
from rectify_jax.nnx._diagnostics import noisy_path_shares as noisy_path_shares
from rectify_jax.nnx.activations import TLU as TLU
from rectify_jax.nnx.activations import InputNoisy as InputNoisy
from rectify_jax.nnx.activations import LearnedInputNoisy as LearnedInputNoisy
from rectify_jax.nnx.activations import NoisyActivation as NoisyActivation
from rectify_jax.nnx.activations import NoisyHardSigmoid as NoisyHardSigmoid
from rectify_jax.nnx.activations import NoisyHardTanh as NoisyHardTanh
from rectify_jax.nnx.activations import NReLU as NReLU
from rectify_jax.nnx.activations import PReLU as PReLU
from rectify_jax.nnx.activations import RReLU as RReLU
from rectify_jax.nnx.activations import SaturatedInputNoisy as SaturatedInputNoisy
from rectify_jax.nnx.recurrent import RNN as RNN
from rectify_jax.nnx.recurrent import IRNNCell as IRNNCell
from rectify_jax.nnx.recurrent import NoisyGRUCell as NoisyGRUCell
from rectify_jax.nnx.recurrent import NoisyLSTMCell as NoisyLSTMCell

__all__ = [
    "RNN",
    "TLU",
    "IRNNCell",
    "InputNoisy",
    "LearnedInputNoisy",
    "NReLU",
    "NoiseScale",
    "NoisyActivation",
    "NoisyGRUCell",
    "NoisyHardSigmoid",
    "NoisyHardTanh",
    "NoisyLSTMCell",
    "PReLU",
    "RReLU",
    "SaturatedInputNoisy",
    "capture_preactivations",
    "cell_preactivations",
    "noisy_path_shares",
    "set_noise_scale",
]
