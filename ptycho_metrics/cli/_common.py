"""Helpers shared by the subcommands: loading a scan or fixture, and a reconstruction.

``load_scan`` (:mod:`ptycho_metrics.data`) and ``truth_hashes``
(:mod:`ptycho_metrics.io`) live beside what they read and are re-exported here.
"""

from __future__ import annotations

import zipfile

import numpy as np

from .._checks import QualityInputError
from ..data import load_scan
from ..io._provenance import truth_hashes

__all__ = ["load_recon", "load_scan", "truth_hashes"]


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
