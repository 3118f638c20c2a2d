"""Evaluate many reconstructions: serially, in local processes, or on a Dask cluster.

:func:`evaluate_many` runs :func:`evaluate` on each pair and collects the
reports in input order. A pair given as files is read exactly as
``ptycho-metrics evaluate`` reads one, through
:func:`ptycho_metrics.io.read_pair` (any supported format, the truth a
fixture name or a scan file, the truth's scan mask). A pair that fails (an
unreadable file, a wrong format, other data's hash, mismatched shapes, ...)
is reported with its error while the others go on.

Results are bit-identical whichever way the pairs run: :func:`evaluate`
always uses one BLAS thread (see :mod:`ptycho_metrics._threads`), FFT
results do not depend on the thread count, and every pair is evaluated
with one FFT thread here, so that parallel workers do not compete for
cores either (tests/test_many.py compares the three routes bit for bit).
"""

from __future__ import annotations

import csv
import functools
import json
import math
import multiprocessing
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from ._checks import QualityInputError, check_choice
from ._metadata import EVALUATE_METRICS
from ._report import QualityReport, evaluate
from ._threads import pinned_threads, usable_cores

if TYPE_CHECKING:
    from distributed import Client

    from .data import PtychoData

__all__ = ["ManyReport", "Pair", "PairResult", "evaluate_many"]

#: Version of the layout written by :meth:`ManyReport.to_dict`.
MANY_SCHEMA = 1

Route = Literal["serial", "processes", "dask"]
ROUTES: tuple[Route, ...] = ("serial", "processes", "dask")

ArrayOrPath = np.ndarray | str | os.PathLike[str]


@dataclass(frozen=True)
class Pair:
    """One reconstruction and its ground truth, as arrays or as files.

    Attributes
    ----------
    name : str
        Label of the pair in the results (unique within one call).
    recon : ndarray or path
        The reconstruction: an array on the truth's grid, or a file in any
        format :func:`ptycho_metrics.io.read_reconstruction` reads (our
        ``reconstruction.npz``, cdtools, ptychodus, PtyPy, PtychoPINN, plain
        arrays), read and placed on the truth's grid by
        :func:`ptycho_metrics.io.read_pair`, as ``ptycho-metrics evaluate`` does.
    truth : ndarray, path, str or PtychoData
        The ground truth: a fixture name, a scan ``.npz`` (its ``objectGuess``,
        scan positions and geometry) or loaded data (sent to every worker: a
        name or path travels lighter); also an array when ``recon`` is one.
    mask : ndarray or path, optional
        Pixels to compare (boolean, the truth's shape); a path is an ``.npy``
        file. With an array ``recon`` the default is every pixel; with a file,
        the mask is always the truth's scan mask (less pixels the
        reconstruction does not cover), and a given mask narrows it further.
    read : mapping, optional
        Options of :func:`ptycho_metrics.io.read_pair` for this pair (``format``,
        ``layer``, ``mode``, ``key``, ``pixel_size``, ``resample``,
        ``pixel_tolerance``, ``allow_other_data``); they override the ``read=``
        of :func:`evaluate_many`. Only for a file ``recon``.
    """

    name: str
    recon: ArrayOrPath
    truth: ArrayOrPath | PtychoData
    mask: ArrayOrPath | None = None
    read: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PairResult:
    """Outcome of one pair: a report, or the error that stopped it.

    Attributes
    ----------
    name : str
        The pair's name.
    report : QualityReport or None
        None when the pair failed.
    error : str or None
        ``"ExceptionType: message"`` when the pair failed, else None.
    seconds : float
        Wall time of loading and evaluating this pair, in the process that ran it.
    input : dict or None
        For a file ``recon``: what was read and how it was placed
        (:meth:`ptycho_metrics.io.PairInput.as_dict`: ``reconstruction``,
        ``truth``, ``placement``, ``input_notes``), as the single-pair
        ``ptycho-metrics evaluate`` writes it; None for arrays and failed pairs.
    """

    name: str
    report: QualityReport | None
    error: str | None
    seconds: float
    detail: str | None = field(default=None, repr=False)
    input: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the pair was evaluated."""
        return self.report is not None


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class ManyReport:
    """The results of :func:`evaluate_many`, in input order.

    Attributes
    ----------
    results : tuple of PairResult
        One per pair.
    route : {"serial", "processes", "dask"}
        How the pairs ran.
    seconds : float
        Wall time of the whole call.
    """

    results: tuple[PairResult, ...]
    route: Route
    seconds: float

    @property
    def failed(self) -> tuple[PairResult, ...]:
        """The pairs that could not be evaluated."""
        return tuple(r for r in self.results if not r.ok)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: each pair's :meth:`QualityReport.to_dict` or its error."""
        return {
            "schema": MANY_SCHEMA,
            "route": self.route,
            "seconds": self.seconds,
            "n_pairs": len(self.results),
            "n_failed": len(self.failed),
            "pairs": [
                {
                    "name": r.name,
                    "ok": r.ok,
                    "error": r.error,
                    "seconds": r.seconds,
                    "report": None if r.report is None else r.report.to_dict(),
                    "input": r.input,
                }
                for r in self.results
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON (non-finite floats written as null).

        Values of a reader's metadata that JSON has no type for are written as
        text, as the single-pair ``ptycho-metrics evaluate --json`` does.
        """
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=str)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per pair: name, ok, error, seconds and every metric (None if undefined)."""
        out = []
        for r in self.results:
            row: dict[str, Any] = {"name": r.name, "ok": r.ok, "error": r.error or ""}
            row["seconds"] = round(r.seconds, 3)
            for key in EVALUATE_METRICS:
                value = None if r.report is None else r.report.metrics[key]
                row[key] = None if value is None else _json_float(value)
            out.append(row)
        return out

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """The :meth:`rows` as a CSV table (undefined metrics as empty cells)."""
        rows = self.rows()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=["name", "ok", "error", "seconds", *EVALUATE_METRICS]
            )
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})


