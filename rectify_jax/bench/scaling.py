"""Scaling benchmark: throughput on 1, 2, 4, 8 devices (forced host devices on a CPU).

For each device count: the data-parallel noisy-LSTM language-model step (tokens/s,
global batch fixed) and ``noisy_hard_tanh`` forward+backward on a batch-sharded
array (elements/s). On a CPU the "devices" share the machine's cores, so this
measures the overhead of partitioning rather than a speed-up; on a multi-GPU host
it measures real scaling.

    rectify-jax bench scaling --devices 1 2 4 8
"""

from __future__ import annotations

import argparse
import sys

from rectify_jax import cli
from rectify_jax.bench import common
from rectify_jax.experiments import data_parallel


def run(devices=(1, 2, 4, 8), steps=10, size=2**20, log=print) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    import rectify_jax as rj

    rows = []
    for n in devices:
        lm = data_parallel.train(n, steps, batch=64, log=lambda *a: None)
        mesh = Mesh(np.array(jax.devices()[:n]), ("data",))
        x = jax.device_put(
            3 * jax.random.normal(jax.random.key(0), (64, size // 64)),
            NamedSharding(mesh, P("data")),
        )
        fb = jax.jit(jax.grad(lambda x, k: jnp.sum(rj.noisy_hard_tanh(x, k))))
        t = common.jax_timer(fb, x, jax.random.key(1), repeats=5, min_seconds=0.2)
        rows.append(
            {
                "devices": n,
                "lm_tokens_per_s": lm["tokens_per_s"],
                "noisy_hard_tanh_elements_per_s": size / t,
            }
        )
        log(
            f"{n} devices: LM {lm['tokens_per_s']:.0f} tokens/s, noisy_hard_tanh fwd+bwd "
            f"{size / t / 1e6:.1f} M elements/s"
        )
    return {"machine": common.machine(), "rows": rows, "size": size, "steps": steps}


def markdown(result) -> str:
    base = result["rows"][0]
    lines = [
        "| devices | LM step tokens/s | vs 1 device | noisy_hard_tanh fwd+bwd M elements/s "
        "| vs 1 device |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['devices']} | {r['lm_tokens_per_s']:.0f} | "
            f"{r['lm_tokens_per_s'] / base['lm_tokens_per_s']:.2f} | "
            f"{r['noisy_hard_tanh_elements_per_s'] / 1e6:.1f} | "
            f"{r['noisy_hard_tanh_elements_per_s'] / base['noisy_hard_tanh_elements_per_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rectify-jax bench scaling``."""
    parser.add_argument(
        "--devices", type=int, nargs="+", default=[1, 2, 4, 8], help="(default 1 2 4 8)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument(
        "--size", type=int, default=2**20, help="elements of the activation (default 2**20)"
    )
    parser.add_argument("--out", default=None, help="folder for scaling.json / .md")


def execute(args: argparse.Namespace) -> int:
    """Runs the benchmark with parsed options; prints and optionally saves the results."""
    data_parallel.force_host_devices(max(args.devices))  # before JAX's first computation
    result = run(args.devices, args.steps, args.size)
    md = markdown(result)
    print(md)
    common.write(args.out, "scaling", result, md)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="rectify-jax bench scaling",
        description=cli.terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
