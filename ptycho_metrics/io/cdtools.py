"""cdtools results files: ``model.save_to_h5(path, dataset)`` (cdtools-py 0.3.2).

Datasets read (names checked against the installed cdtools-py 0.3.2,
``CDIModel.save_results`` and ``FancyPtycho.save_results``):

============================== ==============================================
``obj``                        complex object (H, W); (L, H, W) for layered models
``obj_basis``                  (3, 2) real-space basis, metres: column 0 is the
                               step of the row index i, column 1 of the column j
``translations``               (n, 3) probe translations (with any refined
                               offsets), metres
``state_dict/min_translation`` (2,) (i, j) pixel offset of the object array
``state_dict/surface_normal``  (3,) sample normal (default +z)
``probe``                      (modes, N, N) probe, times ``probe_norm``
``wavelength``                 metres (float32)
``state_dict/det_distance``    sample-detector distance, metres
``cdtools_version``            writer version
============================== ==============================================

Window geometry (``FancyPtycho.interaction`` and ``ptycho_2D_sinc``): the probe
window of shot k starts at the fractional object index
``pix_k = T @ translations_k - min_translation`` (``T`` the pseudo-inverse of
``obj_basis`` after projecting along the surface normal, cdtools'
``translations_to_pixel``), so its geometric centre is ``pix_k + (N - 1) / 2``.
cdtools records no physical origin: the record's frame has its origin at the
object's index (0, 0) and x along columns, ``x = col * width``, ``y = row *
height``; the sign of ``obj_basis`` (the CXI default basis points i -> -y) is
absorbed there. Pixel size: the lengths of the basis columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._files import as_object_2d, h5_dataset, open_h5, pick_layer
from ._options import ReadOptions
from ._record import ReaderError, Reconstruction
from ._units import energy_ev_from_wavelength, merge_pixel_size

NAME = "cdtools"


def sniff_h5(handle: Any) -> bool:
    """cdtools' result layout: ``obj`` and ``obj_basis`` at the root."""
    return "obj" in handle and "obj_basis" in handle


def _text(handle: Any, name: str) -> str | None:
    if name not in handle:
        return None
    value = handle[name][()]
    return value.decode() if isinstance(value, bytes) else str(value)


def window_starts(
    basis: np.ndarray, translations: np.ndarray, min_translation: np.ndarray, normal: np.ndarray
) -> np.ndarray:
    """Fractional (i, j) object index of each probe window's first pixel (cdtools' rule)."""
    projection_1 = np.diag([1.0, 1.0, 0.0])
    projection_2 = projection_1.copy()
    projection_2[2] = -normal / normal[2]
    projection = np.linalg.pinv(basis) @ np.linalg.inv(projection_2) @ projection_1
    return translations @ projection.T - min_translation


def read(path: Path, options: ReadOptions) -> Reconstruction:
    where = str(path)
    with open_h5(path) as handle:
        raw = h5_dataset(handle, "obj", what="the complex object")
        basis = h5_dataset(handle, "obj_basis", what="the (3, 2) object basis in metres")
        if basis.shape != (3, 2):
            msg = f"{path}: dataset 'obj_basis' must have shape (3, 2), got {basis.shape}"
            raise ReaderError(msg)
        translations = (
            h5_dataset(handle, "translations", what="(n, 3) probe translations in metres")
            if "translations" in handle
            else None
        )
        probe = h5_dataset(handle, "probe", what="the probe") if "probe" in handle else None
        min_translation = (
            h5_dataset(handle, "state_dict/min_translation", what="the (2,) pixel offset")
            if "state_dict/min_translation" in handle
            else None
        )
        normal = (
            h5_dataset(handle, "state_dict/surface_normal", what="the (3,) surface normal")
            if "state_dict/surface_normal" in handle
            else np.array([0.0, 0.0, 1.0])
        )
        wavelength = (
            float(h5_dataset(handle, "wavelength", what="the wavelength in metres"))
            if "wavelength" in handle
            else None
        )
        distance = (
            float(h5_dataset(handle, "state_dict/det_distance", what="the detector distance (m)"))
            if "state_dict/det_distance" in handle
            else None
        )
        version = _text(handle, "cdtools_version")
        model_class = _text(handle, "model_class")
    chosen, layer = pick_layer(
        raw,
        where=f"{where}: dataset 'obj'",
        axis_name="layer",
        choice=options.layer,
        option="layer",
    )
    if options.mode is not None or options.key is not None:
        msg = f"{path}: a cdtools results file holds one object; mode= and key= do not apply"
        raise ReaderError(msg)
    obj = as_object_2d(chosen, f"{path}: dataset 'obj'")
    basis = basis.astype(np.float64)
    height, width = (float(np.linalg.norm(basis[:, k])) for k in (0, 1))
    pixel_size = merge_pixel_size((width, height), options.pixel_size, where)
    probe2d = None
    positions = None
    center = None
    if probe is not None:
        probe2d = probe if probe.ndim == 2 else probe.reshape(-1, *probe.shape[-2:])[0]
    if translations is not None and min_translation is not None and probe2d is not None:
        starts = window_starts(
            basis,
            translations.astype(np.float64).reshape(-1, 3),
            min_translation.astype(np.float64),
            normal.astype(np.float64),
        )
        n_i, n_j = probe2d.shape
        centres_ij = starts + np.array([(n_i - 1) / 2.0, (n_j - 1) / 2.0])
        positions = np.stack([centres_ij[:, 1] * width, centres_ij[:, 0] * height], axis=1)
        rows, cols = obj.shape
        center = ((cols - 1) / 2.0 * width, (rows - 1) / 2.0 * height)
    return Reconstruction(
        object=obj,
        pixel_size=pixel_size,
        path=path,
        format=NAME,
        center=center,
        probe=probe2d,
        positions=positions,
        metadata={
            "writer_version": version,
            "energy_eV": None if wavelength is None else energy_ev_from_wavelength(wavelength),
            "distance_m": distance,
            "wavelength_m": wavelength,
            "model_class": model_class,
            "layer": layer,
            "object_key": "obj",
        },
    )
