"""Benchmark one training step of a byte-level LSTM language model: soft vs hard vs noisy gates.

python -m rectify_jax.bench.train_step --hidden 128 --length 64 --batch 32

Every kind is scanned with ``rectify_jax.linen.rnn``: flax's cells by ``flax.linen.RNN``,
the library's noisy cell by ``rectify_jax.linen.RNN`` (every step's noise drawn in one
call). Two controls run the library's cell without sampling: with hard gates (its
structure against flax's) and on its expectation (the noisy units' arithmetic, no
random numbers).
"""

from __future__ import annotations

import argparse
import sys
from typing import cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import rectify_jax as rj
from rectify_jax import cli
from rectify_jax import linen as rjl
from rectify_jax.bench import common

CELLS = {
    "soft": lambda h: nn.LSTMCell(h),
    "hard": lambda h: nn.LSTMCell(h, gate_fn=rj.hard_sigmoid, activation_fn=rj.hard_tanh),
    "NoisyLSTMCell, hard gates": lambda h: rjl.NoisyLSTMCell(h, gates="hard"),
    "NoisyLSTMCell, expectation": lambda h: rjl.NoisyLSTMCell(h, deterministic=True),
    "noisy (NAH)": lambda h: rjl.NoisyLSTMCell(h),
    "noisy (NAH, residual=key)": lambda h: rjl.NoisyLSTMCell(h, residual="key"),
    "noisy (NAH, fast noise)": lambda h: rjl.NoisyLSTMCell(h, generator="fast"),
}


class LM(nn.Module):
    kind: str
    hidden: int

    @nn.compact
    def __call__(self, tokens):
        h = rjl.rnn(CELLS[self.kind](self.hidden))(nn.Embed(256, 32)(tokens))
        return nn.Dense(256)(h)


def _step(kind, hidden, length, batch):
    """A jitted train step of the LM with ``kind`` gates and its arguments."""
    model = LM(kind, hidden)
    tokens = jax.random.randint(jax.random.key(0), (batch, length + 1), 0, 256)
    keys = {"params": jax.random.key(1), "noise": jax.random.key(2)}
    variables = model.init(keys, tokens[:, :-1])
    tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(1e-3))
    opt_state = tx.init(variables["params"])

    @jax.jit
    def step(params, opt_state, key):
        def loss(params):
            # apply's stub also allows (out, state), returned only with mutable=
            logits = cast(
                jax.Array,
                model.apply({**variables, "params": params}, tokens[:, :-1], rngs={"noise": key}),
            )
            return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step, (variables["params"], opt_state, jax.random.key(3))


def _noise_alone(generator, hidden, length, batch):
    """A jitted function that draws only the noise of a noisy-LSTM forward pass, as
    ``rectify_jax.linen.RNN`` draws it (every step's noise in one call, NAH), and its
    arguments: the floor under the noisy step's extra time with that generator."""
    cell = rjl.NoisyLSTMCell(hidden, generator=generator)

    @jax.jit
    def draw(key):
        keys = jax.random.split(key, length)  # step t's key, as rjl.RNN splits it
        noise = jax.vmap(lambda k: cell.step_noise(k, (batch,), jnp.float32))(keys)
        return sum(eps.sum() for eps in noise)

    return draw, (jax.random.key(3),)


FLOORS = {"noise alone (jax.random)": "jax", "noise alone (fast)": "fast"}
"""Timed beside the steps: drawing the forward pass's noise and nothing else."""


def step_memory(kind, hidden, length, batch) -> int | None:
    """XLA's compiled temporary memory of one train step, in bytes (compiled, not run)."""
    step, args = _step(kind, hidden, length, batch)
    return common.memory_bytes(step, *args).get("temp_size_in_bytes")