def _mask_array(mask: ArrayOrPath, name: str) -> np.ndarray:
    if isinstance(mask, np.ndarray):
        return mask
    path = os.fspath(mask)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        msg = f"pair {name!r}: mask {path} is not a readable .npy array ({why})"
        raise QualityInputError(msg) from None


def _narrowed(scan: np.ndarray, given: np.ndarray, name: str) -> tuple[np.ndarray, str | None]:
    """The scan mask narrowed by a given mask, and a note on what the scan mask dropped."""
    if given.dtype != np.bool_ or given.shape != scan.shape:
        msg = (
            f"pair {name!r}: mask must be a boolean array of the truth's shape {scan.shape}, "
            f"got {given.dtype} {given.shape}"
        )
        raise QualityInputError(msg)
    dropped = int((given & ~scan).sum())
    note = None
    if dropped:
        note = (
            f"{dropped} pixels of the given mask lie outside the truth's scan mask or the "
            f"reconstruction's array: not compared"
        )
    return scan & given, note


@functools.lru_cache(maxsize=1)
def _scan_of(spec: str, stamp: tuple[int, int] | None) -> PtychoData:
    """The truth's data, loaded once per process while one truth serves pair after pair.

    A scan file holds the whole diffraction stack and is hashed on loading: at
    512^2 with 961 patterns that was half of reading a pair (15 of 31 ms,
    tools/bench_many.py), and it grows with the stack, not the object. The key
    holds the file's mtime and size, so a file replaced mid-sweep is read again;
    one entry, so a worker never holds two scans.
    """
    from .data import load_scan

    return load_scan(spec)


def _truth_data(truth: str | os.PathLike[str] | PtychoData) -> PtychoData:
    from .data import PtychoData

    if isinstance(truth, PtychoData):
        return truth
    spec = os.fspath(truth)
    try:
        info = os.stat(spec)
    except OSError:  # a fixture name (or a missing file: load_scan says so)
        return _scan_of(spec, None)
    return _scan_of(os.path.abspath(spec), (info.st_mtime_ns, info.st_size))


def _load_pair(
    pair: Pair, read: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any] | None]:
    """``(recon, truth, mask, input)`` of a pair; files go through :func:`io.read_pair`."""
    if isinstance(pair.recon, np.ndarray):
        truth = pair.truth if isinstance(pair.truth, np.ndarray) else _truth_data(pair.truth).obj
        mask = None if pair.mask is None else _mask_array(pair.mask, pair.name)
        return pair.recon, truth, mask, None
    from .io import read_pair

    if isinstance(pair.truth, np.ndarray):
        raise QualityInputError(_array_truth_message(pair))
    given = {**read, **(pair.read or {})}
    prepared = read_pair(pair.recon, _truth_data(pair.truth), **given)
    mask = prepared.mask
    document = prepared.as_dict()
    if pair.mask is not None:
        mask, note = _narrowed(mask, _mask_array(pair.mask, pair.name), pair.name)
        document["placement"]["n_masked"] = int(mask.sum())
        document["input_notes"] += [f"mask narrowed by {_describe(pair.mask)}"] + (
            [note] if note else []
        )
    return prepared.object, prepared.truth.obj, mask, document


