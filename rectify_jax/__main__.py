"""``python -m rectify_jax``: a first run of the library.

Evaluates every activation on a few inputs, then shows what makes noisy units
different: the noise appears only in saturation, its Monte-Carlo mean matches the
test-time function, and the gradient in saturation is carried by the linear and
stochastic paths instead of vanishing.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

import rectify_jax as rj
from rectify_jax import cli
from rectify_jax._src import registry

PROG = "python -m rectify_jax"


def _row(name: str, values) -> str:
    return f"{name:<34}" + "".join(f"{float(v):>9.4f}" for v in values)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m rectify_jax``, with the CLI's one-line errors."""
    assert __doc__ is not None  # the module's docstring is the description
    parser = cli.Parser(
        prog=PROG,
        description=cli.terminal_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--seed",
        type=cli.whole_number("--seed", 0, 2**32 - 1),
        default=0,
        help="PRNG seed, 0 to 4294967295 (default 0)",
    )
    parser.add_argument(
        "--samples",
        type=cli.whole_number("--samples", 1),
        default=10_000,
        help="Monte-Carlo keys, >= 1 (default 10000)",
    )
    parser.set_defaults(fn=_tour, sizes="give fewer --samples")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the tour with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    A bad option is one line on stderr and exit code 2, Ctrl-C one line and 130, as for
    the ``rectify-jax`` command (:func:`rectify_jax.cli.execute`).
    """
    return cli.execute(build_parser, argv)


def _tour(args) -> int:
    key = jax.random.key(args.seed)
    print(f"rectify_jax {rj.__version__} | jax {jax.__version__} | {jax.devices()[0].platform}")
    x = jnp.array([-3.0, -1.5, -0.5, 0.0, 0.5, 1.5, 3.0])
    print("\nActivations (one key for every stochastic one)")
    print(_row("x", x))
    for entry in registry.ACTIVATIONS:
        print(_row(entry.name, entry.call(x, key)))
    print(_row("noisy_hard_tanh (test time)", rj.noisy_hard_tanh(x, deterministic=True)))

    n = args.samples
    keys = jax.random.split(key, n)
    xs = jnp.array([0.5, 1.5, 3.0])
    alpha, c = rj.HARD_TANH_UNIT.alpha, rj.HARD_TANH_UNIT.c
    samples = jax.vmap(lambda k: rj.noisy_hard_tanh(xs, k))(keys)
    grads = jax.vmap(jax.grad(lambda x, k: jnp.sum(rj.noisy_hard_tanh(x, k)), argnums=0))(
        jnp.broadcast_to(xs, (n, 3)), keys
    )
    expected = rj.noisy_hard_tanh(xs, deterministic=True)
    print(f"\nnoisy_hard_tanh (half-normal, alpha={alpha}, c={c}) over {n} keys")
    print(
        f"{'x':>6} {'MC mean':>10} {'± 2 s.e.':>9} {'test-time':>10} {'dphi/dx mean':>13} "
        f"{'std':>8} {'linear+nonlinear':>17}"
    )
    for i, xi in enumerate(xs.tolist()):
        mean, se = float(samples[:, i].mean()), float(samples[:, i].std()) / math.sqrt(n)
        det_grad = alpha * float(jax.grad(rj.hard_tanh)(xs[i])) + (1 - alpha)
        print(
            f"{xi:>6.2f} {mean:>10.4f} {2 * se:>9.4f} {float(expected[i]):>10.4f} "
            f"{float(grads[:, i].mean()):>13.4f} {float(grads[:, i].std()):>8.4f} {det_grad:>17.4f}"
        )
    print(
        "\nInside the linear range (|x| < 1) the unit is exactly hard tanh: no noise, slope 1.\n"
        "In saturation the mean matches the test-time value, and the gradient keeps a\n"
        "random stochastic part on top of the linear path instead of vanishing."
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
