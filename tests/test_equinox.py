"""The Equinox modules: explicit attributes, Equinox's cell layout, training, annealing, keys."""

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rectify_jax as rj
from rectify_jax import equinox as rje
from rectify_jax import linen as rjl
from rectify_jax._src import cells

B, T, IN, H = 3, 6, 4, 5
X = jnp.linspace(-4.0, 4.0, B * IN).reshape(B, IN) + 0.01
XS = 2.0 * jax.random.normal(jax.random.key(42), (B, T, IN))
NOISY_CELLS = {"lstm": rje.NoisyLSTMCell, "gru": rje.NoisyGRUCell}


def close(a, b, tol=1e-6):
    jax.tree.map(lambda u, w: np.testing.assert_allclose(u, w, rtol=tol, atol=tol), a, b)


# --------------------------------------------------------------------------------------
# The classes: explicit attributes, plain source.


def test_parameters_and_noise_scales_are_attributes(key):
    assert rje.PReLU(IN).negative_slope.shape == (IN,)
    assert rje.TLU().alpha == 1.0 and rje.TLU(IN, learn_alpha=True).alpha.shape == (IN,)
    for cls, unit in [
        (rje.NoisyHardTanh, rj.HARD_TANH_UNIT),
        (rje.NoisyHardSigmoid, rj.HARD_SIGMOID_UNIT),
    ]:
        layer = cls(IN, key=key)
        assert layer.p.shape == (IN,) and layer.c.shape == () and layer.unit is unit
        assert float(layer.c) == pytest.approx(unit.c) and layer.alpha == unit.alpha
    noisy = rje.NoisyActivation(IN, unit=rj.HARD_SIGMOID_UNIT, key=key)
    assert noisy.alpha is None and float(noisy.c) == pytest.approx(0.15)
    assert rje.LearnedInputNoisy(IN, key=key).p.shape == (IN,)
    lstm = rje.NoisyLSTMCell(IN, H, key=key)
    assert lstm.weight_ih.shape == (4 * H, IN) and lstm.weight_hh.shape == (4 * H, H)
    assert lstm.bias.shape == (4 * H,) and lstm.p.shape == (5, H)
    assert float(lstm.gate_c) == pytest.approx(0.15) and float(lstm.tanh_c) == 0.5
    gru = rje.NoisyGRUCell(IN, H, key=key)
    assert gru.weight_ih.shape == (3 * H, IN) and gru.weight_hh.shape == (3 * H, H)
    assert gru.bias.shape == (3 * H,) and gru.bias_n.shape == (H,) and gru.p.shape == (3, H)
    for gates in ("hard", "soft"):  # no noise: no p, no noise scales
        cell = rje.NoisyLSTMCell(IN, H, gates=gates, key=key)
        assert cell.p is None and cell.gate_c is None and cell.tanh_c is None
    # the arrays are Equinox's: the same names and shapes as eqx.nn's cells
    for ours, theirs in [
        (lstm, eqx.nn.LSTMCell(IN, H, key=key)),
        (gru, eqx.nn.GRUCell(IN, H, key=key)),
    ]:
        for name in ("weight_ih", "weight_hh", "bias", "bias_n"):
            if hasattr(theirs, name):
                assert getattr(ours, name).shape == getattr(theirs, name).shape
    # no dict of parameters anywhere: every array is a field of its module
    for module in (lstm, gru, noisy, rje.RNN(lstm)):
        assert not any(
            isinstance(leaf, dict)
            for leaf in jax.tree.leaves(module, is_leaf=lambda n: isinstance(n, dict))
        )


@pytest.mark.parametrize("name", rje.__all__)
def test_every_public_name_has_plain_source_and_a_doctest(name):
    obj = getattr(rje, name)
    source = inspect.getsource(obj)
    assert f"{'class' if inspect.isclass(obj) else 'def'} {name}" in source
    assert ">>> " in inspect.getdoc(obj)
    if inspect.isclass(obj):
        assert obj.__module__.startswith("rectify_jax.equinox.")
        assert ".. math::" in obj.__doc__ and "Attributes:" in obj.__doc__
        assert "def __init__" in source and "def __call__" in source


