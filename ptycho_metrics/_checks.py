"""Input validation shared by every public function.

One exception type (:class:`QualityInputError`) is raised from here, and every
message names the argument, the expectation and what was received. Nothing in
this module mutates its inputs: conversions return new arrays (or read-only
views of arrays already of the right dtype).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "QualityInputError",
    "as_complex_2d",
    "as_real_2d",
    "check_bool",
    "check_choice",
    "check_data_range",
    "check_finite",
    "check_int",
    "check_path",
    "check_positive",
    "check_real",
    "check_reconstruction",
    "check_same_shape",
    "check_shape",
    "combine_keep",
    "degeneracy",
    "describe",
    "part_bounds",
    "peak_component",
    "power_of_two_unit",
    "remembered_bounds",
    "unmasked",
]

#: Slack allowed on the [-pi, pi] phase range: float32 rounds pi up by 8.7e-8.
PHASE_RANGE_SLACK = 1e-6


class QualityInputError(ValueError):
    """Raised when an input to a ``ptycho_metrics`` function is not usable.

    The message names the argument, what was expected and what was received.
    """


def _as_array(x: Any, name: str) -> np.ndarray:
    if x is None:
        msg = f"{name} must be an array, got None"
        raise QualityInputError(msg)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        msg = f"{name} must be convertible to a numeric array, got {type(x).__name__}: {exc}"
        raise QualityInputError(msg) from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        msg = f"{name} must be a numeric array, got dtype {arr.dtype}"
        raise QualityInputError(msg)
    return arr


def _check_2d(arr: np.ndarray, name: str) -> None:
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 3 and 1 in arr.shape:
            hint = " (squeeze the singleton axis first)"
        msg = f"{name} must be a 2-D array, got {arr.ndim}-D with shape {arr.shape}{hint}"
        raise QualityInputError(msg)
    if arr.size == 0:
        msg = f"{name} must be non-empty, got shape {arr.shape}"
        raise QualityInputError(msg)


def _check_finite(
    arr: np.ndarray,
    name: str,
    where: np.ndarray | None = None,
    source: np.dtype | None = None,
) -> np.ndarray:
    """Raise on NaN/Inf inside ``where`` (everywhere without it).

    Returns ``arr``, or a copy with the non-finite values outside ``where`` set
    to 0 (they are excluded from every metric, but would poison filters and
    transforms that run over the whole array).
    """
    if _all_finite_compiled(arr):
        return arr
    finite = np.isfinite(arr)
    if finite.all():
        return arr
    bad = ~finite if where is None else ~finite & where
    if bad.any():
        n_nan = int(np.count_nonzero(np.isnan(arr[bad])))
        n_inf = int(np.count_nonzero(bad)) - n_nan
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        inside = "" if where is None else " inside the mask"
        hint = (
            "; pass a mask that excludes them" if where is None else "; exclude them from the mask"
        )
        dtype = arr.dtype if source is None else source
        if n_inf and dtype.kind in "fc" and dtype.itemsize <= (8 if dtype.kind == "c" else 4):
            # A float32/complex64 array scaled beyond 3.4e38 holds Inf (and NaN where
            # Inf met 0): say so instead of leaving a bare count.
            hint += (
                f"; {dtype} overflows beyond {np.finfo(dtype).max:.3g}, so a "
                f"scaling (e.g. 1e200 * obj) may have produced them: convert to float64 "
                f"or complex128 before scaling"
            )
        msg = (
            f"{name} must be finite{inside}, got {n_nan} NaN and {n_inf} Inf values "
            f"out of {int(arr.size if where is None else np.count_nonzero(where))} "
            f"(first at index {first}, value {arr[first]}){hint}"
        )
        raise QualityInputError(msg)
    out = arr.copy()
    out[~finite] = 0
    return out


def _all_finite_compiled(arr: np.ndarray) -> bool:
    """True when the compiled count finds no NaN/Inf; False when it finds some or does not run."""
    memo = _MEMO.get()
    if memo is not None and id(arr) in memo.arrays:
        found = part_bounds(arr)  # the bounds' pass, remembered for the next stage
        return found is not None and not found[2] and not found[3]
    from . import _kernels  # here: _kernels imports this module

    if arr.ndim != 2 or arr.dtype.kind not in "fc" or not _kernels.wanted(arr.size):
        return False
    from ._kernels.checks import nonfinite_rows

    counts = np.empty(arr.shape[0], dtype=np.int64)
    _kernels.split_rows(nonfinite_rows, arr.shape[0], arr, counts)
    return not counts.any()


def as_real_2d(
    x: npt.ArrayLike, name: str, *, finite: bool = True, where: np.ndarray | None = None
) -> np.ndarray:
    """Return ``x`` as a float64 2-D array, or raise :class:`QualityInputError`.

    Complex input is refused rather than silently dropping its imaginary part.
    With ``where`` (a boolean array of the same shape), NaN/Inf are allowed
    outside it and replaced by 0 in a copy. The input is never modified; the
    result may be the input itself when it is already float64, so callers must
    not write into it.
    """
    arr = _as_array(x, name)
    if np.iscomplexobj(arr):
        msg = (
            f"{name} must be real, got complex dtype {arr.dtype}; pass np.abs() or "
            f"np.angle() of it explicitly"
        )
        raise QualityInputError(msg)
    _check_2d(arr, name)
    out = arr.astype(np.float64, copy=False)
    if finite:
        out = _check_finite(out, name, where, arr.dtype)
    return out


def as_complex_2d(
    x: npt.ArrayLike, name: str, *, finite: bool = True, where: np.ndarray | None = None
) -> np.ndarray:
    """Return ``x`` as a complex128 2-D array (real input is promoted).

    ``where`` as in :func:`as_real_2d`. Functions that expect a complex object
    use :func:`as_object_2d`, which never promotes a real array silently.
    """
    arr = _as_array(x, name)
    _check_2d(arr, name)
    out = arr.astype(np.complex128, copy=False)
    if finite:
        out = _check_finite(out, name, where, arr.dtype)
    return out


#: Magnitudes within 2**+-UNIT_EXPONENT_LIMIT are computed as given; beyond, scale-free
#: computations divide by a power of two first (exact in floating point). Squares and
#: sums of 2**128 terms of such values stay far inside float64 (1.8e308, 2.2e-308).
UNIT_EXPONENT_LIMIT = 64


def power_of_two_unit(peak: float) -> float:
    """The power of two to divide by so that ``peak`` becomes order 1; 1.0 when not needed.

    Dividing by a power of two is exact, so a scale-free metric gives the same
    number as for ordinary data, while values near 1e+-200 no longer overflow
    or underflow in squares and products. Ordinary magnitudes (within
    2**+-64) are left alone, so they cost no copy and stay bit-identical.
    """
    if not peak > 0 or not math.isfinite(peak):
        return 1.0
    exponent = math.frexp(peak)[1] - 1
    return 1.0 if abs(exponent) <= UNIT_EXPONENT_LIMIT else math.ldexp(1.0, exponent)


_Bounds = tuple[list[tuple[float, float]], int, int, int]


class _BoundsMemo:
    """:func:`part_bounds` results of the arrays given to :func:`remembered_bounds`."""

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        # The arrays and masks are held so that their ids stay theirs in the block.
        self.arrays = {id(a): a for a in arrays}
        self.masks: list[np.ndarray] = []
        self.found: dict[tuple[int, int | None], _Bounds | None] = {}


_MEMO: ContextVar[_BoundsMemo | None] = ContextVar("ptycho_metrics_bounds", default=None)


@contextlib.contextmanager
def remembered_bounds(*arrays: np.ndarray) -> Iterator[None]:
    """In the block, :func:`part_bounds` of each of ``arrays`` (with a given mask) runs once.

    For evaluate(): its checked inputs go through the finite test, the
    power-of-two unit, the degeneracy test, and the same again inside
    align() and phase_error() (up to 5 full passes each; measured 0.006 s a
    pass at 2048^2). Only for arrays that nobody writes during the block;
    the arrays stay referenced until it ends.
    """
    token = _MEMO.set(_BoundsMemo(arrays))
    try:
        yield
    finally:
        _MEMO.reset(token)


def part_bounds(values: np.ndarray, where: np.ndarray | None = None) -> _Bounds | None:
    """``[(min, max)]`` of the real (and imaginary) part inside ``where``, n, NaN and Inf counts.

    From the compiled kernel (:mod:`ptycho_metrics._kernels.checks`, one pass,
    no gathered copy) when :func:`ptycho_metrics._kernels.wanted` says so and
    ``values`` is a 2-D float or complex map; None otherwise, so callers take
    their NumPy path (the reference). NaN values are counted, not bounded.
    """
    memo = _MEMO.get()
    if memo is None or id(values) not in memo.arrays:
        return _part_bounds(values, where)
    key = (id(values), None if where is None else id(where))
    if key not in memo.found:
        memo.found[key] = _part_bounds(values, where)
        if where is not None:
            memo.masks.append(where)
    return memo.found[key]


def _part_bounds(values: np.ndarray, where: np.ndarray | None) -> _Bounds | None:
    from . import _kernels  # here: _kernels imports this module

    if values.ndim != 2 or values.dtype.kind not in "fc" or not _kernels.wanted(values.size):
        return None
    from ._kernels.checks import bounds_rows

    n_rows = values.shape[0]
    bounds = np.empty((n_rows, 4))
    counts = np.empty((n_rows, 3), dtype=np.int64)
    mask = np.empty((0, 0), dtype=bool) if where is None else where
    _kernels.split_rows(bounds_rows, n_rows, values, mask, bounds, counts)
    parts = [(float(bounds[:, 0].min()), float(bounds[:, 1].max()))]
    if values.dtype.kind == "c":
        parts.append((float(bounds[:, 2].min()), float(bounds[:, 3].max())))
    n, n_nan, n_inf = (int(c) for c in counts.sum(axis=0))
    return parts, n, n_nan, n_inf


def _kernel_parts(values: np.ndarray, where: np.ndarray | None) -> list[tuple[float, float]] | None:
    """:func:`part_bounds`' bounds where they equal NumPy's min/max (no NaN, not empty)."""
    found = part_bounds(values, where)
    if found is None or found[1] == 0 or found[2]:
        return None
    return found[0]


def peak_component(values: np.ndarray, where: np.ndarray | None = None) -> float:
    """Largest |real| or |imag| part (inside ``where``): within sqrt(2) of max |values|."""
    parts = _kernel_parts(values, where)
    if parts is not None:
        return max(max(abs(lo), abs(hi)) for lo, hi in parts)
    if where is not None:
        values = values[where]
    arrays = (values.real, values.imag) if np.iscomplexobj(values) else (values,)
    return max(max(abs(float(p.min())), abs(float(p.max()))) for p in arrays)


def degeneracy(values: np.ndarray, relative: float = 1e-10, where: np.ndarray | None = None) -> str:
    """``"zero"``, ``"constant"`` (to ``relative`` of the largest component) or ``""``.

    From the minima and maxima of the real and imaginary parts (inside
    ``where``), so no full-size temporary is made (the arrays can be
    2048x2048 complex128).
    """
    bounds = _kernel_parts(values, where)
    if bounds is None:
        if where is not None:
            values = values[where]
        parts = (values.real, values.imag) if np.iscomplexobj(values) else (values,)
        bounds = [(float(p.min()), float(p.max())) for p in parts]
    peak = max(max(abs(lo), abs(hi)) for lo, hi in bounds)
    if peak == 0.0:
        return "zero"
    spread = max(hi - lo for lo, hi in bounds)
    return "constant" if spread <= relative * peak else ""


def check_finite(arr: np.ndarray, name: str, where: np.ndarray | None = None) -> np.ndarray:
    """Public form of the finiteness check for arrays already converted to float/complex."""
    return _check_finite(arr, name, where)


def combine_keep(*parts: np.ndarray | None) -> np.ndarray | None:
    """Logical and of the boolean arrays given (None entries ignored; None if all are)."""
    keep: np.ndarray | None = None
    for part in parts:
        if part is not None:
            keep = part if keep is None else keep & part
    return keep


#: How a caller says what a real array passed as a complex object is.
REAL_AS = ("amplitude", "phase")


def as_object_2d(
    x: npt.ArrayLike,
    name: str,
    *,
    real_as: str | None,
    where: np.ndarray | None = None,
    keep_complex64: bool = False,
) -> np.ndarray:
    """A complex object as complex128; a real array only with an explicit ``real_as``.

    ``keep_complex64``: a complex64 object stays complex64 (no full-size
    copy); the caller promotes what it computes with (exactly).

    ``real_as="amplitude"``: the real array is the object's modulus (phase 0),
    so it must be >= 0 (inside ``where``). ``real_as="phase"``: it is the
    phase in radians of a unit-modulus object, ``exp(1j * x)``. Without
    ``real_as`` a real array is refused: a phase map taken for an amplitude (or
    the reverse) would give confident, meaningless numbers.
    """
    arr = _as_array(x, name)
    _check_2d(arr, name)
    if np.iscomplexobj(arr):
        if keep_complex64 and arr.dtype == np.complex64:
            return _check_finite(arr, name, where)
        return as_complex_2d(arr, name, where=where)
    if real_as is None:
        msg = (
            f"{name} must be a complex object, got real dtype {arr.dtype}; say what it "
            f"is: real_as='amplitude' (a modulus, phase 0) or real_as='phase' (radians, "
            f"unit modulus), or pass amplitude * np.exp(1j * phase)"
        )
        raise QualityInputError(msg)
    real = as_real_2d(arr, name, where=where)
    if real_as == "phase":
        return np.exp(1j * real)
    inside = real if where is None else real[where]
    if inside.size and inside.min() < 0:
        msg = (
            f"{name} must be >= 0 with real_as='amplitude' (a modulus), got min "
            f"{float(inside.min()):.6g}; pass the complex object, or real_as='phase'"
        )
        raise QualityInputError(msg)
    return real.astype(np.complex128)


def check_same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    """Raise unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        msg = f"{names[0]} and {names[1]} must have the same shape, got {a.shape} and {b.shape}"
        raise QualityInputError(msg)


