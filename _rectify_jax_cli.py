"""The ``rectify-jax`` console script.

It lives outside the package so that Ctrl-C while ``rectify_jax`` (and with it JAX and
XLA) is still being imported, the first second or two of every command, ends like any
other interrupt: one line on stderr and exit code 130, not a traceback. Once the package
is loaded, :func:`rectify_jax.cli.run` takes over.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    """Imports the command line and runs it (``rectify_jax.cli.run``)."""
    try:
        from rectify_jax import cli
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: no traceback either
        sys.stderr.write("\ninterrupted\n")
        sys.stderr.flush()
        os._exit(130)  # no interpreter teardown: a half-imported XLA may hold threads
    cli.run()


if __name__ == "__main__":
    main()
