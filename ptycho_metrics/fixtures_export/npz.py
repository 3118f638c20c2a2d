"""``.npz`` files with reproducible bytes, and PtychoPINN's data layout.

:func:`npz_bytes` writes an uncompressed zip with a fixed entry timestamp, so
equal arrays give equal bytes (``numpy.savez`` stamps the current time).

:func:`ptychopinn_arrays` lays a scan out as PtychoPINN's canonical dataset
(``docs/data_contracts.md`` and ``ptycho/raw_data.py`` / ``ptycho/loader.py``
/ ``ptycho/workflows/components.py`` in hoidn/PtychoPINN):

- ``diffraction`` (n, N, N) float32 *normalised* amplitude, and the same array
  under the legacy key ``diff3d`` that its CLI and TF paths read;
- ``probeGuess`` (N, N) complex64 in the same normalised units, ``objectGuess``,
  ``Y`` (n, N, N) complex64 ground-truth object patches (supervised mode);
- ``xcoords``/``ycoords`` and ``xcoords_start``/``ycoords_start`` float64 pixels,
  ``scan_index`` int64;
- ``_metadata``: JSON string as PtychoPINN's ``MetadataManager`` reads it
  (``physics_parameters.nphotons`` = mean counts per pattern, ``N``).

Normalisation: ``diffraction = sqrt(counts) * s`` with ``s = 1 / sqrt(max
counts)``, so the brightest pixel of the stack is 1.0 (the contract asks for
normalised amplitudes, "typically max < 1", and its check asserts max < 10;
PtychoPINN's loaders then apply their own dataset scale). The probe is scaled
by the same ``s``, so ``|fft2(probeGuess * patch, norm="ortho")|**2`` predicts
``diffraction**2``. ``s`` is stored as ``diffraction_scale``, ``counts`` keeps
the raw integers, and ``_metadata`` records ``nphotons``, the mean total counts
per pattern (PtychoPINN's dose parameter).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import DataError
from ..forward import extract_patches
from ..geometry import Geometry

__all__ = ["PTYCHOPINN_KEYS", "npz_bytes", "ptychopinn_arrays", "ptychopinn_scale"]

#: Fixed zip entry timestamp: the earliest date the zip format can store.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

#: Keys of the PtychoPINN layout, in file order.
PTYCHOPINN_KEYS = (
    "diffraction",
    "diff3d",
    "probeGuess",
    "objectGuess",
    "Y",
    "xcoords",
    "ycoords",
    "xcoords_start",
    "ycoords_start",
    "scan_index",
    "counts",
    "diffraction_scale",
    "energy_eV",
    "energy_J",
    "wavelength_m",
    "distance_m",
    "det_pixel_m",
    "pixel_size_m",
    "dose",
    "xcoords_m",
    "ycoords_m",
    "_metadata",
)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` of ``arrays`` (in their order) whose bytes depend only on them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # defaults to 0 on Windows; fixed so bytes match everywhere
            info.external_attr = 0o644 << 16
            entry = io.BytesIO()
            # asarray(order="C"): ascontiguousarray would turn 0-d scalars into shape (1,).
            np.lib.format.write_array(entry, np.asarray(value, order="C"), allow_pickle=False)
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def ptychopinn_scale(counts: np.ndarray) -> float:
    """``s = 1 / sqrt(max counts)``: the brightest normalised amplitude becomes 1.0."""
    peak = float(np.max(counts))
    if peak <= 0:
        msg = "ptychopinn_scale: counts are all zero; there is nothing to normalise"
        raise DataError(msg)
    return float(1.0 / np.sqrt(peak))


def ptychopinn_arrays(
    *,
    counts: np.ndarray,
    probe: np.ndarray,
    obj: np.ndarray,
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    geometry: Geometry,
    extra_metadata: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays of the PtychoPINN layout, in :data:`PTYCHOPINN_KEYS` order.

    Parameters
    ----------
    counts : ndarray, shape (n, N, N)
        Integer-valued counts.
    probe : ndarray, shape (N, N)
        Probe in sqrt(counts) units (``sum |probe|^2`` = dose).
    obj : ndarray, shape (M, M)
        Ground-truth object.
    xcoords, ycoords : ndarray, shape (n,)
        Integer-valued patch centres (object pixels).
    geometry : Geometry
    extra_metadata : mapping, optional
        Added to the ``_metadata`` JSON under ``ptycho_metrics``.

    Returns
    -------
    dict of str to ndarray
    """
    scale = ptychopinn_scale(counts)
    amplitude = (np.sqrt(counts.astype(np.float64)) * scale).astype(np.float32)
    xs = np.asarray(xcoords, np.float64)
    ys = np.asarray(ycoords, np.float64)
    x_m, y_m = geometry.positions_m(xs, ys)
    obj64 = np.asarray(obj).astype(np.complex64)
    nphotons = float(np.mean(np.sum(counts.astype(np.float64), axis=(1, 2))))
    metadata = {
        "schema_version": "1.0.0",
        "physics_parameters": {"nphotons": nphotons, "N": int(counts.shape[-1]), "gridsize": 1},
        "ptycho_metrics": {
            "diffraction": "sqrt(counts) * diffraction_scale (normalised amplitude)",
            "diffraction_scale": scale,
            "geometry": geometry.to_dict(),
            **dict(extra_metadata or {}),
        },
    }
    arrays: dict[str, np.ndarray] = {
        "diffraction": amplitude,
        "diff3d": amplitude,
        "probeGuess": (np.asarray(probe).astype(np.complex128) * scale).astype(np.complex64),
        "objectGuess": obj64,
        "Y": extract_patches(obj64, xs, ys, counts.shape[-1]),
        "xcoords": xs,
        "ycoords": ys,
        "xcoords_start": xs.copy(),
        "ycoords_start": ys.copy(),
        "scan_index": np.zeros(xs.size, dtype=np.int64),
        "counts": np.asarray(counts).astype(np.int32),
        "diffraction_scale": np.asarray(scale, dtype=np.float64),
        **geometry.npz_arrays(),
        "xcoords_m": x_m,
        "ycoords_m": y_m,
        "_metadata": np.asarray(json.dumps(metadata, sort_keys=True)),
    }
    return {key: arrays[key] for key in PTYCHOPINN_KEYS}
