"""Writes the example notebooks (run ``python examples/build_notebooks.py`` after editing).

Each notebook: a title, a Colab install cell tagged ``skip-execution`` (CI uses the
checked-out package), a ``parameters`` cell (the test suite substitutes small sizes),
then the example. Only the public API is used.
"""

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).parent
INSTALL = ('# On Colab (or any fresh machine): install the library with its plotting extra.\n'
           '# From a clone of the repository use `pip install -e ".[experiments]"` instead.\n'
           '%pip install -q "rectify-jax[experiments]"')


def notebook(title, intro, parameters, cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(f"# {title}\n\n{intro}"),
                new_code_cell(INSTALL, metadata={"tags": ["skip-execution"]}),
                new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    for kind, src in cells:
        nb.cells.append(new_markdown_cell(src) if kind == "md" else new_code_cell(src))
    return nb


QUICKSTART = notebook(
    "01 · Quickstart: rectifiers and noisy activations",
    "Pure functions with explicit PRNG keys, their gradients, the three gradient paths of a noisy "
    "unit, and the figures.",
    "samples = 20  # noisy draws per input in the figures",
    [("code", "import jax\nimport jax.numpy as jnp\nimport rectify_jax as rj\nfrom rectify_jax import plotting\n\n"
              "x = jnp.linspace(-3.0, 3.0, 7)\nkey = jax.random.key(0)\n"
              "print('relu      ', rj.relu(x))\nprint('tlu       ', rj.tlu(x))\n"
              "print('hard_tanh ', rj.hard_tanh(x))\nprint('noisy     ', rj.noisy_hard_tanh(x, key))\n"
              "print('test time ', rj.noisy_hard_tanh(x, deterministic=True))"),
     ("md", "Noise appears only where the unit saturates ($|x| > 1$). Gradients flow there too: "
            "the custom VJP carries the linear, nonlinear and stochastic paths."),
     ("code", "grad = jax.grad(lambda x: rj.noisy_hard_tanh(x, key).sum())(x)\n"
              "paths = rj.diagnostics.noisy_gradient_paths(rj.HARD_TANH_UNIT, x, key)\n"
              "print('dphi/dx   ', grad)\nfor name, g in paths._asdict().items():\n"
              "    print(f'{name:<10}', g)\n"
              "assert jnp.allclose(sum(paths), grad, atol=1e-6)\n"
              "print(rj.diagnostics.path_shares(paths))"),
     ("code", "plotting.activations(['relu', 'leaky_relu', 'elu', 'tlu', 'tanh', 'hard_tanh',\n"
              "                      'hard_sigmoid', 'noisy_hard_tanh (test)'])"),
     ("code", "plotting.noisy_samples(alphas=(1.0, 1.15, 1.5), samples=samples)"),
     ("md", "Your own noisy unit, from a hard-saturating `h` and its linearisation `u`:"),
     ("code", "import math\nnoisy_relu = rj.NoisyUnit(h=rj.relu, u=lambda x: x, "
              "threshold=(0.0, math.inf), name='noisy_relu')\nprint(noisy_relu(x, key))")])

LSTM_LM = notebook(
    "02 · A noisy-LSTM language model in Flax, with annealing",
    "A byte-level LSTM language model on the Python standard library's source, every gate a "
    "noisy hard sigmoid and every tanh a noisy hard tanh; the noise scale $c$ follows the "
    "paper's annealing schedule through `set_noise_scale`, without recompiling.",
    "steps = 300\nhidden = 64\nlength = 32\nbatch = 32",
    [("code", "import jax, jax.numpy as jnp, optax, flax.linen as nn\nimport rectify_jax as rj\n"
              "from rectify_jax import linen as rjl\nfrom rectify_jax.experiments import data\n\n"
              "train, valid, description = data.stdlib_corpus()\nprint(description)\n"
              "train = jnp.asarray(train)"),
     ("code", "class LM(nn.Module):\n    deterministic: bool = False\n\n    @nn.compact\n"
              "    def __call__(self, tokens):\n        x = nn.Embed(256, 32)(tokens)\n"
              "        h = rjl.rnn(rjl.NoisyLSTMCell(hidden, deterministic=self.deterministic))(x)\n"
              "        return nn.Dense(256)(h)\n\n"
              "model = LM()\nvariables = model.init({'params': jax.random.key(0), 'noise': jax.random.key(1)},\n"
              "                       jnp.zeros((1, length), jnp.int32))\n"
              "schedule = rj.schedules.noise_annealing(30.0, transition_steps=max(1, steps // 100), end_value=0.5)\n"
              "tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(2e-3))\n"
              "opt_state = tx.init(variables['params'])"),
     ("code", "@jax.jit\ndef step(params, opt_state, i, key):\n"
              "    x, y = data.text_batch(train, jax.random.fold_in(key, 0), batch, length)\n"
              "    v = rjl.set_noise_scale({**variables, 'params': params}, schedule(i))\n"
              "    def loss(params):\n"
              "        logits = model.apply({**v, 'params': params}, x, rngs={'noise': key})\n"
              "        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()\n"
              "    value, grads = jax.value_and_grad(loss)(params)\n"
              "    updates, opt_state = tx.update(grads, opt_state, params)\n"
              "    return optax.apply_updates(params, updates), opt_state, value\n\n"
              "params, losses = variables['params'], []\n"
              "for i in range(steps):\n"
              "    params, opt_state, value = step(params, opt_state, i, jax.random.key(i))\n"
              "    losses.append(float(value))\n"
              "    if i % max(1, steps // 5) == 0:\n"
              "        print(f'step {i:4d}  c = {float(schedule(i)):6.2f}  loss {value:.3f}')\n"
              "print('compilations of the train step:', step._cache_size())\n"
              "assert losses[-1] < losses[0]"),
     ("code", "from matplotlib.figure import Figure\nfig = Figure(figsize=(6, 3))\nax = fig.add_subplot()\n"
              "ax.plot(losses); ax.set_xlabel('step'); ax.set_ylabel('loss (nats/byte)')\nfig"),
     ("md", "At test time the noise is replaced by its expectation:"),
     ("code", "x, y = data.text_batch(jnp.asarray(valid), jax.random.key(0), 64, length)\n"
              "logits = LM(deterministic=True).apply({**variables, 'params': params}, x)\n"
              "print('validation perplexity per byte:', float(jnp.exp(optax.softmax_cross_entropy_with_integer_labels(logits, y).mean())))")])

DIAGNOSTICS = notebook(
    "03 · Diagnostics on a trained MLP",
    "Train ReLU and tanh MLPs on scikit-learn's digits, then measure what the rectifier papers "
    "measure: sparsity, dispersion, dead units, per-unit activation probability, gradient flow.",
    "steps = 400\nwidth = 64",
    [("code", "import jax, jax.numpy as jnp, optax, flax.linen as nn\nimport rectify_jax as rj\n"
              "from rectify_jax import linen as rjl, plotting\nfrom rectify_jax.experiments import data\n\n"
              "xtr, ytr, xte, yte = (jnp.asarray(a) for a in data.digits())\n\n"
              "def mlp(act):\n    return nn.Sequential([nn.Dense(width), act, nn.Dense(width), act, nn.Dense(10)])"),
     ("code", "def fit(model):\n    params = model.init(jax.random.key(0), xtr[:1])['params']\n"
              "    tx = optax.adam(1e-3)\n    opt = tx.init(params)\n    @jax.jit\n"
              "    def step(params, opt, key):\n        idx = jax.random.randint(key, (64,), 0, len(xtr))\n"
              "        loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(\n"
              "            model.apply({'params': p}, xtr[idx]), ytr[idx]).mean()\n"
              "        g = jax.grad(loss)(params)\n        u, opt = tx.update(g, opt)\n"
              "        return optax.apply_updates(params, u), opt\n"
              "    for i in range(steps):\n        params, opt = step(params, opt, jax.random.key(i))\n"
              "    return {'params': params}\n\n"
              "models = {'relu': mlp(rj.relu), 'tanh': mlp(rj.tanh)}\n"
              "trained = {name: fit(m) for name, m in models.items()}"),
     ("code", "summaries = {}\nfor name, model in models.items():\n"
              "    logits, pre = rjl.capture_preactivations(model, trained[name], xte)\n"
              "    s = rj.diagnostics.code_statistics(pre['layers_2'], name)  # last hidden layer\n"
              "    summaries[name] = s\n"
              "    acc = float(jnp.mean(jnp.argmax(logits, -1) == yte))\n"
              "    print(f'{name}: accuracy {acc:.3f}, sparsity {float(s.sparsity):.2f}, '\n"
              "          f'dispersion {float(s.dispersion):.3f}, dead units {int(s.dead_units)}')\n"
              "plotting.activation_probability(summaries)"),
     ("md", "Gradient flow: the gradient norm of each layer's parameters."),
     ("code", "norms = {}\nfor name, model in models.items():\n"
              "    loss = lambda p, m=model: optax.softmax_cross_entropy_with_integer_labels(\n"
              "        m.apply({'params': p}, xte), yte).mean()\n"
              "    g = jax.grad(loss)(trained[name]['params'])\n"
              "    norms[name] = rj.diagnostics.grad_norms(g)\n    print(name, {k: round(float(v), 4) for k, v in norms[name].items()})\n"
              "plotting.grad_norms(norms, xlabel='layer')")])

DEVICES = notebook(
    "04 · Many devices",
    "Noisy activations under `jit` with a sharded input, and inside `shard_map` with per-shard "
    "keys. On a CPU the first cell makes JAX expose several host devices; on a GPU/TPU runtime "
    "remove that line.",
    "devices = 4\nsize = 4096",
    [("code", "import os\nos.environ.setdefault('XLA_FLAGS', f'--xla_force_host_platform_device_count={devices}')\n"
              "import jax, jax.numpy as jnp\nfrom jax.sharding import Mesh, NamedSharding, PartitionSpec as P\n"
              "import rectify_jax as rj\nprint(jax.devices())"),
     ("code", "n = len(jax.devices())\nmesh = Mesh(jax.devices(), ('data',))\n"
              "x = jax.device_put(4 * jax.random.normal(jax.random.key(0), (n, size // n)),\n"
              "                   NamedSharding(mesh, P('data')))\nkey = jax.random.key(1)\n"
              "y = jax.jit(rj.noisy_hard_tanh)(x, key)\nprint(y.sharding)\n"
              "y_single = rj.noisy_hard_tanh(jax.device_get(x), key)\n"
              "print('same values as on one device:', bool(jnp.allclose(y, y_single)))"),
     ("md", "Inside `shard_map` every shard sees the same key: fold in the axis index to give each "
            "shard its own noise."),
     ("code", "from functools import partial\n\n"
              "@partial(jax.shard_map, mesh=mesh, in_specs=(P('data'), P()), out_specs=P('data'))\n"
              "def per_shard(x, key):\n"
              "    key = jax.random.fold_in(key, jax.lax.axis_index('data'))\n"
              "    return rj.noisy_hard_tanh(x, key)\n\n"
              "z = jax.jit(per_shard)(x, key)\nnoise = z - rj.noisy_hard_tanh(x, deterministic=True)\n"
              "print('shards draw different noise:', not bool(jnp.allclose(noise[0], noise[1 % n])))")])

if __name__ == "__main__":
    for name, nb in [("01_quickstart", QUICKSTART), ("02_noisy_lstm_lm", LSTM_LM),
                     ("03_diagnostics", DIAGNOSTICS), ("04_many_devices", DEVICES)]:
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")
