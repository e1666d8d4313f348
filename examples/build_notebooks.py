"""Writes the example notebooks: run ``python examples/build_notebooks.py`` after editing.

Each notebook: a title and one paragraph on what it shows and what it needs, an install
cell tagged ``skip-execution`` (CI uses the checked-out package) and ``remove-cell`` (the
rendered documentation leaves it out; Colab and Jupyter run it; it installs the
``experiments`` extra, and ``equinox`` too in a notebook that imports it), a ``parameters`` cell
(the test suite substitutes small sizes), then the example, using only the public API.
Cells are separated by lines ``# %%`` (code) and ``# %% [markdown]`` (text), as in
jupytext's percent format.

``--execute`` also runs each notebook top to bottom at its default sizes (the install
cell is skipped) and saves it with its outputs, figures included, so that the committed
notebooks read well unopened. ``--keep-outputs`` (after editing text only) keeps the
outputs of every code cell whose source is unchanged from the committed notebook.
"""

import argparse
import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).parent
INSTALL = """\
# Install rectify_jax (skip this cell when it is already installed).
# - Inside a clone of the repository: installs the clone.
# - On Colab or any fresh machine: installs from the package index. Until the package is
#   published there, set RECTIFY_JAX_SOURCE to a git URL of the repository
#   ("git+https://...") or to the path of a wheel you uploaded (`python -m build` makes one).
import importlib.util
import pathlib
import subprocess
import sys

RECTIFY_JAX_SOURCE = ""  # e.g. "git+https://github.com/<owner>/rectify_jax" or a .whl path


def _pip_install(requirement):
    print("pip install", requirement)
    command = [sys.executable, "-m", "pip", "install", "-q", requirement]
    return subprocess.run(command).returncode == 0


if importlib.util.find_spec("rectify_jax") is not None:
    print("rectify_jax is already installed")
else:
    here = pathlib.Path.cwd().resolve()
    clone = next(
        (
            d
            for d in (here, *here.parents)
            if (d / "rectify_jax" / "__init__.py").exists() and (d / "pyproject.toml").exists()
        ),
        None,
    )
    source = RECTIFY_JAX_SOURCE.strip()
    if clone is not None:
        requirement = f"{clone}[experiments]"
    elif source.startswith("git+"):
        requirement = f"rectify-jax[experiments] @ {source}"
    elif source:
        requirement = f"{source}[experiments]"
    else:
        requirement = "rectify-jax[experiments]"
    if not _pip_install(requirement):
        raise RuntimeError(
            "Could not install rectify_jax from " + repr(requirement) + ". If the package is "
            "not on the package index yet, set RECTIFY_JAX_SOURCE in this cell to a git URL of "
            "the repository (git+https://...) or to the path of an uploaded wheel, then run the "
            "cell again."
        )
    print("installed; on Colab, restart the runtime if an import below fails")
"""

QUICKSTART = """\
# %% [markdown]
# 01 · Quickstart: rectifiers and noisy activations

Pure functions with explicit PRNG keys, their gradients, the three gradient paths of a
noisy unit, and the figures. It needs only the package (the figures use matplotlib, in the
`plot` extra) and runs in seconds on a CPU.
# %% parameters
samples = 20  # noisy draws per input in the figures
# %%
import jax
import jax.numpy as jnp

import rectify_jax as rj
from rectify_jax import plotting

x = jnp.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
key = jax.random.key(0)
print("relu      ", rj.relu(x))
print("tlu       ", rj.tlu(x))
print("hard_tanh ", rj.hard_tanh(x))
print("noisy     ", rj.noisy_hard_tanh(x, key))
print("test time ", rj.noisy_hard_tanh(x, deterministic=True))
# %% [markdown]
Noise appears only where the unit saturates ($|x| > 1$). Gradients flow there too: the
custom VJP carries the linear, nonlinear and stochastic paths.
# %%
grad = jax.grad(lambda x: rj.noisy_hard_tanh(x, key).sum())(x)
paths = rj.diagnostics.noisy_gradient_paths(rj.HARD_TANH_UNIT, x, key)
print("dphi/dx   ", grad)
for name, g in paths._asdict().items():
    print(f"{name:<10}", g)
assert jnp.allclose(sum(paths), grad, atol=1e-6)
print(rj.diagnostics.path_shares(paths))
# %%
plotting.activations(
    ["relu", "leaky_relu", "elu", "tlu", "tanh", "hard_tanh", "hard_sigmoid", "noisy_hard_tanh"]
)
# %%
plotting.noisy_samples(alphas=(1.0, 1.15, 1.5), samples=samples)
# %% [markdown]
Your own noisy unit, from a hard-saturating `h` and its linearisation `u`:
# %%
import math

noisy_relu = rj.NoisyUnit(h=rj.relu, u=lambda x: x, threshold=(0.0, math.inf), name="noisy_relu")
print(noisy_relu(x, key))
"""