def test_the_defaults_are_real_values():
    def defaults(cls):
        return {
            p.name: p.default
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.default is not inspect.Parameter.empty
        }

    assert defaults(rje.NoisyHardTanh)["alpha"] == 1.15 and defaults(rje.NoisyHardTanh)["c"] == 0.5
    assert defaults(rje.NoisyHardSigmoid)["alpha"] == 1.1
    assert defaults(rje.NoisyHardSigmoid)["c"] == 0.15
    cell = defaults(rje.NoisyLSTMCell)
    assert (cell["gate_alpha"], cell["tanh_alpha"], cell["gate_c"], cell["tanh_c"]) == (
        1.1,
        1.15,
        0.15,
        0.5,
    )
    assert defaults(rje.NoisyActivation)["unit"] is rj.HARD_TANH_UNIT


def test_options_are_checked_at_construction_naming_the_class(key):
    with pytest.raises(ValueError, match=r"NoisyHardTanh: noise='gauss' is not one of"):
        rje.NoisyHardTanh(3, noise="gauss", key=key)
    with pytest.raises(ValueError, match=r"NoisyLSTMCell: gates='loud' is not one of"):
        rje.NoisyLSTMCell(IN, H, gates="loud", key=key)
    with pytest.raises(ValueError, match=r"NoisyGRUCell: tanh_c must be a finite number >= 0"):
        rje.NoisyGRUCell(IN, H, tanh_c=-1.0, key=key)
    with pytest.raises(ValueError, match=r"RReLU: generator='numpy' is not one of"):
        rje.RReLU(generator="numpy")
    with pytest.raises(ValueError, match=r"InputNoisy: s must be a finite number >= 0"):
        rje.InputNoisy(s=-0.1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigma'"):
        rje.NoisyHardTanh(3, sigma=1.0, key=key)
    with pytest.raises(TypeError, match=r"TLU: learn_alpha=True .* needs features"):
        rje.TLU(learn_alpha=True)
    with pytest.raises(ValueError, match=r"NoisyHardSigmoid: features must be a positive int"):
        rje.NoisyHardSigmoid(0, key=key)
    with pytest.raises(ValueError, match=r"NoisyLSTMCell: key= is needed"):
        rje.NoisyLSTMCell(IN, H, key=None)
    with pytest.raises(TypeError, match=r"RNN: cell must be a rectify_jax cell .* got GRUCell"):
        rje.RNN(eqx.nn.GRUCell(IN, H, key=key))


# --------------------------------------------------------------------------------------
# Activations: the same numbers as linen's modules, keys, inference.

ACTIVATIONS = {
    # name: (linen module, Equinox module, the parameter both hold)
    "PReLU": (rjl.PReLU(), lambda k: rje.PReLU(IN), "negative_slope"),
    "TLU": (rjl.TLU(learn_alpha=True), lambda k: rje.TLU(IN, learn_alpha=True), "alpha"),
    "RReLU": (rjl.RReLU(), lambda k: rje.RReLU(), None),
    "NReLU": (rjl.NReLU(), lambda k: rje.NReLU(), None),
    "NoisyActivation": (
        rjl.NoisyActivation(unit=rj.HARD_SIGMOID_UNIT, noise="normal"),
        lambda k: rje.NoisyActivation(IN, unit=rj.HARD_SIGMOID_UNIT, noise="normal", key=k),
        "p",
    ),
    "NoisyHardTanh": (rjl.NoisyHardTanh(), lambda k: rje.NoisyHardTanh(IN, key=k), "p"),
    "NoisyHardSigmoid": (rjl.NoisyHardSigmoid(), lambda k: rje.NoisyHardSigmoid(IN, key=k), "p"),
    "InputNoisy": (rjl.InputNoisy(), lambda k: rje.InputNoisy(), None),
    "SaturatedInputNoisy": (rjl.SaturatedInputNoisy(), lambda k: rje.SaturatedInputNoisy(), None),
    "LearnedInputNoisy": (rjl.LearnedInputNoisy(), lambda k: rje.LearnedInputNoisy(IN, key=k), "p"),
}
STOCHASTIC = {name for name, (lmod, _, _) in ACTIVATIONS.items() if hasattr(lmod, "deterministic")}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_compute_what_the_linen_modules_compute(name, key):
    lmod, make, param = ACTIVATIONS[name]
    variables = lmod.init(
        jax.random.key(0), X, **({"deterministic": True} if name in STOCHASTIC else {})
    )
    emod = make(jax.random.key(3))
    if param is not None:
        value = variables["params"][param]
        assert getattr(emod, param).shape == value.shape
        emod = eqx.tree_at(lambda m: getattr(m, param), emod, value)
    near = jnp.concatenate([0.375 * X, 0.75 * X])  # around 1 (tanh) and 2 (sigmoid)
    if name not in STOCHASTIC:
        close(emod(X), lmod.apply(variables, X))
        return
    for det in (True, False):
        close(
            emod(near, key=key, inference=det),
            lmod.apply(variables, near, deterministic=det, rng=key),
        )
    # the key matters when the noise is on (a large noise scale where there is one)
    big = {"c": 50.0} if hasattr(emod, "c") else {}
    a = emod(near, key=key, **big)
    assert not np.array_equal(a, emod(near, key=jax.random.fold_in(key, 1), **big))


@pytest.mark.parametrize("name", sorted(STOCHASTIC))
def test_inference_mode_and_a_missing_key(name, key):
    layer = ACTIVATIONS[name][1](key)
    with pytest.raises(ValueError, match=rf"{name}: noise is on but no key was given"):
        layer(X)
    test_time = eqx.nn.inference_mode(layer)
    assert test_time.inference and not layer.inference
    np.testing.assert_array_equal(test_time(4 * X), layer(4 * X, inference=True))
    np.testing.assert_array_equal(test_time(4 * X), type(layer).__call__(test_time, 4 * X))
    # inference= at call time overrides the field, both ways
    np.testing.assert_array_equal(test_time(4 * X, inference=False, key=key), layer(4 * X, key=key))


def test_a_legacy_raw_key_gives_the_same_noise_as_its_typed_key():
    layer = rje.NoisyHardTanh(IN, key=jax.random.key(0))
    np.testing.assert_array_equal(
        layer(4 * X, key=jax.random.PRNGKey(7)), layer(4 * X, key=jax.random.key(7))
    )


def test_a_c_given_at_call_time_takes_precedence(key):
    layer = rje.NoisyHardTanh(IN, key=jax.random.key(0))
    np.testing.assert_array_equal(
        layer(4 * X, key=key, c=30.0), rje.set_noise_scale(layer, 30.0)(4 * X, key=key)
    )
    np.testing.assert_array_equal(
        layer(4 * X, key=key, c=30.0), rj.noisy_hard_tanh(4 * X, key, p=layer.p, c=30.0)
    )


# --------------------------------------------------------------------------------------
# Cells: Equinox's checkpoints, hard gates, dtypes, the IRNN.


def test_soft_gates_with_an_eqx_lstm_checkpoint_are_eqx_lstm(key):
    theirs = eqx.nn.LSTMCell(IN, H, key=jax.random.key(1))
    ours = rje.NoisyLSTMCell(IN, H, gates="soft", key=jax.random.key(2))
    ours = eqx.tree_at(
        lambda m: (m.weight_ih, m.weight_hh, m.bias),
        ours,
        (theirs.weight_ih, theirs.weight_hh, theirs.bias),
    )
    state = (jnp.zeros(H), jnp.zeros(H))  # Equinox's (h, c)
    carry = ours.initialize_carry((IN,))  # ours: (c, h)
    for t in range(T):
        state = theirs(XS[0, t], state)
        carry, y = ours(carry, XS[0, t])
        close((carry[1], carry[0]), state)
        close(y, state[0])
    # batched: ours takes the batch as is, Equinox's is vmapped
    zeros = jnp.zeros((B, H))
    batched = jax.vmap(theirs)(XS[:, 0], (zeros, zeros))
    (c, h), _ = ours((zeros, zeros), XS[:, 0])
    close((h, c), batched)


def test_soft_gates_with_an_eqx_gru_checkpoint_are_eqx_gru(key):
    theirs = eqx.nn.GRUCell(IN, H, key=jax.random.key(1))
    ours = rje.NoisyGRUCell(IN, H, gates="soft", key=jax.random.key(2))
    ours = eqx.tree_at(
        lambda m: (m.weight_ih, m.weight_hh, m.bias, m.bias_n),
        ours,
        (theirs.weight_ih, theirs.weight_hh, theirs.bias, theirs.bias_n),
    )
    h_theirs, h = jnp.zeros(H), ours.initialize_carry((IN,))
    for t in range(T):
        h_theirs = theirs(XS[0, t], h_theirs)
        h, y = ours(h, XS[0, t])
        close(h, h_theirs)
        close(y, h_theirs)
    close(ours(jnp.ones((B, H)), XS[:, 1])[0], jax.vmap(theirs)(XS[:, 1], jnp.ones((B, H))))


def test_hard_gates_are_hard_sigmoid_and_hard_tanh(key):
    cell = rje.NoisyLSTMCell(IN, H, gates="hard", key=key)
    c, h = jnp.full((B, H), 0.3), jnp.full((B, H), -0.2)
    z = XS[:, 0] @ cell.weight_ih.T + h @ cell.weight_hh.T + cell.bias
    i, f, g, o = jnp.split(z, 4, axis=-1)
    new_c = rj.hard_sigmoid(f) * c + rj.hard_sigmoid(i) * rj.hard_tanh(g)
    new_h = rj.hard_sigmoid(o) * rj.hard_tanh(new_c)
    close(cell((c, h), XS[:, 0]), ((new_c, new_h), new_h))
    gru = rje.NoisyGRUCell(IN, H, gates="hard", key=key)
    xi, hh = XS[:, 0] @ gru.weight_ih.T + gru.bias, h @ gru.weight_hh.T
    r = rj.hard_sigmoid(xi[:, :H] + hh[:, :H])
    u = rj.hard_sigmoid(xi[:, H : 2 * H] + hh[:, H : 2 * H])
    n = rj.hard_tanh(xi[:, 2 * H :] + r * (hh[:, 2 * H :] + gru.bias_n))
    close(gru(h, XS[:, 0]), ((1 - u) * n + u * h,) * 2)


@pytest.mark.parametrize("kind", NOISY_CELLS)
def test_cells_are_initialised_per_gate_block_as_flax(kind, key):
    cell = NOISY_CELLS[kind](IN, H, key=key)
    blocks = 4 if kind == "lstm" else 3
    for w in jnp.split(cell.weight_hh, blocks, axis=0):  # each gate's recurrent block
        close(w @ w.T, jnp.eye(H), tol=1e-5)
    np.testing.assert_array_equal(cell.bias, 0.0)
    assert bool(jnp.all((cell.p >= -1) & (cell.p < 1)))
    # the noise is on: another key, another step
    carry = cell.initialize_carry((B, IN))
    assert not np.allclose(
        cell(carry, 3 * XS[:, 0], key=key)[1],
        cell(carry, 3 * XS[:, 0], key=jax.random.fold_in(key, 1))[1],
    )


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_16_bit_parameters_initialise_and_run(dtype, key):
    for make in (
        lambda **kw: rje.NoisyLSTMCell(IN, H, key=key, **kw),
        lambda **kw: rje.NoisyGRUCell(IN, H, key=key, **kw),
        lambda **kw: rje.IRNNCell(IN, H, key=key, **kw),
    ):
        cell = make(param_dtype=dtype)
        arrays = [a for a in jax.tree.leaves(cell) if eqx.is_array(a)]
        assert {a.dtype for a in arrays} == {jnp.dtype(dtype)}
        carry = cell.initialize_carry((B, IN))
        for x in (XS[:, 0], XS[:, 0].astype(dtype)):
            new_carry, y = cell(carry, x, key=key)
            assert y.dtype == jnp.result_type(x.dtype, dtype) and bool(jnp.all(jnp.isfinite(y)))
        assert cell(carry, XS[:, 0].astype(dtype), key=key)[1].dtype == dtype
        ys = rje.RNN(cell)(XS, key=key)  # float32 inputs: the loop runs in float32
        assert ys.shape == (B, T, H) and bool(jnp.all(jnp.isfinite(ys)))
        cdt = rje.RNN(cell)(XS.astype(dtype), key=key)
        assert cdt.dtype == dtype
    # computing in float32: the carry is float32 and a plain jax.lax.scan runs the cell
    cell = rje.NoisyLSTMCell(IN, H, dtype=jnp.float32, param_dtype=dtype, key=key)
    carry = cell.initialize_carry((B, IN))
    assert carry[0].dtype == jnp.float32 and cell.weight_ih.dtype == dtype
    _, ys = jax.lax.scan(
        lambda carry, x: cell(carry, x, inference=True), carry, jnp.swapaxes(XS, 0, 1)
    )
    assert ys.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(ys)))
    layer = rje.NoisyHardTanh(IN, param_dtype=dtype, key=key)
    assert layer.p.dtype == layer.c.dtype == dtype
    assert layer(X.astype(dtype), key=key).dtype == dtype


