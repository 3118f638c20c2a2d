"""Compiled kernels for evaluate()'s full-size passes: optional, same numbers.

The NumPy code of each metric is the reference; where numba is installed
(``pip install 'ptycho-metrics[fast]'``) the passes that dominate the time
of a large evaluate() run as numba kernels instead (issue #13: 5x the
scikit-image path). This package holds one kernel module per metric stage
(``ssim``, ...), each imported only when a kernel runs, so importing
ptycho_metrics never imports numba.

Rules every kernel keeps (tested in tests/test_kernels.py):

* **Same numbers.** Float64 throughout, no ``fastmath``: a kernel differs from
  the NumPy reference only in the order of its sums (relative ~1e-15; the
  stored reference values of tests/evaluate_reference.json hold to 1e-9
  either way, and the goldens of tests/quality are 128 px maps, below
  :data:`MIN_PIXELS`, so they always come from the NumPy path).
* **Any thread count, same bits.** A kernel takes a range of rows
  ``(r0, r1)`` and writes only those rows' outputs (per-row partial sums
  for reductions, summed afterwards in a fixed order); :func:`split_rows`
  runs the ranges on :func:`ptycho_metrics._threads.fft_workers` threads
  (numba ``nogil``), so 1 and 2 threads give identical results and
  ``evaluate_many``'s workers (pinned to one thread) match a serial run.
  Own threads rather than ``parallel=True``: numba's workqueue threading
  layer is not safe when two Python threads call kernels at once, and its
  OpenMP layer is capped by threadpoolctl inside evaluate().

Which path runs is chosen per call by :func:`wanted`: ``auto`` (the default)
uses the kernels when numba is importable and the map has at least
:data:`MIN_PIXELS` pixels, since the first kernel call of a process costs
0.7-1 s (importing numba and loading the cached machine code, measured; the
first call on a machine compiles them, ~20 s); ``numba`` uses them at every size (an error if numba
is missing); ``numpy`` never. Set it with the environment variable
``PTYCHO_METRICS_KERNELS`` or :func:`kernels`.

Where numba is installed but the kernels cannot be loaded (numba's
``cache=True`` finds no writable cache directory: neither the package's
``__pycache__`` nor the user's cache, as in a read-only container; or a
numba that does not import with this NumPy), ``auto`` falls back to the
NumPy path with one :class:`KernelFallbackWarning` per process naming the
cause and the fix, and ``numba`` raises an error saying the same.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, Literal

from .._checks import QualityInputError, check_choice
from .._threads import fft_workers, usable_cores

__all__ = [
    "MIN_PIXELS",
    "MODES",
    "KernelFallbackWarning",
    "Mode",
    "available",
    "kernels",
    "load_failure",
    "mode",
    "split_rows",
    "wanted",
]

Mode = Literal["auto", "numba", "numpy"]
MODES: tuple[Mode, ...] = ("auto", "numba", "numpy")

#: Smallest map (pixels) the ``auto`` mode sends to a kernel: 512 x 512. Below
#: it a whole evaluate() takes ~0.3 s, against 0.7-1 s to load the kernels once.
MIN_PIXELS = 512 * 512

ENV_VAR = "PTYCHO_METRICS_KERNELS"

_MODE: ContextVar[Mode | None] = ContextVar("ptycho_metrics_kernels", default=None)


@functools.cache
def available() -> bool:
    """Whether numba can be imported (checked once per process, without importing it)."""
    return importlib.util.find_spec("numba") is not None


#: The kernel modules, all imported by :func:`load_failure` so that a
#: failure shows once, before any pass has started.
_MODULES = ("align", "checks", "frc", "pair", "phase", "ssim")


class KernelFallbackWarning(RuntimeWarning):
    """The compiled kernels could not be loaded; evaluate() uses the NumPy path.

    The numbers are the same (to ~1e-15); only the time differs.
    """


def load_failure() -> str | None:
    """Why the kernels cannot be loaded in this process, or None when they can.

    The first call imports numba and every kernel module (compiling nothing:
    each kernel compiles, or loads from numba's cache, at its first call);
    the result is kept for the process. The reason, when there is one, says
    what to do.
    """
    if not available():
        return "numba is not installed: pip install 'ptycho-metrics[fast]'"
    return _import_failure()


@functools.cache
def _import_failure() -> str | None:
    try:
        for name in _MODULES:
            importlib.import_module(f"{__name__}.{name}")
    except RuntimeError as error:  # numba's cache=True without a writable cache directory
        return (
            f"numba found no writable cache directory for the compiled kernels ({error}); "
            f"set NUMBA_CACHE_DIR to a writable directory, or {ENV_VAR}=numpy to "
            f"use the NumPy path without this message"
        )
    except (ImportError, OSError) as error:  # e.g. a numba built for another NumPy
        return (
            f"numba is installed but cannot be imported ({type(error).__name__}: {error}); "
            f"install the versions in constraints.txt, or set {ENV_VAR}=numpy"
        )
    return None


def mode() -> Mode:
    """The mode set by :func:`kernels`, else ``$PTYCHO_METRICS_KERNELS``, else ``auto``."""
    chosen = _MODE.get()
    if chosen is not None:
        return chosen
    value = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if value not in MODES:
        msg = (
            f"environment variable {ENV_VAR} must be one of {', '.join(MODES)}, "
            f"got {os.environ[ENV_VAR]!r}"
        )
        raise QualityInputError(msg)
    return value


def wanted(pixels: int) -> bool:
    """Whether a pass over a map of ``pixels`` pixels runs as a compiled kernel."""
    chosen = mode()
    if chosen == "numpy":
        return False
    if chosen == "numba":
        failure = load_failure()
        if failure is not None:
            where = f"{ENV_VAR} or ptycho_metrics.kernels"
            msg = f"kernels mode 'numba' ({where}) cannot run: {failure}"
            raise QualityInputError(msg)
        return True
    if pixels < MIN_PIXELS or not available():
        return False
    failure = load_failure()
    if failure is not None:
        _warn_once(failure)
        return False
    return True


@functools.cache
def _warn_once(failure: str) -> None:
    # Once per process: auto mode asks for every full-size pass.
    warnings.warn(
        KernelFallbackWarning(f"compiled kernels unavailable, using the NumPy path: {failure}"),
        stacklevel=3,  # the metric function that asked
    )


@contextlib.contextmanager
def kernels(chosen: Mode) -> Iterator[None]:
    """Run the block with kernels mode ``chosen`` (``auto``, ``numba`` or ``numpy``).

    >>> import ptycho_metrics as pm
    >>> with pm.kernels("numpy"):  # the NumPy reference path at every size
    ...     pass
    """
    check_choice(chosen, "kernels mode", MODES)
    token = _MODE.set(chosen)
    try:
        yield
    finally:
        _MODE.reset(token)


_POOL: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    # One pool per process: a pool inherited through fork has no threads.
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(usable_cores(), "ptycho-metrics-kernel"))
    return _POOL[1]


def split_rows(kernel: Callable[..., Any], n_rows: int, *args: Any) -> None:
    """Run ``kernel(r0, r1, *args)`` over ``range(n_rows)`` in one range per thread.

    The threads are :func:`fft_workers` (all usable cores unless pinned);
    ``kernel`` must release the GIL (numba ``nogil=True``) and write only the
    outputs of its own rows.
    """
    threads = max(min(fft_workers(), n_rows), 1)
    if threads == 1:
        kernel(0, n_rows, *args)
        return
    edges = [n_rows * i // threads for i in range(threads + 1)]
    pool = _pool()
    futures = [pool.submit(kernel, edges[i], edges[i + 1], *args) for i in range(threads - 1)]
    try:  # the calling thread takes the last range instead of waiting idle
        kernel(edges[-2], edges[-1], *args)
    finally:
        for future in futures:  # all ranges end before the outputs are read or freed
            future.result()
