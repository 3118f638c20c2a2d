"""How many threads the numerical libraries use: one policy for every code path.

* FFTs (``scipy.fft``, pocketfft) split a 2-D transform into independent 1-D
  transforms per thread, so the result does not depend on the thread count
  (tested bit for bit in tests/test_threads.py). They use all usable cores,
  or the count pinned by :func:`pinned_threads`.
* BLAS (the registration's matrix DFTs, dot products) may sum in another
  order with more threads: evaluate() differed by ~7e-15 between 1 and 2
  OpenBLAS threads (issue #13). Its products are small (1024 x 33), and one
  thread was also faster on the shared 2-core machine (25 ms against 40 ms
  for a 1024 x 1024 by 1024 x 33 complex product, measured: idle threads
  spin while the other waits for a core). :func:`blas_single_threaded`
  therefore runs :func:`ptycho_metrics.evaluate` with one BLAS thread
  everywhere, which makes serial, local-parallel and Dask results of
  :func:`ptycho_metrics.evaluate_many` bit-identical on any machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

__all__ = ["blas_single_threaded", "fft_workers", "pinned_threads", "usable_cores"]

P = ParamSpec("P")
R = TypeVar("R")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)


_FFT_WORKERS: ContextVar[int | None] = ContextVar("ptycho_metrics_fft_workers", default=None)


def fft_workers() -> int:
    """Threads for ``scipy.fft`` calls: the pinned count, else all usable cores."""
    pinned = _FFT_WORKERS.get()
    return pinned if pinned is not None else usable_cores()


@functools.cache
def _controller() -> Any:
    # Inspecting the loaded libraries costs milliseconds: do it once per process.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def pinned_threads(fft: int) -> Iterator[None]:
    """Run the block with ``fft`` FFT threads (BLAS stays at one inside evaluate)."""
    token = _FFT_WORKERS.set(fft)
    try:
        yield
    finally:
        _FFT_WORKERS.reset(token)


def blas_single_threaded(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``func`` to run with one BLAS/OpenMP thread (restored afterwards)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _controller().limit(limits=1):
            return func(*args, **kwargs)

    return wrapper