def test_irnn_starts_from_the_identity_and_is_a_relu_rnn(key):
    cell = rje.IRNNCell(IN, H, scale=0.9, key=key)
    np.testing.assert_array_equal(cell.weight_hh, 0.9 * jnp.eye(H))
    np.testing.assert_array_equal(cell.bias, jnp.zeros(H))
    assert cell.weight_ih.shape == (H, IN) and float(jnp.std(cell.weight_ih)) > 0.1
    trained = eqx.tree_at(
        lambda m: (m.weight_hh, m.bias),
        cell,
        (jax.random.normal(key, (H, H)), jnp.linspace(-1, 1, H)),
    )
    h = jnp.linspace(-1.0, 2.0, B * H).reshape(B, H)
    want = jnp.maximum(XS[:, 0] @ trained.weight_ih.T + h @ trained.weight_hh.T + trained.bias, 0)
    close(trained(h, XS[:, 0]), (want, want))
    # at the start, a zero input copies the (non-negative) state forward, scaled
    close(cell(jnp.abs(h), jnp.zeros((B, IN)))[1], 0.9 * jnp.abs(h))


# --------------------------------------------------------------------------------------
# Over a sequence: RNN is a loop of the cell with split keys.


def _loop(cell, xs, key, carry=None):
    """The cell stepped by hand over ``xs`` (batch, time, features) with split(key, T)."""
    carry = cell.initialize_carry(xs[:, 0].shape) if carry is None else carry
    keys = jax.random.split(key, xs.shape[1])
    carries, ys = [], []
    for t in range(xs.shape[1]):
        carry, y = cell(carry, xs[:, t], key=keys[t])
        carries.append(carry)
        ys.append(y)
    return carries, jnp.stack(ys, axis=1)


