"""Measure the run-to-run spread of the gated metrics and propose tolerances.

Runs the reference pipeline exactly as ``tests/quality`` does (the same
``run_pipeline`` and metrics, from ``tests/quality/pipeline_runs.py``)
on each fixture: ``--reruns`` times with each thread count of ``--threads`` at
the gate's seed, and once per extra ``--seeds`` at the gate's thread count.
Prints every run's metrics, per metric and fixture the range (max - min) over
the runs, and the proposed tolerance ``max(floor, MULTIPLE x largest range)``
next to the tolerance in use.

Why threads and seeds: with a fixed seed and thread count reruns are
bit-identical, but another thread count or CPU (other SIMD kernels) changes
float rounding, and training amplifies that into another optimum. Measured
on the reference pipeline, the 1-vs-2-thread difference at one seed is as
large as the difference between seeds, so the seed spread is the honest
measure of where a legitimate run elsewhere can land; that is what a
tolerance must absorb.

Usage::

    python tools/measure_spread.py [--fixtures default phase_wrap] [--reruns 2]
        [--threads 1 2] [--seeds 1 2 3] [--exclude FIXTURE/LABEL ...] [--json OUT.json]
        [--log-quality-every N]
    python tools/measure_spread.py --from-json OUT.json [--fixtures ...] [--exclude ...]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from ptycho_metrics import convergence_metrics
from ptycho_metrics._curve import read_curve_csv
from ptycho_metrics.gate import DEFAULT_TOLERANCES

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Tolerance = max(floor, MULTIPLE x largest range). Three times: on
#: phase_wrap the range rests on one pair of runs (1 vs 2 threads), which
#: underestimates how far another CPU's rounding can move training.
MULTIPLE = 3.0

#: Smallest difference worth failing on, per metric (the gate's resolution):
#: about 0.5 % of each metric's scale. SSIM, Pearson and the scale error are
#: on [0, 1]; amplitude errors on the truth's amplitude range (~0.7); phase
#: errors in rad for phases of ~1 rad; phase_max is a single-pixel extreme,
#: 10x noisier than the means; PSNR 0.1 dB is a 2.3 % change of the MSE; FRC
#: frc_mean is a correlation, on [-1, 1] like Pearson.
FLOORS: dict[str, float] = {
    "amplitude_ssim": 0.005,
    "phase_ssim": 0.005,
    "amplitude_ms_ssim": 0.005,
    "amplitude_psnr": 0.1,
    "amplitude_mae": 0.002,
    "amplitude_rmse": 0.002,
    "amplitude_pearson": 0.005,
    "phase_mae": 0.005,
    "phase_rmse": 0.005,
    "phase_max": 0.05,
    "phase_pearson": 0.005,
    "amplitude_scale_error": 0.005,
    "frc_mean": 0.005,
    # A tenth of an epoch (2.5 of its 25 steps): finer than the evaluation interval
    # resolves without the interpolation (--log-quality-every 1).
    "epochs_to_amplitude_ssim_0p95": 0.1,
}


@functools.cache
def _runs_module() -> ModuleType:
    path = REPO_ROOT / "tests" / "quality" / "pipeline_runs.py"
    spec = importlib.util.spec_from_file_location("quality_pipeline_runs", path)
    if spec is None or spec.loader is None:
        msg = f"cannot load {path}"
        raise ImportError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _round_up(value: float) -> float:
    """Round up to two significant digits, so the table reads cleanly."""
    if value <= 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(value)) - 1)
    return math.ceil(value / scale - 1e-9) * scale


def _measure(args: argparse.Namespace, work: Path) -> dict[str, dict[str, float]]:
    """Metrics per run, keyed ``fixture/seed<S>-t<T>-r<R>``."""
    runs_module = _runs_module()
    runs: dict[str, dict[str, float]] = {}
    configs = [(runs_module.SEED, t, r) for t in args.threads for r in range(args.reruns)]
    configs += [(s, runs_module.THREADS, 0) for s in args.seeds]
    for fixture in args.fixtures:
        for seed, threads, rerun in configs:
            label = f"{fixture}/seed{seed}-t{threads}-r{rerun}"
            start = time.perf_counter()
            run = runs_module.run_pipeline(
                fixture, work / label, seed=seed, threads=threads, log_quality_every=args.every
            )
            runs[label] = run.metrics
            if args.every is not None:  # the convergence metrics of tests/quality/test_convergence
                curve = read_curve_csv(work / label / "train" / "quality_curve.csv")
                runs[label].update(convergence_metrics(curve))
            print(f"{label}: {time.perf_counter() - start:.1f} s", flush=True)
    return runs


def _table(runs: dict[str, dict[str, float]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per metric: range per fixture over the included runs, and the proposed tolerance."""
    included = {k: v for k, v in runs.items() if k not in args.exclude}
    ungated = set(_runs_module().UNGATED)
    rows: list[dict[str, Any]] = []
    for metric in sorted({m for r in runs.values() for m in r} - ungated):
        row: dict[str, Any] = {"metric": metric}
        for fixture in args.fixtures:
            mine = [k for k in included if k.startswith(f"{fixture}/")]
            values = [included[k][metric] for k in mine]
            row[fixture] = max(values) - min(values)
        row["spread"] = max(row[f] for f in args.fixtures)
        row["floor"] = FLOORS[metric]
        row["proposed"] = _round_up(max(FLOORS[metric], MULTIPLE * row["spread"]))
        row["current"] = DEFAULT_TOLERANCES.get(metric)
        rows.append(row)
    return rows


