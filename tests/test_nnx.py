"""flax.nnx modules: rngs in every form, eval()/train(), annealing inside nnx.jit; the noisy
cells as drop-ins for nnx.LSTMCell / nnx.GRUCell, and RNN against loops, flax and
nnx.Bidirectional."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax import nnx as rjx

X = jnp.linspace(-4.0, 4.0, 24).reshape(2, 12) + 0.01


def test_prelu_and_tlu_parameters():
    prelu = rjx.PReLU(12, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(prelu.negative_slope[...], jnp.full((12,), 0.25))
    np.testing.assert_allclose(prelu(X), rj.prelu(X, 0.25))
    assert prelu(X.astype(jnp.bfloat16)).dtype == jnp.bfloat16
    tlu = rjx.TLU(12, alpha=0.5, learn_alpha=True, rngs=nnx.Rngs(0))
    g = nnx.grad(lambda m: jnp.sum(m(X)))(tlu)
    np.testing.assert_allclose(
        g.alpha[...], jnp.sum(jnp.where(X < 0, jnp.tanh(X), 0.0), axis=0), rtol=1e-6
    )
    assert len(jax.tree.leaves(nnx.state(rjx.TLU(alpha=0.5), nnx.Param))) == 0


def test_noisy_p_init_and_noise_scale_variable():
    n = 4096
    layer = rjx.NoisyHardTanh(n, rngs=nnx.Rngs(0))
    p = np.asarray(layer.p[...], np.float64)
    assert p.min() >= -1 and p.max() < 1
    assert abs(p.mean()) < 5 * math.sqrt(1 / 3) / math.sqrt(n)
    assert float(layer.c[...]) == 0.5
    assert float(rjx.NoisyHardSigmoid(3, rngs=nnx.Rngs(0)).c[...]) == pytest.approx(0.15)
    assert len(jax.tree.leaves(nnx.state(layer, nnx.Param))) == 1  # c is not a Param


def test_rngs_forms_and_call_time_key(key):
    layer = rjx.NoisyHardTanh(12, rngs=nnx.Rngs(params=0, noise=1))
    p = layer.p[...]
    np.testing.assert_array_equal(layer(X, rngs=key), rj.noisy_hard_tanh(X, key, p=p))
    np.testing.assert_array_equal(
        layer(X, rngs=nnx.Rngs(noise=key)), rj.noisy_hard_tanh(X, nnx.Rngs(noise=key).noise(), p=p)
    )
    a, b = layer(X), layer(X)  # the module's own stream advances
    assert not np.array_equal(a, b)
    fallback = rjx.NoisyHardTanh(12, rngs=nnx.Rngs(0))  # no 'noise' stream: uses 'default'
    assert not np.array_equal(fallback(X), fallback(X))
    np.testing.assert_array_equal(rjx.RReLU(rngs=key)(X), rjx.RReLU(rngs=key)(X))
    assert not np.array_equal(rjx.RReLU(rngs=key)(X), rjx.RReLU(rngs=jax.random.key(9))(X))
    stream = nnx.RngStream(key, tag="noise")
    assert not np.array_equal(rjx.RReLU(rngs=stream)(X), rjx.RReLU(rngs=stream)(X))  # forked


def test_eval_train_and_deterministic_override():
    layer = rjx.NoisyHardTanh(12, rngs=nnx.Rngs(0))
    det = rj.noisy_hard_tanh(X, p=layer.p[...], deterministic=True)
    layer.eval()
    np.testing.assert_array_equal(layer(X), det)
    assert not np.array_equal(layer(X, deterministic=False), det)
    layer.train()
    assert not np.array_equal(layer(X), det)
    np.testing.assert_array_equal(layer(X, deterministic=True), det)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rjx.RReLU(),
        lambda: rjx.NReLU(),
        lambda: rjx.InputNoisy(),
        lambda: rjx.SaturatedInputNoisy(),
    ],
    ids=["RReLU", "NReLU", "InputNoisy", "SaturatedInputNoisy"],
)
def test_missing_rngs_lists_the_fixes(make):
    layer = make()
    with pytest.raises(
        ValueError, match=r"(?s)no PRNG source.*nnx.Rngs\(noise=seed\).*model.eval\(\)"
    ):
        layer(X)
    layer.eval()
    assert layer(X).shape == X.shape
    with pytest.raises(TypeError, match="rngs must be an nnx.Rngs"):
        type(layer)(rngs=3)


def test_input_noise_modules_match_the_functions(key):
    nani = rjx.InputNoisy(unit=rj.HARD_SIGMOID_UNIT, s=0.3)
    np.testing.assert_array_equal(nani(X, rngs=key), rj.input_noisy_hard_sigmoid(X, key, s=0.3))
    nanis = rjx.SaturatedInputNoisy()
    np.testing.assert_array_equal(nanis(X, rngs=key), rj.saturated_input_noisy_hard_tanh(X, key))
    nanil = rjx.LearnedInputNoisy(12, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(
        nanil(X, rngs=key), rj.learned_input_noisy_hard_tanh(X, key, p=nanil.p[...], c=0.5)
    )


def test_bad_options_are_caught_at_construction():
    with pytest.raises(ValueError, match=r"NoisyHardTanh: noise='gauss' is not one of"):
        rjx.NoisyHardTanh(3, noise="gauss", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"NoisyLSTMCell: residual='x' is not one of"):
        rjx.NoisyLSTMCell(2, 3, residual="x", rngs=nnx.Rngs(0))


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(4, 16, rngs=rngs)
        self.a1 = rjx.NoisyHardTanh(16, rngs=rngs)
        self.l2 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.a1(self.l1(x)))[:, 0]


@pytest.mark.slow
def test_annealed_nnx_train_step_compiles_once_over_50_steps():
    model = MLP(nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    x = jax.random.normal(jax.random.key(1), (32, 4))
    y = jnp.sin(x[:, 0])
    schedule = rj.schedules.noise_annealing(30.0, transition_steps=5, end_value=0.5)
    traces = []

    @nnx.jit
    def step(model, opt, count):
        traces.append(1)
        rjx.set_noise_scale(model, schedule(count))
        loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        opt.update(model, grads)
        return loss

    for i in range(50):
        assert bool(jnp.isfinite(step(model, opt, i)))
        assert float(model.a1.c[...]) == pytest.approx(float(schedule(i)))
    assert len(traces) == 1
    assert nnx.to_pure_dict(nnx.state(model, rjx.NoiseScale)).keys() == {"a1"}  # not trained


PAIRS = {  # linen module, NNX module (built with 12 features where it has parameters)
    "NoisyHardTanh": (lambda: rjl.NoisyHardTanh(), lambda r: rjx.NoisyHardTanh(12, rngs=r)),
    "NoisyHardSigmoid": (
        lambda: rjl.NoisyHardSigmoid(noise="normal"),
        lambda r: rjx.NoisyHardSigmoid(12, noise="normal", rngs=r),
    ),
    "LearnedInputNoisy": (
        lambda: rjl.LearnedInputNoisy(),
        lambda r: rjx.LearnedInputNoisy(12, rngs=r),
    ),
    "InputNoisy": (lambda: rjl.InputNoisy(), lambda r: rjx.InputNoisy(rngs=r)),
    "SaturatedInputNoisy": (
        lambda: rjl.SaturatedInputNoisy(),
        lambda r: rjx.SaturatedInputNoisy(rngs=r),
    ),
    "RReLU": (lambda: rjl.RReLU(), lambda r: rjx.RReLU(rngs=r)),
    "NReLU": (lambda: rjl.NReLU(), lambda r: rjx.NReLU(rngs=r)),
}


@pytest.mark.parametrize("name", PAIRS)
def test_linen_and_nnx_modules_agree_for_the_same_parameters_and_key(name, key):
    make_linen, make_nnx = PAIRS[name]
    lmod, xmod = make_linen(), make_nnx(nnx.Rngs(3))
    variables = lmod.init(jax.random.key(0), X, deterministic=True)
    for pname, value in variables.get("params", {}).items():
        getattr(xmod, pname)[...] = value
    for det in (False, True):
        ly = lmod.apply(variables, X, deterministic=det, rng=key)
        np.testing.assert_array_equal(ly, xmod(X, deterministic=det, rngs=key))


def test_linen_and_nnx_prelu_and_tlu_agree():
    for lmod, xmod in [
        (rjl.PReLU(), rjx.PReLU(12, rngs=nnx.Rngs(0))),
        (
            rjl.TLU(alpha=0.3, learn_alpha=True),
            rjx.TLU(12, alpha=0.3, learn_alpha=True, rngs=nnx.Rngs(0)),
        ),
    ]:
        variables = lmod.init(jax.random.key(0), X)
        np.testing.assert_array_equal(lmod.apply(variables, X), xmod(X))


# --------------------------------------------------------------------------------------
# Recurrent cells: drop-ins for flax's, and RNN.

IN, H, B, T = 3, 4, 2, 5
XS = jax.random.normal(jax.random.key(11), (B, T, IN))
CELLS = {"lstm": (rjx.NoisyLSTMCell, nnx.LSTMCell), "gru": (rjx.NoisyGRUCell, nnx.GRUCell)}


def params_of(module) -> dict:
    return {k: v[...] for k, v in nnx.to_flat_state(nnx.state(module, nnx.Param))}


def loop(cell, xs, carry=None, keys=None, **kwargs):
    """The cell called step by step over ``xs`` (batch, time, features); every carry."""
    carry = cell.initialize_carry(xs[:, 0].shape) if carry is None else carry
    carries, ys = [], []
    for t in range(xs.shape[1]):
        rngs = {} if keys is None else {"rngs": keys[t]}
        carry, y = cell(carry, xs[:, t], **rngs, **kwargs)
        carries.append(carry)
        ys.append(y)
    return carries, jnp.stack(ys, axis=1)


@pytest.mark.parametrize("kind", CELLS)
def test_cells_take_their_sizes_positionally_or_by_keyword(kind):
    ours, _ = CELLS[kind]
    by_position = ours(IN, H, rngs=nnx.Rngs(0))
    by_keyword = ours(in_features=IN, hidden_features=H, rngs=nnx.Rngs(0))
    assert (by_keyword.in_features, by_keyword.hidden_features) == (IN, H)
    a, b = params_of(by_position), params_of(by_keyword)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(TypeError):
        ours(IN, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("kind", CELLS)
def test_initialize_carry_honours_carry_init(kind):
    ours, theirs = CELLS[kind]
    ones = nnx.initializers.ones_init()
    cell = ours(IN, H, rngs=nnx.Rngs(0))
    for leaf in jax.tree.leaves(cell.initialize_carry((B, IN))):
        np.testing.assert_array_equal(leaf, jnp.zeros((B, H)))
    for leaf in jax.tree.leaves(cell.initialize_carry((B, IN), carry_init=ones)):
        np.testing.assert_array_equal(leaf, jnp.ones((B, H)))
    from_init = ours(IN, H, carry_init=ones, rngs=nnx.Rngs(0))
    for leaf in jax.tree.leaves(from_init.initialize_carry((7, B, IN))):
        np.testing.assert_array_equal(leaf, jnp.ones((7, B, H)))
    zeros = nnx.initializers.zeros_init()
    for leaf in jax.tree.leaves(from_init.initialize_carry((B, IN), carry_init=zeros)):
        np.testing.assert_array_equal(leaf, jnp.zeros((B, H)))  # the argument wins
    # a random carry_init draws what flax's cell draws from the same rngs
    normal = nnx.initializers.normal(1.0)
    flax_cell = theirs(IN, H, rngs=nnx.Rngs(0))
    want = flax_cell.initialize_carry((B, IN), nnx.Rngs(carry=5), carry_init=normal)
    got = cell.initialize_carry((B, IN), nnx.Rngs(carry=5), carry_init=normal)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(a, b)
    leaves = jax.tree.leaves(cell.initialize_carry((B, IN), jax.random.key(1), carry_init=normal))
    assert not np.array_equal(leaves[0], 0.0)


@pytest.mark.parametrize("gates", ["noisy", "soft"])
@pytest.mark.parametrize("kind", CELLS)
def test_cell_state_has_flax_attribute_names_and_shapes(kind, gates):
    ours, theirs = CELLS[kind]
    mine = {k: v.shape for k, v in params_of(ours(IN, H, gates=gates, rngs=nnx.Rngs(0))).items()}
    flax_ = {k: v.shape for k, v in params_of(theirs(IN, H, rngs=nnx.Rngs(0))).items()}
    extra = {("p",): (5 if kind == "lstm" else 3, H)} if gates == "noisy" else {}
    assert mine == {**flax_, **extra}
    cell = ours(IN, H, rngs=nnx.Rngs(0))
    assert nnx.to_pure_dict(nnx.state(cell, rjx.NoiseScale)).keys() == {"gate_c", "tanh_c"}
    assert cell.num_feature_axes == 1


@pytest.mark.parametrize("rngs", [lambda: nnx.Rngs(0), lambda: nnx.Rngs(params=3, noise=4)])
@pytest.mark.parametrize("kind", CELLS)
def test_same_rngs_give_flax_weights_bit_for_bit(kind, rngs):
    ours, theirs = CELLS[kind]
    mine, flax_ = params_of(ours(IN, H, rngs=rngs())), params_of(theirs(IN, H, rngs=rngs()))
    for k, value in flax_.items():
        assert mine[k].dtype == value.dtype
        np.testing.assert_array_equal(mine[k], value)


@pytest.mark.parametrize("kind", CELLS)
def test_flax_weights_in_a_soft_cell_give_flax_outputs(kind, key):
    ours, theirs = CELLS[kind]
    flax_cell = theirs(IN, H, rngs=nnx.Rngs(1))
    soft = ours(IN, H, gates="soft", rngs=nnx.Rngs(params=2))  # no noise stream: none needed
    nnx.update(soft, nnx.state(flax_cell))
    carry = flax_cell.initialize_carry((B, IN), nnx.Rngs(0), carry_init=nnx.initializers.normal())
    want_carries, want = loop(flax_cell, XS, carry)
    got_carries, got = loop(soft, XS, carry)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(got_carries), jax.tree.leaves(want_carries), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # a noisy cell takes the same weights (and keeps its p)
    noisy = ours(IN, H, rngs=nnx.Rngs(3))
    p = noisy.p[...]
    nnx.update(noisy, nnx.state(flax_cell))
    mine, flax_ = params_of(noisy), params_of(flax_cell)
    for k, value in flax_.items():
        np.testing.assert_array_equal(mine[k], value)
    np.testing.assert_array_equal(noisy.p[...], p)
    _, ys = loop(noisy, XS, keys=jax.random.split(key, T))
    assert ys.shape == (B, T, H) and bool(jnp.all(jnp.isfinite(ys)))
    assert not np.allclose(ys, got)


SEQUENCE_OPTIONS = {
    "plain": {},
    "return_carry": {"return_carry": True},
    "reverse": {"reverse": True},
    "keep_order": {"reverse": True, "keep_order": True},
    "time_major": {"time_major": True, "return_carry": True},
    "seq_lengths": {"seq_lengths": jnp.array([5, 2]), "return_carry": True},
    "reverse_seq_lengths": {
        "seq_lengths": jnp.array([3, 5]),
        "reverse": True,
        "keep_order": True,
        "return_carry": True,
    },
}


@pytest.mark.parametrize("options", SEQUENCE_OPTIONS)
@pytest.mark.parametrize("kind", CELLS)
def test_rnn_of_a_soft_cell_is_flax_nnx_rnn_for_every_option(kind, options):
    ours, theirs = CELLS[kind]
    flax_cell = theirs(IN, H, rngs=nnx.Rngs(1))
    soft = ours(IN, H, gates="soft", rngs=nnx.Rngs(2))
    nnx.update(soft, nnx.state(flax_cell))
    kwargs = dict(SEQUENCE_OPTIONS[options])
    xs = jnp.swapaxes(XS, 0, 1) if kwargs.get("time_major") else XS
    want = nnx.RNN(flax_cell)(xs, **kwargs)
    got = rjx.RNN(soft)(xs, **kwargs)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # the same options as constructor attributes
    attrs = {k: kwargs.pop(k) for k in list(kwargs) if k != "seq_lengths"}
    again = rjx.RNN(soft, **attrs)(xs, **kwargs)
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(got), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("kind", CELLS)
def test_16_bit_param_dtypes_initialise_and_run_on_cpu(kind, dtype, key):
    ours, _ = CELLS[kind]
    cell = ours(IN, H, param_dtype=dtype, rngs=nnx.Rngs(0))
    assert {v.dtype for v in params_of(cell).values()} == {jnp.dtype(dtype)}
    assert cell.gate_c[...].dtype == dtype
    x = XS[:, 0].astype(dtype)
    carry, y = cell(cell.initialize_carry(x.shape), x, rngs=key)
    assert y.dtype == dtype and all(c.dtype == dtype for c in jax.tree.leaves(carry))
    assert bool(jnp.all(jnp.isfinite(y)))
    for xs in (XS, XS.astype(dtype)):  # float32 inputs: a float32 carry; 16-bit: 16-bit
        carry, ys = rjx.RNN(cell, return_carry=True)(xs, rngs=key)
        assert ys.dtype == xs.dtype and jax.tree.leaves(carry)[0].dtype == xs.dtype
        assert bool(jnp.all(jnp.isfinite(ys)))


@pytest.mark.parametrize("residual", ["noise", "key"])
@pytest.mark.parametrize("kind", CELLS)
def test_rnn_equals_a_loop_of_the_cell_with_split_keys(kind, residual, key):
    ours, _ = CELLS[kind]
    cell = ours(IN, H, residual=residual, noise="normal", rngs=nnx.Rngs(0))
    model = rjx.RNN(cell, return_carry=True)
    keys = jax.random.split(key, T)
    for det in (False, True):
        carries, want = loop(cell, XS, keys=None if det else keys, deterministic=det)
        carry, got = model(XS, rngs=key, deterministic=det)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(carries[-1]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

    # the same with jax.lax.scan over the cell
    def body(carry, inputs):
        x, k = inputs
        return cell(carry, x, rngs=k)

    _, scanned = jax.lax.scan(body, cell.initialize_carry((B, IN)), (jnp.swapaxes(XS, 0, 1), keys))
    np.testing.assert_allclose(model(XS, rngs=key)[1], jnp.swapaxes(scanned, 0, 1), rtol=1e-6)
    # without rngs: one key from the cell's stream, split over the steps
    twin = ours(IN, H, residual=residual, noise="normal", rngs=nnx.Rngs(0))
    _, want = loop(twin, XS, keys=jax.random.split(twin.rngs(), T))
    np.testing.assert_allclose(model(XS)[1], want, rtol=1e-6, atol=1e-6)
    assert not np.array_equal(model(XS)[1], model(XS)[1])  # the stream advances
    # an nnx.Rngs at call time: its "noise" stream's next key
    np.testing.assert_array_equal(
        model(XS, rngs=nnx.Rngs(noise=7))[1], model(XS, rngs=nnx.Rngs(noise=7).noise())[1]
    )
    model.eval()  # the cell follows eval() / train()
    np.testing.assert_array_equal(model(XS)[1], model(XS, deterministic=True)[1])
    model.train()
    assert not np.array_equal(model(XS)[1], model(XS, deterministic=True)[1])


@pytest.mark.parametrize("kind", CELLS)
def test_rnn_seq_lengths_gives_the_carry_at_each_sequences_last_step(kind, key):
    ours, _ = CELLS[kind]
    cell = ours(IN, H, rngs=nnx.Rngs(0))
    lengths = jnp.array([2, 5])
    carry, ys = rjx.RNN(cell)(XS, seq_lengths=lengths, return_carry=True, rngs=key)
    carries, want = loop(cell, XS, keys=jax.random.split(key, T))
    np.testing.assert_allclose(ys, want, rtol=1e-6, atol=1e-6)
    for b, length in enumerate(lengths.tolist()):
        expected = carries[length - 1]
        for a, e in zip(jax.tree.leaves(carry), jax.tree.leaves(expected), strict=True):
            np.testing.assert_allclose(a[b], e[b], rtol=1e-6, atol=1e-6)
    last = jax.tree.leaves(rjx.RNN(cell)(XS, return_carry=True, rngs=key)[0])[0]
    assert not np.allclose(jax.tree.leaves(carry)[0][0], last[0])  # the short one stopped


@pytest.mark.parametrize("kind", CELLS)
def test_rnn_reverse_keep_order_and_time_major(kind, key):
    ours, _ = CELLS[kind]
    cell = ours(IN, H, rngs=nnx.Rngs(0))
    keys = jax.random.split(key, T)
    _, backwards = loop(cell, XS[:, ::-1], keys=keys)
    np.testing.assert_allclose(
        rjx.RNN(cell, reverse=True)(XS, rngs=key), backwards, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        rjx.RNN(cell)(XS, reverse=True, keep_order=True, rngs=key),
        backwards[:, ::-1],
        rtol=1e-6,
        atol=1e-6,
    )
    time_major = rjx.RNN(cell, time_major=True)(jnp.swapaxes(XS, 0, 1), rngs=key)
    np.testing.assert_array_equal(jnp.swapaxes(time_major, 0, 1), rjx.RNN(cell)(XS, rngs=key))
    ones = cell.initialize_carry((B, IN), carry_init=nnx.initializers.ones_init())
    got = rjx.RNN(cell)(XS, initial_carry=ones, deterministic=True)
    np.testing.assert_allclose(got, loop(cell, XS, ones, deterministic=True)[1], atol=1e-6)
    assert not np.allclose(got, rjx.RNN(cell)(XS, deterministic=True))


@pytest.mark.parametrize("kind", CELLS)
def test_rnn_inside_nnx_bidirectional(kind):
    ours, _ = CELLS[kind]
    lengths = jnp.array([3, 5])

    def make(det=False):
        forward = rjx.RNN(ours(IN, H, deterministic=det, rngs=nnx.Rngs(1)))
        backward = rjx.RNN(ours(IN, H, deterministic=det, rngs=nnx.Rngs(2)))
        return forward, backward

    for det in (True, False):
        # the noise comes from each cell's stream, not from Bidirectional's "carry" stream
        (fc, bc), outputs = nnx.Bidirectional(*make(det))(
            XS, seq_lengths=lengths, return_carry=True
        )
        forward, backward = make(det)
        want_fc, want_f = forward(XS, seq_lengths=lengths, return_carry=True)
        want_bc, want_b = backward(
            XS, seq_lengths=lengths, return_carry=True, reverse=True, keep_order=True
        )
        np.testing.assert_array_equal(outputs, jnp.concatenate([want_f, want_b], axis=-1))
        for a, b in zip(
            jax.tree.leaves((fc, bc)), jax.tree.leaves((want_fc, want_bc)), strict=True
        ):
            np.testing.assert_array_equal(a, b)
    model = nnx.Bidirectional(*make())
    assert not np.array_equal(model(XS), model(XS))  # fresh noise every call


@pytest.mark.parametrize("kind", CELLS)
def test_flax_nnx_rnn_runs_the_noisy_cells_with_fresh_noise_per_step(kind):
    ours, _ = CELLS[kind]
    model = nnx.RNN(ours(IN, H, rngs=nnx.Rngs(0)))
    twin = ours(IN, H, rngs=nnx.Rngs(0))
    ys = model(XS)
    _, want = loop(twin, XS)  # each step a fresh key from the cell's stream
    np.testing.assert_allclose(ys, want, rtol=1e-6, atol=1e-6)
    jitted = nnx.jit(lambda m, x: m(x))(model, XS)
    np.testing.assert_allclose(jitted, loop(twin, XS)[1], rtol=1e-6, atol=1e-6)
    assert not np.array_equal(model(XS), model(XS))
    model.eval()
    want = rjx.RNN(twin)(XS, deterministic=True)
    np.testing.assert_allclose(model(XS), want, rtol=1e-6, atol=1e-6)


def test_rnn_runs_other_cells_as_flax_does_and_rejects_bad_rngs():
    flax_cell = nnx.LSTMCell(IN, H, rngs=nnx.Rngs(0))
    for options in ({}, {"reverse": True, "keep_order": True}, {"return_carry": True}):
        jax.tree.map(
            np.testing.assert_array_equal,
            rjx.RNN(flax_cell, **options)(XS),
            nnx.RNN(flax_cell, **options)(XS),
        )
    with pytest.raises(TypeError, match="RNN: deterministic= is for the noisy cells"):
        rjx.RNN(flax_cell)(XS, deterministic=True)
    with pytest.raises(TypeError, match="RNN: state_axes and broadcast_rngs are options"):
        rjx.RNN(rjx.NoisyGRUCell(IN, H, rngs=nnx.Rngs(0)), broadcast_rngs="noise")
    with pytest.raises(TypeError, match="rngs must be an nnx.Rngs"):
        rjx.RNN(rjx.NoisyGRUCell(IN, H, rngs=nnx.Rngs(0)))(XS, rngs=3)


@pytest.mark.parametrize("kind", CELLS)
def test_cells_need_a_noise_stream_only_for_noise(kind):
    ours, _ = CELLS[kind]
    cell = ours(IN, H, rngs=nnx.Rngs(params=0))  # flax's usual rngs: no noise stream
    x = XS[:, 0]
    carry = cell.initialize_carry(x.shape)
    with pytest.raises(ValueError, match=r"(?s)no PRNG source.*nnx.Rngs\(noise=seed\)"):
        cell(carry, x)
    with pytest.raises(ValueError, match="no PRNG source"):
        rjx.RNN(cell)(XS)
    assert cell(carry, x, deterministic=True)[1].shape == (B, H)
    assert cell(carry, x, rngs=jax.random.key(0))[1].shape == (B, H)
    for gates in ("soft", "hard"):
        control = ours(IN, H, gates=gates, rngs=nnx.Rngs(params=0))
        assert not hasattr(control, "p")
        assert rjx.RNN(control)(XS).shape == (B, T, H)
    with pytest.raises(ValueError, match="rngs= is needed"):
        ours(IN, H, rngs=None)
    with pytest.raises(ValueError, match=r"gate_c must be a finite number >= 0"):
        ours(IN, H, gate_c=-1.0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"gates='x' is not one of"):
        ours(IN, H, gates="x", rngs=nnx.Rngs(0))


def test_set_noise_scale_reaches_the_cells():
    model = rjx.RNN(rjx.NoisyLSTMCell(IN, H, rngs=nnx.Rngs(0)))
    rjx.set_noise_scale(model, 2.0)
    assert float(model.cell.gate_c[...]) == float(model.cell.tanh_c[...]) == 2.0


def test_noisy_path_shares_finds_every_noisy_output_layer():
    model = nnx.Sequential(
        nnx.Linear(4, 6, rngs=nnx.Rngs(0)),
        rjx.NoisyActivation(6, unit=rj.HARD_SIGMOID_UNIT, rngs=nnx.Rngs(1)),
        rjx.NoisyHardSigmoid(6, rngs=nnx.Rngs(2)),
        rjx.NoisyHardTanh(6, rngs=nnx.Rngs(3)),
        rjx.LearnedInputNoisy(6, rngs=nnx.Rngs(4)),
    )
    x = 3 * jax.random.normal(jax.random.key(0), (16, 4))
    shares = rjx.noisy_path_shares(model, jnp.sum, x)
    assert sorted(shares) == ["layers/1", "layers/2", "layers/3"]
    for s in shares.values():
        assert float(sum(s.values())) == pytest.approx(1.0, abs=1e-5)
