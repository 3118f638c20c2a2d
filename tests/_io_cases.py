"""Shared by the tests of ptycho_metrics.io: a fixture object embedded off-centre in a larger one.

``embedded()`` puts the default fixture's object at a known (row, col) offset
inside a larger array filled with an unrelated random object, so that a
reader plus ``to_fixture_grid`` must land the fixture's pixels exactly where
they came from. ``PIXEL`` is exact in float32 (2**-24 m, ~59.6 nm), as float32
writers (cdtools) need.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ptycho_metrics.data import PtychoData, load_fixture

PIXEL = 2.0**-24  # metres, exact in float32
OFFSET = (37, 21)  # (row, col) of the fixture's pixel (0, 0) in the embedding
BIG = (200, 190)  # (rows, cols) of the embedding


def fixture() -> PtychoData:
    return load_fixture("default")


def embedded(
    data: PtychoData, offset: tuple[int, int] = OFFSET, shape: tuple[int, int] = BIG
) -> np.ndarray:
    """A (rows, cols) complex64 object holding ``data.obj`` at ``offset``."""
    rng = np.random.default_rng(8)
    big = (0.5 + 0.1 * rng.random(shape)) * np.exp(1j * rng.uniform(-1, 1, shape))
    big = big.astype(np.complex64)
    r, c = offset
    rows, cols = data.obj.shape
    big[r : r + rows, c : c + cols] = data.obj
    return big


def window_centres_index(data: PtychoData, offset: tuple[int, int] = OFFSET) -> np.ndarray:
    """(col, row) fractional index, in the embedding, of each fixture patch's geometric centre."""
    n = data.probe.shape[0]
    shift = -(n // 2) + (n - 1) / 2.0
    return np.stack([data.xcoords + shift + offset[1], data.ycoords + shift + offset[0]], axis=1)


def write_native(path: Path, obj: np.ndarray, sha: str, data_path: str = "default.npz") -> Path:
    """A reconstruction.npz with the keys and metadata ptycho_metrics.pipeline.infer writes."""
    info = {"data": {"path": data_path, "sha256": sha}, "versions": {"ptycho_metrics": "0.1.0"}}
    np.savez(
        path,
        object=obj.astype(np.complex64),
        amplitude=np.abs(obj).astype(np.float32),
        phase=np.angle(obj).astype(np.float32),
        mask=np.ones(obj.shape, bool),
        metadata=np.array(json.dumps(info, sort_keys=True)),
    )
    return path


#: cdtools geometry exact in float32: dx = wavelength * distance / (N * detector pixel) = 2**-24 m.
CDTOOLS_WAVELENGTH = 2.0**-33
CDTOOLS_DISTANCE = 1.0
CDTOOLS_DETECTOR_PIXEL = 2.0**-14


def cdtools_dataset(data: PtychoData) -> object:
    """The fixture as a cdtools dataset: intensities, probe translations, CXI detector basis."""
    import cdtools
    import torch

    pixel = CDTOOLS_DETECTOR_PIXEL
    basis = np.array([[0.0, -pixel], [-pixel, 0.0], [0.0, 0.0]], np.float32)
    translations = np.stack(
        [-data.xcoords * PIXEL, -data.ycoords * PIXEL, np.zeros_like(data.xcoords)], axis=1
    )
    return cdtools.datasets.Ptycho2DDataset(
        translations.astype(np.float32),
        data.diffraction.astype(np.float32) ** 2,
        wavelength=CDTOOLS_WAVELENGTH,
        detector_geometry={"distance": CDTOOLS_DISTANCE, "basis": torch.as_tensor(basis)},
    )


def write_cdtools_results(path: Path, data: PtychoData, obj: np.ndarray) -> Path:
    """A cdtools results file written by cdtools' own ``save_to_h5``, holding ``obj``.

    ``obj`` is on the fixture's grid; it is put where cdtools' geometry puts the
    fixture's object (``obj_padding=23``), inside cdtools' own initial object.
    """
    import cdtools
    import torch

    from ptycho_metrics.io import read_reconstruction, to_fixture_grid

    ds = cdtools_dataset(data)
    model = cdtools.models.FancyPtycho.from_dataset(ds, obj_padding=23)
    model.save_to_h5(path, ds)
    row, col = (round(v) for v in to_fixture_grid(read_reconstruction(path), data).offset)
    full = model.obj.detach().numpy().copy()
    full[row : row + obj.shape[0], col : col + obj.shape[1]] = obj
    with torch.no_grad():
        model.obj.data = torch.as_tensor(full.astype(np.complex64))
    model.save_to_h5(path, ds)
    return path
