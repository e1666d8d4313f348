"""Benchmark every activation against its baselines, in one process and one run.

For each activation, size and dtype: forward and forward+backward time (median
over repeats after warm-up), throughput, and compiled memory; beside it, in the
same run, the baselines: the ``jax.nn`` equivalent, the same formula in plain
``jnp`` with autodiff and stored noise ("naive"), PyTorch eager (if installed), a
memory pass over the same bytes (the floor: ``-x``, one read and one write), and
generating the noise alone (the RNG floor).

    python -m rectify_jax.bench.activations --sizes 16 20 22 --dtypes float32 bfloat16
    rectify-jax bench activations --sizes 22 --out bench-results
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import rectify_jax as rj
from rectify_jax import cli
from rectify_jax._src import noise as noise_lib
from rectify_jax._src import registry
from rectify_jax.bench import common

# name -> (ours(x, key), the jax.nn equivalent or None): every activation of the registry,
# plus the noisy hard tanh's memory policy and generator variants.
ACTIVATIONS: dict[str, tuple[Callable, Callable | None]] = {
    **{entry.name: (entry.call, entry.jax_nn) for entry in registry.ACTIVATIONS},
    "noisy_hard_tanh[key]": (lambda x, k: rj.noisy_hard_tanh(x, k, residual="key"), None),
    "noisy_hard_tanh[fast]": (lambda x, k: rj.noisy_hard_tanh(x, k, generator="fast"), None),
}


def naive_noisy_hard_tanh(x, key):
    """The formula of Gulcehre et al. in plain jnp, noise drawn up front, autodiff for the rest."""
    xc = x.astype(jnp.float32)
    eps = jnp.abs(jax.random.normal(key, x.shape, jnp.float32))
    h, u = jnp.clip(xc, -1.0, 1.0), xc
    alpha, c = rj.HARD_TANH_UNIT.alpha, rj.HARD_TANH_UNIT.c
    sigma = c * (jax.nn.sigmoid(h - u) - 0.5) ** 2
    d = -jnp.sign(xc) * jnp.sign(1 - alpha)
    return (alpha * h + (1 - alpha) * u + d * sigma * eps).astype(x.dtype)


def _fwd(f):
    return jax.jit(lambda x, k: f(x, k))


def _fwd_bwd(f):
    def run(x, k):
        y, vjp = jax.vjp(lambda x: f(x, k), x)
        return vjp(jnp.ones_like(y))[0]

    return jax.jit(run)


def _residual_bytes(f, x, key) -> int | None:
    """Bytes the forward pass keeps for the backward (the vjp closure's arrays)."""
    keep = jax.jit(lambda x, k: jax.vjp(lambda x: f(x, k), x)[1])
    return common.memory_bytes(keep, x, key).get("output_size_in_bytes")


def _torch_fns():
    try:
        import torch  # pyright: ignore[reportMissingImports]  # optional, not a dependency
    except ImportError:
        return None, {}
    F = torch.nn.functional

    def noisy(x):
        eps = torch.randn_like(x).abs()
        h = F.hardtanh(x)
        sigma = 0.5 * (torch.sigmoid(h - x) - 0.5) ** 2
        return 1.15 * h - 0.15 * x + torch.sign(x) * sigma * eps

    return torch, {
        "relu": F.relu,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "softplus": F.softplus,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "hard_tanh": F.hardtanh,
        "rrelu": lambda x: F.rrelu(x, training=True),
        "noisy_hard_tanh": noisy,
    }


def _torch_times(torch, fn, n, dtype, kw):
    tdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    x = torch.randn(n, dtype=tdtype)
    fwd = common.time_fn(lambda: fn(x), **kw)
    xg = x.clone().requires_grad_(True)
    ones = torch.ones_like(x)

    def fb():
        y = fn(xg)
        (g,) = torch.autograd.grad(y, xg, ones)
        return g

    return fwd, common.time_fn(fb, **kw)


def _other_rng_floors(torch, n: int, kw) -> dict:
    """float32 normal samples from numpy's ``default_rng`` (ziggurat) and ``torch.randn``."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = {"numpy_rng_floor": common.time_fn(lambda: rng.standard_normal(n, np.float32), **kw)}
    if torch is not None:
        out["torch_rng_floor"] = common.time_fn(lambda: torch.randn(n), **kw)
    return out


def comparisons(rows: list[dict], log2n: int = 22, dtype: str = "float32") -> dict:
    """What a user compares, as time ratios measured side by side (lower is better)."""
    at = {r["name"]: r for r in rows if r["log2n"] == log2n and r["dtype"] == dtype}
    out = {}
    hard = at.get("hard_tanh", {}).get("fwd_bwd")
    for name, label in (("noisy_hard_tanh", "jax.random"), ("noisy_hard_tanh[fast]", "fast")):
        r = at.get(name)
        if r is None:
            continue
        if hard:
            out[f"noisy_hard_tanh ({label} noise) / hard_tanh, fwd+bwd"] = r["fwd_bwd"] / hard
        if "torch_fwd_bwd" in r:
            out[f"noisy_hard_tanh ({label} noise) / PyTorch eager, fwd+bwd"] = (
                r["fwd_bwd"] / r["torch_fwd_bwd"]
            )
    r = next(iter(at.values()), None)
    if r is not None:
        if "torch_rng_floor" in r:
            out["fast_normal / torch.randn"] = r["fast_rng_floor"] / r["torch_rng_floor"]
            out["generator='jax' normal / torch.randn"] = r["rng_floor"] / r["torch_rng_floor"]
            if "jax_random_floor" in r:
                out["jax.random.normal / torch.randn"] = (
                    r["jax_random_floor"] / r["torch_rng_floor"]
                )
        out["fast_normal / numpy standard_normal"] = r["fast_rng_floor"] / r["numpy_rng_floor"]
    return out


def eager_overhead(shape=(64, 128), repeats: int = 7, min_seconds: float = 0.05) -> dict:
    """Time ratios of eager calls on a small array, where Python overhead shows.

    Deterministic activations called eagerly against their ``jax.nn`` twin called eagerly,
    and the noisy units called eagerly against the same call inside ``jax.jit``.
    """
    kw: common.Timing = {"repeats": repeats, "min_seconds": min_seconds}
    x = jax.random.normal(jax.random.key(1), shape)
    key = jax.random.key(0)
    out = {}
    # each pair is timed in interleaved rounds: these are a few microseconds either way
    for entry in registry.ACTIVATIONS:
        if entry.jax_nn is None:
            continue
        t = common.interleaved_times(
            {
                "ours": lambda f=entry.call: common.block(f(x, key)),
                "theirs": lambda f=entry.jax_nn: common.block(f(x)),
            },
            **kw,
        )
        out[f"eager {entry.name} / eager jax.nn twin, {shape}"] = t["ours"] / t["theirs"]
    for entry in registry.ACTIVATIONS:
        if entry.stochastic:
            t = common.interleaved_times(
                {
                    "eager": lambda f=entry.call: common.block(f(x, key)),
                    "jitted": lambda f=jax.jit(entry.call): common.block(f(x, key)),
                },
                **kw,
            )
            out[f"eager {entry.name} / the same call jitted, {shape}"] = t["eager"] / t["jitted"]
    return out


def run(
    sizes=(16, 20, 22),
    dtypes=("float32", "bfloat16"),
    names=None,
    repeats=7,
    min_seconds=0.05,
    torch_baseline=True,
    log=print,
) -> dict:
    """Runs the benchmark and returns ``{"machine": ..., "rows": [...]}``."""
    names = list(ACTIVATIONS) if names is None else list(names)
    torch, torch_fns = _torch_fns() if torch_baseline else (None, {})
    kw: common.Timing = {"repeats": repeats, "min_seconds": min_seconds}
    key = jax.random.key(0)
    rows = []
    for dtype in dtypes:
        for log2n in sizes:
            n = 2**log2n
            x = (3 * jax.random.normal(jax.random.key(1), (n,))).astype(dtype)
            itemsize = jnp.dtype(dtype).itemsize
            floor = common.jax_timer(jax.jit(lambda x: -x), x, **kw)
            # the default generator's draw (jax.random.normal's numbers, computed by
            # rectify_jax's written-out threefry) and jax.random.normal itself
            rng_floor = common.jax_timer(
                jax.jit(lambda k, n=n: noise_lib.jax_normal(k, (n,))), key, **kw
            )
            jax_random_floor = common.jax_timer(
                jax.jit(lambda k, n=n: jax.random.normal(k, (n,))), key, **kw
            )
            fast_floor = common.jax_timer(
                jax.jit(lambda k, n=n: rj.noise.fast_normal(k, (n,))), key, **kw
            )
            base: dict[str, Any] = dict(
                dtype=dtype,
                log2n=log2n,
                n=n,
                copy_floor=floor,
                rng_floor=rng_floor,
                jax_random_floor=jax_random_floor,
                fast_rng_floor=fast_floor,
                **_other_rng_floors(torch, n, kw),
            )
            for name in names:
                f, ref = ACTIVATIONS[name]
                fwd, fb = _fwd(f), _fwd_bwd(f)
                row: dict[str, Any] = dict(
                    base,
                    name=name,
                    fwd=common.jax_timer(fwd, x, key, **kw),
                    fwd_bwd=common.jax_timer(fb, x, key, **kw),
                    memory_fwd_bwd=common.memory_bytes(fb, x, key),
                    residual_bytes=_residual_bytes(f, x, key),
                )
                if ref is not None:
                    g = lambda x, k, ref=ref: ref(x)  # noqa: E731
                    row["jax_nn_fwd"] = common.jax_timer(_fwd(g), x, key, **kw)
                    row["jax_nn_fwd_bwd"] = common.jax_timer(_fwd_bwd(g), x, key, **kw)
                    row["memory_jax_nn_fwd_bwd"] = common.memory_bytes(_fwd_bwd(g), x, key)
                if name.startswith("noisy_hard_tanh"):
                    row["naive_fwd_bwd"] = common.jax_timer(
                        _fwd_bwd(naive_noisy_hard_tanh), x, key, **kw
                    )
                    row["memory_naive_fwd_bwd"] = common.memory_bytes(
                        _fwd_bwd(naive_noisy_hard_tanh), x, key
                    )
                tname = name.split("[")[0]
                if torch is not None and tname in torch_fns:
                    row["torch_fwd"], row["torch_fwd_bwd"] = _torch_times(
                        torch, torch_fns[tname], n, dtype, kw
                    )
                row["elements_per_s_fwd"] = n / row["fwd"]
                row["gb_per_s_fwd"] = 2 * n * itemsize / row["fwd"] / 1e9  # read x, write y
                row["gb_per_s_fwd_bwd"] = 3 * n * itemsize / row["fwd_bwd"] / 1e9  # x, g, dx
                rows.append(row)
                log(
                    f"{dtype} 2^{log2n} {name:<24} fwd {common.fmt_time(row['fwd']):>10} "
                    f"fwd+bwd {common.fmt_time(row['fwd_bwd']):>10}"
                )
    return {"machine": common.machine(), "rows": rows}


def ratios(rows: list[dict], log2n: int = 22, dtype: str = "float32") -> dict:
    """The project's speed targets, as ratios measured side by side."""
    at = {r["name"]: r for r in rows if r["log2n"] == log2n and r["dtype"] == dtype}
    out = {}
    if "noisy_hard_tanh" in at:
        r = at["noisy_hard_tanh"]
        out["noisy_hard_tanh fwd+bwd / RNG floor"] = r["fwd_bwd"] / r["rng_floor"]
        out["noisy_hard_tanh fwd+bwd / naive fwd+bwd"] = r["fwd_bwd"] / r["naive_fwd_bwd"]
        if "torch_fwd_bwd" in r:
            out["noisy_hard_tanh fwd+bwd / PyTorch eager"] = r["fwd_bwd"] / r["torch_fwd_bwd"]
    if "noisy_hard_tanh[fast]" in at and "hard_tanh" in at:
        out["noisy_hard_tanh[fast] fwd+bwd / jax.nn.hard_tanh fwd+bwd"] = (
            at["noisy_hard_tanh[fast]"]["fwd_bwd"] / at["hard_tanh"]["jax_nn_fwd_bwd"]
        )
    for name, r in at.items():
        if "jax_nn_fwd_bwd" in r:
            out[f"{name} fwd+bwd / jax.nn"] = r["fwd_bwd"] / r["jax_nn_fwd_bwd"]
    for name in ("noisy_hard_tanh", "noisy_hard_tanh[key]", "noisy_hard_tanh[fast]"):
        kept = at.get(name, {}).get("residual_bytes")
        if kept is not None:
            x_bytes = at[name]["n"] * jnp.dtype(dtype).itemsize
            out[f"{name} residuals beyond x, in arrays of x's size"] = (kept - x_bytes) / x_bytes
    return out


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "| dtype | n | activation | fwd | fwd+bwd | fwd+bwd / jax.nn | fwd+bwd / torch | "
        "fwd GB/s | temp MiB (fwd+bwd) | kept for bwd / x bytes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        jnn = f"{r['fwd_bwd'] / r['jax_nn_fwd_bwd']:.2f}" if "jax_nn_fwd_bwd" in r else "-"
        tch = f"{r['fwd_bwd'] / r['torch_fwd_bwd']:.2f}" if "torch_fwd_bwd" in r else "-"
        mem = r["memory_fwd_bwd"].get("temp_size_in_bytes")
        mem = f"{mem / 2**20:.1f}" if mem is not None else "-"
        kept = r.get("residual_bytes")
        kept = f"{kept / (r['n'] * jnp.dtype(r['dtype']).itemsize):.2f}" if kept else "-"
        lines.append(
            f"| {r['dtype']} | 2^{r['log2n']} | {r['name']} | {common.fmt_time(r['fwd'])} "
            f"| {common.fmt_time(r['fwd_bwd'])} | {jnn} | {tch} | "
            f"{r['gb_per_s_fwd']:.2f} | {mem} | {kept} |"
        )
    floors = {(r["dtype"], r["log2n"]): r for r in rows}
    lines += [
        "",
        "| dtype | n | copy floor (-x) | generator='jax' normal | jax.random.normal "
        "| fast_normal | torch.randn (float32) | numpy standard_normal (float32) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (dtype, log2n), r in floors.items():
        torch_floor = common.fmt_time(r["torch_rng_floor"]) if "torch_rng_floor" in r else "-"
        jax_random = common.fmt_time(r["jax_random_floor"]) if "jax_random_floor" in r else "-"
        lines.append(
            f"| {dtype} | 2^{log2n} | {common.fmt_time(r['copy_floor'])} | "
            f"{common.fmt_time(r['rng_floor'])} | {jax_random} | "
            f"{common.fmt_time(r['fast_rng_floor'])} | "
            f"{torch_floor} | {common.fmt_time(r['numpy_rng_floor'])} |"
        )
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rectify-jax bench activations``."""
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[16, 20, 22],
        help="log2 of the array sizes (default 16 20 22)",
    )
    parser.add_argument(
        "--dtypes", nargs="+", default=["float32", "bfloat16"], help="(default float32 bfloat16)"
    )
    parser.add_argument(
        "--names",
        nargs="+",
        default=None,
        choices=list(ACTIVATIONS),
        metavar="NAME",
        help=f"activations to time (default: all of {', '.join(ACTIVATIONS)})",
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed repeats, the median is kept (default 7)"
    )
    parser.add_argument(
        "--min-seconds", type=float, default=0.05, help="minimum time per repeat (default 0.05)"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    parser.add_argument("--out", default=None, help="folder for activations.json / .md")


def execute(args: argparse.Namespace) -> int:
    """Runs the benchmark with parsed options; prints and optionally saves the results."""
    result = run(
        args.sizes, args.dtypes, args.names, args.repeats, args.min_seconds, not args.no_torch
    )
    log2n = 22 if 22 in args.sizes else max(args.sizes)
    result["comparisons"] = comparisons(result["rows"], log2n, args.dtypes[0])
    result["ratios"] = ratios(result["rows"], log2n, args.dtypes[0])
    result["eager"] = eager_overhead(repeats=args.repeats, min_seconds=args.min_seconds)
    md = markdown(result)
    md += (
        f"\nWhat a user compares, at n = 2^{log2n}, {args.dtypes[0]} (time ratios: lower is "
        "better, below 1 means rectify_jax is faster):\n\n"
        + "\n".join(f"- {k}: {v:.2f}" for k, v in result["comparisons"].items())
        + f"\n\nRatios at n = 2^{log2n}, {args.dtypes[0]} (time ratios, lower is better):\n\n"
        + "\n".join(f"- {k}: {v:.2f}" for k, v in result["ratios"].items())
        + "\n\nEager calls (Python overhead; time ratios, lower is better):\n\n"
        + "\n".join(f"- {k}: {v:.2f}" for k, v in result["eager"].items())
        + "\n"
    )
    print(md)
    print(f"machine: {result['machine']}")
    common.write(args.out, "activations", result, md)
    return 0 if all(math.isfinite(v) for v in result["ratios"].values()) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="rectify-jax bench activations",
        description=cli.terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
