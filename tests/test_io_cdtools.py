"""cdtools results files, written by the installed cdtools-py (0.3.2) itself.

The placement is pinned against cdtools' own forward model: with the object
our reader places the fixture at, ``FancyPtycho.interaction`` must produce
the fixture's exit waves ``probe * patch`` at every position.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from _io_cases import CDTOOLS_DISTANCE, CDTOOLS_WAVELENGTH, PIXEL, cdtools_dataset, fixture

from ptycho_metrics.data import extract_patches
from ptycho_metrics.io import ReaderError, read_reconstruction, to_fixture_grid

cdtools = pytest.importorskip("cdtools", reason="the interop extra is not installed")
import torch  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    data = fixture()
    ds = cdtools_dataset(data)
    model = cdtools.models.FancyPtycho.from_dataset(ds, obj_padding=23)
    path = tmp_path_factory.mktemp("cdtools") / "results.h5"
    model.save_to_h5(path, ds)
    return path, model, ds


def test_reader_pins_cdtools_forward_model(saved: tuple[Path, object, object]) -> None:
    path, model, ds = saved
    data = fixture()
    recon = read_reconstruction(path)
    assert recon.format == "cdtools"
    assert recon.metadata["writer_version"] == cdtools.__version__
    assert recon.metadata["wavelength_m"] == pytest.approx(CDTOOLS_WAVELENGTH, rel=1e-7)
    assert recon.metadata["distance_m"] == CDTOOLS_DISTANCE
    assert recon.pixel_size == pytest.approx((PIXEL, PIXEL), rel=1e-7)
    placed = to_fixture_grid(recon, data, truth_pixel_size=PIXEL, method="positions")
    row, col = (round(v) for v in placed.offset)
    assert placed.offset == pytest.approx((row, col), abs=1e-6)
    # Put the fixture's object where the reader says it is, and ask cdtools what it sees.
    obj = np.zeros(recon.shape, np.complex64)
    obj[row : row + data.obj.shape[0], col : col + data.obj.shape[1]] = data.obj
    probe = data.probe.astype(np.complex64)
    with torch.no_grad():
        model.obj.data = torch.as_tensor(obj)
        model.probe.data = torch.as_tensor(probe)[None] / model.probe_norm
        n = len(data.xcoords)
        index = torch.arange(n)
        translations = ds[:][0][1]
        waves = model.interaction(index, translations).numpy().reshape(n, *probe.shape)
    expected = probe * extract_patches(data.obj, data.xcoords, data.ycoords, probe.shape[0])
    np.testing.assert_allclose(waves, expected, atol=2e-5 * np.abs(expected).max())


def test_round_trip_of_the_object(saved: tuple[Path, object, object], tmp_path: Path) -> None:
    path, model, ds = saved
    data = fixture()
    recon = read_reconstruction(path)
    placed = to_fixture_grid(recon, data, truth_pixel_size=PIXEL)
    row, col = (round(v) for v in placed.offset)
    obj = np.zeros(recon.shape, np.complex64)
    obj[row : row + data.obj.shape[0], col : col + data.obj.shape[1]] = data.obj
    with torch.no_grad():
        model.obj.data = torch.as_tensor(obj)
    again = tmp_path / "again.h5"
    model.save_to_h5(again, ds)
    obj2, _ = to_fixture_grid(read_reconstruction(again), data, truth_pixel_size=PIXEL)
    np.testing.assert_array_equal(obj2, data.obj.astype(np.complex128))


def test_missing_dataset(saved: tuple[Path, object, object], tmp_path: Path) -> None:
    path, _, _ = saved
    broken = tmp_path / "broken.h5"
    broken.write_bytes(path.read_bytes())
    with h5py.File(broken, "a") as f:
        f["obj_basis"][...] = 0.0
        del f["obj_basis"]
        f["obj_basis"] = np.zeros((2, 2))
    msg = f"{broken}: dataset 'obj_basis' must have shape (3, 2), got (2, 2)"
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(broken)
