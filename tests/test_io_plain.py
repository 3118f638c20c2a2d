"""Plain arrays (.npy, .npz, complex .tif) and PtychoPINN outputs (built from its layout).

PtychoPINN is not installable here: its ``recon.npz`` (``YY_pred``, ``amp``,
``phase``; ``save_recon_artifact`` in ``ptycho/workflows/grid_lines_workflow.py``
of hoidn/PtychoPINN at 712c23f) is written by hand with those keys.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _io_cases import OFFSET, PIXEL, embedded, fixture

from ptycho_metrics.io import ReaderError, read_reconstruction, to_fixture_grid


def test_npy_with_pixel_size_registers_exactly(tmp_path: Path) -> None:
    data = fixture()
    path = tmp_path / "obj.npy"
    np.save(path, embedded(data))
    recon = read_reconstruction(path, pixel_size=PIXEL)
    assert recon.format == "plain"
    placed = to_fixture_grid(recon, data, truth_pixel_size=PIXEL)
    assert placed.method == "registration"
    assert any("placed by registration" in n for n in placed.notes)
    assert placed.offset == pytest.approx(OFFSET)
    np.testing.assert_array_equal(placed.object, data.obj.astype(np.complex128))


def test_plain_needs_pixel_size(tmp_path: Path) -> None:
    path = tmp_path / "obj.npy"
    np.save(path, np.ones((8, 8), complex))
    msg = f"{path}: a plain array records no pixel size; pass pixel_size=(width, height) in metres"
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)


def test_real_valued_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "amplitude.npy"
    np.save(path, np.ones((8, 8), np.float32))
    msg = (
        f"{path}: the object is real-valued (float32); a reconstruction must be the complex object"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path, pixel_size=PIXEL)


def test_complex_tiff(tmp_path: Path) -> None:
    data = fixture()
    path = tmp_path / "obj.tif"
    tifffile.imwrite(path, embedded(data))
    placed = to_fixture_grid(
        read_reconstruction(path, pixel_size=PIXEL), data, truth_pixel_size=PIXEL
    )
    np.testing.assert_array_equal(placed.object, data.obj.astype(np.complex128))


def test_npz_with_several_arrays_needs_key(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, a=np.ones((4, 4), complex), b=np.ones((4, 4), complex))
    with pytest.raises(ReaderError, match=re.escape(f"{path}: choose the object with key=")):
        read_reconstruction(path, pixel_size=PIXEL)
    assert read_reconstruction(path, pixel_size=PIXEL, key="b").metadata["object_key"] == "b"


def test_ptychopinn_recon_npz(tmp_path: Path) -> None:
    data = fixture()
    big = embedded(data)
    path = tmp_path / "recon.npz"
    np.savez(path, YY_pred=big, amp=np.abs(big), phase=np.angle(big))
    recon = read_reconstruction(path)
    assert recon.format == "ptychopinn"
    assert recon.metadata["object_key"] == "YY_pred"
    obj, _ = to_fixture_grid(recon, data)  # PtychoPINN works on the input's pixels
    np.testing.assert_array_equal(obj, data.obj.astype(np.complex128))


def test_ptychopinn_scaled_variant_needs_key(tmp_path: Path) -> None:
    big = embedded(fixture())
    path = tmp_path / "recon.npz"
    np.savez(path, YY_pred=big, YY_pred_scaled=2 * big, amp=np.abs(big), phase=np.angle(big))
    msg = (
        f"{path}: holds YY_pred, YY_pred_scaled; choose the object with key= (never picked "
        "silently)"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)
    scaled = read_reconstruction(path, key="YY_pred_scaled")
    np.testing.assert_array_equal(scaled.object, (2 * big).astype(np.complex128))


def test_ptychopinn_squeezes_batch_axes(tmp_path: Path) -> None:
    big = embedded(fixture())
    path = tmp_path / "ptychi_reconstruction.npz"
    np.savez(path, reconstructed_object=big[None, :, :, None], algorithm="pty-chi")
    recon = read_reconstruction(path)
    assert recon.shape == big.shape
    assert recon.metadata["algorithm"] == "pty-chi"
