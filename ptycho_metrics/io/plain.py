"""Plain arrays (``.npy``, an ``.npz`` of arrays, a complex ``.tif``) with a pixel size given.

A plain file records no geometry, so ``pixel_size`` is required and the object
is placed on the fixture by registration. The array must be complex (a TIFF
with complex samples, as ``tifffile`` writes them); an amplitude or a phase
alone is refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import as_object_2d, npz_arrays, pick_layer
from ._options import ReadOptions
from ._record import ReaderError, Reconstruction

NAME = "plain"

SUFFIXES = (".npy", ".npz", ".tif", ".tiff")


def _load(path: Path, key: str | None) -> tuple[np.ndarray, str | None]:
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile  # a dependency of scikit-image

        try:
            return np.asarray(tifffile.imread(path)), None
        except (OSError, ValueError, tifffile.TiffFileError) as exc:
            msg = f"{path}: not a readable TIFF ({type(exc).__name__}: {exc})"
            raise ReaderError(msg) from None
    if suffix == ".npy":
        if key is not None:
            msg = f"{path}: a .npy file holds one array; key= does not apply"
            raise ReaderError(msg)
        try:
            return np.load(path, allow_pickle=False), None
        except (OSError, ValueError, EOFError) as exc:
            msg = f"{path}: not a readable .npy array ({type(exc).__name__}: {exc})"
            raise ReaderError(msg) from None
    arrays = npz_arrays(path)
    if key is None:
        complex_keys = [k for k, v in arrays.items() if np.iscomplexobj(v)]
        listing = ", ".join(f"{k} {v.dtype}{list(v.shape)}" for k, v in arrays.items())
        if not complex_keys:
            msg = (
                f"{path}: no complex array (a reconstruction must be the complex object, "
                f"amplitude * exp(1j * phase)); the archive holds {listing}"
            )
            raise ReaderError(msg)
        if len(complex_keys) > 1:
            msg = f"{path}: choose the object with key=; the archive holds {listing}"
            raise ReaderError(msg)
        key = complex_keys[0]
    if key not in arrays:
        msg = f"{path}: key '{key}' is missing; keys: {', '.join(sorted(arrays))}"
        raise ReaderError(msg)
    return arrays[key], key


def read(path: Path, options: ReadOptions) -> Reconstruction:
    if path.suffix.lower() not in SUFFIXES:
        msg = f"{path}: a plain array must be {', '.join(SUFFIXES)}, got suffix '{path.suffix}'"
        raise ReaderError(msg)
    raw, key = _load(path, options.key)
    if options.pixel_size is None:
        # An .npz with our pipeline's 'object' key but not its 'metadata' (hand-saved,
        # or what `evaluate --many` used to accept) is on the truth's grid: say how.
        ours = (
            " or, if it is a ptycho-metrics reconstruction on the truth's own grid, "
            "format='ptycho-metrics' (command line: --format ptycho-metrics)"
            if key == "object"
            else ""
        )
        msg = (
            f"{path}: a plain array records no pixel size; pass pixel_size=(width, height) "
            f"in metres (command line: --pixel-size W[,H]){ours}"
        )
        raise ReaderError(msg)
    where = f"{path}" + (f": key '{key}'" if key else "")
    if options.layer is not None and options.mode is not None:
        msg = f"{where}: give layer= or mode=, not both"
        raise ReaderError(msg)
    choice, option = (
        (options.mode, "mode") if options.mode is not None else (options.layer, "layer")
    )
    chosen, index = pick_layer(raw, where=where, axis_name="slice", choice=choice, option=option)
    return Reconstruction(
        object=as_object_2d(chosen, where),
        pixel_size=options.pixel_size,
        path=path,
        format=NAME,
        metadata={
            "object_key": key,
            option: index,
        },
    )
