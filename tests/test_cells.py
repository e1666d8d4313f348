"""Recurrent cells in linen and NNX: same math, fresh noise per step, training, checkpoints."""

import functools

import equinox as eqx
import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import rectify_jax as rj
from rectify_jax import equinox as rje
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx
from rectify_jax._src import cells, sequence

B, T, IN, H = 3, 6, 4, 5
XS = 2.0 * jax.random.normal(jax.random.key(42), (B, T, IN))

CELLS = {
    "lstm": (rjl.NoisyLSTMCell, rjx.NoisyLSTMCell),
    "gru": (rjl.NoisyGRUCell, rjx.NoisyGRUCell),
}


def linen_to_nnx(kind, params, xcell):
    """Copies a linen noisy cell's parameters (flax.linen's layout) into an NNX noisy cell
    (flax.nnx's layout: ``if_``; the GRU's fused ``dense_i`` / ``dense_h``, no ``hn`` bias)."""
    if kind == "lstm":
        for name in cells.LSTM_INPUT + cells.LSTM_RECURRENT:
            dense = getattr(xcell, "if_" if name == "if" else name)
            dense.kernel[...] = params[name]["kernel"]
            if "bias" in params[name]:
                dense.bias[...] = params[name]["bias"]
    else:
        cat = functools.partial(jnp.concatenate, axis=-1)
        xcell.dense_i.kernel[...] = cat([params[n]["kernel"] for n in cells.GRU_INPUT])
        xcell.dense_i.bias[...] = cat([params[n]["bias"] for n in cells.GRU_INPUT])
        xcell.dense_h.kernel[...] = cat([params[n]["kernel"] for n in cells.GRU_RECURRENT])
        assert not np.any(params["hn"]["bias"])  # nnx.GRUCell has none: equal only at zero
    if "p" in params:
        xcell.p[...] = params["p"]
    return xcell


def linen_to_eqx(kind, params, ecell):
    """A copy of an Equinox noisy cell holding a linen cell's parameters (Equinox's layout:
    ``weight_ih`` (gates x in), ``weight_hh``, ``bias``; the GRU's ``bias_n``)."""
    cat = functools.partial(jnp.concatenate, axis=-1)
    if kind == "lstm":
        arrays = {
            "weight_ih": cat([params[n]["kernel"] for n in cells.LSTM_INPUT]).T,
            "weight_hh": cat([params[n]["kernel"] for n in cells.LSTM_RECURRENT]).T,
            "bias": cat([params[n]["bias"] for n in cells.LSTM_RECURRENT]),
        }
    else:
        arrays = {
            "weight_ih": cat([params[n]["kernel"] for n in cells.GRU_INPUT]).T,
            "weight_hh": cat([params[n]["kernel"] for n in cells.GRU_RECURRENT]).T,
            "bias": cat([params[n]["bias"] for n in cells.GRU_INPUT]),
            "bias_n": params["hn"]["bias"],
        }
    if "p" in params:
        arrays["p"] = params["p"]
    for name, value in arrays.items():
        ecell = eqx.tree_at(lambda m, name=name: getattr(m, name), ecell, value)
    return ecell


def linen_and_nnx(kind, **kwargs):
    """The same cell in both frameworks, with the linen parameters copied into NNX."""
    linen_cls, nnx_cls = CELLS[kind]
    lcell = linen_cls(features=H, **kwargs)
    carry = lcell.initialize_carry(jax.random.key(0), (B, IN))
    variables = lcell.init(
        {"params": jax.random.key(1), "noise": jax.random.key(2)}, carry, XS[:, 0]
    )
    xcell = linen_to_nnx(kind, variables["params"], nnx_cls(IN, H, rngs=nnx.Rngs(7), **kwargs))
    return lcell, variables, xcell, carry


