"""flax.nnx modules and recurrent cells for rectify_jax.

Randomness follows ``nnx.Dropout``: stochastic modules take ``rngs`` in the
constructor (an ``nnx.Rngs`` whose ``"noise"`` stream is used, falling back to
``default``; an ``RngStream``; or a key) and optionally at call time, honour
``deterministic`` and follow ``model.eval()`` / ``model.train()``.

Annealing: each noisy module keeps its noise scale ``c`` in a :class:`NoiseScale`
variable; :func:`set_noise_scale` sets them all (inside ``nnx.jit``, without
recompiling). ``nnx.grad`` and ``nnx.Optimizer(..., wrt=nnx.Param)`` leave it alone.

Sequences: :class:`RNN` runs a noisy cell over a sequence with every step's noise
drawn in one call (faster than ``nnx.RNN``, which draws inside the loop).
"""

from rectify_jax.nnx._diagnostics import capture_preactivations as capture_preactivations
from rectify_jax.nnx._diagnostics import cell_preactivations as cell_preactivations
from rectify_jax.nnx._diagnostics import noisy_path_shares as noisy_path_shares
from rectify_jax.nnx._modules import MODULES as MODULES
from rectify_jax.nnx._modules import RNN as RNN
from rectify_jax.nnx._modules import IRNNCell as IRNNCell
from rectify_jax.nnx._modules import NoiseScale as NoiseScale
from rectify_jax.nnx._modules import set_noise_scale as set_noise_scale

# One module per layer description: PReLU, TLU, RReLU, NReLU, NoisyActivation,
# NoisyHardTanh, NoisyHardSigmoid, InputNoisy, SaturatedInputNoisy, LearnedInputNoisy,
# NoisyLSTMCell, NoisyGRUCell.
globals().update(MODULES)

__all__ = [
    "MODULES",
    *MODULES,
    "IRNNCell",
    "NoiseScale",
    "RNN",
    "capture_preactivations",
    "cell_preactivations",
    "noisy_path_shares",
    "set_noise_scale",
]
