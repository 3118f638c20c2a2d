"""The one record every reader returns: :class:`Reconstruction`, and the reader errors.

Conventions (every reader converts to them; the tests pin each conversion):

- ``object[i, j]``: row ``i`` is y, column ``j`` is x, both increasing with the index.
- ``pixel_size = (width, height)`` in metres: the x and y sampling of ``object``.
- Centred-pixel convention (ptychodus 1.7.0's): ``center`` is the physical
  ``(x, y)`` in metres of the array's geometric centre, fractional index
  ``((W - 1) / 2, (H - 1) / 2)``; ``positions[k]`` is the physical ``(x, y)`` of
  the geometric centre of the probe window at scan point ``k``, fractional
  index ``(N - 1) / 2`` inside the ``N x N`` window, in the same frame. So the
  probe window ``k`` is centred on the object's fractional index

  ``col = (x_k - center_x) / width + (W - 1) / 2``,
  ``row = (y_k - center_y) / height + (H - 1) / 2``

  (:meth:`Reconstruction.window_centres`). A fixture's patch centred on
  ``(xcoords, ycoords)`` covers ``[y - N/2, y + N/2)``: its geometric centre
  is at index ``y - 1/2`` (``ptycho_metrics.io.to_fixture_grid`` accounts for it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import QualityInputError

__all__ = ["FormatError", "ReaderError", "Reconstruction", "check_pixel_size"]


class ReaderError(QualityInputError):
    """A reconstruction file cannot be read as asked.

    The message is one line naming the file, the dataset path inside it (for
    HDF5 and npz files) and what was expected.
    """


class FormatError(ReaderError):
    """The format is unknown, or the file does not look like the format asked for."""


def check_pixel_size(value: Any, where: str) -> tuple[float, float] | None:
    """``(width, height)`` in metres from a float or a pair; None stays None."""
    if value is None:
        return None
    pair = (value, value) if isinstance(value, (int, float, np.floating)) else value
    try:
        width, height = (float(v) for v in pair)
    except (TypeError, ValueError):
        msg = (
            f"{where}: pixel_size must be a positive float or (width, height) in metres, got "
            f"{value!r}"
        )
        raise ReaderError(msg) from None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        msg = f"{where}: pixel_size must be positive and finite (metres), got {value!r}"
        raise ReaderError(msg)
    if width > 1e-3 or height > 1e-3:
        msg = (
            f"{where}: pixel_size {value!r} is over 1 mm; it must be in metres "
            f"(e.g. 1e-8 for 10 nm), not in nm or um"
        )
        raise ReaderError(msg)
    return width, height


#: Metadata keys of every :class:`Reconstruction`: None where the file records none.
COMMON_METADATA = ("writer_version", "energy_eV", "distance_m", "wavelength_m", "data_sha256")


@dataclass(frozen=True)
class Reconstruction:
    """A reconstructed object read from a pipeline's file, in one set of conventions.

    Attributes
    ----------
    object : ndarray of complex, shape (H, W)
        The chosen layer / mode of the reconstructed object (read-only).
    pixel_size : tuple of float or None
        ``(width, height)`` of an object pixel in metres; None when the file
        records none and the caller gave none.
    center : tuple of float or None
        Physical ``(x, y)`` in metres of the array's geometric centre (see the
        module docstring); None when the file records none.
    probe : ndarray of complex or None
        The (first-mode, or chosen) probe, shape (N, N), when the file has one.
    positions : ndarray of float, shape (n, 2), or None
        Physical ``(x, y)`` in metres of each probe window's geometric centre,
        in the object's frame, in scan order.
    path : Path
        The file read.
    format : str
        Registry name of the reader used (``ptycho_metrics.io.FORMATS``).
    metadata : dict
        ``writer_version``, ``energy_eV``, ``distance_m``, ``wavelength_m``,
        ``data_sha256`` where the file records them (None otherwise), plus the
        format's own entries (dataset names read, layer or mode chosen, ...).
    """

    object: np.ndarray = field(repr=False)
    pixel_size: tuple[float, float] | None
    path: Path
    format: str
    center: tuple[float, float] | None = None
    probe: np.ndarray | None = field(default=None, repr=False)
    positions: np.ndarray | None = field(default=None, repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every record has the common keys (None where the file records nothing), so a
        # reader lists only what its format knows.
        object.__setattr__(self, "metadata", {**dict.fromkeys(COMMON_METADATA), **self.metadata})
        for name in ("object", "probe", "positions"):
            value = getattr(self, name)
            if value is not None:
                value = np.array(value)  # a private copy: the record cannot change
                value.flags.writeable = False
                object.__setattr__(self, name, value)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of :attr:`object`."""
        return int(self.object.shape[0]), int(self.object.shape[1])

    @property
    def data_sha256(self) -> str | None:
        """sha256 of the scan data the reconstruction was made from, when recorded."""
        value = self.metadata.get("data_sha256")
        return None if value is None else str(value)

    def window_centres(self) -> np.ndarray | None:
        """Fractional ``(col, row)`` object index of each probe window's centre, shape (n, 2).

        None without positions, pixel size or centre. See the module docstring.
        """
        if self.positions is None or self.pixel_size is None or self.center is None:
            return None
        rows, cols = self.shape
        size = np.asarray(self.pixel_size)
        middle = np.array([(cols - 1) / 2.0, (rows - 1) / 2.0])
        return (self.positions - np.asarray(self.center)) / size + middle
