"""Read what the field's pipelines write, and put it on a fixture's grid.

NumPy and h5py only (never torch). :func:`read_reconstruction` reads one
file into a :class:`Reconstruction` (one module per format, behind one
registry); :func:`to_fixture_grid` places it on the fixture's object grid
with the fixture's scan mask; :func:`check_same_data` refuses a
reconstruction made from other data; :func:`read_pair` does all three for a
file and its truth (``ptycho-metrics evaluate`` and ``evaluate_many`` both
read through it).

=================== ===================================================
format              file
=================== ===================================================
``ptycho-metrics``  our ``reconstruction.npz`` (ptycho_metrics.pipeline)
``cdtools``         cdtools ``model.save_to_h5(path, dataset)`` results
``ptychodus-h5``    ptychodus HDF5 product
``ptychodus-npz``   ptychodus NPZ product
``ptyr``            PtyPy ``.ptyr`` (``Ptycho.save_run``)
``ptychopinn``      PtychoPINN ``recon.npz`` (``YY_pred``), pty-chi/Tike NPZ
``plain``           ``.npy``, ``.npz``, complex ``.tif`` + a given pixel size
=================== ===================================================
"""

from __future__ import annotations

from ._provenance import OtherDataError, check_same_data
from ._record import FormatError, ReaderError, Reconstruction
from ._registry import FORMATS, read_reconstruction
from .grid import (
    DEFAULT_PIXEL_TOLERANCE,
    POSITION_TOLERANCE_PX,
    GridPlacement,
    PlacementError,
    to_fixture_grid,
)
from .pair import READ_OPTIONS, PairInput, read_pair

__all__ = [
    "DEFAULT_PIXEL_TOLERANCE",
    "FORMATS",
    "POSITION_TOLERANCE_PX",
    "READ_OPTIONS",
    "FormatError",
    "GridPlacement",
    "OtherDataError",
    "PairInput",
    "PlacementError",
    "ReaderError",
    "Reconstruction",
    "check_same_data",
    "read_pair",
    "read_reconstruction",
    "to_fixture_grid",
]
