"""PtyPy ``.ptyr`` reconstructions (HDF5 written by ``Ptycho.save_run``, kind ``minimal``).

PtyPy is not on the package registry here: this reader follows PtyPy's own
source (github:ptycho/ptypy, read at commit 1681bec, May 2025), and its tests
build files with that layout by hand:

- ``/header/kind`` (``minimal``, ``dls`` or ``dump``; ``fullflat`` is refused).
- ``/content/obj/<ID>/`` one group per object storage (``Storage._to_dict()``):
  ``data`` complex (layers, H, W); ``_psize`` (2,) metres, array order (row,
  col); ``_origin`` (2,) the physical position of index (0, 0), or
  ``_center`` (2,) the index of the physical origin (``origin = -center *
  psize``). The ID is whatever PtyPy named it (``S00G00``, ``Sscan00G00``,
  ...): discovered from the file, never assumed; several need ``key=``.
- ``/content/probe/<ID>/data`` (modes, N, N).
- ``/content/positions/<ID>`` (n, 2) view coordinates, metres, (row, col)
  order (only when the run recorded positions).
- ``/content/pars/scans/<name>/data/energy`` (keV) and ``.../distance`` (m).

Convention (``Storage._update_geometry`` / ``View``): a view at physical
``coord`` has its centre pixel ``dcoord = round((coord - origin) / psize)`` and
covers ``[dcoord - N//2, dcoord + (N+1)//2)``; its geometric centre is thus
``(coord - origin) / psize - N//2 + (N - 1) / 2`` (half a pixel lower for even
N), which the reader converts to the record's centred-pixel convention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._files import as_object_2d, h5_dataset, open_h5, pick_layer
from ._options import ReadOptions
from ._record import ReaderError, Reconstruction
from ._units import merge_pixel_size

NAME = "ptyr"


def sniff_h5(handle: Any) -> bool:
    """PtyPy's layout: a ``content/obj`` group and a ``header``."""
    return "content/obj" in handle and "header" in handle


def _storage_id(handle: Any, path: Path, key: str | None) -> str:
    ids = sorted(handle["content/obj"].keys())
    if not ids:
        msg = f"{path}: group '/content/obj' holds no object storage"
        raise ReaderError(msg)
    if key is None:
        if len(ids) == 1:
            return ids[0]
        msg = (
            f"{path}: '/content/obj' holds {len(ids)} object storages ({', '.join(ids)}); "
            f"choose one with key=<storage ID>"
        )
        raise ReaderError(msg)
    if key not in ids:
        msg = f"{path}: no object storage '/content/obj/{key}'; the file has {', '.join(ids)}"
        raise ReaderError(msg)
    return key


def _scan_parameter(handle: Any, name: str) -> float | None:
    scans = handle.get("content/pars/scans")
    if scans is None:
        return None
    for scan in scans.values():
        item = scan.get(f"data/{name}") if hasattr(scan, "get") else None
        if item is not None and getattr(item, "shape", None) == ():
            try:
                return float(item[()])
            except (TypeError, ValueError):
                return None
    return None


def read(path: Path, options: ReadOptions) -> Reconstruction:
    with open_h5(path) as handle:
        kind = handle.get("header/kind")
        kind_text = None if kind is None else kind[()]
        if isinstance(kind_text, bytes):
            kind_text = kind_text.decode()
        if kind_text == "fullflat":
            msg = (
                f"{path}: '/header/kind' is 'fullflat' (a flattened dump); save with kind='minimal'"
            )
            raise ReaderError(msg)
        sid = _storage_id(handle, path, options.key)
        base = f"content/obj/{sid}"
        raw = h5_dataset(handle, f"{base}/data", what="the complex object (layers, H, W)")
        psize = h5_dataset(handle, f"{base}/_psize", what="the (row, col) pixel size in metres")
        if f"{base}/_origin" in handle:
            origin = h5_dataset(handle, f"{base}/_origin", what="the physical origin in metres")
        elif f"{base}/_center" in handle:
            origin = -h5_dataset(handle, f"{base}/_center", what="the origin's index") * psize
        else:
            origin = None
        probe_ids = sorted(handle["content/probe"].keys()) if "content/probe" in handle else []
        pid = sid if sid in probe_ids else (probe_ids[0] if len(probe_ids) == 1 else None)
        probe = (
            h5_dataset(handle, f"content/probe/{pid}/data", what="the probe (modes, N, N)")
            if pid is not None
            else None
        )
        coords = (
            h5_dataset(handle, f"content/positions/{sid}", what="(n, 2) view coordinates")
            if f"content/positions/{sid}" in handle
            else None
        )
        energy_kev = _scan_parameter(handle, "energy")
        distance = _scan_parameter(handle, "distance")
    where = f"{path}: dataset '/{base}/data'"
    if options.layer is not None:
        msg = (
            f"{where}: PtyPy stores object modes along the first axis; choose with mode=, not "
            "layer="
        )
        raise ReaderError(msg)
    chosen, mode = pick_layer(
        raw, where=where, axis_name="mode", choice=options.mode, option="mode"
    )
    obj = as_object_2d(chosen, where)
    psize = np.broadcast_to(np.asarray(psize, dtype=np.float64).ravel(), (2,))
    pixel = merge_pixel_size((float(psize[1]), float(psize[0])), options.pixel_size, str(path))
    rows, cols = obj.shape
    center = positions = None
    probe2d = None if probe is None else probe.reshape(-1, *probe.shape[-2:])[0]
    if origin is not None:
        origin = np.broadcast_to(np.asarray(origin, dtype=np.float64).ravel(), (2,))
        middle = origin + np.array([(rows - 1) / 2.0, (cols - 1) / 2.0]) * psize
        center = (float(middle[1]), float(middle[0]))
        if coords is not None and probe2d is not None:
            c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
            n = np.array(probe2d.shape, dtype=np.float64)
            geometric = c + (-(n // 2) + (n - 1) / 2.0) * psize
            positions = geometric[:, ::-1].copy()  # (row, col) -> (x, y)
    return Reconstruction(
        object=obj,
        pixel_size=pixel,
        path=path,
        format=NAME,
        center=center,
        probe=probe2d,
        positions=positions,
        metadata={
            "energy_eV": None if energy_kev is None else energy_kev * 1e3,
            "distance_m": distance,
            "storage_id": sid,
            "mode": mode,
            "object_key": f"/{base}/data",
        },
    )
