"""Benchmark: what QualityCallback adds to training the reference pipeline.

Issue #12's target: with ``every_n_epochs=1`` on the default fixture the
callback adds at most 10 % to training time. Printed as a ratio measured in
this one run: ``train(..., log_quality_every=N)`` against ``train(...)``, the
two interleaved (``--repeat`` pairs, the order alternating) so that load from
other processes hits both alike; the best time of each is compared. Both
wall time and this process's CPU time (``time.process_time``) are compared:
on a shared machine the CPU time is the steadier measure of the work added
(with ``--threads 1`` training runs on one core). The machine's load average
is printed before and after.

It then splits one evaluation into its parts on the trained model: the
reconstruction (the pipeline's ``reconstruct``: predict every patch and
stitch) and ``evaluate()``, and evaluate() into its top-level steps
(alignment, FRC, phase error, SSIM/MS-SSIM/PSNR), from cProfile's cumulative
times, so the part that dominates is named.

Usage::

    python tools/bench_callback.py [--fixture default] [--max-epochs 24] [--every 1]
        [--threads 1] [--repeat 2] [--calls 20]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ptycho_metrics import evaluate, scan_mask
from ptycho_metrics.data import load_fixture
from ptycho_metrics.pipeline import train
from ptycho_metrics.pipeline.infer import load_model, reconstruct
from ptycho_metrics.pipeline.train import deterministic_torch

#: evaluate()'s top-level steps, as cProfile names them (file suffix, function).
PARTS = {
    "align (registration, ramp, phase, scale)": ("_align.py", "align"),
    "frc": ("_frc.py", "frc"),
    "phase_error (unwrap residual)": ("_phase.py", "phase_error"),
    "ssim / ms-ssim / psnr / pearson (amplitude and phase)": ("_report.py", "_real_pair_metrics"),
    "truth phase unwrap": ("_report.py", "_continuous_truth_phase"),
}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _train_seconds(args: argparse.Namespace, out: Path, every: int | None) -> tuple[float, float]:
    """Wall and CPU seconds of one training."""
    scan = load_fixture(args.fixture)
    start, cpu = time.perf_counter(), time.process_time()
    train(
        scan, out, max_epochs=args.max_epochs, threads=args.threads, log_quality_every=every,
        overwrite=True, progress=False,
    )  # fmt: skip
    return time.perf_counter() - start, time.process_time() - cpu


def _parts(checkpoint: Path, args: argparse.Namespace) -> None:
    scan = load_fixture(args.fixture)
    mask = scan_mask(scan)
    with deterministic_torch(args.threads):
        model = load_model(checkpoint)
        recon_times, eval_times = [], []
        for _ in range(args.calls):
            t0 = time.process_time()
            obj, _ = reconstruct(model, scan)
            t1 = time.process_time()
            evaluate(obj, scan.obj, mask=mask)
            t2 = time.process_time()
            recon_times.append(t1 - t0)
            eval_times.append(t2 - t1)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.calls):
            evaluate(obj, scan.obj, mask=mask)
        profile.disable()
    recon, ev = statistics.median(recon_times), statistics.median(eval_times)
    print(f"\none evaluation, median CPU time of {args.calls} on the trained model:")
    print(f"  reconstruct (predict + stitch) {1e3 * recon:8.1f} ms")
    print(f"  evaluate()                     {1e3 * ev:8.1f} ms")
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(
        v[3] for k, v in stats.items() if k[0].endswith("_report.py") and k[2] == "evaluate"
    )
    print(f"evaluate() by step (cProfile cumulative, {args.calls} calls, {1e3 * total:.0f} ms):")
    for label, (suffix, func) in PARTS.items():
        cum = sum(v[3] for k, v in stats.items() if k[0].endswith(suffix) and k[2] == func)
        print(f"  {label:55} {100 * cum / total:5.1f} %")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--fixture", default="default")
    parser.add_argument("--max-epochs", type=int, default=24)
    parser.add_argument("--every", type=int, default=1, help="log_quality_every (epochs)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2, help="pairs of trainings")
    parser.add_argument("--calls", type=int, default=20, help="evaluations timed for the split")
    args = parser.parse_args(argv)
    print(f"before: {_load()}")
    plain: list[tuple[float, float]] = []
    watched: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-callback-") as tmp:
        for r in range(args.repeat):
            order = (None, args.every) if r % 2 == 0 else (args.every, None)
            for every in order:
                wall, cpu = _train_seconds(args, Path(tmp) / f"{every}", every)
                (plain if every is None else watched).append((wall, cpu))
                label = "without" if every is None else f"with (every {every})"
                print(f"train {label:16} wall {wall:7.2f} s, cpu {cpu:7.2f} s", flush=True)
        checkpoint = Path(tmp) / "None" / "checkpoints" / "last.ckpt"
        print(f"after trainings: {_load()}")
        evaluations = args.max_epochs // args.every + 1 + (args.max_epochs % args.every > 0)
        print(
            f"\nfixture {args.fixture}, {args.max_epochs} epochs, {args.threads} thread(s), "
            f"{evaluations} evaluations, best of {args.repeat}:"
        )
        for j, kind in enumerate(("wall", "cpu")):
            best_plain = min(p[j] for p in plain)
            best_watched = min(w[j] for w in watched)
            epoch = best_plain / args.max_epochs
            per_eval = (best_watched - best_plain) / evaluations
            print(
                f"  {kind:4}: without {best_plain:7.2f} s ({1e3 * epoch:.0f} ms per epoch), "
                f"with {best_watched:7.2f} s, ratio {best_watched / best_plain:.3f} "
                f"(target <= 1.10); added per evaluation {1e3 * per_eval:.0f} ms = "
                f"{100 * per_eval / epoch:.1f} % of an epoch"
            )
        _parts(checkpoint, args)
    print(f"\nafter: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
