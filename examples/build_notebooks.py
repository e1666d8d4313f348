"""Writes the example notebooks: run ``python examples/build_notebooks.py`` after editing.

Each notebook: a title and one paragraph on what it shows and what it needs, an install
cell tagged ``skip-execution`` (CI uses the checked-out package) and ``remove-cell`` (the
rendered documentation leaves it out; Colab and Jupyter run it), a ``parameters`` cell
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
    clone = next((d for d in (here, *here.parents) if (d / "rectify_jax" / "__init__.py").exists()
                  and (d / "pyproject.toml").exists()), None)
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
plotting.activations(["relu", "leaky_relu", "elu", "tlu", "tanh", "hard_tanh", "hard_sigmoid",
                      "noisy_hard_tanh"])
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
At test time the noise is replaced by its expectation:
# %%
x, y = data.text_batch(jnp.asarray(valid), jax.random.key(0), 64, length)
logits = LM(deterministic=True).apply({**variables, "params": params}, x)
print("validation perplexity per byte:", float(jnp.exp(xent(logits, y))))
# %% [markdown]
## What the full reproduction found

`rectify-jax reproduce noisy_lstm_lm` trains this model (hidden 128, 1500 steps, 5 seeds) as
five arms of one cell that share their initial parameters and batches: soft gates, hard
gates, the noisy units' **expectation** (their test-time function used in training: the
alpha-slope and the learned `p`, no sampling), and sampled NAN and NAH noise. The noisy arms
beat soft and hard gates by about 0.10 nats/byte of validation loss, but all of that gain is
already in the expectation arm: hard → expectation improves by 0.098 [0.070, 0.125]
nats/byte, expectation → NAH by 0.001 [−0.004, 0.006] and expectation → NAN by 0.005
[−0.001, 0.011] (95 % intervals over seeds). Here the sampled noise itself did not help, and
at equal wall time (a noisy step costs about 1.3 times an expectation step on a CPU) the
expectation arm is ahead. On the unique-count task, annealing the noise did not beat fixed
noise or no noise; the curriculum is what helped. The numbers, figures and tests are in the
repository's `REPORT.md`.
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
    print(f"{name}: accuracy {acc:.3f}, sparsity {float(s.sparsity):.2f}, "
          f"dispersion {float(s.dispersion):.3f}, dead units {int(s.dead_units)}")
plotting.activation_probability(summaries)
# %% [markdown]
Gradient flow: the gradient norm of each layer's parameters.
# %%
norms = {}
for name, model in models.items():
    grads = jax.grad(lambda p, m=model: xent(m.apply({"params": p}, xte), yte))(
        trained[name]["params"])
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
    install = new_code_cell(INSTALL.strip(), metadata={"tags": ["skip-execution", "remove-cell"]})
    nb.cells = [cells[0], install, *cells[1:]]
    return nb


NOTEBOOKS = {
    "01_quickstart": QUICKSTART,
    "02_noisy_lstm_lm": LSTM_LM,
    "03_diagnostics": DIAGNOSTICS,
    "04_many_devices": DEVICES,
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