@pytest.mark.slow
@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("noise", rj.NOISE_KINDS)
def test_linen_and_nnx_cells_agree_for_the_same_parameters_and_key(kind, noise, key):
    lcell, variables, xcell, carry = linen_and_nnx(kind, noise=noise)
    for t in range(3):
        k = jax.random.fold_in(key, t)
        lcarry, ly = lcell.apply(variables, carry, XS[:, t], rng=k)
        xcarry, xy = xcell(carry, XS[:, t], rngs=k)
        np.testing.assert_allclose(ly, xy, rtol=1e-6, atol=1e-7)
        for a, b in zip(jax.tree.leaves(lcarry), jax.tree.leaves(xcarry), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        carry = lcarry
    # and noise is really on: another key gives another output
    assert not np.allclose(
        lcell.apply(variables, carry, XS[:, 0], rng=key)[1],
        lcell.apply(variables, carry, XS[:, 0], rng=jax.random.fold_in(key, 9))[1],
    )


@pytest.mark.parametrize("kind", CELLS)
def test_deterministic_cells_agree_and_follow_eval(kind):
    lcell, variables, xcell, carry = linen_and_nnx(kind, deterministic=True)
    _, ly = lcell.apply(variables, carry, XS[:, 0])
    xcell.train()
    assert not np.allclose(xcell(carry, XS[:, 0])[1], ly)
    xcell.eval()
    np.testing.assert_allclose(xcell(carry, XS[:, 0])[1], ly, rtol=1e-6, atol=1e-7)


def _phi(h, u, z, eps, p, alpha, c):
    """The noisy unit's formula written out (Gulcehre et al. 2016), for given noise."""
    delta = h(z) - u(z)
    sigma = c * (jax.nn.sigmoid(p * delta) - 0.5) ** 2
    return h(z) + (alpha - 1) * delta + jnp.sign(delta) * jnp.sign(1 - alpha) * sigma * eps


def test_noisy_lstm_matches_a_hand_written_step_in_value_and_gradient(key):
    """The gates i, f, g, o draw their noise as one (B, 4H) array from split(key, 2)[0],
    the cell output from split(key, 2)[1]; the custom gradient equals autodiff of the
    written-out formula for that noise."""
    lcell, variables, _, carry = linen_and_nnx("lstm", noise="normal")
    c, h = carry
    x = XS[:, 0]
    sig_unit, tanh_unit = rj.HARD_SIGMOID_UNIT, rj.HARD_TANH_UNIT

    def by_hand(w):
        z = [
            x @ w[i]["kernel"] + h @ w[r]["kernel"] + w[r]["bias"]
            for i, r in zip(cells.LSTM_INPUT, cells.LSTM_RECURRENT, strict=True)
        ]
        zi, zf, zg, zo = z
        z = jnp.concatenate(z, axis=-1)
        k_gates, k_cell = jax.random.split(key, 2)
        eps = [*jnp.split(jax.random.normal(k_gates, z.shape), 4, -1)]
        eps.append(jax.random.normal(k_cell, zi.shape))
        p = w["p"]

        def sig(z, i):
            return _phi(sig_unit.h, sig_unit.u, z, eps[i], p[i], 1.1, 0.15)

        def tanh(z, i):
            return _phi(tanh_unit.h, tanh_unit.u, z, eps[i], p[i], 1.15, 0.5)

        new_c = sig(zf, 1) * c + sig(zi, 0) * tanh(zg, 2)
        return new_c, sig(zo, 3) * tanh(new_c, 4)

    def by_cell(w):
        return lcell.apply({**variables, "params": w}, carry, x, rng=key)[0]

    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        by_cell(variables["params"]),
        by_hand(variables["params"]),
    )
    grads = [
        jax.grad(lambda w, f=f: jnp.sum(f(w)[1] ** 2))(variables["params"])
        for f in (by_cell, by_hand)
    ]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), *grads)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("generator", ["jax", "fast"])
def test_the_key_residual_gives_the_same_values_and_gradients(kind, generator, key):
    """residual="key" draws the same noise again in the backward pass: same step, same
    gradients as keeping the noise."""
    steps = {}
    for residual in ("noise", "key"):
        cell, variables, _, carry = linen_and_nnx(
            kind, noise="normal", residual=residual, generator=generator
        )

        def loss(w, cell=cell, variables=variables, carry=carry):
            out = cell.apply({**variables, "params": w}, carry, XS[:, 0], rng=key)[1]
            return jnp.sum(out**2)

        steps[residual] = jax.value_and_grad(loss)(variables["params"])
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
        steps["noise"],
        steps["key"],
    )


# --------------------------------------------------------------------------------------
# Fresh noise at every time step and for every sequence.


class ProbeCell(nn.RNNCellBase):
    """Emits a saturated noisy hard tanh of a constant: the noise is all that changes."""

    @nn.compact
    def __call__(self, carry, x):
        return carry, rjl.NoisyHardTanh(deterministic=False)(jnp.full_like(x, 5.0))

    @nn.nowrap
    def initialize_carry(self, rng, input_shape):
        return jnp.zeros(input_shape[:-1])

    @property
    def num_feature_axes(self):
        return 1


def _probe(model, x):
    variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, x)
    return jax.jit(lambda x: model.apply(variables, x, rngs={"noise": jax.random.key(2)}))(x)


@pytest.mark.slow
def test_linen_rnn_helper_gives_fresh_noise_per_step_and_per_sequence():
    x = jnp.zeros((B, T, 1))
    ys = _probe(rjl.rnn(ProbeCell()), x)[..., 0]  # (batch, time)
    assert len(np.unique(np.asarray(ys))) == B * T  # every step and sequence its own draw
    # What the helper fixes: without splitting the stream, every step repeats the noise.
    same = nn.RNN(
        ProbeCell(),
        split_rngs={"params": False, "noise": False},
        variable_broadcast=["params", rjl.NOISE_SCALE],
    )
    ys_same = _probe(same, x)[..., 0]
    np.testing.assert_array_equal(ys_same, jnp.broadcast_to(ys_same[:, :1], ys_same.shape))


