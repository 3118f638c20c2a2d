"""PtychoPINN reconstruction outputs (repository hoidn/PtychoPINN, read at commit 712c23f).

PtychoPINN is not on the package registry here: the layout comes from its
source, and the tests build files with it by hand.

- ``recon.npz`` from ``ptycho/workflows/grid_lines_workflow.py``
  (``save_recon_artifact``): ``YY_pred`` the stitched complex object (squeezed
  to 2-D, complex64), ``amp``, ``phase``; ``scripts/studies/grid_lines_torch_runner.py``
  may add ``YY_pred_scaled`` (the same field rescaled): with both present,
  ``key=`` must choose.
- ``ptychi_reconstruction.npz`` / Tike NPZ read by ``scripts/compare_models.py``:
  ``reconstructed_object``, ``reconstructed_probe``, ``algorithm``.

PtychoPINN works on the input npz's own object pixels (positions
``xcoords``/``ycoords`` in pixels) and records neither a pixel size nor
positions: the object is placed on the fixture by registration. Its
``ptycho_torch`` inference CLI writes only PNGs, which carry no complex object.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import as_object_2d, npz_arrays, pick_layer
from ._options import ReadOptions
from ._record import ReaderError, Reconstruction

NAME = "ptychopinn"

_OBJECT_KEYS = ("YY_pred", "YY_pred_scaled", "reconstructed_object")


def sniff_npz(keys: set[str]) -> bool:
    """One of PtychoPINN's object keys, and not a data-contract file (no ``diffraction``)."""
    return bool(keys & set(_OBJECT_KEYS)) and not keys & {"diffraction", "diff3d"}


def read(path: Path, options: ReadOptions) -> Reconstruction:
    arrays = npz_arrays(path)
    present = [k for k in _OBJECT_KEYS if k in arrays]
    if options.key is not None:
        if options.key not in present:
            msg = (
                f"{path}: key '{options.key}' is not a PtychoPINN object key here; found "
                f"{', '.join(present) or 'none'}"
            )
            raise ReaderError(msg)
        key = options.key
    elif len(present) == 1:
        key = present[0]
    else:
        msg = (
            f"{path}: holds {', '.join(present)}; choose the object with key= (never picked "
            "silently)"
        )
        raise ReaderError(msg)
    raw = np.squeeze(arrays[key])
    where = f"{path}: key '{key}'"
    chosen, mode = pick_layer(
        raw, where=where, axis_name="mode", choice=options.mode, option="mode"
    )
    if options.layer is not None:
        msg = f"{where}: PtychoPINN objects have no layers; layer= does not apply"
        raise ReaderError(msg)
    probe = arrays.get("reconstructed_probe")
    algorithm = arrays.get("algorithm")
    return Reconstruction(
        object=as_object_2d(chosen, where),
        pixel_size=options.pixel_size,
        path=path,
        format=NAME,
        probe=None if probe is None or probe.ndim < 2 else probe.reshape(-1, *probe.shape[-2:])[0],
        metadata={
            "object_key": key,
            "mode": mode,
            "algorithm": None if algorithm is None else str(algorithm),
            "grid": "input",  # the input npz's object pixels (positions in pixels)
        },
    )