LSTM_LM = """\
# %% [markdown]
# 02 · A noisy-LSTM language model in Flax, with annealing

A byte-level LSTM language model on the Python standard library's source, every gate a
noisy hard sigmoid and every tanh a noisy hard tanh. The noise scale $c$ follows the
paper's annealing schedule through `set_noise_scale`, without recompiling. It needs the
`experiments` extra (the corpus is read from this Python's own library; nothing is
downloaded) and trains for a few minutes on a CPU.
# %% parameters
steps = 300
hidden = 64
length = 32
batch = 32
# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import data

train, valid, description = data.stdlib_corpus()
print(description)
train = jnp.asarray(train)
# %%
class LM(nn.Module):
    deterministic: bool = False

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(256, 32)(tokens)
        h = rjl.rnn(rjl.NoisyLSTMCell(hidden, deterministic=self.deterministic))(x)
        return nn.Dense(256)(h)


model = LM()
keys = {"params": jax.random.key(0), "noise": jax.random.key(1)}
variables = model.init(keys, jnp.zeros((1, length), jnp.int32))
schedule = rj.schedules.noise_annealing(30.0, transition_steps=max(1, steps // 100))
tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(2e-3))
opt_state = tx.init(variables["params"])
# %%
def xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@jax.jit
def step(params, opt_state, i, key):
    x, y = data.text_batch(train, jax.random.fold_in(key, 0), batch, length)
    v = rjl.set_noise_scale({**variables, "params": params}, schedule(i))

    def loss(params):
        return xent(model.apply({**v, "params": params}, x, rngs={"noise": key}), y)

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


params, losses = variables["params"], []
for i in range(steps):
    params, opt_state, value = step(params, opt_state, i, jax.random.key(i))
    losses.append(float(value))
    if i % max(1, steps // 5) == 0:
        print(f"step {i:4d}  c = {float(schedule(i)):6.2f}  loss {value:.3f}")
print("compilations of the train step:", step._cache_size())
assert losses[-1] < losses[0]
# %%
from rectify_jax.plotting import Figure  # a matplotlib Figure that shows itself inline

fig = Figure(figsize=(6, 3))
ax = fig.add_subplot()
ax.plot(losses)
ax.set_xlabel("step")
ax.set_ylabel("loss (nats/byte)")
fig
# %% [markdown]
At test time the noise is replaced by its expectation, at the noise scale training ended
with (the expectation of NAH noise depends on $c$; `variables` still holds the modules'
default scales):
# %%
x, y = data.text_batch(jnp.asarray(valid), jax.random.key(0), 64, length)
final = rjl.set_noise_scale({**variables, "params": params}, schedule(steps - 1))
logits = LM(deterministic=True).apply(final, x)
print("validation perplexity per byte:", float(jnp.exp(xent(logits, y))))
# %% [markdown]
## What the full reproduction found

`rectify-jax reproduce noisy_lstm_lm` trains this model (hidden 128, 1500 steps, 5 seeds,
each arm's learning rate tuned on held-out text) as six arms of one cell that share their
initial parameters and batches: soft gates, hard gates, two deterministic arms (the
alpha-slope alone, and NAH's expectation with the learned `p`) and sampled NAN and NAH
noise. The noisy arms beat hard gates by about 0.09 nats/byte of validation loss, but not
clearly soft gates (0.004 and 0.007, inconclusive). Taking one change at a time, the gain
over hard gates is in the alpha-slope: hard → alpha-slope improves by 0.085 [0.043, 0.127]
nats/byte, 94 % of hard → NAH; the learned `p` term adds −0.002 [−0.016, 0.011] and the
sampled noise +0.008 [−0.014, 0.029] for NAH and +0.002 [−0.012, 0.017] for NAN (95 %
intervals over seeds). At this budget the sampled noise itself did not detectably help. On the
unique-count task, annealing the noise (as in this notebook) beat neither fixed noise nor no
noise (inconclusive), and the noiseless expectation already solved it (0.98 test accuracy).
The numbers, figures and tests are in the repository's `REPORT.md`.
"""