class NNXProbeCell(nnx.RNNCellBase):
    def __init__(self, rngs):
        self.act = rjx.NoisyHardTanh(1, rngs=rngs)

    def __call__(self, carry, x):
        return carry, self.act(jnp.full_like(x, 5.0))

    def initialize_carry(self, input_shape, rngs=None):
        return jnp.zeros(input_shape[:-1])

    @property
    def num_feature_axes(self):
        return 1


def test_nnx_rnn_gives_fresh_noise_per_step_and_per_sequence():
    model = nnx.RNN(NNXProbeCell(nnx.Rngs(0)))
    ys = nnx.jit(lambda m, x: m(x))(model, jnp.zeros((B, T, 1)))[..., 0]
    assert len(np.unique(np.asarray(ys))) == B * T
    ys2 = nnx.jit(lambda m, x: m(x))(model, jnp.zeros((B, T, 1)))[..., 0]
    assert not np.array_equal(ys, ys2)  # the stream advanced between calls


@pytest.mark.slow
@pytest.mark.parametrize("kind", CELLS)
def test_real_cells_run_under_rnn_and_jit_in_both_frameworks(kind):
    linen_cls, nnx_cls = CELLS[kind]
    model = rjl.rnn(linen_cls(features=H))
    ys = _probe(model, XS)
    assert ys.shape == (B, T, H) and bool(jnp.all(jnp.isfinite(ys)))
    xmodel = nnx.RNN(nnx_cls(IN, H, rngs=nnx.Rngs(0)))
    ys = nnx.jit(lambda m, x: m(x))(xmodel, XS)
    assert ys.shape == (B, T, H) and bool(jnp.all(jnp.isfinite(ys)))


@pytest.mark.parametrize("kind", CELLS)
def test_dtypes_follow_flax(kind):
    """As flax's cells: ``dtype`` is the computation dtype (bfloat16 in, bfloat16 out),
    ``dtype=None`` promotes the inputs with the parameters, and 16-bit parameters
    initialise on a CPU (computed in float32, rounded once)."""
    linen_cls, nnx_cls = CELLS[kind]
    x = XS[:, 0].astype(jnp.bfloat16)
    keys = {"params": jax.random.key(0), "noise": jax.random.key(1)}
    for param_dtype in (jnp.float32, jnp.bfloat16, jnp.float16):
        cell = linen_cls(features=H, dtype=jnp.bfloat16, param_dtype=param_dtype)
        carry = cell.initialize_carry(None, x.shape)
        variables = cell.init(keys, carry, x)
        assert all(w.dtype == param_dtype for w in jax.tree.leaves(variables["params"]))
        new_carry, y = cell.apply(variables, carry, x, rng=jax.random.key(2))
        assert y.dtype == jnp.bfloat16 and bool(jnp.all(jnp.isfinite(y)))
        xcell = nnx_cls(IN, H, dtype=jnp.bfloat16, param_dtype=param_dtype, rngs=nnx.Rngs(0))
        assert xcell(xcell.initialize_carry(x.shape), x)[1].dtype == jnp.bfloat16
    promoted = linen_cls(features=H)
    carry = promoted.initialize_carry(None, x.shape)
    variables = promoted.init(keys, carry, x)
    assert promoted.apply(variables, carry, x, rng=jax.random.key(2))[1].dtype == jnp.float32


# --------------------------------------------------------------------------------------
# Plain flax cells with our activations, and the IRNN.


@pytest.mark.parametrize("act", [rj.tanh, rj.tlu, rj.elu, rj.leaky_relu], ids=lambda f: f.__name__)
def test_candidate_activation_grus_and_lstms_are_one_line_each(act):
    lcell = nn.GRUCell(features=H, activation_fn=act)  # the one line
    carry = lcell.initialize_carry(jax.random.key(0), (B, IN))
    variables = lcell.init(jax.random.key(1), carry, XS[:, 0])
    _, y = lcell.apply(variables, carry, XS[:, 0])
    _, y_tanh = nn.GRUCell(features=H).apply(variables, carry, XS[:, 0])
    assert (act is rj.tanh) == bool(np.allclose(y, y_tanh, atol=1e-6))
    lstm = nn.LSTMCell(features=H, activation_fn=act)  # the one line, LSTM
    lstm_carry = lstm.initialize_carry(jax.random.key(0), (B, IN))
    assert lstm.apply(lstm.init(jax.random.key(1), lstm_carry, XS[:, 0]), lstm_carry, XS[:, 0])[
        1
    ].shape == (B, H)
    xcell = nnx.GRUCell(IN, H, activation_fn=act, rngs=nnx.Rngs(0))  # the one line, NNX
    assert xcell(xcell.initialize_carry((B, IN), nnx.Rngs(0)), XS[:, 0])[1].shape == (B, H)


