"""This repository's entry point for reviewed golden updates: ``ptycho-metrics goldens update``.

Usage (as before)::

    python tools/regen_golden.py --reason "retrained with the new probe" [--allow-worse]
        [--yes] [--prune-stale] [PATH ...] [-- PYTEST_ARGS ...]

PATH defaults to ``tests/quality``, and pytest runs at the repository root.
Everything else (staging, diff table, refusal in CI and of worse metrics,
confirmation, atomic write, ``PROVENANCE.jsonl``) is the installed command's:
see ``ptycho-metrics goldens update --help`` and docs/quality-gate.md.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ptycho_metrics.cli import main as cli_main

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    has_paths = any(not a.startswith("-") for a in _positionals(own))
    defaults = [] if has_paths else ["tests/quality"]
    root = [] if "--root" in own else ["--root", str(REPO_ROOT)]
    pytest_args = [f"--pytest-args={shlex.join(extra)}"] if extra else []
    return cli_main(["goldens", "update", *root, *own, *defaults, *pytest_args])


def _positionals(args: list[str]) -> list[str]:
    # Arguments that are not options nor the value of --reason / --root.
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("--reason", "--root", "--pytest-args"):
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


if __name__ == "__main__":
    sys.exit(main())
