"""Benchmark: cost per pair of evaluate_many() serially, in local processes and on Dask.

Evaluates ``--pairs`` copies of the benchmark pair of tools/bench_evaluate.py
(``--size`` px a side), the reconstructions given as files so that workers
read their own data,
by each route in one run: serial (this process), local processes
(``--workers``; the pool is started by the call, so its start-up is
included) and a dask.distributed LocalCluster with as many worker
processes (one thread each; started before the timing, as a running
cluster would be). Prints the wall time per route, the time per
pair, the speed-up against serial, and whether the metrics of every route
are bit-identical to the serial ones. The load (``uptime``) is printed too:
on a shared machine compare the ratios, not the times.

Usage::

    python tools/bench_many.py [--pairs 8] [--size 512] [--workers 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import make_pair

from ptycho_metrics import ManyReport, Pair, evaluate_many


def _metrics(many: ManyReport) -> list[dict[str, float] | None]:
    return [None if r.report is None else r.report.metrics for r in many.results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    recon, truth = make_pair(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        pairs = []
        for i in range(args.pairs):
            path = Path(tmp) / f"rec{i}.npz"
            np.savez(path, object=recon * np.exp(0.1j * i))
            pairs.append(Pair(f"rec{i}", path, truth))
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        serial = evaluate_many(pairs, route="serial")
        local = evaluate_many(pairs, route="processes", max_workers=args.workers)
        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            dask = evaluate_many(pairs, scheduler=client)
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"{args.pairs} pairs of {args.size}x{args.size} complex128, {args.workers} workers")
    for many in (serial, local, dask):
        if many.failed:
            print(f"{many.route}: {len(many.failed)} pairs failed: {many.failed[0].error}")
        same = _metrics(many) == _metrics(serial)
        per_pair = many.seconds / args.pairs
        print(
            f"{many.route:>9}: {many.seconds:7.2f} s, {per_pair:6.3f} s/pair, "
            f"x{serial.seconds / many.seconds:4.2f} vs serial, bit-identical to serial: {same}"
        )
    evaluate_only = np.mean([r.seconds for r in serial.results])
    print(f"one pair (load + evaluate, one thread): {evaluate_only:.3f} s")


if __name__ == "__main__":
    main()
