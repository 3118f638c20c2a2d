"""A reconstruction file and its ground truth, ready for ``evaluate()``: :func:`read_pair`.

The one way a file is compared with a truth, shared by ``ptycho-metrics
evaluate`` (one pair) and :func:`ptycho_metrics.evaluate_many` (many pairs,
in any process): :func:`read_reconstruction` reads the file in any supported
format, the truth is a fixture name or a scan file, :func:`check_same_data`
refuses a reconstruction that records other data's sha256, and
:func:`to_fixture_grid` puts the object on the truth's grid with the truth's
scan mask. Nothing here measures: the caller passes :attr:`PairInput.object`,
``truth.obj`` and :attr:`PairInput.mask` to :func:`ptycho_metrics.evaluate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._provenance import check_same_data, truth_hashes
from ._record import Reconstruction
from ._registry import Format, read_reconstruction
from .grid import DEFAULT_PIXEL_TOLERANCE, GridPlacement, to_fixture_grid

if TYPE_CHECKING:
    import numpy as np

    from ..data import PtychoData

__all__ = ["READ_OPTIONS", "PairInput", "read_pair"]

#: The keyword options of :func:`read_pair` (what a manifest may set per pair).
READ_OPTIONS: tuple[str, ...] = (
    "format",
    "layer",
    "mode",
    "key",
    "pixel_size",
    "resample",
    "pixel_tolerance",
    "allow_other_data",
)


@dataclass(frozen=True)
class PairInput:
    """What :func:`read_pair` read and how it placed it.

    Attributes
    ----------
    recon : Reconstruction
        The file as read.
    truth : PtychoData
        The ground truth's scan data (fixture or file).
    placement : GridPlacement
        The object on the truth's grid and the truth's scan mask.
    notes : tuple of str
        The data-hash note (if any) and the placement's notes.
    """

    recon: Reconstruction
    truth: PtychoData
    placement: GridPlacement
    notes: tuple[str, ...]

    @property
    def object(self) -> np.ndarray:
        """The reconstruction on the truth's grid (complex128, the truth's shape)."""
        return self.placement.object

    @property
    def mask(self) -> np.ndarray:
        """The truth's scan mask, less pixels the reconstruction does not cover."""
        return self.placement.mask

    def as_dict(self) -> dict[str, Any]:
        """Reconstruction, truth, placement and notes (no arrays), as ``evaluate`` writes them."""
        recon = self.recon
        return {
            "reconstruction": {
                "path": str(recon.path),
                "format": recon.format,
                "shape": list(recon.shape),
                "pixel_size_m": None if recon.pixel_size is None else list(recon.pixel_size),
                "metadata": recon.metadata,
            },
            "truth": {"path": str(self.truth.path), "sha256": self.truth.sha256},
            "placement": self.placement.as_dict(),
            "input_notes": list(self.notes),
        }


def read_pair(
    recon: str | os.PathLike[str],
    truth: str | os.PathLike[str] | PtychoData,
    *,
    format: Format = "auto",
    layer: int | None = None,
    mode: int | None = None,
    key: str | None = None,
    pixel_size: float | tuple[float, float] | None = None,
    resample: bool = False,
    pixel_tolerance: float = DEFAULT_PIXEL_TOLERANCE,
    allow_other_data: bool = False,
) -> PairInput:
    """Read a reconstruction file and its truth, check they belong together, and place it.

    Parameters
    ----------
    recon : path
        A reconstruction in any format :func:`read_reconstruction` reads.
    truth : str, path or PtychoData
        A fixture name (``"default"``), a scan ``.npz`` file, or loaded data.
    format, layer, mode, key, pixel_size
        As for :func:`read_reconstruction`.
    resample, pixel_tolerance
        As for :func:`to_fixture_grid`.
    allow_other_data : bool
        Compare even when the file records the sha256 of other data (a note then
        says so) instead of raising :class:`OtherDataError`.

    Returns
    -------
    PairInput
        ``evaluate(p.object, p.truth.obj, mask=p.mask)`` measures it.

    Raises
    ------
    ReaderError
        From the reader (:class:`FormatError` for an unknown or wrong format),
        :class:`OtherDataError`, or :class:`PlacementError`: one line naming the file.
    DataError
        The truth is an unknown fixture or an unreadable scan file.
    """
    from ..data import PtychoData, load_scan

    reconstruction = read_reconstruction(
        recon, format=format, layer=layer, mode=mode, pixel_size=pixel_size, key=key
    )
    data = truth if isinstance(truth, PtychoData) else load_scan(truth)
    data_note = check_same_data(
        reconstruction, truth_hashes(data), allow_other_data=allow_other_data
    )
    placement = to_fixture_grid(
        reconstruction, data, resample=resample, pixel_tolerance=pixel_tolerance
    )
    notes = (*([data_note] if data_note else []), *placement.notes)
    return PairInput(reconstruction, data, placement, notes)
