"""CXI files (cxidb format >= 1.6) of a scan, written with h5py and byte-reproducible.

Layout (everything SI, energy in joules):

======================================================  ===========================================
path                                                    content
======================================================  ===========================================
``/cxi_version``                                        160
``/entry_1/title``, ``/entry_1/sample_1/name``          fixture name
``/entry_1/instrument_1/source_1/energy``               photon energy, J (float64)
``/entry_1/instrument_1/source_1/wavelength``           wavelength, m (float64)
``/entry_1/instrument_1/source_1/illumination``         true probe (N, N) complex64, sqrt(counts)
``/entry_1/instrument_1/detector_1/data``               counts (n, N, N) int32, DC at (N/2, N/2)
``/entry_1/instrument_1/detector_1/distance``           sample-detector distance, m
``/entry_1/instrument_1/detector_1/x_pixel_size``       detector pixel pitch, m (also ``y_``)
``/entry_1/instrument_1/detector_1/basis_vectors``      (2, 3) m: rows -> -y, columns -> -x
``/entry_1/instrument_1/detector_1/mask``               (N, N) uint32, 0 = good pixel
``/entry_1/sample_1/geometry_1/translation``            (n, 3) **sample** translation, m
``/entry_1/data_1/data``, ``/entry_1/data_1/translation``  soft links to the two above
``/entry_1/image_1/data``                               soft link to the illumination (probe image)
``/entry_1/image_2/data``                               ground-truth object (M, M) complex64
``/entry_1/image_N/image_size``                         (3,) m: width, height, 0 of the image
``/entry_1/ptychodus/...``                              ptychodus' extension: object centre
                                                        (M/2) dx, pixel sizes, photon count
======================================================  ===========================================

The ground-truth object sits in the CXI image group ptychodus reads a product's
object from (``image_2``, ``data_type`` "ground truth (complex transmission)"),
so ptychodus' own CXI product reader loads probe, positions and truth in one
call; reconstruction codes (cdtools) read only the data and geometry.

Sign convention: with the CXI default detector basis (pattern rows along -y,
columns along -x, seen from the source) a *probe* at object pixel (row ``y``,
column ``x``) is the probe translation ``(-x dx, -y dx, 0)``; the file stores
the sample translation, its negation ``(+x dx, +y dx, 0) = (x_m, y_m, 0)``.
cdtools negates it back and places patch k at row ``y_k``, column ``x_k``
(plus its padding); ptychodus reads ``(x, y)`` from ``/entry_1/data_1/translation``
as its probe position (same sign as our ``x_m``, ``y_m``).

Reproducible bytes: the file is built in memory, with object modification
times switched off for every dataset and group (HDF5 stores them by default),
no compression or chunking, and the same insertion order; equal inputs and
the same libhdf5 give equal bytes (tested).
"""

from __future__ import annotations

import io
from typing import Any

import h5py
import numpy as np

from .._errors import DataError
from ..geometry import Geometry

__all__ = ["CXI_VERSION", "cxi_bytes"]

#: cxidb format version written to ``/cxi_version``.
CXI_VERSION = 160


