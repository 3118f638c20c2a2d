"""``ptycho-metrics evaluate``: evaluate an existing reconstruction against a ground truth.

Any format :func:`ptycho_metrics.io.read_reconstruction` reads; the object is
put on the truth's grid with :func:`ptycho_metrics.io.to_fixture_grid` (the
fixture's scan mask) and measured with :func:`ptycho_metrics.evaluate`. A
reconstruction that records the sha256 of other data is refused unless
``--allow-other-data``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args

from .. import evaluate as evaluate_recon
from .._checks import QualityInputError
from ..io import check_same_data, read_reconstruction, to_fixture_grid
from ..io._registry import Format
from ..io.grid import DEFAULT_PIXEL_TOLERANCE
from . import _many
from ._common import load_scan, truth_hashes

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


#: Options of the single-pair form and their defaults. --many reads its pairs with
#: evaluate_many's loader (ptycho-metrics reconstruction.npz: keys object, mask),
#: which takes none of them: refused rather than silently ignored.
_SINGLE_PAIR_OPTIONS: dict[str, Any] = {
    "recon": None,
    "format": "auto",
    "layer": None,
    "mode": None,
    "key": None,
    "pixel_size": None,
    "resample": False,
    "pixel_tolerance": DEFAULT_PIXEL_TOLERANCE,
    "allow_other_data": False,
    "json": False,
    "plot": None,
}


def _refuse_single_pair_options(args: argparse.Namespace) -> None:
    given = [
        "--" + name.replace("_", "-")
        for name, default in _SINGLE_PAIR_OPTIONS.items()
        if getattr(args, name) != default
    ]
    if given:
        msg = (
            f"--many takes none of the single-pair options (its pairs are ptycho-metrics "
            f"reconstruction.npz files with keys object, mask), got {', '.join(given)}"
        )
        raise QualityInputError(msg)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    if args.many is not None:
        _refuse_single_pair_options(args)
        _many.run(args)
        return
    _many.require_single(args)
    recon = read_reconstruction(
        args.recon,
        format=args.format,
        layer=args.layer,
        mode=args.mode,
        pixel_size=args.pixel_size,
        key=args.key,
    )
    truth = load_scan(args.truth)
    data_note = check_same_data(recon, truth_hashes(truth), allow_other_data=args.allow_other_data)
    placement = to_fixture_grid(
        recon, truth, resample=args.resample, pixel_tolerance=args.pixel_tolerance
    )
    report = evaluate_recon(placement.object, truth.obj, mask=placement.mask)
    notes = [*([data_note] if data_note else []), *placement.notes]
    document: dict[str, Any] = {
        **report.to_dict(),
        "reconstruction": {
            "path": str(recon.path),
            "format": recon.format,
            "shape": list(recon.shape),
            "pixel_size_m": None if recon.pixel_size is None else list(recon.pixel_size),
            "metadata": recon.metadata,
        },
        "truth": {"path": str(truth.path), "sha256": truth.sha256},
        "placement": placement.as_dict(),
        "input_notes": notes,
    }
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

        plot_placement(placement, truth, report, args.plot)
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
