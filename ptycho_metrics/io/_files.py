"""File access shared by the readers: HDF5 and npz opened with one-line errors, layer choice.

h5py and NumPy raise their own exception types (KeyError with an HDF5 error
stack, OSError "unable to synchronously open file", BadZipFile): every reader
goes through these helpers so that a user sees the file, the dataset path and
what was expected, never a traceback from inside h5py.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._record import ReaderError

__all__ = [
    "as_object_2d",
    "h5_attr",
    "h5_dataset",
    "is_hdf5",
    "npz_arrays",
    "open_h5",
    "pick_layer",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"


def _head(path: Path, n: int = 8) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(n)
    except OSError as exc:
        msg = f"{path}: cannot read the file ({exc.strerror or exc})"
        raise ReaderError(msg) from None


def is_hdf5(path: Path) -> bool:
    """Whether the file starts with the HDF5 signature (user block of 0 bytes)."""
    return _head(path) == _HDF5_SIGNATURE


def is_zip(path: Path) -> bool:
    """Whether the file starts like a zip archive (``.npz``)."""
    return _head(path, 4) == _ZIP_SIGNATURE


@contextlib.contextmanager
def open_h5(path: Path) -> Iterator[Any]:
    """``h5py.File(path, "r")`` with a one-line :class:`ReaderError` when it cannot be opened."""
    import h5py  # imported here: readers of npz files never need it

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        msg = f"{path}: not a readable HDF5 file ({' '.join(str(exc).split())})"
        raise ReaderError(msg) from None
    with handle:
        yield handle


def h5_dataset(handle: Any, name: str, *, what: str) -> np.ndarray:
    """The array at dataset path ``name``, or a ReaderError naming it and ``what`` it "
    "should hold."""
    import h5py

    item = handle.get(name)
    if item is None:
        here = sorted(handle.keys()) if hasattr(handle, "keys") else []
        msg = (
            f"{handle.file.filename}: dataset '{name}' is missing (expected {what}); "
            f"top-level entries: {', '.join(here) or 'none'}"
        )
        raise ReaderError(msg)
    if not isinstance(item, h5py.Dataset):
        msg = f"{handle.file.filename}: '{name}' is a group, expected a dataset with {what}"
        raise ReaderError(msg)
    try:
        return np.asarray(item[()])
    except (OSError, TypeError, ValueError) as exc:
        msg = f"{handle.file.filename}: dataset '{name}' cannot be read ({exc})"
        raise ReaderError(msg) from None


def h5_attr(node: Any, name: str, *, what: str, required: bool = True) -> Any:
    """Attribute ``name`` of an HDF5 node; a ReaderError naming it when required and absent."""
    if name in node.attrs:
        value = node.attrs[name]
        return value.decode() if isinstance(value, bytes) else value
    if not required:
        return None
    msg = f"{node.file.filename}: attribute '{name}' of '{node.name}' is missing (expected {what})"
    raise ReaderError(msg)


def npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive (no pickles), with one-line errors."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, AttributeError) as exc:
        msg = f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})"
        raise ReaderError(msg) from None


def pick_layer(
    array: np.ndarray,
    *,
    where: str,
    axis_name: str,
    choice: int | None,
    option: str,
) -> tuple[np.ndarray, int | None]:
    """The 2-D slice ``array[choice]`` of a stack; a stack of more than one needs a choice.

    A (1, H, W) stack gives its only slice (no choice needed); ``choice`` on a
    2-D array is an error, as is an index out of range.
    """
    if array.ndim == 2:
        if choice not in (None, 0):
            msg = f"{where}: the object is 2-D (one {axis_name}), but {option}={choice!r} was given"
            raise ReaderError(msg)
        return array, None
    if array.ndim != 3:
        msg = (
            f"{where}: expected a 2-D object or a stack of {axis_name}s (3-D), got shape "
            f"{array.shape}"
        )
        raise ReaderError(msg)
    count = array.shape[0]
    if choice is None:
        if count == 1:
            return array[0], 0
        msg = (
            f"{where}: the object has {count} {axis_name}s, shape {array.shape}; choose one "
            f"with {option}=0..{count - 1} (never picked silently)"
        )
        raise ReaderError(msg)
    if isinstance(choice, bool) or not isinstance(choice, (int, np.integer)):
        msg = f"{where}: {option} must be an int in 0..{count - 1}, got {choice!r}"
        raise ReaderError(msg)
    if not 0 <= int(choice) < count:
        msg = (
            f"{where}: {option}={choice} is out of range; the object has {count} {axis_name}s "
            f"(0..{count - 1})"
        )
        raise ReaderError(msg)
    return array[int(choice)], int(choice)


def as_object_2d(array: np.ndarray, where: str) -> np.ndarray:
    """The object as complex128, refusing what cannot be a ptychographic object.

    A real-valued array is refused: an amplitude (or phase) saved in place of
    the complex object would be registered and compared as if it were one
    (a 38 px "shift" was reported for one, and nothing said so).
    """
    if array.ndim != 2 or min(array.shape) == 0:
        msg = f"{where}: the object must be a non-empty 2-D array, got shape {array.shape}"
        raise ReaderError(msg)
    if not np.iscomplexobj(array):
        msg = (
            f"{where}: the object is real-valued ({array.dtype}); a reconstruction must be "
            f"the complex object (amplitude * exp(1j * phase)), not its amplitude or phase"
        )
        raise ReaderError(msg)
    out = array.astype(np.complex128)
    if not np.all(np.isfinite(out)):
        bad = int(np.count_nonzero(~np.isfinite(out)))
        msg = f"{where}: the object holds {bad} NaN/Inf values; expected a finite object"
        raise ReaderError(msg)
    return out


def npz_keys(path: Path) -> set[str]:
    """The array names of an ``.npz`` archive, without reading the arrays."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {n.removesuffix(".npy") for n in archive.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        msg = f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})"
        raise ReaderError(msg) from None