DIAGNOSTICS = """\
# %% [markdown]
# 03 · Diagnostics on a trained MLP

Train ReLU and tanh MLPs on scikit-learn's digits, then measure what the rectifier papers
measure: sparsity, dispersion, dead units, per-unit activation probability, gradient flow.
It needs the `experiments` extra (scikit-learn ships the digits) and runs in about a minute
on a CPU.
# %% parameters
steps = 400
width = 64
# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax import plotting
from rectify_jax.experiments import data

xtr, ytr, xte, yte = (jnp.asarray(a) for a in data.digits())


def mlp(act):
    return nn.Sequential([nn.Dense(width), act, nn.Dense(width), act, nn.Dense(10)])


def xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
# %%
def fit(model):
    params = model.init(jax.random.key(0), xtr[:1])["params"]
    tx = optax.adam(1e-3)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, key):
        idx = jax.random.randint(key, (64,), 0, len(xtr))
        grads = jax.grad(lambda p: xent(model.apply({"params": p}, xtr[idx]), ytr[idx]))(params)
        updates, opt = tx.update(grads, opt)
        return optax.apply_updates(params, updates), opt

    for i in range(steps):
        params, opt = step(params, opt, jax.random.key(i))
    return {"params": params}


models = {"relu": mlp(rj.relu), "tanh": mlp(rj.tanh)}
trained = {name: fit(m) for name, m in models.items()}
# %%
summaries = {}
for name, model in models.items():
    logits, pre = rjl.capture_preactivations(model, trained[name], xte)
    s = rj.diagnostics.code_statistics(pre["layers_2"], name)  # the last hidden layer
    summaries[name] = s
    acc = float(jnp.mean(jnp.argmax(logits, -1) == yte))
    print(
        f"{name}: accuracy {acc:.3f}, sparsity {float(s.sparsity):.2f}, "
        f"dispersion {float(s.dispersion):.3f}, dead units {int(s.dead_units)}"
    )
plotting.activation_probability(summaries)
# %% [markdown]
Gradient flow: the gradient norm of each layer's parameters.
# %%
norms = {}
for name, model in models.items():
    grads = jax.grad(lambda p, m=model: xent(m.apply({"params": p}, xte), yte))(
        trained[name]["params"]
    )
    norms[name] = rj.diagnostics.grad_norms(grads)
    print(name, {k: round(float(v), 4) for k, v in norms[name].items()})
plotting.grad_norms(norms, xlabel="layer")
"""

DEVICES = """\
# %% [markdown]
# 04 · Many devices

Noisy activations under `jit` with a sharded input, and inside `shard_map` with per-shard
keys, then data-parallel training whose loss matches one device's. It needs the
`experiments` extra and several devices: on a CPU the first cell makes JAX expose several
host devices (it must run before JAX is imported); on a GPU/TPU runtime remove that line.
# %% parameters
devices = 4
size = 4096
# %%
import os

os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={devices}")
from functools import partial

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import rectify_jax as rj

print(jax.devices())
# %%
n = len(jax.devices())
mesh = Mesh(jax.devices(), ("data",))
x = 4 * jax.random.normal(jax.random.key(0), (n, size // n))
x = jax.device_put(x, NamedSharding(mesh, P("data")))
key = jax.random.key(1)
y = jax.jit(rj.noisy_hard_tanh)(x, key)
print(y.sharding)
y_single = rj.noisy_hard_tanh(jax.device_get(x), key)
print("same values as on one device:", bool(jnp.allclose(y, y_single)))
# %% [markdown]
Inside `shard_map` every shard sees the same key: fold in the axis index to give each
shard its own noise.
# %%
@partial(jax.shard_map, mesh=mesh, in_specs=(P("data"), P()), out_specs=P("data"))
def per_shard(x, key):
    key = jax.random.fold_in(key, jax.lax.axis_index("data"))
    return rj.noisy_hard_tanh(x, key)


z = jax.jit(per_shard)(x, key)
noise = z - rj.noisy_hard_tanh(x, deterministic=True)
print("shards draw different noise:", not bool(jnp.allclose(noise[0], noise[1 % n])))
# %% [markdown]
Data-parallel training of a noisy-LSTM language model: the batch is sharded over the
devices, parameters are replicated, one `jit` step does the rest. Because the noise is drawn
for the global batch, the loss curve on all devices is the one on a single device.
# %%
from rectify_jax.experiments import data_parallel

one = data_parallel.train(1, steps=3, log=lambda *a: None)
many = data_parallel.train(n, steps=3, log=lambda *a: None)
print("1 device :", [round(v, 4) for v in one["losses"]])
print(f"{n} devices:", [round(v, 4) for v in many["losses"]])
assert jnp.allclose(jnp.array(one["losses"]), jnp.array(many["losses"]), rtol=1e-4)
"""