def _describe(mask: ArrayOrPath) -> str:
    return "the given array" if isinstance(mask, np.ndarray) else os.fspath(mask)


def _run_pair(pair: Pair, options: Mapping[str, Any], read: Mapping[str, Any]) -> PairResult:
    """Load and evaluate one pair with one FFT thread; errors are returned, not raised."""
    start = time.perf_counter()
    try:
        with pinned_threads(1):
            recon, truth, mask, document = _load_pair(pair, read)
            report = evaluate(recon, truth, mask=mask, **options)
    except Exception as exc:  # a failing pair is reported; the others go on
        text = " ".join(str(exc).split())
        return PairResult(
            name=pair.name,
            report=None,
            error=f"{type(exc).__name__}: {text}",
            seconds=time.perf_counter() - start,
            detail=traceback.format_exc(),
        )
    return PairResult(pair.name, report, None, time.perf_counter() - start, input=document)


def _array_truth_message(pair: Pair) -> str:
    return (
        f"pair {pair.name!r}: a reconstruction file needs its truth as a fixture name or a scan "
        f".npz (its positions, pixel size and scan mask place the file), got an array"
    )


def _check_read(read: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    from .io import READ_OPTIONS
    from .io._registry import Format

    if read is None:
        return {}
    if not isinstance(read, Mapping):
        msg = f"{where} must be a mapping of read_pair() options or None, got {type(read).__name__}"
        raise QualityInputError(msg)
    out = dict(read)
    unknown = sorted(set(out) - set(READ_OPTIONS))
    if unknown:
        msg = (
            f"{where} must hold options of ptycho_metrics.io.read_pair() "
            f"({', '.join(READ_OPTIONS)}), got {', '.join(map(str, unknown))}"
        )
        raise QualityInputError(msg)
    if "format" in out:
        check_choice(out["format"], f"{where}['format']", get_args(Format))
    return out


def _as_pairs(pairs: Iterable[Pair] | Mapping[str, tuple[Any, ...]]) -> list[Pair]:
    if isinstance(pairs, Mapping):
        items = [Pair(str(name), *value) for name, value in pairs.items()]
    else:
        items = list(pairs)
    for item in items:
        if not isinstance(item, Pair):
            msg = f"pairs must hold ptycho_metrics.Pair objects, got {type(item).__name__}"
            raise QualityInputError(msg)
        where = f"pair {item.name!r}: read"
        _check_read(item.read, where)
        if isinstance(item.recon, np.ndarray):
            if item.read:
                msg = f"{where} options apply to a reconstruction file, and recon is an array"
                raise QualityInputError(msg)
        elif isinstance(item.truth, np.ndarray):
            raise QualityInputError(_array_truth_message(item))
    names = [p.name for p in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        msg = f"pairs must have unique names, got duplicates {duplicates}"
        raise QualityInputError(msg)
    return items


def _check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    allowed = (
        "align",
        "pixel_size",
        "pixel_unit",
        "upsample_factor",
        "scale",
        "max_shift",
        "ms_ssim_weights",
    )
    out = dict(options or {})
    unknown = sorted(set(out) - set(allowed))
    if unknown:
        msg = (
            f"options must be keyword arguments of evaluate() other than mask "
            f"({', '.join(allowed)}), got {', '.join(unknown)}"
        )
        raise QualityInputError(msg)
    return out


def _mp_context() -> multiprocessing.context.BaseContext:
    # Never fork: a forked child inherits the parent's BLAS/OpenMP thread pools
    # in whatever state they were, which can deadlock.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def evaluate_many(
    pairs: Iterable[Pair] | Mapping[str, tuple[Any, ...]],
    *,
    route: Route | None = None,
    scheduler: str | Client | None = None,
    max_workers: int | None = None,
    options: Mapping[str, Any] | None = None,
    read: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, PairResult], None] | None = None,
) -> ManyReport:
    """Evaluate many reconstructions against their ground truths.

    Parameters
    ----------
    pairs : iterable of Pair, or mapping of name to (recon, truth[, mask[, read]])
        The pairs, as arrays or files (see :class:`Pair`). Files are read
        by the process that evaluates the pair, with
        :func:`ptycho_metrics.io.read_pair` as ``ptycho-metrics evaluate``
        reads one, so large data never travels through the scheduler.
    route : {"serial", "processes", "dask"}, optional
        Default: ``"dask"`` when ``scheduler`` is given, else ``"processes"``
        (a local process pool) for more than one pair, else ``"serial"``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``"tcp://host:8786"``) or a client; needs
        the ``dask`` extra (``pip install "ptycho-metrics[dask]"``).
    max_workers : int, optional
        Local processes (default: usable cores, at most the number of pairs).
    options : mapping, optional
        Keyword arguments for every :func:`evaluate` call (``align``,
        ``pixel_size``, ``upsample_factor``, ...; not ``mask``).
    read : mapping, optional
        Options of :func:`ptycho_metrics.io.read_pair` for every file pair
        (``format``, ``layer``, ``mode``, ``key``, ``pixel_size``, ``resample``,
        ``pixel_tolerance``, ``allow_other_data``); a pair's own ``read``
        overrides them key by key. Pairs given as arrays ignore them.
    progress : callable, optional
        Called as ``progress(done, total, result)`` after each pair, in the
        order the pairs finish.

    Returns
    -------
    ManyReport
        The results in input order, with JSON and CSV writers.

    Raises
    ------
    QualityInputError
        Bad ``pairs``, ``route``, ``options``, ``read`` or ``max_workers``
        (a reconstruction file with an array truth, an unknown option or
        format). Errors of single pairs (an unreadable file, a wrong format,
        other data's hash, ...) are not raised: they are in the results, with
        the reader's one-line message.

    Notes
    -----
    Each pair runs with one FFT thread and, as every :func:`evaluate`
    call, one BLAS thread, so serial, local-process and Dask results are
    bit-identical. Parallelism comes from running pairs side by side.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.exp(1j * np.linspace(0, 3, 96 * 96).reshape(96, 96))
    >>> many = evaluate_many({"a": (truth * 2, truth), "b": (truth[:90], truth)}, route="serial")
    >>> [r.ok for r in many.results], many.failed[0].error.split(":")[0]
    ([True, False], 'QualityInputError')
    """
    items = _as_pairs(pairs)
    opts = _check_options(options)
    defaults = _check_read(read, "read")
    if route is None:
        route = "dask" if scheduler is not None else ("processes" if len(items) > 1 else "serial")
    check_choice(route, "route", ROUTES)
    if route == "dask" and scheduler is None:
        msg = "scheduler must be given for route='dask' (an address or a distributed.Client)"
        raise QualityInputError(msg)
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        msg = f"max_workers must be a positive int or None, got {max_workers!r}"
        raise QualityInputError(msg)
    start = time.perf_counter()
    done: dict[str, PairResult] = {}

    def record(result: PairResult) -> None:
        done[result.name] = result
        if progress is not None:
            progress(len(done), len(items), result)

    if route == "serial" or not items:
        for pair in items:
            record(_run_pair(pair, opts, defaults))
    elif route == "processes":
        workers = min(max_workers or usable_cores(), len(items))
        with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
            futures = {pool.submit(_run_pair, pair, opts, defaults): pair for pair in items}
            _collect(futures, record)
    else:
        _run_on_dask(items, opts, defaults, scheduler, record)
    results = tuple(done[p.name] for p in items)
    return ManyReport(results=results, route=route, seconds=time.perf_counter() - start)


