"""Benchmark: cost per pair of evaluate_many() serially, in local processes and on Dask.

Evaluates ``--pairs`` copies of the benchmark pair of tools/bench_evaluate.py
(``--size`` px a side). The truth is written as a scan file (``objectGuess``
plus a raster scan of a 32-px probe and its forward-model diffraction) and
each reconstruction as a ``reconstruction.npz`` as ``ptycho-metrics run``
writes it, so every worker reads its pair through
``ptycho_metrics.io.read_pair`` as ``ptycho-metrics evaluate`` does (reader,
data-hash check, placement, scan mask). In one run, by each route: serial
with arrays (nothing read: the baseline of the reading cost) and serial with
files, alternately, best of 3 each; then local processes (``--workers``; the
pool is started by the call, so its start-up is included) and a
dask.distributed LocalCluster with as many worker processes (one thread
each; started and warmed up by one pair on every worker before the timing,
as a running cluster would be). Prints the wall time per route, the time
per pair, the speed-up against serial files, whether the metrics of every
route are bit-identical to the serial files', and the reading cost per
pair. The load (``uptime``) is printed too: on a shared machine compare the
ratios, not the times.

Usage::

    python tools/bench_many.py [--pairs 8] [--size 512] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import make_pair

from ptycho_metrics import ManyReport, Pair, evaluate_many, scan_mask
from ptycho_metrics.data import load_ptycho_npz, sha256_file, simulate_intensity

PROBE = 32  # px: probe side of the benchmark scan
STEP = 16  # px: raster step (50 % overlap)
REPEAT = 3  # serial runs of arrays and of files, alternately (best of)


def _metrics(many: ManyReport) -> list[dict[str, str] | None]:
    """Every metric's exact bits (NaN equal to NaN)."""
    return [
        None if r.report is None else {k: float(v).hex() for k, v in r.report.metrics.items()}
        for r in many.results
    ]


def _write_scan(path: Path, truth: np.ndarray) -> Path:
    """A scan file of ``truth``: raster positions, a Gaussian probe, its diffraction."""
    n = truth.shape[0]
    yy, xx = (np.mgrid[:PROBE, :PROBE] - (PROBE - 1) / 2) / (PROBE / 4)
    probe = (30.0 * np.exp(-(xx**2 + yy**2) / 2)).astype(np.complex64)
    centres = np.arange(PROBE // 2, n - PROBE // 2 + 1, STEP, dtype=np.float64)
    ycoords, xcoords = (c.ravel() for c in np.meshgrid(centres, centres, indexing="ij"))
    obj = truth.astype(np.complex64)
    intensity = simulate_intensity(probe, obj, xcoords, ycoords)
    np.savez(
        path,
        diffraction=np.sqrt(intensity).astype(np.float32),
        probeGuess=probe,
        objectGuess=obj,
        xcoords=xcoords,
        ycoords=ycoords,
    )
    return path


def _write_recon(path: Path, obj: np.ndarray, scan: Path) -> Path:
    """A reconstruction.npz with the keys and metadata ptycho_metrics.pipeline.infer writes."""
    info = {"data": {"path": str(scan), "sha256": sha256_file(scan)}, "versions": {}}
    np.savez(
        path,
        object=obj.astype(np.complex64),
        amplitude=np.abs(obj).astype(np.float32),
        phase=np.angle(obj).astype(np.float32),
        mask=np.ones(obj.shape, bool),
        metadata=np.array(json.dumps(info, sort_keys=True)),
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    recon, truth = make_pair(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        scan = _write_scan(Path(tmp) / "scan.npz", truth)
        data = load_ptycho_npz(scan)
        mask = scan_mask(data)
        files, arrays = [], []
        for i in range(args.pairs):
            obj = (recon * np.exp(0.1j * i)).astype(np.complex64)
            path = _write_recon(Path(tmp) / f"rec{i}.npz", obj, scan)
            files.append(Pair(f"rec{i}", path, str(scan)))
            arrays.append(Pair(f"rec{i}", obj, data.obj, mask))
        evaluate_many(files[:1], route="serial")  # warm-up: first-call imports and caches
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        # Arrays and files alternately, best of REPEAT each: the reading cost is their
        # difference, smaller than the drift of a shared machine's load.
        runs: dict[str, list[ManyReport]] = {"arrays": [], "files": []}
        for _ in range(REPEAT):
            runs["arrays"].append(evaluate_many(arrays, route="serial"))
            runs["files"].append(evaluate_many(files, route="serial"))
        in_memory, serial = (min(runs[k], key=lambda m: m.seconds) for k in ("arrays", "files"))
        local = evaluate_many(files, route="processes", max_workers=args.workers)
        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(evaluate_many, files[:1], route="serial")  # every worker warmed up
            dask = evaluate_many(files, scheduler=client)
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(
        f"{args.pairs} pairs of {args.size}x{args.size} (complex64 files, {len(data.xcoords)} "
        f"scan positions), {args.workers} workers"
    )
    print(
        f"{'arrays':>9}: {in_memory.seconds:7.2f} s, {in_memory.seconds / args.pairs:6.3f} s/pair "
        f"(serial, nothing read), the same numbers as the files: "
        f"{_metrics(in_memory) == _metrics(serial)}"
    )
    for many in (serial, local, dask):
        if many.failed:
            print(f"{many.route}: {len(many.failed)} pairs failed: {many.failed[0].error}")
        same = _metrics(many) == _metrics(serial)
        per_pair = many.seconds / args.pairs
        in_worker = np.mean([r.seconds for r in many.results])
        print(
            f"{many.route:>9}: {many.seconds:7.2f} s, {per_pair:6.3f} s/pair "
            f"({in_worker:.3f} s each in its worker), x{serial.seconds / many.seconds:4.2f} vs "
            f"serial, bit-identical to serial: {same}"
        )
    with_files = np.mean([r.seconds for r in serial.results])
    without = np.mean([r.seconds for r in in_memory.results])
    print(
        f"one pair, one thread: {with_files:.3f} s with reading and placement, {without:.3f} s "
        f"from arrays: reading costs {with_files - without:.3f} s "
        f"({(with_files - without) / without:.1%})"
    )


if __name__ == "__main__":
    main()