LINEN = """\
# %% [markdown]
# 05 · Linen: a noisy LSTM classifier, from training to a restored checkpoint

A `flax.linen` classifier of scikit-learn's 8x8 digits, each image read row by row as a
sequence of 8 steps of 8 pixels: a noisy LSTM (`rjl.NoisyLSTMCell`, its gates noisy hard
sigmoids and its tanh units noisy hard tanhs, as in Gulcehre et al., ICML 2016) run by
`rjl.RNN`, then a dense layer with a noisy hard tanh (`rjl.NoisyHardTanh`). The noise scale
$c$ follows the paper's annealing schedule through the `noise_scale` variable collection
(`rjl.set_noise_scale`); at test time the noise is replaced by its expectation; the trained
variables are saved with `flax.serialization` and restored. It needs the `experiments` extra
(scikit-learn ships the digits) and runs in about a minute on a CPU.
# %% parameters
steps = 300  # training steps
hidden = 32  # LSTM and dense width
batch = 64  # images per step
# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.experiments import data

xtr, ytr, xte, yte = (jnp.asarray(a) for a in data.digits())  # standardised pixels
# each image as a sequence of 8 rows of 8 pixels: (images, time, features)
xtr, xte = xtr.reshape(-1, 8, 8), xte.reshape(-1, 8, 8)
print("train", xtr.shape, "test", xte.shape)
# %%
class Classifier(nn.Module):
    deterministic: bool = False  # True: the test-time function (noise replaced by its mean)

    @nn.compact
    def __call__(self, rows):
        cell = rjl.NoisyLSTMCell(hidden, deterministic=self.deterministic)
        h = rjl.RNN(cell)(rows)[:, -1]  # the LSTM's output after the last row
        h = rjl.NoisyHardTanh(deterministic=self.deterministic)(nn.Dense(hidden)(h))
        return nn.Dense(10)(h)


model = Classifier()
keys = {"params": jax.random.key(0), "noise": jax.random.key(1)}
init = jax.jit(model.init)  # jitted: faster than running the initialisation op by op
variables = init(keys, xtr[:1])


def show(scales):
    return jax.tree.map(lambda c: round(float(c), 3), scales)


print("noise scales:", show(variables[rjl.NOISE_SCALE]))
# %% [markdown]
The noise scales live beside the parameters, in their own collection: the optimizer sees
only `params`, and `rjl.set_noise_scale` writes the schedule's value into every noisy unit,
gates and tanh units alike, inside the jitted step (a traced argument, so a new value does
not recompile).
# %%
schedule = rj.schedules.noise_annealing(30.0, transition_steps=max(1, steps // 100))
tx = optax.adam(3e-3)
opt_state = tx.init(variables["params"])


def xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@jax.jit
def train_step(params, opt_state, i, key):
    batch_key, noise_key = jax.random.split(key)
    idx = jax.random.randint(batch_key, (batch,), 0, len(xtr))
    v = rjl.set_noise_scale({**variables, "params": params}, schedule(i))

    def loss(params):
        logits = model.apply({**v, "params": params}, xtr[idx], rngs={"noise": noise_key})
        return xent(logits, ytr[idx])

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


params, losses, scales = variables["params"], [], []
for i in range(steps):
    params, opt_state, value = train_step(params, opt_state, i, jax.random.key(i))
    losses.append(float(value))
    scales.append(float(schedule(i)))
    if i % max(1, steps // 5) == 0 or i == steps - 1:
        print(f"step {i:4d}  c = {scales[-1]:5.2f}  loss {value:.3f}")
print("compilations of the train step:", train_step._cache_size())
# %%
from rectify_jax.plotting import Figure  # a matplotlib Figure that shows itself inline

fig = Figure(figsize=(8, 3))
loss_ax, c_ax = fig.subplots(1, 2)
loss_ax.plot(losses)
loss_ax.set(xlabel="step", ylabel="training loss (nats)")
c_ax.plot(scales)
c_ax.set(xlabel="step", ylabel="noise scale $c$")
fig.tight_layout()
fig
# %% [markdown]
At test time the noise is replaced by its expectation, which depends on $c$: the trained
model is its parameters *and* its noise scales, here the last value of the schedule.
# %%
trained = rjl.set_noise_scale({**variables, "params": params}, scales[-1])
test_model = Classifier(deterministic=True)  # no "noise" stream needed
predict = jax.jit(test_model.apply)
logits = predict(trained, xte)
print(f"test accuracy: {float(jnp.mean(jnp.argmax(logits, -1) == yte)):.3f}")
# %% [markdown]
A checkpoint: `flax.serialization` writes the variables (both collections) as msgpack
bytes, and reads them back into a template of the same structure, here a model initialised
from other seeds.
# %%
import pathlib
import tempfile

from flax import serialization

with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "classifier.msgpack"
    path.write_bytes(serialization.to_bytes(trained))
    print(f"saved {path.stat().st_size} bytes")
    template = init({"params": jax.random.key(7), "noise": jax.random.key(8)}, xtr[:1])
    restored = serialization.from_bytes(template, path.read_bytes())

print("restored noise scales:", show(restored[rjl.NOISE_SCALE]))
assert jnp.array_equal(predict(restored, xte), logits)  # the same test-time outputs, bit for bit
print("the restored model gives the same test-time predictions")
# %% [markdown]
More in the project's documentation: the API reference of `rectify_jax.linen` and of
`rectify_jax.schedules.noise_annealing`, and the guide's page "Conventions and differences"
(recurrent cells, noise keys).
"""

