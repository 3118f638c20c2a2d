"""ptychodus data products: HDF5 (``plugins/h5_product_file.py``) and NPZ (``npz_product_file.py``).

Names checked against the installed ptychodus 1.7.0 (``api/io.py``
``ProductFileKeys``, ``NPZProductFileIO``):

=========================== ============================== =====================================
what                        HDF5                           NPZ
=========================== ============================== =====================================
object (L, H, W) complex    ``object``                     ``object``
object pixel size (m)       ``object`` attrs               ``object_pixel_width_m``,
                            ``pixel_width_m``,             ``object_pixel_height_m``
                            ``pixel_height_m``
object centre (m)           ``object`` attrs               ``object_center_x_m``,
                            ``center_x_m``, ``center_y_m`` ``object_center_y_m``
probe positions (m)         ``probe_position_x_m``,        same keys
                            ``probe_position_y_m``
probe [C, I, H, W]          ``probe``                      ``probe``
photon energy (eV)          root attr ``photon_energy_eV`` ``photon_energy_eV``
                            (older: ``probe_energy_eV``)
detector distance (m)       root attr                      ``detector_object_distance_m``
                            ``detector_object_distance_m``
=========================== ============================== =====================================

Convention (``ObjectGeometry.map_coordinates_probe_to_object`` and
``interpolate._calculate_support_frac``): the object centre is at pixel
``(W - 1) / 2``, a probe position at the window's ``(N - 1) / 2``: the
record's own convention, so values are taken as they are (pinned by a test
against the installed ptychodus).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._files import as_object_2d, h5_attr, h5_dataset, npz_arrays, open_h5, pick_layer
from ._options import ReadOptions
from ._record import ReaderError, Reconstruction
from ._units import merge_pixel_size

NAME_H5 = "ptychodus-h5"
NAME_NPZ = "ptychodus-npz"

_ENERGY_KEYS = ("photon_energy_eV", "probe_energy_eV")


def sniff_h5(handle: Any) -> bool:
    """A product: a root attribute ``detector_object_distance_m`` and an ``object`` dataset."""
    return "detector_object_distance_m" in handle.attrs and "object" in handle


def sniff_npz(keys: set[str]) -> bool:
    """A product: ``object`` with ``object_center_x_m`` beside it."""
    return {"object", "object_center_x_m"} <= keys


def _record(
    path: Path,
    options: ReadOptions,
    *,
    name: str,
    where: str,
    raw: np.ndarray,
    pixel: tuple[float, float],
    center: tuple[float, float],
    xs: np.ndarray,
    ys: np.ndarray,
    probe: np.ndarray | None,
    energy: float | None,
    distance: float | None,
) -> Reconstruction:
    if options.mode is not None or options.key is not None:
        msg = (
            f"{where}: a ptychodus product's object has layers (layer=), not modes; mode= and "
            "key= do not apply"
        )
        raise ReaderError(msg)
    chosen, layer = pick_layer(
        raw, where=where, axis_name="layer", choice=options.layer, option="layer"
    )
    obj = as_object_2d(chosen, where)
    if xs.shape != ys.shape or xs.ndim != 1:
        msg = (
            f"{path}: probe_position_x_m and probe_position_y_m must be 1-D of equal length, "
            f"got {xs.shape} and {ys.shape}"
        )
        raise ReaderError(msg)
    probe2d = None if probe is None or probe.ndim < 2 else probe.reshape(-1, *probe.shape[-2:])[0]
    return Reconstruction(
        object=obj,
        pixel_size=merge_pixel_size(pixel, options.pixel_size, str(path)),
        path=path,
        format=name,
        center=center,
        probe=probe2d,
        positions=np.stack([xs, ys], axis=1).astype(np.float64),
        metadata={  # a product records no ptychodus version, wavelength or data hash
            "energy_eV": energy,
            "distance_m": distance,
            "layer": layer,
            "object_key": "object",
        },
    )


def read_h5(path: Path, options: ReadOptions) -> Reconstruction:
    with open_h5(path) as handle:
        raw = h5_dataset(handle, "object", what="the complex object [layers, H, W]")
        node = handle["object"]
        pixel = tuple(
            float(h5_attr(node, k, what="the object pixel size in metres"))
            for k in ("pixel_width_m", "pixel_height_m")
        )
        center = tuple(
            float(h5_attr(node, k, what="the object centre in metres"))
            for k in ("center_x_m", "center_y_m")
        )
        xs = h5_dataset(handle, "probe_position_x_m", what="probe x positions in metres")
        ys = h5_dataset(handle, "probe_position_y_m", what="probe y positions in metres")
        probe = h5_dataset(handle, "probe", what="the probe") if "probe" in handle else None
        energy = next((float(handle.attrs[k]) for k in _ENERGY_KEYS if k in handle.attrs), None)
        distance = h5_attr(handle, "detector_object_distance_m", what="", required=False)
    return _record(
        path,
        options,
        name=NAME_H5,
        where=f"{path}: dataset 'object'",
        raw=raw,
        pixel=(pixel[0], pixel[1]),
        center=(center[0], center[1]),
        xs=xs,
        ys=ys,
        probe=probe,
        energy=energy,
        distance=None if distance is None else float(distance),
    )


def read_npz(path: Path, options: ReadOptions) -> Reconstruction:
    arrays = npz_arrays(path)
    needed = (
        "object",
        "object_pixel_width_m",
        "object_pixel_height_m",
        "object_center_x_m",
        "object_center_y_m",
        "probe_position_x_m",
        "probe_position_y_m",
    )
    missing = [k for k in needed if k not in arrays]
    if missing:
        msg = (
            f"{path}: key(s) {', '.join(missing)} missing from the ptychodus NPZ product (keys: "
            f"{', '.join(sorted(arrays))})"
        )
        raise ReaderError(msg)
    energy = next((float(arrays[k]) for k in _ENERGY_KEYS if k in arrays), None)
    distance = arrays.get("detector_object_distance_m")
    return _record(
        path,
        options,
        name=NAME_NPZ,
        where=f"{path}: key 'object'",
        raw=arrays["object"],
        pixel=(float(arrays["object_pixel_width_m"]), float(arrays["object_pixel_height_m"])),
        center=(float(arrays["object_center_x_m"]), float(arrays["object_center_y_m"])),
        xs=np.asarray(arrays["probe_position_x_m"], dtype=np.float64),
        ys=np.asarray(arrays["probe_position_y_m"], dtype=np.float64),
        probe=arrays.get("probe"),
        energy=energy,
        distance=None if distance is None else float(distance),
    )