def _group(parent: h5py.Group, name: str) -> h5py.Group:
    """A group without a modification-time message (h5py's create_group cannot turn it off)."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl)
    return parent[name]


def _dataset(group: h5py.Group, name: str, value: Any) -> h5py.Dataset:
    return group.create_dataset(name, data=value, track_times=False)


def cxi_bytes(
    *,
    name: str,
    counts: np.ndarray,
    probe: np.ndarray,
    obj: np.ndarray,
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    geometry: Geometry,
) -> bytes:
    """The bytes of a CXI file holding one scan.

    Parameters
    ----------
    name : str
        Fixture name, stored as the entry title and sample name.
    counts : ndarray, shape (n, N, N)
        Integer-valued counts, DC at ``(N//2, N//2)``.
    probe : ndarray, shape (N, N)
        Probe in sqrt(counts) units.
    obj : ndarray, shape (M, M)
        Ground-truth object.
    xcoords, ycoords : ndarray, shape (n,)
        Patch centres in object pixels (column, row).
    geometry : Geometry
        Its ``n_pixels`` must equal ``N``.

    Returns
    -------
    bytes

    Raises
    ------
    DataError
        If shapes disagree or the counts are not non-negative integers.
    """
    counts = np.asarray(counts)
    n, rows, cols = counts.shape
    if rows != cols or rows != geometry.n_pixels or np.shape(probe) != (rows, cols):
        msg = (
            f"cxi_bytes: counts {counts.shape}, probe {np.shape(probe)} and geometry "
            f"n_pixels={geometry.n_pixels} must agree on one square pattern size"
        )
        raise DataError(msg)
    if np.shape(xcoords) != (n,) or np.shape(ycoords) != (n,):
        msg = (
            f"cxi_bytes: xcoords and ycoords must have shape ({n},), "
            f"got {np.shape(xcoords)} and {np.shape(ycoords)}"
        )
        raise DataError(msg)
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        msg = "cxi_bytes: counts must be non-negative integers"
        raise DataError(msg)
    x_m, y_m = geometry.positions_m(xcoords, ycoords)
    translation = np.stack([x_m, y_m, np.zeros(n)], axis=1)
    pixel = geometry.det_pixel_m
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver="earliest", track_order=False) as f:
        _dataset(f, "cxi_version", np.int64(CXI_VERSION))
        entry = _group(f, "entry_1")
        _dataset(entry, "title", np.bytes_(f"ptycho-metrics fixture {name}"))
        instrument = _group(entry, "instrument_1")
        source = _group(instrument, "source_1")
        _dataset(source, "energy", np.float64(geometry.energy_J))
        _dataset(source, "wavelength", np.float64(geometry.wavelength_m))
        _dataset(source, "illumination", np.asarray(probe).astype(np.complex64))
        detector = _group(instrument, "detector_1")
        data = _dataset(detector, "data", counts.astype(np.int32))
        data.attrs["axes"] = np.bytes_("translation:y:x")
        _dataset(detector, "distance", np.float64(geometry.distance_m))
        _dataset(detector, "x_pixel_size", np.float64(pixel))
        _dataset(detector, "y_pixel_size", np.float64(pixel))
        _dataset(detector, "basis_vectors", np.array([[0.0, -pixel, 0.0], [-pixel, 0.0, 0.0]]))
        _dataset(detector, "mask", np.zeros((rows, cols), dtype=np.uint32))
        sample = _group(entry, "sample_1")
        _dataset(sample, "name", np.bytes_(name))
        sample_geometry = _group(sample, "geometry_1")
        _dataset(sample_geometry, "translation", translation)
        data_1 = _group(entry, "data_1")
        data_1["data"] = h5py.SoftLink("/entry_1/instrument_1/detector_1/data")
        data_1["translation"] = h5py.SoftLink("/entry_1/sample_1/geometry_1/translation")
        dx = geometry.pixel_size_m
        probe_image = _group(entry, "image_1")
        probe_image["data"] = h5py.SoftLink("/entry_1/instrument_1/source_1/illumination")
        _dataset(probe_image, "data_type", np.bytes_("probe (complex illumination)"))
        _dataset(probe_image, "data_space", np.bytes_("real"))
        _dataset(probe_image, "image_size", np.array([dx * cols, dx * rows, 0.0]))
        object_image = _group(entry, "image_2")
        truth = np.asarray(obj).astype(np.complex64)
        _dataset(object_image, "data", truth)
        _dataset(object_image, "data_type", np.bytes_("ground truth (complex transmission)"))
        _dataset(object_image, "data_space", np.bytes_("real"))
        size = np.array([dx * truth.shape[1], dx * truth.shape[0], 0.0])
        _dataset(object_image, "image_size", size)
        # ptychodus' extension: pixel sizes and the object centre. ptychodus cuts a probe
        # window with the array centre at (N-1)/2 and puts the world centre of an M-pixel
        # object at pixel (M-1)/2; a centre at (M/2) dx makes its window for position
        # (x_m, y_m) cover exactly our patch obj[y-N/2 : y+N/2, x-N/2 : x+N/2].
        extension = _group(entry, "ptychodus")
        _dataset(extension, "object_center_x_m", np.float64(dx * truth.shape[1] / 2))
        _dataset(extension, "object_center_y_m", np.float64(dx * truth.shape[0] / 2))
        for what in ("object", "probe"):
            _dataset(extension, f"{what}_pixel_width_m", np.float64(dx))
            _dataset(extension, f"{what}_pixel_height_m", np.float64(dx))
        _dataset(extension, "probe_photon_count", np.float64(geometry.dose))
    return buffer.getvalue()