NNX = """\
# %% [markdown]
# 06 · NNX: a noisy LSTM classifier, from training to a restored checkpoint

A `flax.nnx` classifier of scikit-learn's 8x8 digits, each image read row by row as a
sequence of 8 steps of 8 pixels: a noisy LSTM (`rjx.NoisyLSTMCell`, its gates noisy hard
sigmoids and its tanh units noisy hard tanhs, as in Gulcehre et al., ICML 2016) run by
`rjx.RNN`, then a dense layer with a noisy hard tanh (`rjx.NoisyHardTanh`). The noise scale
$c$ is a `NoiseScale` variable that `rjx.set_noise_scale` anneals along the paper's schedule
inside the jitted step; `model.eval()` gives the test-time function; the checkpoint goes
through `nnx.to_pure_dict` and Orbax. It needs the `experiments` extra (scikit-learn ships
the digits; Orbax comes with Flax) and runs in about a minute on a CPU.
# %% parameters
steps = 300  # training steps
hidden = 32  # LSTM and dense width
batch = 64  # images per step
# %%
import jax
import jax.numpy as jnp
import optax
from flax import nnx

import rectify_jax as rj
from rectify_jax import nnx as rjx
from rectify_jax.experiments import data

xtr, ytr, xte, yte = (jnp.asarray(a) for a in data.digits())  # standardised pixels
# each image as a sequence of 8 rows of 8 pixels: (images, time, features)
xtr, xte = xtr.reshape(-1, 8, 8), xte.reshape(-1, 8, 8)
print("train", xtr.shape, "test", xte.shape)
# %%
class Classifier(nnx.Module):
    def __init__(self, hidden, *, rngs):
        self.rnn = rjx.RNN(rjx.NoisyLSTMCell(8, hidden, rngs=rngs))
        self.dense = nnx.Linear(hidden, hidden, rngs=rngs)
        self.act = rjx.NoisyHardTanh(hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, rows):
        h = self.rnn(rows)[:, -1]  # the LSTM's output after the last row
        return self.out(self.act(self.dense(h)))


# "params" draws the weights; each noisy module keeps a fork of the "noise" stream
model = Classifier(hidden, rngs=nnx.Rngs(params=0, noise=1))


def show(model):
    scales = nnx.to_pure_dict(nnx.state(model, rjx.NoiseScale))
    return jax.tree.map(lambda c: round(float(c), 3), scales)


print("noise scales:", show(model))
# %% [markdown]
`nnx.Optimizer(..., wrt=nnx.Param)` trains the parameters only; the noise scales are
`rjx.NoiseScale` variables, all set in place (gates and tanh units alike) by
`rjx.set_noise_scale` inside the jitted step; the step count is a traced argument, so a new
value of $c$ does not recompile.
# %%
schedule = rj.schedules.noise_annealing(30.0, transition_steps=max(1, steps // 100))
optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)


def xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@nnx.jit
def train_step(model, optimizer, i, key):
    rjx.set_noise_scale(model, schedule(i))
    idx = jax.random.randint(key, (batch,), 0, len(xtr))
    # the noise comes from the modules' own streams, advanced in place by every call
    loss, grads = nnx.value_and_grad(lambda m: xent(m(xtr[idx]), ytr[idx]))(model)
    optimizer.update(model, grads)
    return loss


losses, scales = [], []
for i in range(steps):
    value = train_step(model, optimizer, i, jax.random.key(i))
    losses.append(float(value))
    scales.append(float(model.act.c[...]))
    if i % max(1, steps // 5) == 0 or i == steps - 1:
        print(f"step {i:4d}  c = {scales[-1]:5.2f}  loss {value:.3f}")
# %%
from rectify_jax.plotting import Figure  # a matplotlib Figure that shows itself inline

fig = Figure(figsize=(8, 3))
loss_ax, c_ax = fig.subplots(1, 2)
loss_ax.plot(losses)
loss_ax.set(xlabel="step", ylabel="training loss (nats)")
c_ax.plot(scales)
c_ax.set(xlabel="step", ylabel="noise scale $c$")
fig.tight_layout()
fig
# %% [markdown]
`model.eval()` switches every noisy module, the cell inside `rjx.RNN` included, to the
test-time function: the noise replaced by its expectation, which depends on the noise scale
the model holds (the last value of the schedule).
# %%
model.eval()


@nnx.jit
def predict(model, x):
    return model(x)


logits = predict(model, xte)
print(f"test accuracy: {float(jnp.mean(jnp.argmax(logits, -1) == yte)):.3f}")
# %% [markdown]
A checkpoint: the parameters and the noise scales (not the PRNG streams: a model built by
the constructor has its own) as a pure dict of arrays, saved with Orbax, then restored into
a new model built from other seeds with `nnx.replace_by_pure_dict` and `nnx.update`.
# %%
import pathlib
import tempfile

import orbax.checkpoint as ocp

SAVED = nnx.Any(nnx.Param, rjx.NoiseScale)  # the trained model: its parameters and noise scales
checkpointer = ocp.StandardCheckpointer()
with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "classifier"
    checkpointer.save(path, nnx.to_pure_dict(nnx.state(model, SAVED)))
    checkpointer.wait_until_finished()
    fresh = Classifier(hidden, rngs=nnx.Rngs(params=7, noise=8))
    state = nnx.state(fresh, SAVED)
    nnx.replace_by_pure_dict(state, checkpointer.restore(path, nnx.to_pure_dict(state)))
    nnx.update(fresh, state)

fresh.eval()
print("restored noise scales:", show(fresh))
assert jnp.array_equal(predict(fresh, xte), logits)  # the same test-time outputs, bit for bit
print("the restored model gives the same test-time predictions")
# %% [markdown]
More in the project's documentation: the API reference of `rectify_jax.nnx` and of
`rectify_jax.schedules.noise_annealing`, and the guide's page "Conventions and differences"
(recurrent cells, noise keys).
"""

