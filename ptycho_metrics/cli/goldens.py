"""``ptycho-metrics goldens``: review and update quality-gate goldens in any repository.

``status`` and ``diff`` run the gated tests into a staging directory and show
what an update would change; ``update --reason ...`` writes it after
confirmation. All three call :mod:`ptycho_metrics.gate.review`.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

__all__ = ["register"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", help="test paths given to pytest (default: pytest's own testpaths)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path.cwd(),
        help="directory pytest runs in (default: the current one)",
    )
    parser.add_argument(
        "--pytest-args",
        default="",
        metavar="ARGS",
        help="further pytest arguments, one shell-quoted string (e.g. \"-k 'default' -q\")",
    )


def _kwargs(args: argparse.Namespace) -> dict[str, object]:
    return {
        "cwd": args.root.resolve(),
        "paths": list(args.paths),
        "pytest_args": shlex.split(args.pytest_args),
    }


def _cmd_status(args: argparse.Namespace) -> int:
    from ..gate import review

    return review.status(**_kwargs(args))  # type: ignore[arg-type]


def _cmd_diff(args: argparse.Namespace) -> int:
    from ..gate import review

    return review.diff(**_kwargs(args))  # type: ignore[arg-type]


def _cmd_update(args: argparse.Namespace) -> int:
    from ..gate import review

    return review.update(
        reason=args.reason,
        allow_worse=args.allow_worse,
        yes=args.yes,
        prune_stale=args.prune_stale,
        **_kwargs(args),  # type: ignore[arg-type]
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``goldens`` subcommand with ``status``, ``diff`` and ``update``."""
    goldens = sub.add_parser(
        "goldens",
        help="review and update quality-gate goldens",
        description=(
            "Review and update the goldens of the quality_gate pytest fixture. Each action "
            "runs the gated tests with --regen-all into a temporary staging directory; "
            "nothing in the tree changes except by `update`, which refuses in CI, refuses "
            "worse metrics without --allow-worse, asks for confirmation (or --yes), writes "
            "atomically and appends to goldens/PROVENANCE.jsonl."
        ),
    )
    actions = goldens.add_subparsers(dest="goldens_command", required=True)
    status = actions.add_parser("status", help="one line per golden: what an update would do")
    _common(status)
    status.set_defaults(action=_cmd_status)
    diff = actions.add_parser("diff", help="per golden and metric: old, new, delta, verdict")
    _common(diff)
    diff.set_defaults(action=_cmd_diff)
    update = actions.add_parser("update", help="write the regenerated goldens (reviewed)")
    _common(update)
    update.add_argument("--reason", required=True, help="why; recorded in PROVENANCE.jsonl")
    update.add_argument(
        "--allow-worse",
        action="store_true",
        help="accept metrics worse beyond tolerance, or dropped",
    )
    update.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    update.add_argument(
        "--prune-stale", action="store_true", help="delete goldens no test produced"
    )
    update.set_defaults(action=_cmd_update)
