"""Our own ``reconstruction.npz``, written by :mod:`ptycho_metrics.pipeline.infer`.

Keys: ``object`` (H, W) complex64 on the scan data's object grid, ``amplitude``,
``phase``, ``mask`` and ``metadata`` (a JSON string: ``data.sha256`` is the
sha256 of the scan file reconstructed, ``versions.ptycho_metrics`` the writer).
The object is on the input's own pixel grid (same shape as its
``objectGuess``), so no pixel size is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._files import as_object_2d, npz_arrays
from ._options import ReadOptions
from ._record import ReaderError, Reconstruction

NAME = "ptycho-metrics"


def sniff_npz(keys: set[str]) -> bool:
    """An npz with ``object`` and the pipeline's JSON ``metadata``."""
    return {"object", "metadata"} <= keys


def read(path: Path, options: ReadOptions) -> Reconstruction:
    arrays = npz_arrays(path)
    if "object" not in arrays:
        msg = (
            f"{path}: key 'object' is missing (expected the complex object); keys: "
            f"{', '.join(sorted(arrays))}"
        )
        raise ReaderError(msg)
    if options.layer is not None or options.mode is not None or options.key is not None:
        msg = (
            f"{path}: a reconstruction.npz holds one 2-D object; layer=, mode= and key= do not "
            "apply"
        )
        raise ReaderError(msg)
    info: dict = {}
    if "metadata" in arrays:
        try:
            info = json.loads(str(arrays["metadata"]))
        except json.JSONDecodeError as exc:
            msg = f"{path}: key 'metadata' is not the JSON the pipeline writes ({exc})"
            raise ReaderError(msg) from None
    data = info.get("data") or {}
    versions = info.get("versions") or {}
    obj = as_object_2d(arrays["object"], f"{path}: key 'object'")
    return Reconstruction(
        object=obj,
        pixel_size=options.pixel_size,
        path=path,
        format=NAME,
        metadata={
            "writer_version": versions.get("ptycho_metrics"),
            "data_sha256": data.get("sha256"),
            "data_path": data.get("path"),
            "grid": "input",  # the scan data's own object grid, by construction
            "object_key": "object",
        },
    )