@pytest.mark.parametrize("kind", NOISY_CELLS)
@pytest.mark.parametrize("residual", ["noise", "key"])
def test_rnn_is_a_loop_of_the_cell_with_split_keys(kind, residual, key):
    cell = NOISY_CELLS[kind](IN, H, residual=residual, noise="normal", key=jax.random.key(0))
    carries, ys = _loop(cell, XS, key)
    carry, out = eqx.filter_jit(rje.RNN(cell, return_carry=True))(XS, key=key)
    close(out, ys)
    close(carry, carries[-1])
    # time-major inputs, and reversed sequences, are the same loop
    close(rje.RNN(cell, time_major=True)(jnp.swapaxes(XS, 0, 1), key=key), jnp.swapaxes(ys, 0, 1))
    _, ys_rev = _loop(cell, XS[:, ::-1], key)
    close(rje.RNN(cell, reverse=True)(XS, key=key), ys_rev)
    close(rje.RNN(cell, reverse=True, keep_order=True)(XS, key=key), ys_rev[:, ::-1])
    # the noise is on: another key, other outputs
    assert not np.allclose(rje.RNN(cell)(XS, key=jax.random.fold_in(key, 1)), ys)


@pytest.mark.parametrize("residual", ["noise", "key"])
def test_rnn_gradients_are_the_loops(residual, key):
    """The noise drawn ahead (``"noise"``) or again in the backward pass (``"key"``)
    gives the gradients of the cell stepped by hand with the same keys."""
    cell = rje.NoisyLSTMCell(IN, H, residual=residual, key=jax.random.key(0))

    def loss(c, k):
        return jnp.sum(jnp.sin(rje.RNN(c)(XS, key=k)))

    def loop_loss(c, k):
        return jnp.sum(jnp.sin(_loop(c, XS, k)[1]))

    grads = [eqx.filter_grad(f)(cell, key) for f in (loss, loop_loss)]
    close(*grads, tol=1e-5)
    assert float(jnp.abs(grads[0].p).sum()) > 0


