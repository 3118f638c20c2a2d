"""``ptycho-metrics evaluate``: evaluate an existing reconstruction against a ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import evaluate as evaluate_recon
from .._checks import QualityInputError
from ._common import load_recon, load_scan

__all__ = ["register"]


def _cmd_evaluate(args: argparse.Namespace) -> None:
    obj, mask = load_recon(args.recon)
    truth = load_scan(args.truth).obj
    if not np.iscomplexobj(obj) and args.real_as is None:
        msg = (
            f"{args.recon}: key 'object' is real (dtype {obj.dtype}), not a complex object; "
            f"say what it is with --real-as amplitude or --real-as phase"
        )
        raise QualityInputError(msg)
    report = evaluate_recon(obj, truth, mask=mask, real_as=args.real_as)
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
    ev.add_argument("--recon", required=True, help="reconstruction.npz")
    ev.add_argument("--truth", required=True, help="fixture name or scan .npz (objectGuess)")
    ev.add_argument("--output", help="also write the report as JSON here")
    ev.add_argument(
        "--real-as",
        choices=("amplitude", "phase"),
        help="what a real 'object' array is (a complex one needs nothing)",
    )
    ev.set_defaults(action=_cmd_evaluate)