def check_data_range(data_range: Any, name: str = "data_range") -> float:
    """Return ``data_range`` as a positive finite float, or raise."""
    if data_range is None:
        msg = (
            f"{name} is required and is never guessed from the data; pass the "
            f"physical range of the ground truth (max - min), got None"
        )
        raise QualityInputError(msg)
    return check_positive(data_range, name)


def describe(value: Any) -> str:
    """How a received value is shown in messages: its repr, and its type where the repr hides it."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} ({type(value).__name__})"
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return repr(value)
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _is_integer(value: Any) -> bool:
    # A bool is an int to Python but never a count; a NumPy integer scalar is one.
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return _is_integer(value) or isinstance(value, (float, np.floating))


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if lo is None:
        return f" {'<' if hi_open else '<='} {hi:g}"
    return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def check_real(
    value: Any,
    name: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    expected: str | None = None,
) -> float:
    """Return ``value`` as a finite float within the given bounds, or raise naming ``name``.

    A real number is a Python or NumPy int or float; a bool, a string, a
    complex number, a 0-d array or None is refused (no silent conversion).
    """
    want = expected or f"a real finite number{_interval(lo, hi, lo_open, hi_open)}"
    if not _is_real(value):
        msg = f"{name} must be {want}, got {describe(value)}"
        raise QualityInputError(msg)
    out = float(value)
    bad = not math.isfinite(out)
    bad = bad or (lo is not None and (out <= lo if lo_open else out < lo))
    bad = bad or (hi is not None and (out >= hi if hi_open else out > hi))
    if bad:
        msg = f"{name} must be {want}, got {out!r}"
        raise QualityInputError(msg)
    return out


def check_positive(value: Any, name: str, *, expected: str = "a positive finite number") -> float:
    """Return ``value`` as a positive finite float, or raise naming ``name``."""
    return check_real(value, name, lo=0.0, lo_open=True, expected=expected)


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    expected: str | None = None,
) -> int:
    """Return ``value`` as a Python int within ``[minimum, maximum]``, or raise naming ``name``.

    Python and NumPy integers are accepted; a bool or a float (even 3.0) is refused.
    """
    want = expected or f"an integer{_interval(minimum, maximum, False, False)}"
    if not _is_integer(value):
        msg = f"{name} must be {want}, got {describe(value)}"
        raise QualityInputError(msg)
    out = int(value)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        msg = f"{name} must be {want}, got {out!r}"
        raise QualityInputError(msg)
    return out


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool; only True, False (or NumPy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be True or False, got {describe(value)}"
        raise QualityInputError(msg)
    return bool(value)


def _same_choice(value: Any, choice: Any) -> bool:
    if choice is None or value is None:
        return value is choice
    if isinstance(choice, str):
        return isinstance(value, str) and value == choice
    # Numbers match only numbers of the same kind: True is not 1, 1.0 is not "1.0".
    if isinstance(choice, (bool, np.bool_)) != isinstance(value, (bool, np.bool_)):
        return False
    if _is_real(choice):
        return _is_real(value) and float(value) == float(choice)
    return type(value) is type(choice) and bool(value == choice)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise listing the valid ones.

    Matching is by type as well as value: ``"no"`` is not True, ``True`` is not
    1, and an array (which has no single truth value) is refused cleanly.
    """
    options = list(choices)
    for option in options:
        if _same_choice(value, option):
            return option
    listed = ", ".join(repr(c) for c in options)
    msg = f"{name} must be one of {listed}; got {describe(value)}"
    raise QualityInputError(msg)


