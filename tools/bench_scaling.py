"""Benchmark: how evaluate()'s time and memory grow with the image size (issue #13).

For each side n (default 512, 1024, 2048, 4096, 8192) a fresh subprocess
builds the benchmark pair of tools/bench_evaluate.py, evaluates it
``--repeat`` times (best kept) and measures the peak memory of one more
call with tracemalloc, in units of one input array. The table (markdown)
gives time against the number of pixels N, the time per N log2 N
(constant for N log N scaling), and the exponent k of a least-squares fit
t = c N^k over all sizes (N log N over this range fits k ~ 1.1). The
machine and its load (``uptime``) are printed with it: compare ratios
within one run, not times across runs.

Usage::

    python tools/bench_scaling.py [--sizes 512 1024 2048 4096 8192] [--repeat 3]
        [--dtype complex128] [--one N]

The kernels mode is that of the environment (``PTYCHO_METRICS_KERNELS``,
default ``auto``: the compiled kernels of the ``[fast]`` extra from 512^2 when
numba is installed); it is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _one(n: int, repeat: int, dtype: str) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from bench_evaluate import make_pair

    from ptycho_metrics import _kernels, evaluate

    recon, truth = (a.astype(dtype) for a in make_pair(n))
    # Imports, caches and (with numba) the compiled kernels are loaded outside the timing.
    with _kernels.kernels("numba" if _kernels.wanted(n * n) else "numpy"):
        evaluate(recon[:256, :256], truth[:256, :256])
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        evaluate(recon, truth)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    evaluate(recon, truth)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"n": n, "seconds": min(times), "peak_x_input": peak / truth.nbytes}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (best kept)")
    parser.add_argument("--dtype", choices=("complex128", "complex64"), default="complex128")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the per-size subprocess
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.repeat, args.dtype)))
        return

    print(f"machine: {_cpu()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    from ptycho_metrics import _kernels

    numba = "installed" if _kernels.available() else "not installed"
    print(f"kernels mode: {_kernels.mode()} (numba {numba}, from {_kernels.MIN_PIXELS} px in auto)")
    print(f"load before: {_uptime()}")
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--repeat", str(args.repeat)]
        done = subprocess.run(
            [*cmd, "--dtype", args.dtype], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            print(f"n={n}: failed ({done.stderr.strip().splitlines()[-1:]})")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {n}x{n}: {rows[-1]['seconds']:.3f} s  (load {_uptime().split('average:')[-1]})")
    print(f"load after: {_uptime()}")
    pixels = np.array([r["n"] ** 2 for r in rows], dtype=float)
    seconds = np.array([r["seconds"] for r in rows])
    print()
    print("| side | pixels N | time (s) | time / (N log2 N) (ns) | peak memory (x one input) |")
    print("|---:|---:|---:|---:|---:|")
    for r, npx, t in zip(rows, pixels, seconds, strict=True):
        per = t / (npx * math.log2(npx)) * 1e9
        print(f"| {r['n']} | {int(npx)} | {t:.3f} | {per:.2f} | {r['peak_x_input']:.2f} |")
    if len(rows) >= 2:
        k = np.polyfit(np.log(pixels), np.log(seconds), 1)[0]
        nlogn = np.polyfit(np.log(pixels), np.log(pixels * np.log2(pixels)), 1)[0]
        print()
        print(f"fitted exponent: t ~ N^{k:.2f} (N log N over these sizes fits N^{nlogn:.2f})")


if __name__ == "__main__":
    main()
