"""Measure the spread of the gated metrics and propose tolerances from it.

Runs the reference pipeline exactly as ``tests/quality`` does (the same
``run_pipeline`` and metrics, from ``tests/quality/pipeline_runs.py``:
``ptycho-metrics run`` with its defaults) on each fixture, in several
*variants*, and prints every run's metrics, per metric and fixture the range
(max - min) over the runs, and the proposed tolerance
``max(floor, MULTIPLE x largest range)`` next to the tolerance in use.

What honestly varies. The gate's contract fixes the seed, the epochs and the
thread count, and with those fixed a rerun on the same machine is
bit-identical (measured: range 0). What a run elsewhere can change without
touching the contract is float rounding: another CPU runs other SIMD kernels,
another BLAS/OpenMP build sums in another order, and training carries such
differences into the result. The variants reproduce that here:

- ``default``: the gate's command as is, ``--reruns`` times (must agree bit for bit);
- ``threads1``, ``threads2``: ``--threads 1`` / ``2`` (the one that is not the
  default sums in another order in every reduction);
- ``aten_avx2``, ``aten_default``: ``ATEN_CPU_CAPABILITY=avx2`` / ``default``,
  torch's kernels for a CPU without AVX-512 / without AVX (what a CI runner
  of another generation would run);
- ``numpy_baseline``: ``NPY_DISABLE_CPU_FEATURES`` set to every dispatched
  NumPy target, so NumPy too runs its baseline kernels.

Seeds are not varied: the contract fixes the seed, so another seed is a
contract change, not spread.

Usage::

    python tools/measure_spread.py [--fixtures default phase_wrap] [--reruns 2]
        [--variants default threads1 threads2 aten_avx2 aten_default numpy_baseline]
        [--curve] [--json OUT.json]
    python tools/measure_spread.py --from-json OUT.json [--fixtures ...] [--exclude ...]
        [--include-golden FIXTURE=PATH ...] [--golden-exclude METRIC ...]

``--curve`` adds ``--log-quality-every 1`` to every run (training is bit for
bit unchanged by it) and the convergence metrics of ``test_convergence.py``
(``epochs_to_amplitude_ssim_0p95``) to each run's metrics, so one set of
runs measures the spread of the final-value and the convergence gate.
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

import numpy as np

from ptycho_metrics import convergence_metrics
from ptycho_metrics._curve import read_curve_csv
from ptycho_metrics.gate import DEFAULT_TOLERANCES, load_golden

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Tolerance = max(floor, MULTIPLE x largest range). The range of a handful of
#: runs underestimates where a run on an unseen CPU can land (for normally
#: distributed results, five runs span about 2.3 standard deviations); three
#: times it is about 7 standard deviations of the measured rounding spread.
MULTIPLE = 3.0


def _numpy_dispatch_targets() -> str:
    config = np.show_config(mode="dicts")
    simd = config.get("SIMD Extensions", {}) if isinstance(config, dict) else {}
    found = simd.get("found", []) if isinstance(simd, dict) else []
    return " ".join(str(t) for t in found)


#: variant -> (command-line options, environment variables)
VARIANTS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "default": ((), {}),
    "threads1": (("--threads", "1"), {}),
    "threads2": (("--threads", "2"), {}),
    "aten_avx2": ((), {"ATEN_CPU_CAPABILITY": "avx2"}),
    "aten_default": ((), {"ATEN_CPU_CAPABILITY": "default"}),
    "numpy_baseline": ((), {"NPY_DISABLE_CPU_FEATURES": "<numpy dispatch targets>"}),
}

#: Smallest difference worth failing on, per metric: what the metric resolves,
#: not a share of its scale. Scores on [0, 1] (SSIM, MS-SSIM, Pearson,
#: frc_mean): 1e-4, the fourth decimal, where the per-pixel float32 rounding of
#: the stored object (~1e-7 relative) is far below and a single-pixel change
#: in a 12 721-pixel region (~1e-4 of SSIM's mean) starts. Amplitude errors
#: (a.u., amplitudes ~0.3-1): 1e-5. Phase errors: 1e-4 rad (mean errors) and
#: 1e-3 rad (phase_max, one pixel's extreme). PSNR: 0.01 dB (a 0.23 % change
#: of the MSE). Scale error: 1e-5. Shift: 0.02 px, two steps of the
#: registration's 1/upsample_factor = 0.01 px grid. Ramp: 1e-4 rad/px, i.e.
#: 0.013 rad across 128 px, a tenth of align's RAMP_TOLERANCE (0.1 rad).
FLOORS: dict[str, float] = {
    "amplitude_ssim": 1e-4,
    "phase_ssim": 1e-4,
    "amplitude_ms_ssim": 1e-4,
    "amplitude_psnr": 0.01,
    "amplitude_mae": 1e-5,
    "amplitude_rmse": 1e-5,
    "amplitude_pearson": 1e-4,
    "phase_mae": 1e-4,
    "phase_rmse": 1e-4,
    "phase_max": 1e-3,
    "phase_pearson": 1e-4,
    "amplitude_scale_error": 1e-5,
    "frc_mean": 1e-4,
    "alignment_shift_px": 0.02,
    "alignment_ramp": 1e-4,
    # --curve only: 0.1 epoch (2.5 of an epoch's 25 steps), docs/training-quality.md.
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
    return float(f"{math.ceil(value / scale - 1e-9) * scale:.3g}")


def _variant(name: str) -> tuple[tuple[str, ...], dict[str, str]]:
    options, env = VARIANTS[name]
    if "NPY_DISABLE_CPU_FEATURES" in env:
        env = {**env, "NPY_DISABLE_CPU_FEATURES": _numpy_dispatch_targets()}
    return options, env


def _measure(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    """Metrics and wall time per run, keyed ``fixture/<variant>-r<R>``."""
    runs_module = _runs_module()
    runs: dict[str, dict[str, Any]] = {}
    for fixture in args.fixtures:
        for variant in args.variants:
            options, env = _variant(variant)
            if args.curve:
                options = (*options, *runs_module.CURVE_OPTIONS)
            for rerun in range(args.reruns if variant == "default" else 1):
                label = f"{fixture}/{variant}-r{rerun}"
                start = time.perf_counter()
                run = runs_module.run_pipeline(
                    fixture, work / label, options=options, env=env or None
                )
                wall = time.perf_counter() - start
                metrics = dict(run.metrics)
                if args.curve:
                    curve = read_curve_csv(run.run_dir / "quality_curve.csv")
                    metrics.update(convergence_metrics(curve))
                runs[label] = {
                    "metrics": metrics,
                    "wall_s": wall,
                    "contract_threads": run.contract["threads"],
                }
                print(f"{label}: {wall:.1f} s", flush=True)
                if args.json:  # after every run: a long measurement can be stopped any time
                    args.json.write_text(json.dumps({"runs": runs}, indent=2, sort_keys=True))
    return runs


def _gated(metrics: dict[str, float]) -> list[str]:
    exact = set(_runs_module().MASK_DIRECTIONS)
    return sorted(m for m in metrics if m not in exact)


def _table(runs: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per metric: range per fixture over the included runs, and the proposed tolerance."""
    included = {k: v["metrics"] for k, v in runs.items() if k not in args.exclude}
    names = sorted({m for r in runs.values() for m in _gated(r["metrics"])})
    rows: list[dict[str, Any]] = []
    for metric in names:
        row: dict[str, Any] = {"metric": metric}
        for fixture in args.fixtures:
            values = [
                v[metric]
                for k, v in included.items()
                if k.startswith(f"{fixture}/") and metric in v
            ]
            row[fixture] = max(values) - min(values) if values else math.nan
            row[f"{fixture}_proposed"] = _round_up(max(FLOORS[metric], MULTIPLE * row[fixture]))
        row["floor"] = FLOORS[metric]
        row["current"] = DEFAULT_TOLERANCES.get(metric)
        rows.append(row)
    return rows


