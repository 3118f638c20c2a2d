"""Benchmark: does evaluate() score a very large complex64 pair within this machine's memory?

Issue #13: a 16384^2 complex64 pair (2 GiB per array) must evaluate within
the development machine's 24 GB; this prints the time and the peak memory.

The pair is bench_evaluate.py's construction (smooth object spanning > 2 pi
with features, sub-pixel non-periodic Fourier shift of a larger canvas,
phase offset, complex noise) computed in single precision, so that making
it needs ~4x one array instead of ~12x: it is a different pair from
bench_evaluate's at the same size, built for memory, not for comparison.

Two peaks are printed, both for evaluate() alone (the pair already made):

* traced: numpy's allocations seen by tracemalloc, the inputs excluded,
  in units of one input array (the issue's <= 4x target counts these);
* resident: the process's peak resident set (VmHWM, reset just before the
  call through /proc/self/clear_refs), inputs and interpreter included:
  what has to fit in the machine's RAM.

Usage::

    python tools/bench_big.py [--size 16384] [--no-trace]
"""

from __future__ import annotations

import argparse
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from ptycho_metrics import evaluate

SEED = 20261201
SHIFT = (0.37, -1.6)
NOISE = 0.05
PHASE_OFFSET = 1.3
CANVAS_MARGIN = 16


def make_pair_single(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(recon, truth)`` as complex64, built in float32/complex64 throughout."""
    rng = np.random.default_rng(SEED)
    side = n + 2 * CANVAS_MARGIN
    axis = ((np.arange(side, dtype=np.float32) - side / 2) / n).astype(np.float32)
    y, x = axis[:, None], axis[None, :]
    features = ndimage.gaussian_filter(rng.standard_normal((side, side), dtype=np.float32), 2.0)
    features *= np.float32(1.0 / features.std())
    phase = np.exp(-(x * x + y * y) / np.float32(0.08))
    phase *= np.float32(6.0)
    phase += np.float32(2.0) * np.sin(np.float32(2 * np.pi) * (x + np.float32(0.5) * y))
    phase += np.float32(0.5) * features
    amplitude = np.tanh(features)
    del features
    amplitude *= np.float32(0.15)
    amplitude += np.float32(0.8)
    canvas = np.exp(1j * phase).astype(np.complex64)
    del phase
    canvas *= amplitude
    del amplitude
    crop = np.s_[CANVAS_MARGIN : CANVAS_MARGIN + n, CANVAS_MARGIN : CANVAS_MARGIN + n]
    truth = canvas[crop].copy()
    spectrum = sfft.fft2(canvas, overwrite_x=True, workers=-1)
    del canvas
    ky = sfft.fftfreq(side).astype(np.float32)
    spectrum *= np.exp(-2j * np.pi * ky * SHIFT[0]).astype(np.complex64)[:, None]
    spectrum *= np.exp(-2j * np.pi * ky * SHIFT[1]).astype(np.complex64)[None, :]
    moved = sfft.ifft2(spectrum, overwrite_x=True, workers=-1)
    del spectrum
    recon = moved[crop].copy()
    del moved
    recon *= np.complex64(np.exp(1j * PHASE_OFFSET))
    for part in (1.0, 1j):  # complex noise, one real array at a time
        recon += (NOISE * part) * rng.standard_normal((n, n), dtype=np.float32)
    return recon, truth


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384, help="side of the square pair")
    parser.add_argument(
        "--no-trace", action="store_true", help="skip tracemalloc (resident peak only)"
    )
    args = parser.parse_args()
    from ptycho_metrics import _kernels

    numba = "installed" if _kernels.available() else "not installed"
    print(f"kernels mode: {_kernels.mode()} (numba {numba})", flush=True)
    print(f"load before: {_uptime()}", flush=True)
    start = time.perf_counter()
    recon, truth = make_pair_single(args.size)
    nbytes = truth.nbytes
    print(
        f"pair: {args.size}x{args.size} complex64, {nbytes / 2**30:.2f} GiB per array, "
        f"made in {time.perf_counter() - start:.1f} s; resident now "
        f"{_status_kib('VmRSS') / 2**20:.2f} GiB",
        flush=True,
    )
    Path("/proc/self/clear_refs").write_text("5")  # reset the resident high-water mark
    if not args.no_trace:
        tracemalloc.start()
    start = time.perf_counter()
    report = evaluate(recon, truth)
    seconds = time.perf_counter() - start
    hwm = _status_kib("VmHWM") / 2**20
    print(f"evaluate: {seconds:.1f} s", flush=True)
    if not args.no_trace:
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"evaluate peak traced allocation: {traced / nbytes:.2f} x one input "
            f"({traced / 2**30:.2f} GiB; target <= 4x)"
        )
    print(f"peak resident set during evaluate: {hwm:.2f} GiB (inputs and interpreter included)")
    print(f"load after: {_uptime()}")
    print(f"recovered shift {report.alignment['shift']}, expected {[-s for s in SHIFT]}")  # type: ignore[index]
    print(report.format_table())


if __name__ == "__main__":
    main()
