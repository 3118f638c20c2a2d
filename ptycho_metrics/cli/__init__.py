"""The ``ptycho-metrics`` console script: one module per subcommand.

``ptycho-metrics run``
    Train the reference pipeline on a scan (default: the embedded ``default``
    fixture), reload the checkpoint, reconstruct, evaluate against the ground
    truth with :func:`ptycho_metrics.evaluate`, print the metrics table and
    where every artifact went. Refuses to replace existing artifacts unless
    ``--overwrite``.
``ptycho-metrics evaluate``
    Evaluate an existing ``reconstruction.npz`` against a fixture or a scan
    file's ``objectGuess``.
``ptycho-metrics goldens {status,diff,update}``
    Review and update the quality gate's goldens in any repository that uses
    the ``quality_gate`` fixture.

Each subcommand module has ``register(subparsers)``, which adds its parser
and sets ``action``; the actions call public APIs and hold no logic of their
own (an action may return an exit status). A new subcommand is one new module
and one line in :data:`_SUBCOMMANDS`.

Errors a user can act on (bad files, existing outputs) are one ``error:``
line on stderr and exit status 1; argparse's usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from .._checks import QualityInputError

__all__ = ["main"]

#: Subcommand modules, in the order ``--help`` lists them.
_SUBCOMMANDS = ("run", "evaluate", "fixtures", "goldens")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptycho-metrics",
        description="Quality metrics for ptychographic reconstructions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ptycho-metrics`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    action: Callable[[argparse.Namespace], int | None] = args.action
    try:
        status = action(args)
    except (QualityInputError, OSError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ptycho-metrics: error: {text}", file=sys.stderr)
        return 1
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
