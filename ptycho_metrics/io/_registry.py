"""The format registry behind :func:`read_reconstruction`: one line per format.

Detection (``format="auto"``) reads the file's content, never only its name:
HDF5 files are told apart by their datasets and attributes, ``.npz`` archives
by their keys; a file no reader claims is refused with the list of formats.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from ._files import is_hdf5, is_zip, npz_keys, open_h5
from ._options import ReadOptions
from ._record import FormatError, ReaderError, Reconstruction, check_pixel_size

__all__ = ["FORMATS", "Format", "read_reconstruction"]

Format = Literal[
    "auto",
    "ptycho-metrics",
    "cdtools",
    "ptychodus-h5",
    "ptychodus-npz",
    "ptyr",
    "ptychopinn",
    "plain",
]


@dataclass(frozen=True)
class _Entry:
    module: str  # in this package
    reader: str  # function name
    container: Literal["hdf5", "npz", "any"]
    sniff: str | None  # function name taking an h5py.File or the set of npz keys


#: Registry name -> where its reader lives. Order = detection order.
_REGISTRY: dict[str, _Entry] = {
    "cdtools": _Entry("cdtools", "read", "hdf5", "sniff_h5"),
    "ptychodus-h5": _Entry("ptychodus", "read_h5", "hdf5", "sniff_h5"),
    "ptyr": _Entry("ptyr", "read", "hdf5", "sniff_h5"),
    "ptycho-metrics": _Entry("native", "read", "npz", "sniff_npz"),
    "ptychodus-npz": _Entry("ptychodus", "read_npz", "npz", "sniff_npz"),
    "ptychopinn": _Entry("ptychopinn", "read", "npz", "sniff_npz"),
    "plain": _Entry("plain", "read", "any", None),
}

#: The formats :func:`read_reconstruction` knows (besides "auto").
FORMATS: tuple[str, ...] = tuple(_REGISTRY)


def _function(entry: _Entry, name: str) -> Callable[..., Any]:
    module = importlib.import_module(f".{entry.module}", __package__)
    return getattr(module, name)


def _detect(path: Path) -> str:
    if is_hdf5(path):
        with open_h5(path) as handle:
            for name, entry in _REGISTRY.items():
                if (
                    entry.container == "hdf5"
                    and entry.sniff
                    and _function(entry, entry.sniff)(handle)
                ):
                    return name
            top = ", ".join(sorted(handle.keys())) or "none"
        msg = (
            f"{path}: an HDF5 file of no known reconstruction format (top-level entries: {top}); "
            f"known formats: {', '.join(FORMATS)}; pass format= if it is one of them"
        )
        raise FormatError(msg)
    if is_zip(path):
        keys = npz_keys(path)
        for name, entry in _REGISTRY.items():
            if entry.container == "npz" and entry.sniff and _function(entry, entry.sniff)(keys):
                return name
        if {"diffraction", "objectGuess"} & keys or "diff3d" in keys:
            msg = (
                f"{path}: a scan data file (keys {', '.join(sorted(keys))}), not a "
                f"reconstruction; pass it as the truth, not as the reconstruction"
            )
            raise FormatError(msg)
        return "plain"
    if path.suffix.lower() in (".npy", ".tif", ".tiff"):
        return "plain"
    msg = (
        f"{path}: unknown reconstruction format (not HDF5, npz, npy or TIFF); "
        f"known formats: {', '.join(FORMATS)}"
    )
    raise FormatError(msg)


def read_reconstruction(
    path: str | os.PathLike[str],
    *,
    format: Format = "auto",
    layer: int | None = None,
    mode: int | None = None,
    pixel_size: float | tuple[float, float] | None = None,
    key: str | None = None,
) -> Reconstruction:
    """Read a reconstructed object from any supported pipeline's file.

    Parameters
    ----------
    path : path
        The file: a cdtools results ``.h5``, a ptychodus product (``.h5`` or
        ``.npz``), a PtyPy ``.ptyr``, a PtychoPINN ``recon.npz``, our own
        ``reconstruction.npz``, or a plain ``.npy`` / ``.npz`` / ``.tif``.
    format : {"auto", "ptycho-metrics", "cdtools", "ptychodus-h5", "ptychodus-npz", "ptyr", \
"ptychopinn", "plain"}
        ``"auto"`` detects the format from the file's content.
    layer : int, optional
        Which slice of a layered (multi-slice) object (ptychodus, cdtools).
        Required when there are several: never a silent pick.
    mode : int, optional
        Which mode of a multi-mode object (PtyPy, PtychoPINN); required when
        there are several.
    pixel_size : float or (float, float), optional
        ``(width, height)`` of an object pixel in metres, for formats that
        record none (required for plain arrays). When the file records one,
        a different value is an error.
    key : str, optional
        Which object of a file holding several: a PtyPy storage ID, an npz key.

    Returns
    -------
    Reconstruction

    Raises
    ------
    FormatError
        Unknown format, or a file no reader claims.
    ReaderError
        A dataset missing or malformed (the message names the file and the
        dataset path), a stack without ``layer=``/``mode=``, a pixel size
        that disagrees with the file's, a real-valued object.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "obj.npy"
    >>> np.save(path, np.ones((4, 4), complex))
    >>> read_reconstruction(path, pixel_size=1e-8).pixel_size
    (1e-08, 1e-08)
    """
    file = Path(path)
    if format not in get_args(Format):
        msg = f"format must be one of {', '.join(map(repr, get_args(Format)))}; got {format!r}"
        raise FormatError(msg)
    if not file.is_file():
        msg = f"{file}: no such file" if not file.exists() else f"{file}: is not a regular file"
        raise ReaderError(msg)
    options = ReadOptions(
        layer=layer, mode=mode, pixel_size=check_pixel_size(pixel_size, str(file)), key=key
    )
    name = _detect(file) if format == "auto" else format
    entry = _REGISTRY[name]
    if format != "auto" and entry.container == "hdf5" and not is_hdf5(file):
        msg = f"{file}: format={format!r} needs an HDF5 file, and this is not one"
        raise FormatError(msg)
    if format != "auto" and entry.container == "npz" and not is_zip(file):
        msg = f"{file}: format={format!r} needs an .npz archive, and this is not one"
        raise FormatError(msg)
    try:
        return _function(entry, entry.reader)(file, options)
    except (KeyError, OSError, TypeError) as exc:
        # A last line of defence: a layout the reader did not foresee.
        msg = (
            f"{file}: cannot be read as {name} ({type(exc).__name__}: {' '.join(str(exc).split())})"
        )
        raise ReaderError(msg) from None