def test_irnn_cells_start_as_identity_copies():
    cell = rjl.IRNNCell(features=H, scale=1.0)
    carry = jnp.abs(jax.random.normal(jax.random.key(3), (B, H)))
    variables = cell.init(jax.random.key(0), carry, XS[:, 0])
    np.testing.assert_array_equal(variables["params"]["h"]["kernel"], jnp.eye(H))
    np.testing.assert_array_equal(variables["params"]["i"]["bias"], jnp.zeros(H))
    _, y = cell.apply(variables, carry, jnp.zeros((B, IN)))
    np.testing.assert_allclose(y, carry)  # zero input: relu(I h) = h for h >= 0
    xcell = rjx.IRNNCell(IN, H, scale=0.1, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(xcell.dense_h.kernel[...], 0.1 * jnp.eye(H))
    np.testing.assert_allclose(xcell(carry, jnp.zeros((B, IN)))[1], 0.1 * carry, rtol=1e-6)
    assert rjl.rnn(rjl.IRNNCell(features=H)).init(jax.random.key(0), XS)["params"]


# --------------------------------------------------------------------------------------
# Training and checkpoints.


class Recall(nn.Module):
    """Reads a sequence with a noisy LSTM and predicts its first element."""

    deterministic: bool = False

    @nn.compact
    def __call__(self, x):
        h = rjl.rnn(rjl.NoisyLSTMCell(16, deterministic=self.deterministic))(x)
        return nn.Dense(1)(h[:, -1])[:, 0]


def recall_batch(key, n=32, t=8):
    x = jax.random.normal(key, (n, t, 1))
    return x, x[:, 0, 0]


def train_recall(steps, seed=0):
    model, eval_model = Recall(), Recall(deterministic=True)
    variables = model.init(
        {"params": jax.random.key(seed), "noise": jax.random.key(seed)}, jnp.ones((2, 8, 1))
    )
    tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(1e-2))

    @jax.jit
    def step(params, opt_state, key):
        kx, kn = jax.random.split(key)
        x, y = recall_batch(kx)

        def loss(params):
            pred = model.apply({**variables, "params": params}, x, rngs={"noise": kn})
            return jnp.mean((pred - y) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    @jax.jit
    def eval_loss(params):
        x, y = recall_batch(jax.random.key(1234), n=256)
        return jnp.mean((eval_model.apply({**variables, "params": params}, x) - y) ** 2)

    params, opt_state = variables["params"], tx.init(variables["params"])
    start = float(eval_loss(params))
    losses = []
    for i in range(steps):
        params, opt_state, value = step(params, opt_state, jax.random.fold_in(jax.random.key(7), i))
        losses.append(float(value))
    return model, variables, params, opt_state, start, float(eval_loss(params)), losses


@pytest.mark.slow
def test_200_steps_of_a_noisy_lstm_lower_the_loss_clearly():
    *_, start, end, losses = train_recall(200)
    assert all(np.isfinite(losses))
    assert end < 0.25 * start, (start, end)  # predicting 0 costs Var(x_1) = 1
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])


@pytest.mark.slow
def test_checkpoint_round_trip_gives_bitwise_identical_outputs(tmp_path):
    model, variables, params, opt_state, *_ = train_recall(5)
    path = tmp_path / "ckpt.msgpack"
    path.write_bytes(
        flax.serialization.to_bytes(
            {"params": params, "opt_state": opt_state, "noise_scale": variables["noise_scale"]}
        )
    )
    fresh = model.init(
        {"params": jax.random.key(99), "noise": jax.random.key(99)}, jnp.ones((2, 8, 1))
    )
    tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(1e-2))
    target = {
        "params": fresh["params"],
        "opt_state": tx.init(fresh["params"]),
        "noise_scale": fresh["noise_scale"],
    }
    restored = flax.serialization.from_bytes(target, path.read_bytes())
    jax.tree.map(np.testing.assert_array_equal, restored["opt_state"], opt_state)
    x, _ = recall_batch(jax.random.key(5))
    rngs = {"noise": jax.random.key(6)}
    before = model.apply({"params": params, "noise_scale": variables["noise_scale"]}, x, rngs=rngs)
    after = model.apply(
        {"params": restored["params"], "noise_scale": restored["noise_scale"]}, x, rngs=rngs
    )
    np.testing.assert_array_equal(before, after)