def _print(runs: dict[str, dict[str, float]], rows: list[dict[str, Any]], args) -> None:
    labels = list(runs)
    print("\nper run (* = excluded from the spread):")
    print(f"{'metric':22} " + " ".join(f"{k.split('/')[-1][:11]:>11}" for k in labels))
    print(
        f"{'':22} "
        + " ".join(f"{k.split('/')[0][:10]:>10}{'*' if k in args.exclude else ' '}" for k in labels)
    )
    for metric in sorted({m for r in runs.values() for m in r}):
        cells = [f"{runs[k][metric]:11.5g}" if metric in runs[k] else f"{'-':>11}" for k in labels]
        print(f"{metric:22} " + " ".join(cells))
    head = " ".join(f"{f[:12]:>12}" for f in args.fixtures)
    print(f"\n{'metric':22} {head} {'floor':>8} {'proposed':>9} {'current':>8}")
    for row in rows:
        spreads = " ".join(f"{row[f]:12.3g}" for f in args.fixtures)
        print(
            f"{row['metric']:22} {spreads} {row['floor']:8.3g} {row['proposed']:9.3g} "
            f"{row['current']!s:>8}"
        )
    print(
        f"\nper fixture: max - min over its included runs (seed {_runs_module().SEED} with threads "
        f"{args.threads}, {args.reruns} rerun(s) each, and seeds {args.seeds} with "
        f"{_runs_module().THREADS} thread(s)); proposed = max(floor, {MULTIPLE:g} x the largest "
        "per-fixture spread), rounded up to 2 digits"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--fixtures", nargs="+", default=["default"])
    parser.add_argument("--reruns", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="extra seeds")
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=[],
        metavar="FIXTURE/LABEL",
        help="runs shown but left out of the spread (say why in the docs)",
    )
    parser.add_argument("--json", type=Path, help="write runs and table as JSON here")
    parser.add_argument(
        "--log-quality-every",
        dest="every",
        type=int,
        metavar="N",
        help="also log quality every N epochs and measure the convergence metrics",
    )
    parser.add_argument(
        "--from-json", type=Path, help="recompute the table from the runs of an earlier --json"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        runs = json.loads(args.from_json.read_text())["runs"]
    else:
        with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
            runs = _measure(args, Path(tmp))
    rows = _table(runs, args)
    _print(runs, rows, args)
    if args.json:
        doc = {"args": vars(args), "runs": runs, "table": rows}
        args.json.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
