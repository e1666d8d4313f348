"""flax.nnx modules: rngs in every form, eval()/train(), annealing inside nnx.jit."""

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
