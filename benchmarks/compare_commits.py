"""Compare this checkout's speed with an older commit's, in one process.

    python benchmarks/compare_commits.py 4ff6b42 --hidden 128 512 --repeats 9

Two runs of ``rectify-jax bench train-step`` on a shared machine differ by up to 10 % in
the same ratio, which hides a change of a few percent. This script puts the older
commit's package beside the current one (``git archive`` into a temporary folder, the
package renamed ``rectify_jax_old``) and times both versions of every kind in the same
interleaved rounds, so both see the same machine. It prints, per kind and hidden size,
each version's step time over flax's hard ``LSTMCell`` step and the ratio new / old
(below 1: the current code is faster).

Before that it compares every activation of ``rectify-jax bench activations``: the
optimised HLO of its jitted forward+backward pass (source locations removed) is either
the same in both versions, and then so is its speed, or it differs, and then both
versions are timed side by side on 2**22 float32 elements.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def old_package(rev: str, into: pathlib.Path) -> None:
    """Extract ``rectify_jax/`` at ``rev`` into ``into/rectify_jax_old``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "rectify_jax"],
        check=True,
        capture_output=True,
    ).stdout
    tar = into / "old.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    (into / "rectify_jax").rename(into / "rectify_jax_old")
    for path in (into / "rectify_jax_old").rglob("*.py"):
        path.write_text(re.sub(r"\brectify_jax\b", "rectify_jax_old", path.read_text()))


def optimised_hlo(fwd_bwd, n: int = 1024) -> str:
    """The compiled HLO of ``fwd_bwd(x, key)`` without source locations and names."""
    import jax
    import jax.numpy as jnp

    x = jnp.linspace(-3, 3, n, dtype=jnp.float32)
    text = fwd_bwd.lower(x, jax.random.key(0)).compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    text = re.sub(r"^HloModule \S+", "HloModule", text)
    tables = r"^(\d+ |FileNames|FunctionNames|FileLocations|StackFrames)"
    return "\n".join(line for line in text.splitlines() if not re.match(tables, line))


def compare_activations(old, new, common, repeats: int) -> None:
    """Same HLO or not for every activation; the ones that differ timed side by side."""
    import jax
    import jax.numpy as jnp

    differ = []
    for name, (f, _) in new.ACTIVATIONS.items():
        if name not in old.ACTIVATIONS:
            print(f"  {name:<36} new")
            continue
        same = optimised_hlo(new._fwd_bwd(old.ACTIVATIONS[name][0])) == optimised_hlo(
            new._fwd_bwd(f)
        )
        print(f"  {name:<36} {'same HLO' if same else 'different HLO'}")
        if not same:
            differ.append(name)
    if differ:
        x = jax.random.normal(jax.random.key(1), (2**22,), jnp.float32)
        key = jax.random.key(2)
        fns = {
            (version, name): (lambda g=new._fwd_bwd(mod.ACTIVATIONS[name][0]): g(x, key))
            for name in differ
            for version, mod in (("old", old), ("new", new))
        }
        for f in fns.values():
            common.block(f())
        times = common.interleaved_times(
            {k: (lambda f=f: common.block(f())) for k, f in fns.items()},
            repeats=repeats,
            min_seconds=0.3,
        )
        print("  fwd+bwd on 2**22 float32 elements: old, new, new / old")
        for name in differ:
            o, n = times["old", name], times["new", name]
            print(f"  {name:<36} {o * 1e3:7.2f} ms {n * 1e3:7.2f} ms   {n / o:6.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the older commit (anything git names)")
    parser.add_argument(
        "--hidden", type=int, nargs="*", default=[128, 512], help="none: no train step"
    )
    parser.add_argument("--kinds", nargs="+", default=None, help="default: every kind")
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        old_package(args.rev, pathlib.Path(tmp))
        sys.path.insert(0, tmp)
        from rectify_jax_old.bench import activations as old_act  # type: ignore
        from rectify_jax_old.bench import train_step as old  # type: ignore

        from rectify_jax.bench import activations as new_act
        from rectify_jax.bench import common
        from rectify_jax.bench import train_step as new

        print("activations (bench activations):")
        compare_activations(old_act, new_act, common, args.repeats)

        kinds = args.kinds or [k for k in new.CELLS if k in old.CELLS and k != "soft"]
        for h in args.hidden:
            steps = {("new", "hard"): new._step("hard", h, args.length, args.batch)}
            for kind in kinds:
                if kind != "hard":
                    for version, mod in (("new", new), ("old", old)):
                        steps[version, kind] = mod._step(kind, h, args.length, args.batch)
            times = common.interleaved_times(
                {k: (lambda f=f, a=a: common.block(f(*a))) for k, (f, a) in steps.items()},
                repeats=args.repeats,
                min_seconds=0.3,
            )
            hard = times["new", "hard"]
            print(f"hidden {h}: step / flax's hard LSTMCell step (old, new) and new / old")
            for kind in kinds:
                if kind != "hard":
                    o, n = times["old", kind], times["new", kind]
                    print(f"  {kind:<30} {o / hard:6.3f} {n / hard:6.3f}   {n / o:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
