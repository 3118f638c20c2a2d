"""read_reconstruction: detection, our own reconstruction.npz, and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from _io_cases import PIXEL, fixture, write_native

from ptycho_metrics import QualityInputError
from ptycho_metrics.data import fixture_path
from ptycho_metrics.io import (
    FORMATS,
    FormatError,
    OtherDataError,
    ReaderError,
    check_same_data,
    read_reconstruction,
    to_fixture_grid,
)


def test_native_reconstruction_npz(tmp_path: Path) -> None:
    data = fixture()
    path = write_native(tmp_path / "reconstruction.npz", data.obj, data.sha256)
    recon = read_reconstruction(path)
    assert recon.format == "ptycho-metrics"
    assert recon.data_sha256 == data.sha256
    assert recon.metadata["writer_version"] == "0.1.0"
    assert check_same_data(recon, data.sha256) is None
    placed = to_fixture_grid(recon, data)
    assert placed.method == "same grid"
    np.testing.assert_array_equal(placed.object, data.obj.astype(np.complex128))


def test_other_data_is_refused(tmp_path: Path) -> None:
    data = fixture()
    other = "ab" * 32
    path = write_native(tmp_path / "reconstruction.npz", data.obj, other, "phase_wrap.npz")
    recon = read_reconstruction(path)
    msg = (
        f"{path}: made from data with sha256 abababababab... (phase_wrap.npz), but the truth's "
        f"data has sha256 {data.sha256[:12]}..."
    )
    with pytest.raises(OtherDataError, match=re.escape(msg)):
        check_same_data(recon, data.sha256)
    note = check_same_data(recon, data.sha256, allow_other_data=True)
    assert note is not None
    assert note.startswith("allowed other data")


def test_record_is_read_only(tmp_path: Path) -> None:
    data = fixture()
    recon = read_reconstruction(write_native(tmp_path / "r.npz", data.obj, data.sha256))
    with pytest.raises(ValueError, match="read-only"):
        recon.object[0, 0] = 0


def test_unknown_format_name(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.ones((2, 2), complex))
    with pytest.raises(FormatError, match=re.escape("format must be one of 'auto', ")):
        read_reconstruction(path, format="tike")  # type: ignore[arg-type]
    assert "cdtools" in FORMATS


def test_unknown_file_kind(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    msg = (
        f"{path}: unknown reconstruction format (not HDF5, npz, npy or TIFF); known formats: "
        f"{', '.join(FORMATS)}"
    )
    with pytest.raises(FormatError, match=re.escape(msg)):
        read_reconstruction(path)


def test_unknown_hdf5_layout(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.ones((2, 2))
    msg = f"{path}: an HDF5 file of no known reconstruction format (top-level entries: images)"
    with pytest.raises(FormatError, match=re.escape(msg)):
        read_reconstruction(path)


def test_format_asked_for_does_not_match(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.ones((2, 2), complex))
    msg = f"{path}: format='cdtools' needs an HDF5 file, and this is not one"
    with pytest.raises(FormatError, match=re.escape(msg)):
        read_reconstruction(path, format="cdtools")


def test_missing_file_and_corrupt_hdf5(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match=re.escape(f"{tmp_path / 'nope.h5'}: no such file")):
        read_reconstruction(tmp_path / "nope.h5")
    path = tmp_path / "broken.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ReaderError, match=re.escape(f"{path}: not a readable HDF5 file")):
        read_reconstruction(path)


def test_scan_file_given_as_reconstruction() -> None:
    path = fixture_path("default")
    with pytest.raises(FormatError, match=re.escape("a scan data file")):
        read_reconstruction(path)


def test_errors_are_quality_input_errors() -> None:
    assert issubclass(ReaderError, QualityInputError)
    assert issubclass(FormatError, ReaderError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "pixel_size must be a positive float or (width, height) in metres, got 'a'"),
        (-1.0, "pixel_size must be positive and finite (metres), got -1.0"),
        (10.0, "pixel_size 10.0 is over 1 mm; it must be in metres"),
    ],
)
def test_bad_pixel_size(tmp_path: Path, value: object, expected: str) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.ones((2, 2), complex))
    with pytest.raises(ReaderError, match=re.escape(expected)):
        read_reconstruction(path, pixel_size=value)  # type: ignore[arg-type]


def test_pixel_size_pair(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.ones((2, 2), complex))
    assert read_reconstruction(path, pixel_size=(PIXEL, 2 * PIXEL)).pixel_size == (PIXEL, 2 * PIXEL)


def test_every_record_has_the_common_metadata_keys():
    from ptycho_metrics.io._record import COMMON_METADATA, Reconstruction

    given = {"energy_eV": 1.0, "layer": 0}
    recon = Reconstruction(np.ones((4, 4), complex), None, Path("f.h5"), "x", metadata=given)
    assert recon.metadata == {
        "writer_version": None,
        "energy_eV": 1.0,
        "distance_m": None,
        "wavelength_m": None,
        "data_sha256": None,
        "layer": 0,
    }
    assert set(COMMON_METADATA) <= set(recon.metadata)
    assert given == {"energy_eV": 1.0, "layer": 0}  # the caller's dict is not changed