class NoisyNet(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(IN, H, rngs=rngs)
        self.act = rjx.NoisyHardTanh(H, rngs=rngs)

    def __call__(self, x, key):
        return self.act(self.l1(x), rngs=key)


# What to checkpoint in NNX: parameters, noise scales and optimizer state (not RNG keys).
SAVED = nnx.Any(nnx.Param, rjx.NoiseScale, nnx.OptState)


def _nnx_bytes(*nodes):
    return flax.serialization.to_bytes([nnx.to_pure_dict(nnx.state(n, SAVED)) for n in nodes])


def _nnx_restore(data, *nodes):
    states = [nnx.state(n, SAVED) for n in nodes]
    pure = flax.serialization.from_bytes([nnx.to_pure_dict(s) for s in states], data)
    for node, state, values in zip(nodes, states, pure, strict=True):
        nnx.replace_by_pure_dict(state, values)
        nnx.update(node, state)


@pytest.mark.slow
def test_nnx_checkpoint_round_trip(tmp_path, key):
    model = NoisyNet(nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    for i in range(3):
        k = jax.random.fold_in(key, i)
        grads = nnx.grad(lambda m, k=k: jnp.sum(m(XS[:, 0], k) ** 2))(model)
        opt.update(model, grads)
    rjx.set_noise_scale(model, 3.0)
    (tmp_path / "nnx.msgpack").write_bytes(_nnx_bytes(model, opt))

    fresh = NoisyNet(nnx.Rngs(1))
    fresh_opt = nnx.Optimizer(fresh, optax.adam(1e-2), wrt=nnx.Param)
    _nnx_restore((tmp_path / "nnx.msgpack").read_bytes(), fresh, fresh_opt)
    assert float(fresh.act.c[...]) == 3.0 and int(fresh_opt.step[...]) == 3
    np.testing.assert_array_equal(model(XS[:, 1], key), fresh(XS[:, 1], key))
    jax.tree.map(
        np.testing.assert_array_equal,
        nnx.state(fresh_opt, nnx.OptState),
        nnx.state(opt, nnx.OptState),
    )
    # A recurrent model draws from its cell's stream: restore into one seeded the same way.
    rnn = nnx.RNN(rjx.NoisyGRUCell(IN, H, rngs=nnx.Rngs(params=0, noise=5)))
    data = _nnx_bytes(rnn)
    fresh_rnn = nnx.RNN(rjx.NoisyGRUCell(IN, H, rngs=nnx.Rngs(params=1, noise=5)))
    _nnx_restore(data, fresh_rnn)
    np.testing.assert_array_equal(rnn(XS), fresh_rnn(XS))


FLAX_CELLS = {
    "lstm": (nn.LSTMCell, nnx.LSTMCell),
    "gru": (nn.GRUCell, nnx.GRUCell),
}


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("gates", cells.GATES)
def test_the_same_key_initialises_the_same_weights_as_flax(kind, gates):
    """flax's parameter tree, drawn alike: a cell initialised with flax's key is flax's
    cell's weights, bit for bit, plus p when the gates are noisy."""
    lcls, xcls = CELLS[kind]
    flax_linen, flax_nnx = FLAX_CELLS[kind]
    cell = lcls(features=H, gates=gates)
    carry = cell.initialize_carry(jax.random.key(0), (B, IN))
    keys = {"params": jax.random.key(1), "noise": jax.random.key(2)}
    ours = cell.init(keys, carry, XS[:, 0])["params"]
    theirs = flax_linen(H).init(jax.random.key(1), carry, XS[:, 0])["params"]
    assert ("p" in ours) == (gates == "noisy")
    jax.tree.map(np.testing.assert_array_equal, {k: ours[k] for k in theirs}, theirs)
    xours = nnx.state(xcls(IN, H, gates=gates, rngs=nnx.Rngs(3)), nnx.Param)
    xtheirs = nnx.state(flax_nnx(IN, H, rngs=nnx.Rngs(3)), nnx.Param)
    assert ("p" in xours) == (gates == "noisy")
    jax.tree.map(np.testing.assert_array_equal, {k: xours[k] for k in xtheirs}, dict(xtheirs))


@pytest.mark.parametrize("kind", CELLS)
def test_each_gate_is_initialised_on_its_own_like_flax(kind):
    """Each gate's recurrent kernel is orthogonal on its own, as in flax's cells."""
    hidden = 16
    cell = CELLS[kind][0](features=hidden)
    carry = cell.initialize_carry(jax.random.key(0), (1, IN))
    params = cell.init({"params": jax.random.key(1), "noise": jax.random.key(2)}, carry, XS[:1, 0])
    names = cells.LSTM_RECURRENT if kind == "lstm" else cells.GRU_RECURRENT
    for name in names:
        w = params["params"][name]["kernel"]
        np.testing.assert_allclose(w.T @ w, jnp.eye(hidden), atol=1e-5)


def test_blockwise_checks_its_arguments():
    init = rj.initializers.blockwise(nn.initializers.orthogonal(), 4)
    with pytest.raises(ValueError, match="does not split into 4 equal blocks"):
        init(jax.random.key(0), (8, 30))
    with pytest.raises(ValueError, match="blocks must be a positive int"):
        rj.initializers.blockwise(nn.initializers.orthogonal(), 0)


@pytest.mark.parametrize("kind", CELLS)
def test_hard_and_soft_gates_are_flax_cells_with_the_same_weights(kind):
    """gates='hard'/'soft' is flax's cell with hard or soft gates, on flax's own parameters."""
    flax_cls = FLAX_CELLS[kind][0]
    gate_fns = {"hard": (rj.hard_sigmoid, rj.hard_tanh), "soft": (jax.nn.sigmoid, jnp.tanh)}
    for gates, (gate_fn, act_fn) in gate_fns.items():
        ref = flax_cls(H, gate_fn=gate_fn, activation_fn=act_fn)
        carry = ref.initialize_carry(jax.random.key(0), (B, IN))
        variables = ref.init(jax.random.key(1), carry, XS[:, 0])
        got = CELLS[kind][0](features=H, gates=gates).apply(variables, carry, XS[:, 0])
        want = ref.apply(variables, carry, XS[:, 0])
        for a, b_ in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-6)


def test_a_flax_checkpoint_loads_into_a_noisy_cell():
    """flax's LSTMCell parameters: a soft cell gives flax's outputs; a noisy cell applied
    with them alone uses p = 1 and the default noise scales, or learns p once merged."""
    carry = nn.LSTMCell(H).initialize_carry(jax.random.key(0), (B, IN))
    flax_params = nn.LSTMCell(H).init(jax.random.key(1), carry, XS[:, 0])["params"]
    want = nn.LSTMCell(H).apply({"params": flax_params}, carry, XS[:, 0])
    got = rjl.NoisyLSTMCell(H, gates="soft").apply({"params": flax_params}, carry, XS[:, 0])
    jax.tree.map(np.testing.assert_array_equal, got, want)
    noisy = rjl.NoisyLSTMCell(H, deterministic=True)
    p1 = {**flax_params, "p": jnp.ones((5, H))}
    variables = noisy.init(jax.random.key(2), carry, XS[:, 0])
    jax.tree.map(
        np.testing.assert_array_equal,
        noisy.apply({"params": flax_params}, carry, XS[:, 0]),
        noisy.apply({**variables, "params": p1}, carry, XS[:, 0]),
    )


@pytest.mark.parametrize("generator", ["jax", "fast"])
def test_a_steps_noise_is_independent_across_units_and_fixed_by_the_key(generator, key):
    """The noise of one LSTM step: the gates' (B, 4H) draw and the cell output's (B, H)
    draw, split into the five units, are independent across units and elements,
    standard normal, the same for the same key and different for another. (Fresh noise
    at every time step comes from the per-step keys, tested above with rnn and nnx.RNN.)"""
    config = cells.NoiseConfig(noise="normal", generator=generator)
    batch, hidden = 64, 128

    def draw(k):
        units = cells._Units(config, k, 0.15, 0.5, False)
        gates = units.noise(0, (batch, 4 * hidden), jnp.float32)
        return jnp.stack([*jnp.split(gates, 4, -1), units.noise(1, (batch, hidden), jnp.float32)])

    eps = np.asarray(draw(key), np.float64).reshape(5, -1)
    n = eps.shape[1]
    assert np.all(np.abs(eps.mean(axis=1)) < 5 / np.sqrt(n))  # mean 0, 5 standard errors
    assert np.all(np.abs(eps.var(axis=1) - 1) < 5 * np.sqrt(2 / n))  # var 1: Var(s^2) = 2/n
    corr = np.corrcoef(eps)[~np.eye(5, dtype=bool)]
    assert np.all(np.abs(corr) < 5 / np.sqrt(n))  # no correlation between units
    lag1 = np.corrcoef(eps[0, :-1], eps[0, 1:])[0, 1]
    assert abs(lag1) < 5 / np.sqrt(n)  # nor between neighbouring elements
    np.testing.assert_array_equal(draw(key), draw(key))
    assert not np.array_equal(draw(key), draw(jax.random.fold_in(key, 1)))


@pytest.mark.parametrize("noise", rj.NOISE_KINDS)
def test_a_noisy_hard_sigmoid_is_a_noisy_hard_tanh_scaled_and_shifted(noise, key):
    """The identity the cells use to run gates and tanh units in one call: for the same
    noise, noisy_hard_sigmoid(x; p, alpha, c) = 1/2 + 1/2 noisy_hard_tanh(x/2; p/2, alpha, 2c),
    in value and in the gradients of x, p, alpha and c."""
    x = jnp.linspace(-8.0, 8.0, 401)
    p, alpha, c = 0.7, 1.1, 0.15

    def sig(x, p, alpha, c):
        return rj.noisy_hard_sigmoid(x, key, p=p, alpha=alpha, c=c, noise=noise)

    def via_tanh(x, p, alpha, c):
        y = rj.noisy_hard_tanh(x / 2, key, p=p / 2, alpha=alpha, c=2 * c, noise=noise)
        return 0.5 + 0.5 * y

    np.testing.assert_allclose(sig(x, p, alpha, c), via_tanh(x, p, alpha, c), rtol=1e-6, atol=1e-7)
    for f in (sig, via_tanh):
        assert not np.allclose(f(x, p, alpha, c), rj.hard_sigmoid(x))  # the noise is on
    grads = [
        jax.grad(lambda *a, f=f: jnp.sum(jnp.sin(f(*a))), argnums=(0, 1, 2, 3))(x, p, alpha, c)
        for f in (sig, via_tanh)
    ]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), *grads)


