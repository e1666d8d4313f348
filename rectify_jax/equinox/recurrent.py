"""Recurrent cells and their RNN for Equinox: noisy LSTM and GRU cells holding
``eqx.nn.LSTMCell``'s and ``eqx.nn.GRUCell``'s arrays, the IRNN cell, and :class:`RNN`.

The noisy cells keep Equinox's layout (``weight_ih`` ``(G*H, I)``, ``weight_hh``
``(G*H, H)``, ``bias`` ``(G*H,)``, the GRU's ``bias_n`` ``(H,)``; gates i, f, g, o and r,
z, n), so the arrays of a trained ``eqx.nn.LSTMCell`` / ``GRUCell`` copy in with
``eqx.tree_at`` and ``gates="soft"`` computes that cell. They step as the flax cells do,
``(carry, x) -> (carry, y)``, on inputs with any batch dimensions. Each call fuses the
arrays into the layout of the pure step of ``rectify_jax._src.cells`` (one product
``[x, h] @ [W_ih^T; W_hh^T]``); :class:`RNN` fuses them once per sequence and draws the
noise of all steps in one call before the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from rectify_jax._src import activations, arguments, cells, sequence
from rectify_jax._src import validation as v
from rectify_jax._src.initializers import blockwise, identity, in_float32, uniform_range
from rectify_jax._src.units import (
    HARD_SIGMOID_ALPHA,
    HARD_SIGMOID_C,
    HARD_TANH_ALPHA,
    HARD_TANH_C,
)
from rectify_jax.equinox._common import (
    check_size,
    ignored_noise_arguments,
    init_key,
    is_inference,
    noise_key,
)

Noise = Literal["half_normal", "normal"]
Residual = Literal["noise", "key"]
Generator = Literal["jax", "fast"]
Gates = Literal["noisy", "hard", "soft"]
Initializer = Callable[..., jax.Array]


def _init(init: Initializer, blocks: int, key, shape, dtype) -> jax.Array:
    """``init`` per gate block of ``shape`` (``(n, blocks * H)``, flax's kernel layout), in
    float32 for 16-bit dtypes (``orthogonal`` has no 16-bit QR on CPU)."""
    init = blockwise(init, blocks) if blocks > 1 else init
    return in_float32(init)(key, shape, dtype)


def _noise_config(cell: NoisyLSTMCell | NoisyGRUCell) -> cells.NoiseConfig:
    return cells.NoiseConfig(
        cell.noise, cell.gate_alpha, cell.tanh_alpha, cell.residual, cell.generator, cell.gates
    )


def _noise_inputs(
    cell: NoisyLSTMCell | NoisyGRUCell, inference: bool | None, key, owner: str | None = None
) -> tuple[bool, jax.Array | None]:
    """``(deterministic, key)`` for a call (``owner``'s: the cell's by default): no key is
    needed without noise."""
    owner = cell.__class__.__name__ if owner is None else owner
    det = is_inference(owner, cell.inference, inference)
    if det or cell.gates != "noisy":
        return det, None
    return det, noise_key(owner, key)


def _scales(cell: NoisyLSTMCell | NoisyGRUCell) -> tuple[jax.Array | None, jax.Array | None]:
    """``gate_c`` and ``tanh_c`` as the step reads them: annealed, never trained."""
    if cell.gate_c is None or cell.tanh_c is None:  # hard or soft gates
        return None, None
    return jax.lax.stop_gradient(cell.gate_c), jax.lax.stop_gradient(cell.tanh_c)


class NoisyLSTMCell(eqx.Module):
    r"""LSTM cell whose gates are noisy hard sigmoids and whose tanh units are noisy.

    .. math::
      i, f, o = \tilde\sigma(W_{i\cdot} x + W_{h\cdot} h + b_\cdot), \quad
      g = \tilde t(W_{ig} x + W_{hg} h + b_g), \quad
      c' = f c + i g, \quad h' = o\,\tilde t(c')

    as in the LSTM experiments of Gulcehre et al. (2016): :math:`\tilde\sigma` is
    :func:`rectify_jax.noisy_hard_sigmoid` (``alpha=gate_alpha``, ``c=gate_c``) and
    :math:`\tilde t` is :func:`rectify_jax.noisy_hard_tanh` (``tanh_alpha``, ``tanh_c``),
    each of the five units with its own learned noise slope, the rows of ``p``. The
    noise scales ``gate_c`` and ``tanh_c`` are array fields, annealed with
    :func:`set_noise_scale` (no recompilation) and never trained: the call applies
    ``jax.lax.stop_gradient`` to them. Run the cell over a sequence with :class:`RNN`,
    which gives every step fresh noise.

    **Equinox's arrays, flax's step.** ``weight_ih``, ``weight_hh`` and ``bias`` have
    the shapes and gate order (i, f, g, o) of ``eqx.nn.LSTMCell``: copy a trained one's
    in with ``eqx.tree_at``, and ``gates="soft"`` (sigmoid, tanh) computes exactly its
    state; ``gates="hard"`` runs hard sigmoid / hard tanh (the controls of a comparison;
    neither has ``p``). Unlike ``eqx.nn.LSTMCell(input, (h, c)) -> (h, c)``, a step is
    ``cell((c, h), x) -> ((c, h), h)``, the convention of ``flax.linen.LSTMCell`` (the
    carry is ``(c, h)``; the output ``h`` is returned beside it), inputs may have batch
    dimensions ``(*batch, input_size)``, ``dtype`` is the computation dtype (as in flax;
    ``param_dtype`` is the arrays') and the initialisation is flax's (below), not
    Equinox's uniform :math:`\pm 1/\sqrt{H}`.

    **Initialisation.** Each gate's block is initialised on its own
    (:func:`rectify_jax.initializers.blockwise` on the transposed shape, as flax's
    ``LSTMCell`` creates one ``Dense`` per gate): ``kernel_init`` (LeCun normal) for
    ``weight_ih``, ``recurrent_kernel_init`` (orthogonal: every gate's block is
    orthogonal) for ``weight_hh``, ``bias_init`` (zeros), ``p_init`` (U[-1, 1]); 16-bit
    ``param_dtype`` arrays are drawn in float32 and rounded once.

    Attributes:
      weight_ih: the input weights, ``(4 * hidden_size, input_size)``, gates i, f, g, o.
      weight_hh: the recurrent weights, ``(4 * hidden_size, hidden_size)``.
      bias: the biases, ``(4 * hidden_size,)``.
      p: the noise slopes of the noisy units, ``(5, hidden_size)`` (rows i, f, g, o and
        the cell output), or None unless ``gates="noisy"``.
      gate_c: the gates' noise scale (0.15), a scalar array, or None unless noisy.
      tanh_c: the tanh units' noise scale (0.5), a scalar array, or None unless noisy.
      input_size, hidden_size: the sizes (static, as the other options).
      noise: ``"half_normal"`` (NAH) or ``"normal"`` (NAN).
      gate_alpha, tanh_alpha: the mixing factors of the gates (1.1) and tanh units (1.15).
      residual: ``"noise"`` or ``"key"``: what the backward pass keeps.
      generator: ``"jax"`` (``jax.random``'s numbers) or ``"fast"`` (counter-based).
      gates: ``"noisy"``, or ``"hard"`` / ``"soft"`` for controls.
      dtype: the computation dtype; None promotes the inputs and the arrays, as flax.
      inference: if True, the noise is replaced by its mean (``eqx.nn.inference_mode``).

    Examples:
      >>> import equinox as eqx
      >>> from rectify_jax import equinox as rje
      >>> cell = rje.NoisyLSTMCell(3, 4, key=jax.random.key(0))
      >>> x = jnp.ones((2, 3))  # (batch, input_size)
      >>> (c, h), y = cell(cell.initialize_carry(x.shape), x, key=jax.random.key(1))
      >>> y.shape, cell.weight_ih.shape, cell.p.shape
      ((2, 4), (16, 3), (5, 4))

      An ``eqx.nn.LSTMCell``'s arrays with soft gates give its state:

      >>> ecell = eqx.nn.LSTMCell(3, 4, key=jax.random.key(2))
      >>> soft = rje.NoisyLSTMCell(3, 4, gates="soft", key=jax.random.key(0))
      >>> soft = eqx.tree_at(lambda m: (m.weight_ih, m.weight_hh, m.bias), soft,
      ...                    (ecell.weight_ih, ecell.weight_hh, ecell.bias))
      >>> (c, h), _ = soft((jnp.zeros(4), jnp.zeros(4)), jnp.ones(3))
      >>> h_eqx, c_eqx = ecell(jnp.ones(3), (jnp.zeros(4), jnp.zeros(4)))
      >>> bool(jnp.allclose(h, h_eqx, atol=1e-6) & jnp.allclose(c, c_eqx, atol=1e-6))
      True
    """

    noise_scales: ClassVar[tuple[str, ...]] = ("gate_c", "tanh_c")
    kind: ClassVar[str] = "lstm"

    weight_ih: jax.Array
    weight_hh: jax.Array
    bias: jax.Array
    p: jax.Array | None
    gate_c: jax.Array | None
    tanh_c: jax.Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    noise: Noise = eqx.field(static=True)
    gate_alpha: float = eqx.field(static=True)
    tanh_alpha: float = eqx.field(static=True)
    residual: Residual = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    gates: Gates = eqx.field(static=True)
    dtype: DTypeLike | None = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        noise: Noise = "half_normal",
        gate_alpha: float = HARD_SIGMOID_ALPHA,
        tanh_alpha: float = HARD_TANH_ALPHA,
        gate_c: float = HARD_SIGMOID_C,
        tanh_c: float = HARD_TANH_C,
        residual: Residual = "noise",
        generator: Generator = "jax",
        gates: Gates = "noisy",
        kernel_init: Initializer = jax.nn.initializers.lecun_normal(),
        recurrent_kernel_init: Initializer = jax.nn.initializers.orthogonal(),
        bias_init: Initializer = jax.nn.initializers.zeros,
        p_init: Initializer = uniform_range(-1.0, 1.0),
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        inference: bool = False,
        key: jax.Array,
    ):
        owner = "NoisyLSTMCell"
        arguments.check_known(owner, locals())  # the arguments, by name
        n_in = check_size(owner, "input_size", input_size)
        hidden = check_size(owner, "hidden_size", hidden_size)
        k_ih, k_hh, k_b, k_p = jax.random.split(init_key(owner, key), 4)
        self.weight_ih = _init(kernel_init, 4, k_ih, (n_in, 4 * hidden), param_dtype).T
        self.weight_hh = _init(recurrent_kernel_init, 4, k_hh, (hidden, 4 * hidden), param_dtype).T
        self.bias = _init(bias_init, 1, k_b, (4 * hidden,), param_dtype)
        noisy = gates == "noisy"
        self.p = p_init(k_p, (len(cells.LSTM_P), hidden), param_dtype) if noisy else None
        self.gate_c = jnp.asarray(gate_c, param_dtype) if noisy else None
        self.tanh_c = jnp.asarray(tanh_c, param_dtype) if noisy else None
        self.input_size, self.hidden_size = n_in, hidden
        self.noise, self.gate_alpha, self.tanh_alpha = noise, gate_alpha, tanh_alpha
        self.residual, self.generator, self.gates = residual, generator, gates
        self.dtype = dtype
        self.inference = bool(inference)

    def noise_config(self) -> cells.NoiseConfig:
        """The static options of the cell's noisy units."""
        return _noise_config(self)

    def step_noise(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: DTypeLike):
        """The noise one step draws from ``key`` (:class:`RNN` draws a sequence's at once)."""
        config = _noise_config(self)
        return cells.step_noise(config, key, batch_shape, self.hidden_size, self.kind, dtype)

    def fused_weights(self) -> dict:
        """The arrays in the layout of :func:`rectify_jax._src.cells.noisy_lstm_step`:
        ``kernel = [W_ih^T; W_hh^T]`` ``(I + H, 4H)`` (``[x, h] @ kernel`` is Equinox's
        ``W_ih x + W_hh h``), ``bias`` and ``p``."""
        kernel = jnp.concatenate([self.weight_ih.T, self.weight_hh.T], axis=0)
        return {"kernel": kernel, "bias": self.bias, "p": self.p}

    def step(self, weights: dict, carry, x: jax.Array, key, deterministic: bool, noise=None):
        """One step of the pure cell on :meth:`fused_weights` (what :class:`RNN` scans)."""
        gate_c, tanh_c = _scales(self)
        out = cells.noisy_lstm_step(
            weights,
            carry,
            x,
            key,
            gate_c=gate_c,
            tanh_c=tanh_c,
            config=_noise_config(self),
            deterministic=deterministic,
            dtype=self.dtype,
            noise=noise,
        )
        return out[0], out[1]

    def __call__(
        self,
        carry: tuple[jax.Array, jax.Array],
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """One step ``((c, h), x) -> ((c', h'), h')``, noise from ``key``; ``inference``
        overrides the field."""
        det, key = _noise_inputs(self, inference, key)
        x = v.float_input("NoisyLSTMCell", x)
        return self.step(self.fused_weights(), carry, x, key, det)

    def initialize_carry(self, input_shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
        """``(c, h)``: zeros ``(*input_shape[:-1], hidden_size)`` of ``dtype`` (if set),
        else of the arrays' dtype."""
        shape = (*input_shape[:-1], self.hidden_size)
        dtype = self.weight_hh.dtype if self.dtype is None else self.dtype
        return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)


class NoisyGRUCell(eqx.Module):
    r"""GRU cell whose gates are noisy hard sigmoids and whose candidate is a noisy hard tanh.

    .. math::
      r, z = \tilde\sigma(W_{i\cdot} x + b_\cdot + W_{h\cdot} h), \quad
      n = \tilde t(W_{in} x + b_n + r\,(W_{hn} h + b_{hn})), \quad
      h' = (1 - z)\,n + z\,h

    with the noisy units of :class:`NoisyLSTMCell` (Gulcehre et al. 2016) and three rows
    of ``p`` (r, z, n). The arrays are ``eqx.nn.GRUCell``'s: ``weight_ih``
    ``(3H, I)``, ``weight_hh`` ``(3H, H)``, ``bias`` ``(3H,)`` (added to the input
    side) and ``bias_n`` ``(H,)`` (:math:`b_{hn}`, inside the reset product), so
    ``gates="soft"`` with a trained ``eqx.nn.GRUCell``'s arrays computes its state
    (its update :math:`n + z(h - n)` is :math:`(1 - z)n + zh`). A step is
    ``cell(h, x) -> (h', h')`` (flax's convention; Equinox's is ``cell(x, h) -> h'``),
    with batch dimensions allowed. Options, initialisation (per gate block; ``bias_n``
    from ``bias_init``), the noise scales and the differences from Equinox's cell are
    those of :class:`NoisyLSTMCell`.

    Attributes:
      weight_ih: the input weights, ``(3 * hidden_size, input_size)``, gates r, z, n.
      weight_hh: the recurrent weights, ``(3 * hidden_size, hidden_size)``.
      bias: the input-side biases, ``(3 * hidden_size,)``.
      bias_n: the bias of the recurrent candidate term, ``(hidden_size,)``.
      p: the noise slopes, ``(3, hidden_size)`` (rows r, z, n), or None unless noisy.
      gate_c, tanh_c: the noise scales (0.15, 0.5), scalar arrays, or None unless noisy.
      input_size, hidden_size, noise, gate_alpha, tanh_alpha, residual, generator, gates,
        dtype, inference: as for :class:`NoisyLSTMCell`.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> cell = rje.NoisyGRUCell(3, 4, inference=True, key=jax.random.key(0))
      >>> x = jnp.ones((2, 3))
      >>> h, y = cell(cell.initialize_carry(x.shape), x)
      >>> y.shape, cell.weight_hh.shape, cell.bias_n.shape
      ((2, 4), (12, 4), (4,))
    """

    noise_scales: ClassVar[tuple[str, ...]] = ("gate_c", "tanh_c")
    kind: ClassVar[str] = "gru"

    weight_ih: jax.Array
    weight_hh: jax.Array
    bias: jax.Array
    bias_n: jax.Array
    p: jax.Array | None
    gate_c: jax.Array | None
    tanh_c: jax.Array | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    noise: Noise = eqx.field(static=True)
    gate_alpha: float = eqx.field(static=True)
    tanh_alpha: float = eqx.field(static=True)
    residual: Residual = eqx.field(static=True)
    generator: Generator = eqx.field(static=True)
    gates: Gates = eqx.field(static=True)
    dtype: DTypeLike | None = eqx.field(static=True)
    inference: bool

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        noise: Noise = "half_normal",
        gate_alpha: float = HARD_SIGMOID_ALPHA,
        tanh_alpha: float = HARD_TANH_ALPHA,
        gate_c: float = HARD_SIGMOID_C,
        tanh_c: float = HARD_TANH_C,
        residual: Residual = "noise",
        generator: Generator = "jax",
        gates: Gates = "noisy",
        kernel_init: Initializer = jax.nn.initializers.lecun_normal(),
        recurrent_kernel_init: Initializer = jax.nn.initializers.orthogonal(),
        bias_init: Initializer = jax.nn.initializers.zeros,
        p_init: Initializer = uniform_range(-1.0, 1.0),
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        inference: bool = False,
        key: jax.Array,
    ):
        owner = "NoisyGRUCell"
        arguments.check_known(owner, locals())  # the arguments, by name
        n_in = check_size(owner, "input_size", input_size)
        hidden = check_size(owner, "hidden_size", hidden_size)
        k_ih, k_hh, k_b, k_bn, k_p = jax.random.split(init_key(owner, key), 5)
        self.weight_ih = _init(kernel_init, 3, k_ih, (n_in, 3 * hidden), param_dtype).T
        self.weight_hh = _init(recurrent_kernel_init, 3, k_hh, (hidden, 3 * hidden), param_dtype).T
        self.bias = _init(bias_init, 1, k_b, (3 * hidden,), param_dtype)
        self.bias_n = _init(bias_init, 1, k_bn, (hidden,), param_dtype)
        noisy = gates == "noisy"
        self.p = p_init(k_p, (len(cells.GRU_P), hidden), param_dtype) if noisy else None
        self.gate_c = jnp.asarray(gate_c, param_dtype) if noisy else None
        self.tanh_c = jnp.asarray(tanh_c, param_dtype) if noisy else None
        self.input_size, self.hidden_size = n_in, hidden
        self.noise, self.gate_alpha, self.tanh_alpha = noise, gate_alpha, tanh_alpha
        self.residual, self.generator, self.gates = residual, generator, gates
        self.dtype = dtype
        self.inference = bool(inference)

    def noise_config(self) -> cells.NoiseConfig:
        """The static options of the cell's noisy units."""
        return _noise_config(self)

    def step_noise(self, key: jax.Array, batch_shape: tuple[int, ...], dtype: DTypeLike):
        """The noise one step draws from ``key`` (:class:`RNN` draws a sequence's at once)."""
        config = _noise_config(self)
        return cells.step_noise(config, key, batch_shape, self.hidden_size, self.kind, dtype)

    def fused_weights(self) -> dict:
        """The arrays in the layout of :func:`rectify_jax._src.cells.noisy_gru_step`."""
        return {
            "input_kernel": self.weight_ih.T,
            "bias": self.bias,
            "recurrent_kernel": self.weight_hh.T,
            "recurrent_bias": self.bias_n,
            "p": self.p,
        }

    def step(self, weights: dict, carry, x: jax.Array, key, deterministic: bool, noise=None):
        """One step of the pure cell on :meth:`fused_weights` (what :class:`RNN` scans)."""
        gate_c, tanh_c = _scales(self)
        out = cells.noisy_gru_step(
            weights,
            carry,
            x,
            key,
            gate_c=gate_c,
            tanh_c=tanh_c,
            config=_noise_config(self),
            deterministic=deterministic,
            dtype=self.dtype,
            noise=noise,
        )
        return out[0], out[1]

    def __call__(
        self,
        carry: jax.Array,
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """One step ``(h, x) -> (h', h')``, noise from ``key``; ``inference`` overrides
        the field."""
        det, key = _noise_inputs(self, inference, key)
        x = v.float_input("NoisyGRUCell", x)
        return self.step(self.fused_weights(), carry, x, key, det)

    def initialize_carry(self, input_shape: tuple[int, ...]) -> jax.Array:
        """``h``: zeros ``(*input_shape[:-1], hidden_size)`` of ``dtype`` (if set), else
        of the arrays' dtype."""
        dtype = self.weight_hh.dtype if self.dtype is None else self.dtype
        return jnp.zeros((*input_shape[:-1], self.hidden_size), dtype)


class IRNNCell(eqx.Module):
    r"""IRNN cell: a ReLU RNN whose recurrent weights start at :math:`sI` and bias at 0.

    .. math::
      h' = \mathrm{relu}(W_{ih}\,x + W_{hh}\,h + b), \qquad
      W_{hh} \leftarrow s\,I, \quad b \leftarrow 0 \text{ at initialisation}

    A ReLU RNN with identity recurrent initialisation (Le, Jaitly & Hinton 2015,
    arXiv:1504.00941): at the start the state is copied forward unchanged, so gradients
    neither vanish nor explode over long spans. The arrays have Equinox's layout
    (``weight_ih`` ``(H, I)``, ``weight_hh`` ``(H, H)``, ``bias`` ``(H,)``;
    ``weight_ih`` LeCun normal); a step is ``cell(h, x) -> (h', h')`` with batch
    dimensions allowed, as the noisy cells, and :class:`RNN` runs it over a sequence.
    It draws no noise: ``key`` and ``inference`` are checked and ignored.

    Attributes:
      weight_ih: the input weights, ``(hidden_size, input_size)``.
      weight_hh: the recurrent weights, ``(hidden_size, hidden_size)``, ``scale * I``
        at initialisation.
      bias: the bias, ``(hidden_size,)``, zeros at initialisation.
      input_size, hidden_size: the sizes (static).
      dtype: the computation dtype; None promotes the inputs and the arrays (static).

    Args (constructor): ``input_size``, ``hidden_size``, ``scale`` (multiplies the
    identity; the paper uses 1, smaller values damp the state), ``kernel_init`` (of
    ``weight_ih``, LeCun normal), ``recurrent_kernel_init`` (None: ``scale * I``),
    ``bias_init`` (zeros), ``dtype``, ``param_dtype`` and the keyword-only ``key``.

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> cell = rje.IRNNCell(2, 3, scale=0.5, key=jax.random.key(0))
      >>> cell.weight_hh
      Array([[0.5, 0. , 0. ],
             [0. , 0.5, 0. ],
             [0. , 0. , 0.5]], dtype=float32)
      >>> h, y = cell(jnp.ones(3), jnp.zeros(2))  # no input: the state, scaled
      >>> y
      Array([0.5, 0.5, 0.5], dtype=float32)
    """

    weight_ih: jax.Array
    weight_hh: jax.Array
    bias: jax.Array
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    dtype: DTypeLike | None = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        scale: float = 1.0,
        kernel_init: Initializer = jax.nn.initializers.lecun_normal(),
        recurrent_kernel_init: Initializer | None = None,
        bias_init: Initializer = jax.nn.initializers.zeros,
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        key: jax.Array,
    ):
        arguments.check(
            "IRNNCell",
            scale=scale,
            kernel_init=kernel_init,
            bias_init=bias_init,
            dtype=dtype,
            param_dtype=param_dtype,
        )
        if recurrent_kernel_init is not None:  # None: the scaled identity
            v.initializer("IRNNCell", "recurrent_kernel_init", recurrent_kernel_init)
        n_in = check_size("IRNNCell", "input_size", input_size)
        hidden = check_size("IRNNCell", "hidden_size", hidden_size)
        recurrent = identity(scale) if recurrent_kernel_init is None else recurrent_kernel_init
        k_ih, k_hh, k_b = jax.random.split(init_key("IRNNCell", key), 3)
        self.weight_ih = _init(kernel_init, 1, k_ih, (n_in, hidden), param_dtype).T
        self.weight_hh = _init(recurrent, 1, k_hh, (hidden, hidden), param_dtype).T
        self.bias = _init(bias_init, 1, k_b, (hidden,), param_dtype)
        self.input_size, self.hidden_size = n_in, hidden
        self.dtype = dtype

    def fused_weights(self) -> dict:
        """The arrays as the step reads them (kernels transposed: ``x @ W_ih^T``)."""
        return {
            "input_kernel": self.weight_ih.T,
            "recurrent_kernel": self.weight_hh.T,
            "bias": self.bias,
        }

    def step(self, weights: dict, carry, x: jax.Array, key=None, deterministic=True, noise=None):
        """One step on :meth:`fused_weights` (what :class:`RNN` scans); ``key``,
        ``deterministic`` and ``noise`` are ignored: the cell draws no noise."""
        cdt = cells.compute_dtype(self.dtype, x, weights)
        w = {name: a.astype(cdt) for name, a in weights.items()}
        z = x.astype(cdt) @ w["input_kernel"] + carry.astype(cdt) @ w["recurrent_kernel"]
        h = activations.relu(z + w["bias"])
        return h, h

    def __call__(
        self,
        carry: jax.Array,
        x: ArrayLike,
        *,
        key: jax.Array | None = None,
        inference: bool | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """One step ``(h, x) -> (h', h')``; ``key`` and ``inference`` are checked and ignored."""
        ignored_noise_arguments("IRNNCell", key, inference)
        return self.step(self.fused_weights(), carry, v.float_input("IRNNCell", x))

    def initialize_carry(self, input_shape: tuple[int, ...]) -> jax.Array:
        """``h``: zeros ``(*input_shape[:-1], hidden_size)`` of ``dtype`` (if set), else
        of the arrays' dtype."""
        dtype = self.weight_hh.dtype if self.dtype is None else self.dtype
        return jnp.zeros((*input_shape[:-1], self.hidden_size), dtype)


Cell = NoisyLSTMCell | NoisyGRUCell | IRNNCell


class RNN(eqx.Module):
    r"""A cell of this library over a sequence, with every step's noise drawn in one call.

    .. math::
      (\mathrm{carry}_{t+1}, y_t) = \mathrm{cell}(\mathrm{carry}_t, x_t;\
      \mathrm{key}_t), \qquad \mathrm{key}_t = \mathrm{split}(\mathrm{key}, T)[t]

    for :class:`NoisyLSTMCell`, :class:`NoisyGRUCell` and :class:`IRNNCell`, with the
    options of ``flax.linen.RNN``: a ``jax.lax.scan`` of the cell's pure step, the arrays
    fused once outside the loop. Step ``t`` gets the key ``split(key, T)[t]`` of the
    call's keyword-only ``key``, and with ``residual="noise"`` (the cells' default) the
    noise of all ``T`` steps is drawn from those keys in one vectorised call before the
    scan, so each step only reads its noise (on a CPU much faster than drawing inside the
    loop; the memory is what the backward pass keeps anyway). With the cell's
    ``residual="key"`` each step draws its own noise from its key (forward, and again
    backward), and no noise array of the sequence's size is kept. Both give the numbers
    of a loop of the cell with those keys. Without noise (test time, hard or soft gates,
    the IRNN) no key is needed. ``inference`` (the cell's field, ``eqx.nn.inference_mode``,
    or at call time) gives the test-time function.

    The carry starts at zeros of the step's computation dtype, or at ``initial_carry``;
    ``seq_lengths`` (``(*batch)`` integers) marks the steps past each sequence's length
    as padding: the carry returned is the one after the sequence's last step, and a
    reversed sequence keeps its padding at the end.

    Attributes:
      cell: a :class:`NoisyLSTMCell`, :class:`NoisyGRUCell` or :class:`IRNNCell`.
      time_major: inputs ``(time, *batch, features)`` instead of ``(*batch, time, features)``.
      return_carry: return ``(carry, outputs)`` instead of the outputs.
      reverse: run from the last step to the first (outputs in that order).
      keep_order: with ``reverse``, return the outputs in the inputs' order.
      unroll: steps unrolled per loop iteration (``jax.lax.scan``'s ``unroll``).

    Examples:
      >>> from rectify_jax import equinox as rje
      >>> model = rje.RNN(rje.NoisyLSTMCell(3, 8, key=jax.random.key(0)))
      >>> model(jnp.ones((2, 5, 3)), key=jax.random.key(1)).shape  # (batch, time, features)
      (2, 5, 8)
      >>> carry, ys = rje.RNN(rje.IRNNCell(3, 8, key=jax.random.key(0)), return_carry=True)(
      ...     jnp.ones((5, 3)), seq_lengths=jnp.array(4))
      >>> bool(jnp.all(carry == ys[3]))  # the carry after the last valid step
      True
    """

    cell: Cell
    time_major: bool = eqx.field(static=True)
    return_carry: bool = eqx.field(static=True)
    reverse: bool = eqx.field(static=True)
    keep_order: bool = eqx.field(static=True)
    unroll: int = eqx.field(static=True)

    def __init__(
        self,
        cell: Cell,
        *,
        time_major: bool = False,
        return_carry: bool = False,
        reverse: bool = False,
        keep_order: bool = False,
        unroll: int = 1,
    ):
        if not isinstance(cell, (NoisyLSTMCell, NoisyGRUCell, IRNNCell)):
            raise TypeError(
                "RNN: cell must be a rectify_jax cell (NoisyLSTMCell, NoisyGRUCell, IRNNCell), "
                f"got {type(cell).__name__}; scan other cells with jax.lax.scan"
            )
        arguments.check_known("RNN", locals())
        self.cell = cell
        self.time_major, self.return_carry = bool(time_major), bool(return_carry)
        self.reverse, self.keep_order = bool(reverse), bool(keep_order)
        self.unroll = int(unroll)

    def __call__(
        self,
        inputs: ArrayLike,
        *,
        key: jax.Array | None = None,
        initial_carry: Any = None,
        seq_lengths: ArrayLike | None = None,
        inference: bool | None = None,
    ) -> Any:
        """Runs the cell over ``inputs``; ``key`` and ``inference`` as for the cell.

        Returns the outputs laid out as ``inputs`` (``hidden_size`` features), or
        ``(carry, outputs)`` with ``return_carry``.
        """
        cell = self.cell
        inputs = v.float_input("RNN", inputs, "inputs")
        if isinstance(cell, IRNNCell):
            det, key = ignored_noise_arguments("RNN", key, inference)  # no noise
        else:
            det, key = _noise_inputs(cell, inference, key, "RNN")
        weights = cell.fused_weights()  # once, outside the loop

        def run(xs, keep_carries):
            batch = xs.shape[1:-1]
            cdt = cells.compute_dtype(cell.dtype, xs, weights)
            if initial_carry is None:
                carry = cell.initialize_carry(xs.shape[1:])
            else:
                carry = initial_carry
            carry = jax.tree.map(lambda a: jnp.asarray(a).astype(cdt), carry)
            per_step = {}
            if key is not None and not isinstance(cell, IRNNCell):
                noisy = cell
                per_step = sequence.step_inputs(
                    lambda k: noisy.step_noise(k, batch, xs.dtype), key, xs.shape[0], noisy.residual
                )

            def step(carry, x, step_key, noise):
                return cell.step(weights, carry, x, step_key, det, noise)

            return sequence.scan(
                step, carry, xs, per_step, unroll=self.unroll, keep_carries=keep_carries
            )

        return sequence.over_time(
            run,
            inputs,
            time_major=self.time_major,
            return_carry=self.return_carry,
            reverse=self.reverse,
            keep_order=self.keep_order,
            seq_lengths=seq_lengths,
        )