def _print(runs: dict[str, dict[str, Any]], rows: list[dict[str, Any]], args) -> None:
    labels = list(runs)
    print("\nper run (* = excluded from the spread):")
    print(f"{'metric':22} " + " ".join(f"{k.split('/')[-1][:14]:>14}" for k in labels))
    print(
        f"{'':22} "
        + " ".join(f"{k.split('/')[0][:13]:>13}{'*' if k in args.exclude else ' '}" for k in labels)
    )
    for metric in sorted({m for r in runs.values() for m in r["metrics"]}):
        cells = [
            f"{runs[k]['metrics'][metric]:14.7g}" if metric in runs[k]["metrics"] else f"{'-':>14}"
            for k in labels
        ]
        print(f"{metric:22} " + " ".join(cells))
    print(f"{'wall (s)':22} " + " ".join(f"{runs[k]['wall_s']:14.1f}" for k in labels))
    head = " ".join(f"{f[:10] + ' range':>16} {'proposed':>9}" for f in args.fixtures)
    print(f"\n{'metric':22} {head} {'floor':>8} {'default tol':>11}")
    for row in rows:
        cells = " ".join(f"{row[f]:16.3g} {row[f + '_proposed']:9.3g}" for f in args.fixtures)
        print(f"{row['metric']:22} {cells} {row['floor']:8.3g} {row['current']!s:>11}")
    source = (
        f"the runs in {args.from_json}"
        if args.from_json
        else f"variants {args.variants}, {args.reruns} rerun(s) of 'default'"
    )
    print(
        f"\nrange: max - min over a fixture's included runs ({source}); "
        f"proposed = max(floor, {MULTIPLE:g} x range), rounded up to 2 digits"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--fixtures", nargs="+", default=["default"])
    parser.add_argument("--reruns", type=int, default=2, help="reruns of the 'default' variant")
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT"
    )
    parser.add_argument(
        "--exclude",
        nargs="*",
        default=[],
        metavar="FIXTURE/LABEL",
        help="runs shown but left out of the spread (say why in the docs)",
    )
    parser.add_argument(
        "--curve",
        action="store_true",
        help="log the learning curve (--log-quality-every 1, training unchanged) and add the "
        "convergence metrics of test_convergence.py to each run",
    )
    parser.add_argument(
        "--golden-exclude",
        nargs="*",
        default=[],
        metavar="METRIC",
        help="metrics not taken from --include-golden files (defined differently when written)",
    )
    parser.add_argument("--json", type=Path, help="write runs and table as JSON here")
    parser.add_argument(
        "--from-json", type=Path, help="recompute the table from the runs of an earlier --json"
    )
    parser.add_argument(
        "--include-golden",
        nargs="*",
        default=[],
        metavar="FIXTURE=PATH",
        help="add a golden file's metrics as one more run of FIXTURE (a run on another CPU)",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        runs = json.loads(args.from_json.read_text())["runs"]
    else:
        with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
            runs = _measure(args, Path(tmp))
    for spec in args.include_golden:
        fixture, _, path = spec.partition("=")
        golden = load_golden(path)
        cpu = golden.fingerprint.get("torch", {}).get("cpu_capability", "unknown CPU")
        kept = {k: v for k, v in golden.metrics.items() if k not in args.golden_exclude}
        runs[f"{fixture}/golden-{cpu}"] = {"metrics": kept, "wall_s": math.nan}
    rows = _table(runs, args)
    _print(runs, rows, args)
    if args.json:
        doc = {"args": vars(args), "runs": runs, "table": rows}
        args.json.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
