"""The ``ptycho-metrics`` console script.

``ptycho-metrics run``
    Train the reference pipeline on a scan (default: the embedded ``default``
    fixture), reload the checkpoint, reconstruct, evaluate against the ground
    truth with :func:`ptycho_metrics.evaluate`, print the metrics table and
    where every artifact went. Refuses to replace existing artifacts unless
    ``--overwrite``.
``ptycho-metrics evaluate``
    Evaluate an existing ``reconstruction.npz`` against a fixture or a scan
    file's ``objectGuess``.

Errors a user can act on (bad files, existing outputs) are one ``error:``
line on stderr and exit status 1; argparse's usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import evaluate as evaluate_recon
from ._checks import QualityInputError
from .data import PtychoData, list_fixtures, load_fixture, load_ptycho_npz

__all__ = ["main"]

DEFAULT_OUTPUT_DIR = "ptycho-metrics-run"
METRICS_FILE = "metrics.json"


def _load_scan(spec: str | None) -> PtychoData:
    """A fixture by name (``default`` when None) or an ``.npz`` file by path."""
    if spec is None:
        return load_fixture("default")
    if not Path(spec).exists() and spec in list_fixtures():
        return load_fixture(spec)
    return load_ptycho_npz(spec)


def _load_recon(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``object`` and ``mask`` (if present) of a ``reconstruction.npz``."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "object" not in npz.files:
                msg = f"{path}: key 'object' is missing (keys: {', '.join(npz.files)})"
                raise QualityInputError(msg)
            obj = npz["object"]
            mask = npz["mask"] if "mask" in npz.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        msg = f"{path}: cannot read the reconstruction ({type(exc).__name__}: {exc})"
        raise QualityInputError(msg) from exc
    return obj, mask


def _cmd_run(args: argparse.Namespace) -> None:
    try:
        from .pipeline import infer, train
        from .pipeline.infer import OUTPUT_FILES
        from .pipeline.train import CHECKPOINT, refuse_existing
    except ImportError as exc:
        msg = f"the run command needs torch and Lightning ({exc}); install ptycho-metrics[pipeline]"
        raise QualityInputError(msg) from exc
    out = Path(args.output_dir)
    artifacts = [out / CHECKPOINT, *(out / name for name in OUTPUT_FILES), out / METRICS_FILE]
    refuse_existing(artifacts, overwrite=args.overwrite)  # before minutes of training
    scan = _load_scan(args.data)
    print(f"data: {scan.path} (sha256 {scan.sha256[:12]}...)")
    start = time.perf_counter()
    ckpt = train(
        scan,
        out,
        max_epochs=args.max_epochs,
        seed=args.seed,
        threads=args.threads,
        overwrite=args.overwrite,
    )
    trained = time.perf_counter()
    npz = infer(ckpt, scan, out, threads=args.threads, overwrite=args.overwrite)
    inferred = time.perf_counter()
    obj, mask = _load_recon(str(npz))
    report = evaluate_recon(obj, scan.obj, mask=mask)
    metrics_path = out / METRICS_FILE
    metrics_path.write_text(report.to_json() + "\n", encoding="utf-8")
    print(report.format_table())
    print(
        f"time: train {trained - start:.1f} s, infer {inferred - trained:.1f} s "
        f"(threads {args.threads})"
    )
    print("artifacts:")
    for path in [ckpt, *artifacts[1:]]:
        print(f"  {path}")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    obj, mask = _load_recon(args.recon)
    truth = _load_scan(args.truth).obj
    report = evaluate_recon(obj, truth, mask=mask)
    print(report.format_table())
    if args.output:
        Path(args.output).write_text(report.to_json() + "\n", encoding="utf-8")
        print(f"metrics: {args.output}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptycho-metrics",
        description="Quality metrics for ptychographic reconstructions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="train, reconstruct and evaluate the reference pipeline",
        description=(
            "Train the reference pipeline, reload its checkpoint, reconstruct and evaluate "
            "against the ground truth. Without --data it uses the embedded 'default' fixture."
        ),
    )
    run.add_argument("--data", help="scan .npz or fixture name (default: the 'default' fixture)")
    run.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help="default: %(default)s")
    run.add_argument("--max-epochs", type=int, default=24, help="default: %(default)s")
    run.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    run.add_argument("--threads", type=int, default=2, help="default: %(default)s")
    run.add_argument("--overwrite", action="store_true", help="replace existing artifacts")
    run.set_defaults(action=_cmd_run)
    ev = sub.add_parser(
        "evaluate",
        help="evaluate a reconstruction.npz against a ground truth",
        description="Evaluate a reconstruction.npz (keys object, mask) against a ground truth.",
    )
    ev.add_argument("--recon", required=True, help="reconstruction.npz")
    ev.add_argument("--truth", required=True, help="fixture name or scan .npz (objectGuess)")
    ev.add_argument("--output", help="also write the report as JSON here")
    ev.set_defaults(action=_cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ptycho-metrics`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    action: Callable[[argparse.Namespace], None] = args.action
    try:
        action(args)
    except (QualityInputError, OSError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ptycho-metrics: error: {text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