# --------------------------------------------------------------------------------------
# Cells over a sequence: every step's noise drawn in one call (rjl.rnn / rjl.RNN, rjx.RNN,
# rje.RNN).

LINEN_CELLS = {"lstm": rjl.NoisyLSTMCell, "gru": rjl.NoisyGRUCell}


def _linen_rnn(kind, **kwargs):
    model = rjl.rnn(LINEN_CELLS[kind](features=H, **kwargs))
    variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, XS)
    return model, variables


def _scan_of_the_cell(cell, variables, key, params):
    """The cell stepped by jax.lax.scan with the keys split(key, T): what RNN promises."""
    inner = {"params": params["cell"], rjl.NOISE_SCALE: variables[rjl.NOISE_SCALE]["cell"]}

    def body(carry, inputs):
        x, k = inputs
        return cell.apply(inner, carry, x, rng=k)

    carry = cell.initialize_carry(None, (B, IN))
    _, ys = jax.lax.scan(body, carry, (jnp.swapaxes(XS, 0, 1), jax.random.split(key, T)))
    return jnp.swapaxes(ys, 0, 1)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("residual", ["noise", "key"])
@pytest.mark.parametrize("generator", ["jax", "fast"])
def test_rnn_computes_a_scan_of_the_cell_with_split_keys(kind, residual, generator, key):
    """Drawing every step's noise ahead (residual="noise") or in the step (residual="key")
    changes where the noise is drawn, not which: values and gradients are those of the
    cell stepped with the keys split(key, T)."""
    model, variables = _linen_rnn(kind, residual=residual, generator=generator, noise="normal")
    assert type(model) is rjl.RNN

    def loss(f, params):
        return jnp.sum(jnp.sin(f(params)))

    def by_rnn(params):
        return model.apply({**variables, "params": params}, XS, rng=key)

    def by_scan(params):
        return _scan_of_the_cell(model.cell, variables, key, params)

    np.testing.assert_array_equal(by_rnn(variables["params"]), by_scan(variables["params"]))
    grads = [jax.grad(functools.partial(loss, f))(variables["params"]) for f in (by_rnn, by_scan)]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), *grads)
    # and the noise is on: another key, other outputs
    other = model.apply(variables, XS, rng=jax.random.fold_in(key, 1))
    assert not np.allclose(by_rnn(variables["params"]), other)