EQUINOX = """\
# %% [markdown]
# 07 · Equinox: a noisy LSTM classifier, from training to a restored checkpoint

An Equinox classifier of scikit-learn's 8x8 digits, each image read row by row as a
sequence of 8 steps of 8 pixels: a noisy LSTM (`rje.NoisyLSTMCell`, its gates noisy hard
sigmoids and its tanh units noisy hard tanhs, as in Gulcehre et al., ICML 2016) run by
`rje.RNN`, then a dense layer with a noisy hard tanh (`rje.NoisyHardTanh`). The noise scales
are array fields: `rje.set_noise_scale` returns the model with $c$ from the paper's
annealing schedule; `eqx.nn.inference_mode` gives the test-time function; the checkpoint is
`eqx.tree_serialise_leaves`. It needs the `experiments` and `equinox` extras
(scikit-learn ships the digits) and runs in about a minute on a CPU.
# %% parameters
steps = 300  # training steps
hidden = 32  # LSTM and dense width
batch = 64  # images per step
# %%
import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import rectify_jax as rj
from rectify_jax import equinox as rje
from rectify_jax.experiments import data

xtr, ytr, xte, yte = (jnp.asarray(a) for a in data.digits())  # standardised pixels
# each image as a sequence of 8 rows of 8 pixels: (images, time, features)
xtr, xte = xtr.reshape(-1, 8, 8), xte.reshape(-1, 8, 8)
print("train", xtr.shape, "test", xte.shape)
# %% [markdown]
The model takes one image, as Equinox layers do; `jax.vmap` makes batches, each image with
its own key. `rje.RNN` runs the cell over the 8 rows: it computes what a `jax.lax.scan` of
the cell with the keys `jax.random.split(key, 8)` computes, with the noise of all steps
drawn in one call before the loop.
# %%
class Classifier(eqx.Module):
    rnn: rje.RNN
    dense: eqx.nn.Linear
    act: rje.NoisyHardTanh
    out: eqx.nn.Linear

    def __init__(self, hidden, *, key):
        keys = jax.random.split(key, 4)
        self.rnn = rje.RNN(rje.NoisyLSTMCell(8, hidden, key=keys[0]))
        self.dense = eqx.nn.Linear(hidden, hidden, key=keys[1])
        self.act = rje.NoisyHardTanh(hidden, key=keys[2])
        self.out = eqx.nn.Linear(hidden, 10, key=keys[3])

    def __call__(self, rows, *, key=None):
        # one image (8 rows, 8 pixels); no key at test time (eqx.nn.inference_mode)
        rnn_key, act_key = (None, None) if key is None else jax.random.split(key)
        h = self.rnn(rows, key=rnn_key)[-1]  # the LSTM's output after the last row
        return self.out(self.act(self.dense(h), key=act_key))


def show(model):
    scales = (model.rnn.cell.gate_c, model.rnn.cell.tanh_c, model.act.c)
    return [round(float(c), 3) for c in scales]


model = Classifier(hidden, key=jax.random.key(0))
print("noise scales (gate_c, tanh_c, c):", show(model))
# %% [markdown]
The step takes the model and returns it with every noise scale (gates and tanh units alike)
set to the schedule's value at step `i` and its parameters updated. The noise scales are
inexact arrays, so they are in the optimiser's tree, but the modules stop their gradients:
Adam leaves them as they are (with weight decay, mask them out). `i` is passed as an array:
`eqx.filter_jit` would treat a Python int as static and compile the step again for every
value.
# %%
schedule = rj.schedules.noise_annealing(30.0, transition_steps=max(1, steps // 100))
optimiser = optax.adam(3e-3)
opt_state = optimiser.init(eqx.filter(model, eqx.is_inexact_array))


def xent(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def loss_fn(model, x, y, key):
    keys = jax.random.split(key, len(x))  # each image its own noise
    logits = jax.vmap(lambda rows, k: model(rows, key=k))(x, keys)
    return xent(logits, y)


@eqx.filter_jit
def train_step(model, opt_state, i, key):
    model = rje.set_noise_scale(model, schedule(i))
    batch_key, noise_key = jax.random.split(key)
    idx = jax.random.randint(batch_key, (batch,), 0, len(xtr))
    loss, grads = eqx.filter_value_and_grad(loss_fn)(model, xtr[idx], ytr[idx], noise_key)
    params = eqx.filter(model, eqx.is_inexact_array)
    updates, opt_state = optimiser.update(grads, opt_state, params)
    return eqx.apply_updates(model, updates), opt_state, loss


losses, scales = [], []
for i in range(steps):
    model, opt_state, value = train_step(model, opt_state, jnp.asarray(i), jax.random.key(i))
    losses.append(float(value))
    scales.append(float(model.act.c))
    if i % max(1, steps // 5) == 0 or i == steps - 1:
        print(f"step {i:4d}  c = {scales[-1]:5.2f}  loss {value:.3f}")
print("noise scales (gate_c, tanh_c, c):", show(model))
# %%
from rectify_jax.plotting import Figure  # a matplotlib Figure that shows itself inline

fig = Figure(figsize=(8, 3))
loss_ax, c_ax = fig.subplots(1, 2)
loss_ax.plot(losses)
loss_ax.set(xlabel="step", ylabel="training loss (nats)")
c_ax.plot(scales)
c_ax.set(xlabel="step", ylabel="noise scale $c$")
fig.tight_layout()
fig
# %% [markdown]
`eqx.nn.inference_mode` sets the `inference` field of every module, the cell inside
`rje.RNN` included: the noise is replaced by its expectation, which depends on the noise
scales the model holds (the last value of the schedule), and no key is needed.
# %%
@eqx.filter_jit
def predict(model, x):
    return jax.vmap(eqx.nn.inference_mode(model))(x)


logits = predict(model, xte)
print(f"test accuracy: {float(jnp.mean(jnp.argmax(logits, -1) == yte)):.3f}")
# %% [markdown]
A checkpoint: `eqx.tree_serialise_leaves` writes every array leaf, the noise scales
included; `eqx.tree_deserialise_leaves` reads them into a like-model, here one built from
another key.
# %%
import pathlib
import tempfile

with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "classifier.eqx"
    eqx.tree_serialise_leaves(path, model)
    print(f"saved {path.stat().st_size} bytes")
    restored = eqx.tree_deserialise_leaves(path, Classifier(hidden, key=jax.random.key(7)))

print("restored noise scales (gate_c, tanh_c, c):", show(restored))
assert jnp.array_equal(predict(restored, xte), logits)  # the same test-time outputs, bit for bit
print("the restored model gives the same test-time predictions")
# %% [markdown]
More in the project's documentation: the API reference of `rectify_jax.equinox` and of
`rectify_jax.schedules.noise_annealing`, and the guide's page "Conventions and differences"
(recurrent cells, noise keys).
"""


