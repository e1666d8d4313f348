"""Prints the declared lower bounds of pyproject.toml as exact pins, ``name==version``.

One line per core dependency (``[project] dependencies``), then one per dependency of each
extra named with ``--extra``. CI installs the project with these as pip constraints, so the
tests run against the oldest versions the package claims to support: pyproject.toml stays
the one place where those numbers are written.

    python .ci/minimums.py --extra equinox > minimums.txt
    python -m pip install -c minimums.txt -e ".[test]"
    python .ci/minimums.py --extra equinox --check   # the installed versions are those

Every core dependency (and every dependency of a named extra) must have a ``>=`` lower
bound; the script exits non-zero, naming it, when one has none.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# name, optional [extras], then the version clauses, optionally "; marker".
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;]*)(?:;.*)?$"
)
_LOWER = re.compile(r"^>=\s*(?P<version>[0-9][0-9A-Za-z.+!-]*)$")


def lower_bound(requirement: str) -> tuple[str, str]:
    """``(name, version)`` of a requirement's ``>=`` clause; ValueError if it has none."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    clauses = [c.strip() for c in match["spec"].split(",") if c.strip()]
    bounds = [m["version"] for c in clauses if (m := _LOWER.match(c))]
    if len(bounds) != 1:
        raise ValueError(f"{requirement!r} needs exactly one '>=' lower bound")
    return match["name"], bounds[0]


def minimums(pyproject: Path = PYPROJECT, extras: tuple[str, ...] = ()) -> list[str]:
    """``name==lower`` for every core dependency, then every dependency of ``extras``."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise ValueError(f"pyproject.toml has no extra {extra!r}")
        requirements += optional[extra]
    pins: dict[str, str] = {}
    for requirement in requirements:
        name, version = lower_bound(requirement)
        key = re.sub(r"[-_.]+", "-", name).lower()
        if pins.get(key, version) != version:
            raise ValueError(f"{name} has two lower bounds: {pins[key]} and {version}")
        pins[key] = version
    return [f"{name}=={version}" for name, version in pins.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extra", action="append", default=[], help="also pin this extra's lower bounds"
    )
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT, help=argparse.SUPPRESS)
    parser.add_argument(
        "--check",
        action="store_true",
        help="print nothing; exit 1 unless this Python has exactly these versions installed",
    )
    args = parser.parse_args(argv)
    try:
        lines = minimums(args.pyproject, tuple(args.extra))
    except ValueError as e:
        print(f"minimums.py: {e}", file=sys.stderr)
        return 1
    if not args.check:
        print("\n".join(lines))
        return 0
    wrong = []
    for line in lines:
        name, want = line.split("==")
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "not installed"
        if have != want:
            wrong.append(f"{name}: want {want}, have {have}")
    for w in wrong:
        print(f"minimums.py: {w}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
