"""``ptycho-metrics evaluate``: evaluate an existing reconstruction against a ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import evaluate as evaluate_recon
from . import _many
from ._common import load_recon, load_scan

__all__ = ["register"]


def _cmd_evaluate(args: argparse.Namespace) -> None:
    if args.many is not None:
        _many.run(args)
        return
    _many.require_single(args)
    obj, mask = load_recon(args.recon)
    truth = load_scan(args.truth).obj
    report = evaluate_recon(obj, truth, mask=mask)
    print(report.format_table())
    if args.output:
        Path(args.output).write_text(report.to_json() + "\n", encoding="utf-8")
        print(f"metrics: {args.output}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    ev = sub.add_parser(
        "evaluate",
        help="evaluate a reconstruction.npz against a ground truth",
        description="Evaluate a reconstruction.npz (keys object, mask) against a ground truth.",
    )
    ev.add_argument("--recon", help="reconstruction.npz")
    ev.add_argument("--truth", help="fixture name or scan .npz (objectGuess)")
    ev.add_argument("--output", help="also write the report as JSON here")
    _many.add_arguments(ev)
    ev.set_defaults(action=_cmd_evaluate)