def notebook(source: str):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = []
    for chunk in source.split("# %%")[1:]:
        header, _, body = chunk.partition("\n")
        body = body.strip("\n")
        if header.strip() == "[markdown]":
            cells.append(new_markdown_cell(body))
        elif header.strip() == "parameters":
            cells.append(new_code_cell(body, metadata={"tags": ["parameters"]}))
        else:
            cells.append(new_code_cell(body))
    install_source = INSTALL.strip()
    if "import equinox" in source:  # an Equinox notebook installs the equinox extra too
        install_source = install_source.replace("[experiments]", "[experiments,equinox]")
    install = new_code_cell(install_source, metadata={"tags": ["skip-execution", "remove-cell"]})
    nb.cells = [cells[0], install, *cells[1:]]
    return nb


NOTEBOOKS = {
    "01_quickstart": QUICKSTART,
    "02_noisy_lstm_lm": LSTM_LM,
    "03_diagnostics": DIAGNOSTICS,
    "04_many_devices": DEVICES,
    "05_linen": LINEN,
    "06_nnx": NNX,
    "07_equinox": EQUINOX,
}


def keep_outputs(nb, committed):
    """Copies into ``nb`` the outputs of ``committed``'s code cells with the same source."""
    done = {c.source: c for c in committed.cells if c.cell_type == "code"}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source in done:
            cell.outputs = done[cell.source].get("outputs", [])
            cell.execution_count = done[cell.source].get("execution_count")
    return nb


def execute(nb, cwd: pathlib.Path, timeout: int = 900):
    """Runs ``nb`` in a fresh kernel, skipping cells tagged ``skip-execution``."""
    from nbclient import NotebookClient

    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        skip_cells_with_tag="skip-execution",
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    return nb


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--execute", action="store_true", help="run and save with outputs")
    parser.add_argument(
        "--keep-outputs", action="store_true", help="keep the outputs of unchanged code cells"
    )
    parser.add_argument("names", nargs="*", default=list(NOTEBOOKS), help="notebooks to write")
    args = parser.parse_args()
    for name in args.names:
        nb = notebook(NOTEBOOKS[name])
        if args.execute:
            execute(nb, HERE)
        elif args.keep_outputs:
            keep_outputs(nb, nbformat.read(HERE / f"{name}.ipynb", as_version=4))
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")
