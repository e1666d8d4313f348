"""The ``rectify-jax`` console script.

It lives outside the package so that Ctrl-C while ``rectify_jax`` (and with it JAX and
XLA) is still being imported, the first second or two of every command, ends like any
other interrupt: one line on stderr and exit code 130, not a traceback. Libraries turn a
KeyboardInterrupt raised inside their import into other errors (NumPy into an
``ImportError``, XLA's garbage-collection callback into a printed traceback), so the
interrupt is not raised there at all: while the package loads, Ctrl-C is only noted, and
the command stops as soon as the import is done. Then :func:`rectify_jax.cli.run` takes
over, with Python's usual Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    """Imports the command line and runs it (``rectify_jax.cli.run``)."""
    pressed: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:  # (a background job ignores SIGINT: kept)
        signal.signal(signal.SIGINT, lambda number, frame: pressed.append(number))
    try:
        from rectify_jax import cli
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: no traceback either
        sys.stderr.write("\ninterrupted\n")
        sys.stderr.flush()
        os._exit(130)  # no interpreter teardown: XLA may hold threads
    cli.run()


if __name__ == "__main__":
    main()