def test_rnn_runs_the_irnn_and_starts_from_a_given_carry(key):
    cell = rje.IRNNCell(IN, H, key=key)
    start = jnp.full((B, H), 0.5)
    carries, ys = _loop(cell, XS, key, carry=start)
    carry, out = rje.RNN(cell, return_carry=True, unroll=2)(XS, initial_carry=start)
    close(out, ys)
    close(carry, carries[-1])


@pytest.mark.parametrize("kind", NOISY_CELLS)
def test_rnn_seq_lengths_return_the_carry_after_each_sequences_last_step(kind, key):
    cell = NOISY_CELLS[kind](IN, H, key=jax.random.key(0))
    lengths = jnp.array([T, 3, 1])
    carries, ys = _loop(cell, XS, key)
    carry, out = rje.RNN(cell, return_carry=True)(XS, key=key, seq_lengths=lengths)
    close(out, ys)  # the outputs are the loop's (past the length they mean nothing)
    for b, n in enumerate(lengths.tolist()):
        close(
            jax.tree.map(lambda a, b=b: a[b], carry),
            jax.tree.map(lambda a, b=b: a[b], carries[n - 1]),
        )
    assert not np.allclose(
        carry[0] if kind == "lstm" else carry, carries[-1][0] if kind == "lstm" else carries[-1]
    )


