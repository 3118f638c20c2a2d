"""Export an embedded fixture as CXI or PtychoPINN npz, and describe the fixtures.

Both are what the ``ptycho-metrics fixtures`` subcommand calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

from .._errors import DataError, FixtureIntegrityError
from ..data import fixture_manifest_entry, list_fixtures, load_fixture, sha256_file
from ._atomic import write_bytes_atomic
from .npz import npz_bytes, ptychopinn_arrays

__all__ = ["PTYCHOPINN_PATCH_SIZES", "ExportFormat", "describe_fixtures", "export_fixture"]

ExportFormat = Literal["cxi", "npz"]
#: Patch sizes PtychoPINN's encoder supports (its ``N: Literal[64, 128, 256]``).
PTYCHOPINN_PATCH_SIZES = (64, 128, 256)


def fixture_bytes(name: str, fmt: ExportFormat) -> bytes:
    """The bytes of fixture ``name`` in format ``fmt`` (see :func:`export_fixture`)."""
    if fmt not in get_args(ExportFormat):
        valid = ", ".join(repr(f) for f in get_args(ExportFormat))
        msg = f"format must be one of {valid}, got {fmt!r}"
        raise DataError(msg)
    data = load_fixture(name)  # checks the npz's sha256
    entry = fixture_manifest_entry(name)
    if fmt == "cxi":
        cxi = data.path.parent / entry["cxi"]["file"]
        if not cxi.is_file():
            msg = f"{cxi}: the CXI file is missing; regenerate it with tools/make_fixtures.py"
            raise DataError(msg)
        actual = sha256_file(cxi)
        if actual != entry["cxi"]["sha256"]:
            msg = (
                f"{cxi}: sha256 {actual} does not match the manifest's {entry['cxi']['sha256']}; "
                "restore it from version control or regenerate it with tools/make_fixtures.py"
            )
            raise FixtureIntegrityError(msg)
        return cxi.read_bytes()
    if entry.get("layout") == "ptychopinn":
        return data.path.read_bytes()
    if data.counts is None or data.geometry is None:
        msg = f"{data.path}: has no counts or geometry; cannot build the PtychoPINN layout"
        raise DataError(msg)
    arrays = ptychopinn_arrays(
        counts=data.counts,
        probe=data.probe,
        obj=data.obj,
        xcoords=data.xcoords,
        ycoords=data.ycoords,
        geometry=data.geometry,
        extra_metadata={"fixture": name, "fixture_sha256": data.sha256},
    )
    return npz_bytes(arrays)


def export_fixture(
    name: str,
    *,
    format: ExportFormat,
    output: str | os.PathLike[str],
    overwrite: bool = False,
) -> Path:
    """Write fixture ``name`` to ``output`` as CXI or PtychoPINN npz.

    Parameters
    ----------
    name : str
        A fixture from :func:`ptycho_metrics.data.list_fixtures`.
    format : {"cxi", "npz"}
        ``"cxi"``: the shipped, hashed CXI file (cxidb 1.6; counts, sample
        translations in metres, energy in J, probe, mask, ground truth).
        ``"npz"``: PtychoPINN's layout (normalised ``diffraction`` and
        ``diff3d``, ``Y``, ``xcoords_start`` ...; see
        :mod:`ptycho_metrics.fixtures_export.npz`); for ``pinn64`` the shipped file.
    output : path-like
        The file to write; its folder must exist.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    DataError
        Unknown fixture (the message lists the known ones), bad format, an
        existing output without ``overwrite``, a missing folder, or a fixture
        file whose hash differs from the manifest.

    Notes
    -----
    The file is written to a temporary file in the output folder and moved
    into place with ``os.replace``, so an interrupted export leaves no partial file.
    """
    target = Path(output)
    if target.exists() and not overwrite:
        msg = f"{target}: already exists; pass --overwrite (overwrite=True) to replace it"
        raise DataError(msg)
    return write_bytes_atomic(target, fixture_bytes(name, format), overwrite=overwrite)


def describe_fixtures() -> list[dict[str, Any]]:
    """One record per fixture: geometry, dose, scan, sizes, layout and intended pipelines."""
    out = []
    for name in list_fixtures():
        entry = fixture_manifest_entry(name)
        params = entry["parameters"]
        arrays = entry["arrays"]
        n_patterns, n, _ = arrays["diffraction"]["shape"]
        out.append(
            {
                "name": name,
                "description": entry.get("description", ""),
                "n_patterns": n_patterns,
                "pattern_px": n,
                "object_px": arrays["objectGuess"]["shape"],
                "scan": params["scan"]["kind"],
                "scan_step_px": params["scan"]["step_px"],
                "dose": params["dose"],
                "mean_counts_per_pattern": entry["stats"]["mean_counts_per_pattern"],
                "geometry": entry.get("geometry"),
                "layout": entry.get("layout", "ptycho_metrics"),
                "probe_initial": "probe_initial" in arrays,
                "pipelines": entry.get("pipelines", []),
                "ptychopinn_ready": n in PTYCHOPINN_PATCH_SIZES,
                "npz_bytes": entry["size_bytes"],
                "cxi_bytes": entry.get("cxi", {}).get("size_bytes"),
            }
        )
    return out
