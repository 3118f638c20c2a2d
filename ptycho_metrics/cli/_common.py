"""Helpers shared by the subcommands: loading a scan or fixture, and a reconstruction."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .._checks import QualityInputError
from ..data import PtychoData, list_fixtures, load_fixture, load_ptycho_npz

__all__ = ["load_recon", "load_scan", "truth_hashes"]


def load_scan(spec: str | None) -> PtychoData:
    """A fixture by name (``default`` when None) or an ``.npz`` file by path."""
    if spec is None:
        return load_fixture("default")
    if not Path(spec).exists() and spec in list_fixtures():
        return load_fixture(spec)
    return load_ptycho_npz(spec)


def load_recon(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``object`` and ``mask`` (if present) of a ``reconstruction.npz``."""
    key = ""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                msg = f"{path}: holds a single array, expected an .npz with keys object, mask"
                raise QualityInputError(msg)
            if "object" not in npz.files:
                msg = f"{path}: key 'object' is missing (keys: {', '.join(npz.files)})"
                raise QualityInputError(msg)
            key = "object"
            obj = npz["object"]
            key = "mask"
            mask = npz["mask"] if "mask" in npz.files else None
    except ValueError as exc:
        where = f" (key '{key}')" if key else ""
        msg = f"{path}: cannot read the reconstruction{where}: {type(exc).__name__}: {exc}"
        raise QualityInputError(msg) from exc
    except (OSError, zipfile.BadZipFile) as exc:
        msg = f"{path}: cannot read the reconstruction ({type(exc).__name__}: {exc})"
        raise QualityInputError(msg) from exc
    return obj, mask


def truth_hashes(scan: PtychoData) -> set[str]:
    """sha256 of every file holding the truth's scan: the file and, for a fixture whose
    manifest entry matches it, the fixture's ``.cxi`` (manifest ``cxi.sha256``)."""
    hashes = {scan.sha256}
    try:
        entries = _manifest_entries(scan.path.parent)
    except QualityInputError:
        return hashes
    entry = entries.get(scan.path.name)
    if not isinstance(entry, dict) or entry.get("sha256") != scan.sha256:
        return hashes  # not a fixture listed in its folder's manifest
    cxi = entry.get("cxi")
    if isinstance(cxi, dict) and "sha256" in cxi:
        hashes.add(str(cxi["sha256"]))
    return hashes


def _manifest_entries(folder: Path) -> dict:
    import json

    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}
