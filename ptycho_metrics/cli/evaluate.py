"""``ptycho-metrics evaluate``: evaluate an existing reconstruction against a ground truth.

Any format :func:`ptycho_metrics.io.read_reconstruction` reads; the object is
put on the truth's grid with :func:`ptycho_metrics.io.to_fixture_grid` (the
fixture's scan mask) and measured with :func:`ptycho_metrics.evaluate`. A
reconstruction that records the sha256 of other data is refused unless
``--allow-other-data``. All of that is :func:`ptycho_metrics.io.read_pair`,
which ``--many`` (:mod:`._many`) calls for every pair in the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args

from .. import evaluate as evaluate_recon
from .._checks import QualityInputError
from ..io import read_pair
from ..io._registry import Format
from ..io.grid import DEFAULT_PIXEL_TOLERANCE
from . import _many

__all__ = ["register"]


def _pixel_size(text: str) -> float | tuple[float, float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        msg = f"expected metres as W or W,H (e.g. 1e-8), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return values[0], values[1]
    msg = f"expected metres as W or W,H, got {text!r}"
    raise argparse.ArgumentTypeError(msg)


#: Options of the single-pair form only, and their defaults: with --many each pair's
#: file comes from the manifest or directory and the report is the --output tables,
#: so these are refused rather than silently ignored. The reading options
#: (--format, --layer, ...) apply to every pair of --many (a manifest may set them per pair).
_SINGLE_PAIR_OPTIONS: dict[str, Any] = {"recon": None, "json": False, "plot": None}


def _refuse_single_pair_options(args: argparse.Namespace) -> None:
    given = [
        "--" + name.replace("_", "-")
        for name, default in _SINGLE_PAIR_OPTIONS.items()
        if getattr(args, name) != default
    ]
    if given:
        msg = (
            f"--many takes no --recon, --json or --plot (the reconstructions come from "
            f"MANIFEST_OR_DIR, the results go to the --output tables), got {', '.join(given)}"
        )
        raise QualityInputError(msg)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    if args.many is not None:
        _refuse_single_pair_options(args)
        _many.run(args)
        return
    _many.require_single(args)
    pair = read_pair(args.recon, args.truth, **_many.read_options(args))
    report = evaluate_recon(pair.object, pair.truth.obj, mask=pair.mask)
    recon, truth, notes = pair.recon, pair.truth, pair.notes
    document: dict[str, Any] = {**report.to_dict(), **pair.as_dict()}
    text = json.dumps(document, indent=2, allow_nan=False, default=str)
    if args.json:
        print(text)
    else:
        print(f"reconstruction: {recon.path} ({recon.format}, {recon.shape[0]}x{recon.shape[1]})")
        print(f"truth: {truth.path} (sha256 {truth.sha256[:12]}...)")
        for note in notes:
            print(f"note: {note}")
        print(report.format_table())
    out = sys.stderr if args.json else sys.stdout
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"metrics: {args.output}", file=out)
    if args.plot:
        from ..io.plot import plot_placement

        plot_placement(pair.placement, truth, report, args.plot)
        print(f"plot: {args.plot}", file=out)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    ev = sub.add_parser(
        "evaluate",
        help="evaluate a reconstruction (any supported format) against a ground truth",
        description=(
            "Read a reconstruction (ptycho-metrics, cdtools, ptychodus, PtyPy, PtychoPINN or a "
            "plain array), put it on the truth's grid with the fixture's scan mask, and measure it."
        ),
    )
    ev.add_argument("--recon", help="the reconstruction file (required unless --many)")
    ev.add_argument("--truth", help="fixture name or scan .npz (objectGuess)")
    ev.add_argument(
        "--format",
        default="auto",
        choices=get_args(Format),
        help="file format (default: detected from the content)",
    )
    ev.add_argument("--layer", type=int, help="slice of a layered object (required if several)")
    ev.add_argument("--mode", type=int, help="mode of a multi-mode object (required if several)")
    ev.add_argument("--key", help="which object of a file holding several (npz key, PtyPy ID)")
    ev.add_argument(
        "--pixel-size",
        type=_pixel_size,
        metavar="W[,H]",
        help="object pixel in metres, for files that record none",
    )
    ev.add_argument(
        "--resample",
        action="store_true",
        help="resample a reconstruction whose pixel size differs from the truth's",
    )
    ev.add_argument(
        "--pixel-tolerance",
        type=float,
        default=DEFAULT_PIXEL_TOLERANCE,
        help=f"relative pixel-size difference accepted (default {DEFAULT_PIXEL_TOLERANCE:g})",
    )
    ev.add_argument(
        "--allow-other-data",
        action="store_true",
        help="compare even when the file records a data sha256 that is not the truth's",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    ev.add_argument("--plot", metavar="PNG", help="also draw truth, reconstruction and FRC here")
    ev.add_argument("--output", help="also write the report as JSON here")
    _many.add_arguments(ev)
    ev.set_defaults(action=_cmd_evaluate)