def check_path(value: Any, name: str) -> Path:
    """Return ``value`` as a :class:`~pathlib.Path`; a str or os.PathLike, non-empty."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, os.PathLike)):
        msg = f"{name} must be a file path (str or os.PathLike), got {describe(value)}"
        raise QualityInputError(msg)
    text = os.fspath(value)
    if not isinstance(text, str) or not text:
        msg = f"{name} must be a non-empty file path, got {describe(value)}"
        raise QualityInputError(msg)
    return Path(text)


def check_shape(value: Any, name: str, *, ndim: int | None = None) -> tuple[int, ...]:
    """Return ``value`` as a tuple of non-negative ints (a shape), or raise naming ``name``."""
    want = "a sequence of non-negative integers such as (64, 64)"
    if ndim is not None:
        want = f"a sequence of {ndim} non-negative integers such as {(64,) * ndim}"
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        msg = f"{name} must be {want}, got {describe(value)}"
        raise QualityInputError(msg)
    items = list(value)
    if (ndim is not None and len(items) != ndim) or not all(
        _is_integer(v) and int(v) >= 0 for v in items
    ):
        msg = f"{name} must be {want}, got {describe(value)}"
        raise QualityInputError(msg)
    return tuple(int(v) for v in items)


def unmasked(x: Any, name: str, *, accepts_mask: bool) -> tuple[Any, np.ndarray | None]:
    """Split a :class:`numpy.ma.MaskedArray` into its data and the pixels it keeps.

    Returns ``(data, keep)`` with ``keep`` True where the pixel is valid (None
    for an ordinary array or a masked array with nothing masked). A function
    without a ``mask`` argument (``accepts_mask=False``) refuses a masked array
    that masks anything, rather than silently using the values behind the mask.
    """
    if not isinstance(x, np.ma.MaskedArray):
        return x, None
    hidden = np.ma.getmaskarray(x)
    data = np.ma.getdata(x)
    if not hidden.any():
        return data, None
    if not accepts_mask:
        msg = (
            f"{name} must not be a numpy.ma.MaskedArray with masked pixels here (this "
            f"function has no mask argument), got one with {int(hidden.sum())} of "
            f"{hidden.size} pixels masked; pass {name}.filled(value) explicitly, or use a "
            f"function that takes mask="
        )
        raise QualityInputError(msg)
    return data, ~hidden


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        msg = f"name must be a non-empty string, got {describe(name)}"
        raise QualityInputError(msg)
    return name


def check_reconstruction(
    obj: npt.ArrayLike | None = None,
    *,
    amplitude: npt.ArrayLike | None = None,
    phase: npt.ArrayLike | None = None,
    expected_shape: Sequence[int] | None = None,
    name: str = "recon",
) -> None:
    """Check a reconstruction before any metric is computed.

    Pass either a complex object ``obj`` or its ``amplitude`` and/or ``phase``
    maps (as written by a pipeline). Checks: 2-D, non-empty, numeric, finite,
    the expected shape, amplitude >= 0 and phase within [-pi, pi].

    Parameters
    ----------
    obj : array_like, optional
        Complex (or real) 2-D object.
    amplitude, phase : array_like, optional
        Real 2-D maps. The phase must be wrapped to [-pi, pi] (a slack of
        1e-6 rad admits float32 rounding of pi).
    expected_shape : sequence of int, optional
        Shape every given array must have.
    name : str
        Name used for ``obj`` in messages; ``amplitude`` and ``phase`` are
        reported as ``f"{name}.amplitude"`` and ``f"{name}.phase"``.

    Raises
    ------
    QualityInputError
        With the argument, the expectation and what was received.
    """
    name = _check_name(name)
    if obj is None and amplitude is None and phase is None:
        msg = f"check_reconstruction needs obj, amplitude or phase for {name}; got none of them"
        raise QualityInputError(msg)
    checked: list[tuple[str, np.ndarray]] = []
    if obj is not None:
        checked.append((name, as_complex_2d(obj, name)))
    if amplitude is not None:
        amp_name = f"{name}.amplitude"
        amp = as_real_2d(amplitude, amp_name)
        if amp.min() < 0:
            n_neg = int(np.count_nonzero(amp < 0))
            first = tuple(int(i) for i in np.argwhere(amp < 0)[0])
            msg = (
                f"{amp_name} must be >= 0, got {n_neg} negative values "
                f"(min {amp.min():.6g}, first at index {first})"
            )
            raise QualityInputError(msg)
        checked.append((amp_name, amp))
    if phase is not None:
        ph_name = f"{name}.phase"
        ph = as_real_2d(phase, ph_name)
        lo, hi = float(ph.min()), float(ph.max())
        if lo < -np.pi - PHASE_RANGE_SLACK or hi > np.pi + PHASE_RANGE_SLACK:
            msg = (
                f"{ph_name} must be wrapped to [-pi, pi], got min {lo!r} and max {hi!r}; "
                f"wrap it with np.angle(np.exp(1j * phase))"
            )
            raise QualityInputError(msg)
        checked.append((ph_name, ph))
    if expected_shape is not None:
        want = check_shape(expected_shape, "expected_shape", ndim=2)
        for arr_name, arr in checked:
            if arr.shape != want:
                msg = f"{arr_name} must have shape {want}, got {arr.shape}"
                raise QualityInputError(msg)
    for (n0, a0), (n1, a1) in pairwise(checked):
        check_same_shape(a0, a1, (n0, n1))
