"""``ptycho-metrics run``: train, reload, infer and evaluate the reference pipeline."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .. import METRICS, convergence_metrics
from .. import evaluate as evaluate_recon
from .._checks import QualityInputError
from .._curve import read_curve_csv
from ._common import load_recon, load_scan

__all__ = ["DEFAULT_OUTPUT_DIR", "METRICS_FILE", "register"]

DEFAULT_OUTPUT_DIR = "ptycho-metrics-run"
METRICS_FILE = "metrics.json"


def _cmd_run(args: argparse.Namespace) -> None:
    try:
        from ..pipeline import infer, train
        from ..pipeline.infer import OUTPUT_FILES
        from ..pipeline.train import CHECKPOINT, CURVE_FILES, refuse_existing
    except ImportError as exc:
        msg = f"the run command needs torch and Lightning ({exc}); install ptycho-metrics[pipeline]"
        raise QualityInputError(msg) from exc
    out = Path(args.output_dir)
    artifacts = [out / CHECKPOINT, *(out / name for name in OUTPUT_FILES), out / METRICS_FILE]
    if args.log_quality_every is not None:
        artifacts += [out / name for name in CURVE_FILES]
    refuse_existing(artifacts, overwrite=args.overwrite)  # before minutes of training
    scan = load_scan(args.data)
    print(f"data: {scan.path} (sha256 {scan.sha256[:12]}...)")
    # Only what the user gave: everything else is the pipeline's own default
    # (train()/infer() signatures, one place), which the gate exercises as is.
    given = {k: getattr(args, k) for k in ("max_epochs", "seed", "threads")}
    chosen = {k: v for k, v in given.items() if v is not None}
    threads = {"threads": chosen["threads"]} if "threads" in chosen else {}
    start = time.perf_counter()
    ckpt = train(
        scan, out, overwrite=args.overwrite, log_quality_every=args.log_quality_every, **chosen
    )
    trained = time.perf_counter()
    npz = infer(ckpt, scan, out, overwrite=args.overwrite, **threads)
    inferred = time.perf_counter()
    obj, mask = load_recon(str(npz))
    report = evaluate_recon(obj, scan.obj, mask=mask)
    metrics_path = out / METRICS_FILE
    metrics_path.write_text(report.to_json() + "\n", encoding="utf-8")
    print(report.format_table())
    if args.log_quality_every is not None:
        curve = read_curve_csv(out / CURVE_FILES[0])
        for name, value in convergence_metrics(curve).items():
            print(f"learning curve: {name} = {value:.4g} {METRICS[name].unit}")
    with np.load(npz, allow_pickle=False) as written:
        used = json.loads(str(written["metadata"]))
    print(
        f"time: train {trained - start:.1f} s, infer {inferred - trained:.1f} s "
        f"(seed {used['seed']}, epochs {used['epochs']}, lr {used['hyperparameters']['lr']:g}, "
        f"threads {used['threads']})"
    )
    print("artifacts:")
    for path in [ckpt, *artifacts[1:]]:
        print(f"  {path}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
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
    pipeline_default = "default: the pipeline's (python -m ptycho_metrics.pipeline.train --help)"
    run.add_argument("--max-epochs", type=int, help=pipeline_default)
    run.add_argument("--seed", type=int, help=pipeline_default)
    run.add_argument("--threads", type=int, help=pipeline_default)
    run.add_argument(
        "--log-quality-every",
        type=int,
        metavar="N",
        help="evaluate during training every N epochs; writes quality_curve.csv and "
        "quality_curve.png (training is unchanged)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace existing artifacts")
    run.set_defaults(action=_cmd_run)