@pytest.mark.parametrize("kind", NOISY_CELLS)
def test_rnn_is_linens_rnn_for_the_same_arrays_and_key(kind, key):
    """The linen cells hold flax's per-gate kernels; concatenated and transposed they are
    the Equinox cell's arrays, and both RNNs compute the same numbers from the same key."""
    lcell = (rjl.NoisyLSTMCell if kind == "lstm" else rjl.NoisyGRUCell)(features=H, residual="key")
    model = rjl.RNN(lcell, return_carry=True)
    variables = model.init({"params": jax.random.key(0), "noise": jax.random.key(1)}, XS)
    params = variables["params"]["cell"]

    def cat(names, what="kernel"):
        return jnp.concatenate([params[n][what] for n in names], axis=-1)

    ecell = NOISY_CELLS[kind](IN, H, residual="key", key=jax.random.key(5))
    if kind == "lstm":
        arrays = (
            cat(cells.LSTM_INPUT).T,
            cat(cells.LSTM_RECURRENT).T,
            cat(cells.LSTM_RECURRENT, "bias"),
            params["p"],
        )
        ecell = eqx.tree_at(lambda m: (m.weight_ih, m.weight_hh, m.bias, m.p), ecell, arrays)
    else:
        arrays = (
            cat(cells.GRU_INPUT).T,
            cat(cells.GRU_RECURRENT).T,
            cat(cells.GRU_INPUT, "bias"),
            params["hn"]["bias"],
            params["p"],
        )
        ecell = eqx.tree_at(
            lambda m: (m.weight_ih, m.weight_hh, m.bias, m.bias_n, m.p), ecell, arrays
        )
    close(rje.RNN(ecell, return_carry=True)(XS, key=key), model.apply(variables, XS, rng=key))
    close(rje.RNN(ecell)(XS, inference=True), model.apply(variables, XS, deterministic=True)[1])


