"""Input validation shared by every public function.

One exception type (:class:`QualityInputError`) is raised from here, and every
message names the argument, the expectation and what was received. Nothing in
this module mutates its inputs: conversions return new arrays (or read-only
views of arrays already of the right dtype).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "QualityInputError",
    "as_complex_2d",
    "as_real_2d",
    "check_choice",
    "check_data_range",
    "check_positive",
    "check_reconstruction",
    "check_same_shape",
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


def _check_finite(arr: np.ndarray, name: str) -> None:
    finite = np.isfinite(arr)
    if finite.all():
        return
    bad = ~finite
    n_nan = int(np.count_nonzero(np.isnan(arr)))
    n_inf = int(np.count_nonzero(bad)) - n_nan
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    msg = (
        f"{name} must be finite, got {n_nan} NaN and {n_inf} Inf values "
        f"out of {arr.size} (first at index {first}, value {arr[first]})"
    )
    raise QualityInputError(msg)


def as_real_2d(x: npt.ArrayLike, name: str, *, finite: bool = True) -> np.ndarray:
    """Return ``x`` as a float64 2-D array, or raise :class:`QualityInputError`.

    Complex input is refused rather than silently dropping its imaginary part.
    The input is never modified; the result may be the input itself when it is
    already float64, so callers must not write into it.
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
        _check_finite(out, name)
    return out


def as_complex_2d(x: npt.ArrayLike, name: str, *, finite: bool = True) -> np.ndarray:
    """Return ``x`` as a complex128 2-D array (real input is promoted)."""
    arr = _as_array(x, name)
    _check_2d(arr, name)
    out = arr.astype(np.complex128, copy=False)
    if finite:
        _check_finite(out, name)
    return out


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


def check_positive(value: Any, name: str, *, expected: str = "a positive finite number") -> float:
    """Return ``value`` as a positive finite float, or raise naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be {expected}, got {value!r}"
        raise QualityInputError(msg) from exc
    if not math.isfinite(out) or out <= 0:
        msg = f"{name} must be {expected}, got {out!r}"
        raise QualityInputError(msg)
    return out


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> None:
    """Raise unless ``value`` is one of ``choices``, listing the valid ones."""
    options = list(choices)
    if value not in options:
        listed = ", ".join(repr(c) for c in options)
        msg = f"{name} must be one of {listed}; got {value!r}"
        raise QualityInputError(msg)


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
        want = tuple(int(s) for s in expected_shape)
        for arr_name, arr in checked:
            if arr.shape != want:
                msg = f"{arr_name} must have shape {want}, got {arr.shape}"
                raise QualityInputError(msg)
    for (n0, a0), (n1, a1) in pairwise(checked):
        check_same_shape(a0, a1, (n0, n1))