@pytest.mark.parametrize("kind", CELLS)
def test_rnn_residual_key_gives_the_same_values_and_gradients_as_noise(kind, key):
    steps = {}
    for residual in ("noise", "key"):
        model, variables = _linen_rnn(kind, residual=residual)

        def loss(params, model=model, variables=variables):
            return jnp.sum(model.apply({**variables, "params": params}, XS, rng=key) ** 2)

        steps[residual] = jax.value_and_grad(loss)(variables["params"])
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
        steps["noise"],
        steps["key"],
    )


@pytest.mark.parametrize("generator", ["jax", "fast"])
def test_a_sequences_noise_is_independent_across_steps_and_fixed_by_the_key(generator, key):
    """The noise drawn ahead for a sequence: step t's is exactly what the step draws from
    split(key, T)[t], the steps are uncorrelated standard normals, the same for the same
    key and different for another."""
    cell = rjl.NoisyLSTMCell(features=128, noise="normal", generator=generator)
    length, batch, hidden = 8, 64, 128

    def draw(k):
        return sequence.step_inputs(
            lambda k: cell.step_noise(k, (batch,), jnp.float32), k, length, "noise"
        )["noise"]

    gates, out = draw(key)
    assert gates.shape == (length, batch, 4 * hidden) and out.shape == (length, batch, hidden)
    config = cells.NoiseConfig(noise="normal", generator=generator)
    for t, k in enumerate(jax.random.split(key, length)):
        one = cells.step_noise(config, k, (batch,), hidden, "lstm", jnp.float32)
        np.testing.assert_array_equal(gates[t], one[0])
        np.testing.assert_array_equal(out[t], one[1])
    eps = np.asarray(gates, np.float64).reshape(length, -1)
    n = eps.shape[1]
    assert np.all(np.abs(eps.mean(axis=1)) < 5 / np.sqrt(n))  # mean 0, 5 standard errors
    assert np.all(np.abs(eps.var(axis=1) - 1) < 5 * np.sqrt(2 / n))  # var 1: Var(s^2) = 2/n
    corr = np.corrcoef(eps)[~np.eye(length, dtype=bool)]
    assert np.all(np.abs(corr) < 5 / np.sqrt(n))  # no correlation between steps
    np.testing.assert_array_equal(draw(key)[0], gates)
    assert not np.array_equal(draw(jax.random.fold_in(key, 1))[0], gates)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("residual", ["noise", "key"])
def test_rnn_is_the_same_in_linen_nnx_and_equinox(kind, residual, key):

    model, variables = _linen_rnn(kind, residual=residual)
    linen = rjl.RNN(model.cell, return_carry=True).apply(variables, XS, rng=key)
    params = variables["params"]["cell"]
    xcell = linen_to_nnx(kind, params, CELLS[kind][1](IN, H, rngs=nnx.Rngs(0), residual=residual))
    nnx_out = rjx.RNN(xcell, return_carry=True)(XS, rngs=key)
    ecell = getattr(rje, CELLS[kind][1].__name__)(IN, H, key=jax.random.key(0), residual=residual)
    ecell = linen_to_eqx(kind, params, ecell)
    eqx_out = eqx.filter_jit(rje.RNN(ecell, return_carry=True))(XS, key=key)
    for other in (nnx_out, eqx_out):
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), linen, other
        )


