"""Benchmark one training step of a byte-level LSTM language model: soft vs hard vs noisy gates.

python -m rectify_jax.bench.train_step --hidden 128 --length 64 --batch 32
"""

from __future__ import annotations

import argparse
import sys

import flax.linen as nn
import jax
import optax

import rectify_jax as rj
from rectify_jax import linen as rjl
from rectify_jax.bench import common

CELLS = {
    "soft": lambda h: nn.LSTMCell(h),
    "hard": lambda h: nn.LSTMCell(h, gate_fn=rj.hard_sigmoid, activation_fn=rj.hard_tanh),
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


def step_time(kind, hidden, length, batch, kw):
    model = LM(kind, hidden)
    tokens = jax.random.randint(jax.random.key(0), (batch, length + 1), 0, 256)
    keys = {"params": jax.random.key(1), "noise": jax.random.key(2)}
    variables = model.init(keys, tokens[:, :-1])
    tx = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(1e-3))
    opt_state = tx.init(variables["params"])

    @jax.jit
    def step(params, opt_state, key):
        def loss(params):
            logits = model.apply(
                {**variables, "params": params}, tokens[:, :-1], rngs={"noise": key}
            )
            return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    params = variables["params"]
    return common.jax_timer(step, params, opt_state, jax.random.key(3), **kw)


def run(hidden=128, length=64, batch=32, kinds=None, repeats=5, min_seconds=0.2, log=print):
    kinds = list(CELLS) if kinds is None else list(kinds)
    kw = dict(repeats=repeats, min_seconds=min_seconds)
    times = {}
    for kind in kinds:
        times[kind] = step_time(kind, hidden, length, batch, kw)
        log(f"{kind:<28} {common.fmt_time(times[kind])}")
    return {
        "machine": common.machine(),
        "config": dict(hidden=hidden, length=length, batch=batch),
        "times": times,
    }


def markdown(result):
    times = result["times"]
    hard = times.get("hard")
    lines = ["| LSTM gates | step time | / hard-LSTM step |", "|---|---|---|"]
    for kind, t in times.items():
        lines.append(
            f"| {kind} | {common.fmt_time(t)} | {t / hard:.2f} |"
            if hard
            else f"| {kind} | {common.fmt_time(t)} | - |"
        )
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rectify-jax bench train-step``."""
    parser.add_argument("--hidden", type=int, default=128, help="LSTM units (default 128)")
    parser.add_argument("--length", type=int, default=64, help="sequence length (default 64)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repeats, the median is kept (default 5)"
    )
    parser.add_argument(
        "--min-seconds", type=float, default=0.2, help="minimum time per repeat (default 0.2)"
    )
    parser.add_argument("--out", default=None, help="folder for train_step.json / .md")


def execute(args: argparse.Namespace) -> int:
    """Runs the benchmark with parsed options; prints and optionally saves the results."""
    result = run(
        args.hidden, args.length, args.batch, repeats=args.repeats, min_seconds=args.min_seconds
    )
    md = markdown(result)
    print(md)
    common.write(args.out, "train_step", result, md)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rectify-jax bench train-step", description=__doc__)
    add_arguments(parser)
    return execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