def test_rnn_keys_and_inference(key):
    model = rje.RNN(rje.NoisyGRUCell(IN, H, key=jax.random.key(0)))
    with pytest.raises(ValueError, match=r"RNN: noise is on but no key was given"):
        model(XS)
    with pytest.raises(ValueError, match=r"RNN: inputs must have a time and a feature axis"):
        model(jnp.ones(IN), key=key)
    test_time = eqx.nn.inference_mode(model)
    assert test_time.cell.inference
    np.testing.assert_array_equal(test_time(XS), model(XS, inference=True))
    _, ys = _loop(eqx.nn.inference_mode(model.cell), XS, key)
    close(test_time(XS), ys)
    assert not np.allclose(model(XS, key=key), ys)
    soft = rje.RNN(rje.NoisyLSTMCell(IN, H, gates="soft", key=key))
    assert soft(XS).shape == (B, T, H)  # no noise, no key needed
    with pytest.raises(ValueError, match=r"NoisyLSTMCell: noise is on but no key was given"):
        rje.NoisyLSTMCell(IN, H, key=key)(
            rje.NoisyLSTMCell(IN, H, key=key).initialize_carry((IN,)), X[0]
        )


# --------------------------------------------------------------------------------------
# Training and annealing: the noise scales are not trained, and changing them does not
# recompile.


class _MLP(eqx.Module):
    first: eqx.nn.Linear
    act: rje.NoisyHardTanh
    last: eqx.nn.Linear

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.first = eqx.nn.Linear(IN, 8, key=k1)
        self.act = rje.NoisyHardTanh(8, key=k2)
        self.last = eqx.nn.Linear(8, 1, key=k3)

    def __call__(self, x, *, key):
        return self.last(self.act(3.0 * self.first(x), key=key))


class _Sequence(eqx.Module):
    rnn: rje.RNN
    head: eqx.nn.Linear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.rnn = rje.RNN(rje.NoisyLSTMCell(IN, H, key=k1))
        self.head = eqx.nn.Linear(H, 1, key=k2)

    def __call__(self, xs, *, key):
        return jax.vmap(self.head)(self.rnn(xs, key=key))