def _collect(
    futures: Mapping[Future[PairResult], Pair], record: Callable[[PairResult], None]
) -> None:
    for future in as_completed(futures):
        pair = futures[future]
        try:
            record(future.result())
        except Exception as exc:  # the worker itself died (memory, signal): report the pair
            record(PairResult(pair.name, None, f"{type(exc).__name__}: {exc}", math.nan))


def _run_on_dask(
    items: Sequence[Pair],
    opts: Mapping[str, Any],
    read: Mapping[str, Any],
    scheduler: str | Client | None,
    record: Callable[[PairResult], None],
) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        msg = 'route="dask" needs dask.distributed: pip install "ptycho-metrics[dask]"'
        raise ImportError(msg) from exc
    token = uuid.uuid4().hex  # fresh keys: a key reused from an earlier call could hit its result
    own = not isinstance(scheduler, Client)
    client: Client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = {
            client.submit(
                _run_pair, pair, opts, read, key=f"ptycho-metrics-{token}-{i}", pure=False
            ): pair
            for i, pair in enumerate(items)
        }
        for future in dask_completed(list(futures)):
            pair = futures[future]
            try:
                record(future.result())
            except Exception as exc:  # a lost worker: report the pair, go on
                record(PairResult(pair.name, None, f"{type(exc).__name__}: {exc}", math.nan))
    finally:
        if own:
            client.close()