OPTIONS = [
    {},
    {"time_major": True},
    {"reverse": True},
    {"reverse": True, "keep_order": True},
    {"return_carry": True},
    {"unroll": 3},
]


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_rnn_options_mean_what_they_mean_for_flax_rnn(kind, options):
    """Without noise rjl.RNN and flax's nn.RNN scan the same cell: their outputs agree
    for every option, and for a given initial carry."""
    cell = LINEN_CELLS[kind](features=H, deterministic=True)
    ours = rjl.RNN(cell, **options)
    flax_rnn = nn.RNN(cell, variable_broadcast=["params", rjl.NOISE_SCALE], **options)
    x = jnp.swapaxes(XS, 0, 1) if options.get("time_major") else XS
    variables = ours.init(jax.random.key(0), x)
    assert jax.tree.structure(variables) == jax.tree.structure(flax_rnn.init(jax.random.key(0), x))
    carry = jax.tree.map(lambda c: c + 0.5, cell.initialize_carry(None, (B, IN)))
    for kw in ({}, {"initial_carry": carry}):
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
            ours.apply(variables, x, **kw),
            flax_rnn.apply(variables, x, **kw),
        )


def test_rnn_and_rnn_helper_errors_say_what_works():
    cell = rjl.NoisyLSTMCell(features=H)
    with pytest.raises(TypeError, match=r"rnn: \['variable_axes'\] are not options of .*RNN"):
        rjl.rnn(cell, variable_axes={})
    with pytest.raises(TypeError, match=r"RNN: cell must be a rectify_jax cell"):
        rje.RNN(eqx.nn.GRUCell(IN, H, key=jax.random.key(0)))
    assert isinstance(rjl.rnn(nn.LSTMCell(H)), nn.RNN)  # other cells: flax's RNN, as before
    with pytest.raises(TypeError, match=r"RNN: rng= and deterministic= are for the noisy cells"):
        flax_cell = rjl.RNN(nn.LSTMCell(H))
        flax_cell.init(jax.random.key(0), XS, deterministic=True)
    model = rjl.rnn(cell)
    with pytest.raises(ValueError, match=r"RNN: deterministic=False but no PRNG stream 'noise'"):
        model.init(jax.random.key(0), XS)
    variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, XS)
    with pytest.raises(ValueError, match=r"RNN: inputs must have a time and a feature axis"):
        model.apply(variables, jnp.ones(IN), rng=jax.random.key(0))
    with pytest.raises(ValueError, match=r"RNN: noise is on but no key was given"):
        rje.RNN(rje.NoisyGRUCell(IN, H, key=jax.random.key(0)))(XS)


@pytest.mark.parametrize("kind", CELLS)
def test_deterministic_rnns_need_no_key_and_follow_eval(kind):
    model, variables = _linen_rnn(kind, deterministic=True)
    ys = model.apply(variables, XS)  # no key: nothing is drawn
    np.testing.assert_allclose(
        ys, _scan_of_the_cell(model.cell, variables, jax.random.key(0), variables["params"])
    )
    params = variables["params"]["cell"]
    xmodel = rjx.RNN(linen_to_nnx(kind, params, CELLS[kind][1](IN, H, rngs=nnx.Rngs(0))))
    xmodel.eval()
    np.testing.assert_allclose(xmodel(XS), ys, rtol=1e-6, atol=1e-7)
    xmodel.train()
    assert not np.allclose(xmodel(XS), ys)  # noise from the cell's own stream
    ecell = getattr(rje, CELLS[kind][1].__name__)(IN, H, key=jax.random.key(0))
    ecell = linen_to_eqx(kind, params, ecell)
    np.testing.assert_allclose(rje.RNN(ecell)(XS, inference=True), ys, rtol=1e-6, atol=1e-7)


def test_rnn_with_the_key_residual_keeps_no_noise_of_the_sequences_size():
    """What residual="key" is for: XLA's compiled memory of a train step over a long
    sequence is smaller by about the sequence's noise (T x batch x 5H float32; the key
    path keeps the T keys instead, and XLA's buffers are not byte-exact: 90 %)."""
    length, hidden = 200, 16
    xs = jnp.ones((B, length, IN))

    def temp_bytes(residual):
        model = rjl.rnn(rjl.NoisyLSTMCell(hidden, residual=residual))
        variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, xs)

        def loss(params, key):
            return jnp.sum(model.apply({**variables, "params": params}, xs, rng=key) ** 2)

        compiled = jax.jit(jax.grad(loss)).lower(variables["params"], jax.random.key(2)).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    noise_bytes = length * B * 5 * hidden * 4
    assert temp_bytes("noise") - temp_bytes("key") >= 0.9 * noise_bytes
