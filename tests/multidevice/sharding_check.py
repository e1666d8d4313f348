"""Run in a subprocess with 8 forced host devices (see tests/test_distributed.py).

Prints one JSON object with what it measured; the test asserts on it.
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import json  # noqa: E402
from functools import partial  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import rectify_jax as rj  # noqa: E402

FNS = {
    "noisy_hard_tanh": lambda x, k: rj.noisy_hard_tanh(x, k),
    "noisy_hard_tanh[fast]": lambda x, k: rj.noisy_hard_tanh(x, k, generator="fast"),
    "noisy_hard_sigmoid[normal]": lambda x, k: rj.noisy_hard_sigmoid(x, k, noise="normal"),
    "rrelu": lambda x, k: rj.rrelu(x, k),
    "nrelu[fast]": lambda x, k: rj.nrelu(x, k, generator="fast"),
    "input_noisy_hard_tanh": lambda x, k: rj.input_noisy_hard_tanh(x, k),
}

out = {"devices": len(jax.devices()), "same_as_one_device": {}, "collectives": {}}
key = jax.random.key(0)
x_host = 3 * jax.random.normal(jax.random.key(1), (16, 32))
for name, f in FNS.items():
    want = np.asarray(jax.jit(f)(x_host, key))
    grad_want = np.asarray(jax.jit(jax.grad(lambda x, k, f=f: jnp.sum(f(x, k) ** 2)))(x_host, key))
    same = {}
    for shape, spec in [
        ((1,), P("data")),
        ((2,), P("data")),
        ((4,), P("data")),
        ((8,), P("data")),
        ((2, 4), P("data", "model")),
        ((4, 2), P(None, ("data", "model"))),
    ]:
        names = ("data",) if len(shape) == 1 else ("data", "model")
        mesh = Mesh(np.array(jax.devices()[: int(np.prod(shape))]).reshape(shape), names)
        x = jax.device_put(x_host, NamedSharding(mesh, spec))
        y = jax.jit(f)(x, key)
        g = jax.jit(jax.grad(lambda x, k, f=f: jnp.sum(f(x, k) ** 2)))(x, key)
        ok = bool(
            np.allclose(np.asarray(y), want, rtol=1e-6, atol=1e-7)
            and np.allclose(np.asarray(g), grad_want, rtol=1e-5, atol=1e-6)
            and y.sharding.is_equivalent_to(x.sharding, 2)
        )
        same[f"{shape}:{spec}"] = ok
        if shape == (2, 4):
            hlo = jax.jit(jax.grad(lambda x, k, f=f: jnp.sum(f(x, k) ** 2))).lower(x, key)
            text = hlo.compile().as_text()
            # the loss's sum needs one all-reduce; the activation must add no gather
            out["collectives"][name] = {
                "all-gather": text.count("all-gather"),
                "all-to-all": text.count("all-to-all"),
                "fwd_collectives": sum(
                    jax.jit(f).lower(x, key).compile().as_text().count(c)
                    for c in ("all-gather", "all-reduce", "all-to-all", "collective-permute")
                ),
            }
    out["same_as_one_device"][name] = same

# shard_map: a replicated key gives every shard the same noise; shard_key fixes it.
mesh = Mesh(np.array(jax.devices()), ("data",))
x = jnp.full((8, 64), 3.0)


def per_shard(use_shard_key, x, key):
    k = rj.shard_key(key, "data") if use_shard_key else key
    return rj.noisy_hard_tanh(x, k)


noise_rows = {}
for use in (False, True):
    f = jax.jit(
        jax.shard_map(
            partial(per_shard, use), mesh=mesh, in_specs=(P("data"), P()), out_specs=P("data")
        )
    )
    y = np.asarray(f(x, key))
    noise_rows[str(use)] = len({row.tobytes() for row in y})
out["distinct_shard_rows"] = noise_rows

# pmap over the 8 devices with one key per device
keys = jax.random.split(key, 8)
y = jax.pmap(lambda x, k: rj.noisy_hard_tanh(x, k))(x, keys)
out["pmap_matches"] = bool(
    all(
        np.allclose(np.asarray(y[i]), np.asarray(rj.noisy_hard_tanh(x[i], keys[i])))
        for i in range(8)
    )
)
print(json.dumps(out))
