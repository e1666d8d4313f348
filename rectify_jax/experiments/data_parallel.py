"""Data-parallel training of a noisy-LSTM language model over a device mesh.

The global batch is sharded over a ``"data"`` mesh axis, parameters and optimizer
state are replicated, and one ``jax.jit`` step does the rest: XLA inserts the
gradient all-reduce. The noisy units draw their noise for the *global* batch
(partitionable threefry, or ``generator="fast"``), so the loss curve on 8 devices
is the one on 1 device up to float rounding of the reductions; no per-device key
handling is needed. (Code inside ``shard_map`` should use :func:`rectify_jax.shard_key`.)

    rectify-jax data-parallel --devices 8 --steps 20      # 8 host devices on a CPU
    python examples/data_parallel_lm.py --devices 8

On a CPU the devices are forced with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
which must be set before JAX starts its backend (the command line does that); on a
GPU/TPU host the real devices are used.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from functools import partial
from typing import cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from rectify_jax import linen as rjl
from rectify_jax.experiments import data
from rectify_jax.linen.recurrent import Generator


def initialize_multihost(coordinator: str, num_processes: int, process_id: int) -> None:
    """``jax.distributed.initialize`` for one process of a multi-host job.

    On CPUs the cross-process collectives go through gloo. On a GPU/TPU cluster call
    ``jax.distributed.initialize()`` as the platform documents (it often needs no
    arguments there) and run the same training code in every process.
    """
    # Only the CPU backend reads this; asking for the backend here would start it too early.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )
    # gloo connects at the first cross-process collective and says so on the C++ standard
    # output ("[Gloo] Rank 0 is connected to 1 peer ranks..."): connect now, with that
    # output sent to standard error, so standard output holds only the results
    from jax.experimental import multihost_utils

    with _stdout_to_stderr():
        multihost_utils.sync_global_devices("rectify_jax: every process started")


@contextlib.contextmanager
def _stdout_to_stderr():
    """Sends what is written to file descriptor 1 (C and C++ libraries included) to 2."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def force_host_devices(n: int) -> None:
    """Asks XLA's CPU backend for ``n`` devices; only effective before JAX's first computation."""
    flag = f"--xla_force_host_platform_device_count={n}"
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()


class LM(nn.Module):
    hidden: int
    generator: Generator = "jax"
    deterministic: bool = False

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(256, 32)(tokens)
        cell = rjl.NoisyLSTMCell(
            self.hidden, generator=self.generator, deterministic=self.deterministic
        )
        return nn.Dense(256)(rjl.rnn(cell)(x))


def train(
    devices: int = 1,
    steps: int = 20,
    *,
    hidden: int = 32,
    length: int = 32,
    batch: int = 32,
    seed: int = 0,
    generator: Generator = "jax",
    log=print,
) -> dict:
    """Trains for ``steps`` steps on the first ``devices`` devices; returns losses and timings."""
    available = jax.devices()
    if devices > len(available):
        raise ValueError(
            f"data_parallel: asked for {devices} devices, JAX sees {len(available)}; on a CPU set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} before JAX starts "
            "(the rectify-jax command does this for --devices)"
        )
    if batch % devices:
        raise ValueError(f"data_parallel: batch {batch} must divide by devices {devices}")
    mesh = Mesh(np.array(available[:devices]), ("data",))
    batch_sharding, replicated = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())

    corpus, _, _ = data.stdlib_corpus()
    corpus = jnp.asarray(corpus)
    model = LM(hidden, generator)
    variables = model.init(
        {"params": jax.random.key(seed), "noise": jax.random.key(seed)},
        jnp.zeros((1, length), jnp.int32),
    )
    tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(2e-3))
    params = jax.device_put(variables["params"], replicated)
    opt_state = jax.device_put(tx.init(variables["params"]), replicated)
    scales = jax.device_put(variables["noise_scale"], replicated)

    @partial(jax.jit, out_shardings=replicated)  # every process holds the loss and params
    def step(params, opt_state, scales, x, y, key):
        def loss(params):
            logits = cast(
                jax.Array,
                model.apply({"params": params, "noise_scale": scales}, x, rngs={"noise": key}),
            )
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    losses, t0 = [], None
    for i in range(steps):
        key = jax.random.fold_in(jax.random.key(seed + 1), i)
        x, y = data.text_batch(corpus, jax.random.fold_in(key, 0), batch, length)
        x, y = jax.device_put(x, batch_sharding), jax.device_put(y, batch_sharding)
        params, opt_state, value = step(params, opt_state, scales, x, y, jax.random.fold_in(key, 1))
        losses.append(float(value.addressable_shards[0].data))  # replicated on every process
        if t0 is None:
            t0 = time.perf_counter()  # after the first (compiling) step
        log(f"devices {devices} step {i:3d} loss {losses[-1]:.4f}")
    # t0 is set after the first step, so whenever steps > 1
    seconds = time.perf_counter() - t0 if steps > 1 and t0 is not None else float("nan")
    return {
        "devices": devices,
        "losses": losses,
        "tokens_per_s": (steps - 1) * batch * length / seconds if steps > 1 else None,
    }