def _train(model, xs, target, key, steps=50):
    """The standard Equinox loop: partition on inexact arrays, filter_value_and_grad, adam."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimiser = optax.adam(1e-2)
    opt_state = optimiser.init(params)

    @eqx.filter_jit
    def step(params, opt_state, k):
        def loss(params):
            model = eqx.combine(params, static)
            keys = jax.random.split(k, xs.shape[0])
            out = jax.vmap(lambda x, kk: model(x, key=kk))(xs, keys)
            return jnp.mean((out - target) ** 2)

        value, grads = eqx.filter_value_and_grad(loss)(params)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, value, grads

    for k in jax.random.split(key, steps):
        params, opt_state, _, grads = step(params, opt_state, k)
    return eqx.combine(params, static), grads


def test_a_standard_training_loop_trains_p_and_leaves_c_alone(key):
    model = _MLP(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (16, IN))
    trained, grads = _train(model, xs, jnp.sin(xs[:, :1]), key)
    assert float(grads.act.c) == 0.0
    np.testing.assert_array_equal(trained.act.c, model.act.c)
    assert not np.allclose(trained.act.p, model.act.p)

    # c does change the loss (with the noise on), so only stop_gradient keeps it fixed
    def loss_of_c(c):
        return jnp.sum(model.act(3.0 * model.first(xs[0]), key=key, c=c))

    assert float(jax.grad(loss_of_c)(model.act.c)) != 0.0


def test_a_standard_training_loop_trains_the_cells_p_and_leaves_its_noise_scales(key):
    model = _Sequence(jax.random.key(0))
    xs = 2.0 * jax.random.normal(jax.random.key(1), (4, T, IN))
    trained, grads = _train(model, xs, jnp.cumsum(xs[..., :1], axis=1) / 4, key)
    for name in ("gate_c", "tanh_c"):
        assert float(getattr(grads.rnn.cell, name)) == 0.0
        np.testing.assert_array_equal(
            getattr(trained.rnn.cell, name), getattr(model.rnn.cell, name)
        )
    assert not np.allclose(trained.rnn.cell.p, model.rnn.cell.p)
    assert not np.allclose(trained.rnn.cell.weight_hh, model.rnn.cell.weight_hh)


def test_set_noise_scale_reaches_every_noisy_module_and_checks_c(key):
    model = (_MLP(key), _Sequence(key), rje.NoisyGRUCell(IN, H, gates="hard", key=key))
    annealed = rje.set_noise_scale(model, 2.0)
    for scale in (annealed[0].act.c, annealed[1].rnn.cell.gate_c, annealed[1].rnn.cell.tanh_c):
        assert float(scale) == 2.0 and scale.dtype == jnp.float32
    assert annealed[2].gate_c is None  # hard gates: no noise scale
    assert float(model[0].act.c) == 0.5  # the input is unchanged
    assert rje.set_noise_scale(eqx.nn.Linear(2, 2, key=key), 1.0) is not None  # nothing to set
    with pytest.raises(ValueError, match="set_noise_scale: c must be a finite number >= 0"):
        rje.set_noise_scale(model, -1.0)
    layer = rje.NoisyHardTanh(IN, key=key)
    np.testing.assert_array_equal(
        rje.set_noise_scale(layer, 0.0)(4 * X, key=key), layer(4 * X, key=key, c=0.0)
    )


def test_annealing_does_not_recompile(key):
    layer = rje.NoisyHardTanh(IN, key=key)
    model = rje.RNN(rje.NoisyLSTMCell(IN, H, key=key))
    traces = []

    @eqx.filter_jit
    def inside(model, layer, c, k):  # annealed inside the step
        traces.append("inside")
        return rje.set_noise_scale(layer, c)(4 * X, key=k), rje.set_noise_scale(model, c)(XS, key=k)

    @eqx.filter_jit
    def outside(model, layer, k):  # annealed outside, passed in
        traces.append("outside")
        return layer(4 * X, key=k), model(XS, key=k)

    outs = []
    for c in (0.5, 5.0, 50.0):
        outs.append(inside(model, layer, jnp.float32(c), key))
        outside(rje.set_noise_scale(model, c), rje.set_noise_scale(layer, c), key)
    assert traces == ["inside", "outside"]
    assert not np.array_equal(outs[0][0], outs[2][0])
    assert not np.allclose(outs[0][1], outs[2][1])