def run(
    hidden=(128, 512),
    length=64,
    batch=32,
    kinds=None,
    repeats=5,
    min_seconds=0.2,
    log=print,
    memory_length=1000,
):
    """Times one train step per gate kind and hidden size, side by side in one run, and
    reports XLA's compiled memory of the step (at ``length`` and at ``memory_length``)."""
    hiddens = [hidden] if isinstance(hidden, int) else list(hidden)
    kinds = list(CELLS) if kinds is None else list(kinds)
    kw: common.Timing = {"repeats": repeats, "min_seconds": min_seconds}
    times, memory, long_memory = {}, {}, {}
    for h in hiddens:
        steps = {f"{kind} @ {h}": _step(kind, h, length, batch) for kind in kinds}
        floors = {f"{name} @ {h}": _noise_alone(g, h, length, batch) for name, g in FLOORS.items()}
        # interleaved rounds: every kind is timed in every round, so a slow spell of a
        # shared machine hits them all alike and the ratios stay comparable
        times |= common.interleaved_times(
            {
                name: (lambda f=f, a=a: common.block(f(*a)))
                for name, (f, a) in (steps | floors).items()
            },
            **kw,
        )
        for name, (f, a) in steps.items():
            memory[name] = common.memory_bytes(f, *a).get("temp_size_in_bytes")
        for name in steps | floors:
            log(f"{name:<34} {common.fmt_time(times[name])}")
    if memory_length:
        for kind in kinds:
            if kind != "soft":
                long_memory[kind] = step_memory(kind, hiddens[0], memory_length, batch)
    return {
        "machine": common.machine(),
        "config": dict(hidden=hiddens, length=length, batch=batch, memory_length=memory_length),
        "times": times,
        "memory": memory,
        "long_memory": long_memory,
    }


def ratios(result) -> dict:
    """Noisy / hard step time per hidden size (lower is better)."""
    out = {}
    for name, t in result["times"].items():
        kind, h = name.rsplit(" @ ", 1)
        hard = result["times"].get(f"hard @ {h}")
        if hard and kind not in ("hard", "soft"):
            out[f"{kind} / hard, hidden {h}"] = t / hard
    return out


def _mib(b):
    return "-" if b is None else f"{b / 2**20:.1f}"


def markdown(result):
    times, memory = result["times"], result.get("memory", {})
    lines = [
        "| LSTM gates @ hidden | step time | / hard-LSTM step | XLA temp MiB |",
        "|---|---|---|---|",
    ]
    for name, t in times.items():
        kind, h = name.rsplit(" @ ", 1)
        hard = times.get(f"hard @ {h}")
        ratio = f"{t / hard:.2f}" if hard else "-"
        lines.append(
            f"| {kind} @ {h} | {common.fmt_time(t)} | {ratio} | {_mib(memory.get(name))} |"
        )
    long = result.get("long_memory", {})
    if long:
        cfg = result["config"]
        lines += [
            "",
            f"Compiled temporary memory of one step at sequence length {cfg['memory_length']} "
            f"(hidden {cfg['hidden'][0]}, batch {cfg['batch']}):",
            "",
            "| LSTM gates | XLA temp MiB |",
            "|---|---|",
        ]
        lines += [f"| {kind} | {_mib(b)} |" for kind, b in long.items()]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rectify-jax bench train-step``."""
    parser.add_argument(
        "--hidden", type=int, nargs="+", default=[128, 512], help="LSTM units (default 128 512)"
    )
    parser.add_argument("--length", type=int, default=64, help="sequence length (default 64)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repeats, the median is kept (default 5)"
    )
    parser.add_argument(
        "--min-seconds", type=float, default=0.2, help="minimum time per repeat (default 0.2)"
    )
    parser.add_argument(
        "--memory-length",
        type=int,
        default=1000,
        help="sequence length of the compiled-memory report (default 1000; 0 skips it)",
    )
    parser.add_argument("--out", default=None, help="folder for train_step.json / .md")


def execute(args: argparse.Namespace) -> int:
    """Runs the benchmark with parsed options; prints and optionally saves the results."""
    result = run(
        args.hidden,
        args.length,
        args.batch,
        repeats=args.repeats,
        min_seconds=args.min_seconds,
        memory_length=args.memory_length,
    )
    result["ratios"] = ratios(result)
    md = markdown(result)
    md += (
        "\nNoisy / hard step (time ratios, lower is better; hard = flax's LSTMCell with hard"
        " gates). NoisyLSTMCell with hard gates is the library's cell with no noisy unit (its"
        " structure against flax's); on its expectation it runs the noisy units' arithmetic"
        " with no random numbers. The noise-alone rows draw only the noise of the forward"
        " pass, as the noisy step draws it, and nothing else: the part of the noisy step's"
        " extra time that only a faster generator can remove.\n\n"
    ) + "\n".join(f"- {k}: {v:.2f}" for k, v in result["ratios"].items())
    print(md)
    common.write(args.out, "train_step", result, md + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="rectify-jax bench train-step",
        description=cli.terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
