"""Loader (:func:`load_ptycho_npz`) and the NumPy reference forward model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ptycho_metrics import QualityInputError
from ptycho_metrics.data import (
    DataError,
    extract_patches,
    fixture_path,
    load_ptycho_npz,
    sha256_file,
    simulate_intensity,
)


@pytest.fixture(scope="module")
def raw_default() -> dict[str, np.ndarray]:
    with np.load(fixture_path("default"), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def _variant(tmp_path: Path, raw: dict[str, np.ndarray], **changes: np.ndarray | None) -> Path:
    """The default fixture's arrays with some replaced (or removed when None), saved to tmp."""
    arrays = {k: v.copy() for k, v in raw.items()}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return _write(tmp_path / "variant.npz", arrays)


def _raises(path: Path, text: str) -> DataError:
    with pytest.raises(DataError, match=re.escape(f"{path}: {text}")) as info:
        load_ptycho_npz(path)
    assert "\n" not in str(info.value), "errors must be one line"
    return info.value


# ----------------------------------------------------------------------------- loader


def test_load_returns_contract_dtypes_and_shapes():
    path = fixture_path("default")
    data = load_ptycho_npz(path)
    assert data.diffraction.shape == (169, 32, 32)
    assert data.diffraction.dtype == np.float32
    assert data.probe.shape == (32, 32)
    assert data.probe.dtype == np.complex64
    assert data.obj.shape == (128, 128)
    assert data.obj.dtype == np.complex64
    assert data.xcoords.dtype == data.ycoords.dtype == np.float64
    assert data.scan_index.dtype == np.int64
    assert data.n_patterns == 169
    assert data.probe_size == 32
    assert data.path == path
    assert data.sha256 == sha256_file(path)


def test_legacy_diff3d_key_is_accepted(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, diffraction=None, diff3d=raw_default["diffraction"])
    data = load_ptycho_npz(path)
    np.testing.assert_array_equal(data.diffraction, raw_default["diffraction"])


def test_missing_scan_index_defaults_to_zeros(tmp_path, raw_default):
    data = load_ptycho_npz(_variant(tmp_path, raw_default, scan_index=None))
    np.testing.assert_array_equal(data.scan_index, np.zeros(169, dtype=np.int64))


def test_other_numeric_dtypes_are_converted(tmp_path, raw_default):
    path = _variant(
        tmp_path,
        raw_default,
        diffraction=raw_default["diffraction"].astype(np.float64),
        probeGuess=raw_default["probeGuess"].astype(np.complex128),
        xcoords=raw_default["xcoords"].astype(np.int32),
    )
    data = load_ptycho_npz(path)
    assert data.diffraction.dtype == np.float32
    assert data.probe.dtype == np.complex64
    assert data.xcoords.dtype == np.float64
    np.testing.assert_array_equal(data.xcoords, raw_default["xcoords"])


def test_data_error_is_a_quality_input_error():
    assert issubclass(DataError, QualityInputError)
    assert issubclass(DataError, ValueError)


def test_missing_file(tmp_path):
    _raises(tmp_path / "absent.npz", "no such file")


def test_directory_is_refused(tmp_path):
    _raises(tmp_path, "is not a regular file")


def test_truncated_file(tmp_path):
    data = fixture_path("default").read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: len(data) // 2])
    _raises(path, "not a readable .npz archive (truncated, corrupted or another format)")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _raises(path, "not a readable .npz archive")


def test_text_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("diffraction,probe\n1,2\n")
    _raises(path, "not a readable .npz archive")


def test_single_npy_array(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    err = _raises(path, "holds a single .npy array, expected an .npz archive of named arrays")
    assert "not a readable" not in str(err)


def test_corrupted_member_fails_crc(tmp_path):
    data = bytearray(fixture_path("default").read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the stored diffraction array
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    err = _raises(path, "not a readable .npz archive")
    assert "CRC" in str(err)


def test_missing_keys(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, probeGuess=None, diffraction=None)
    _raises(
        path, "missing key(s) 'diffraction', 'probeGuess'; expected diffraction (or legacy diff3d)"
    )


def test_wrong_ndim(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, diffraction=raw_default["diffraction"][0])
    _raises(path, "key 'diffraction' must be 3-D, got shape (32, 32)")


def test_wrong_dtype(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, objectGuess=np.array([["a", "b"], ["c", "d"]]))
    _raises(path, "key 'objectGuess' must have a complex-compatible dtype, got <U1")


def test_non_square_patterns(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, diffraction=raw_default["diffraction"][:, :, :30])
    _raises(path, "key 'diffraction' must hold square patterns of even side, got 32x30")


def test_mismatched_probe_size(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, probeGuess=raw_default["probeGuess"][:16, :16])
    _raises(path, "key 'probeGuess' must match the diffraction pattern size (32, 32), got (16, 16)")


def test_coordinate_count_mismatch(tmp_path, raw_default):
    path = _variant(tmp_path, raw_default, ycoords=raw_default["ycoords"][:-1])
    _raises(
        path, "key 'ycoords' must have one entry per diffraction pattern, shape (169,), got (168,)"
    )


def test_nan_in_diffraction(tmp_path, raw_default):
    diffraction = raw_default["diffraction"].copy()
    diffraction[3, 4, 5] = np.nan
    path = _variant(tmp_path, raw_default, diffraction=diffraction)
    _raises(
        path, "key 'diffraction' must be finite, got 1 NaN/Inf values (first at index (3, 4, 5))"
    )


def test_negative_amplitude(tmp_path, raw_default):
    diffraction = raw_default["diffraction"].copy()
    diffraction[0, 0, 0] = -2.0
    path = _variant(tmp_path, raw_default, diffraction=diffraction)
    _raises(path, "key 'diffraction' holds amplitudes sqrt(counts) and must be >= 0, got min -2")


def test_patch_outside_object(tmp_path, raw_default):
    xcoords = raw_default["xcoords"].copy()
    xcoords[0] = 120.0
    path = _variant(tmp_path, raw_default, xcoords=xcoords)
    _raises(
        path,
        "patch 0 at centre (x=120, y=16) reaches outside the 128x128 object; centres must lie "
        "in [16, 112] (x) and [16, 112] (y) for 32x32 patches (1 of 169 positions outside)",
    )


def test_fractional_coordinates(tmp_path, raw_default):
    ycoords = raw_default["ycoords"].copy()
    ycoords[5] = 16.5
    path = _variant(tmp_path, raw_default, ycoords=ycoords)
    _raises(path, "ycoords must hold finite integer-valued patch centres (whole-pixel patches)")


# ---------------------------------------------------------------------- forward model


def test_extract_patches_convention():
    obj = np.arange(10 * 12).reshape(10, 12)
    patches = extract_patches(obj, [5.0, 8.0], [3.0, 6.0], 4)
    np.testing.assert_array_equal(patches[0], obj[1:5, 3:7])
    np.testing.assert_array_equal(patches[1], obj[4:8, 6:10])
    assert patches.dtype == obj.dtype


def test_extract_patches_refuses_outside():
    with pytest.raises(
        DataError, match=re.escape("extract_patches: patch 1 at centre (x=11, y=2)")
    ):
        extract_patches(np.zeros((10, 12)), [2, 11], [2, 2], 4)


def test_extract_patches_refuses_odd_size():
    with pytest.raises(DataError, match=re.escape("n must be a positive even integer, got 3")):
        extract_patches(np.zeros((10, 12)), [5], [5], 3)


def test_simulate_intensity_refuses_non_square_probe():
    with pytest.raises(
        DataError, match=re.escape("probe must be a square 2-D array, got shape (4, 2)")
    ):
        simulate_intensity(np.ones((4, 2)), np.ones((8, 8)), [4], [4])


def test_parseval_unit_object_gives_dose():
    # A unit-modulus object with random phase: |P O_k|^2 = |P|^2 pointwise.
    data = load_ptycho_npz(fixture_path("default"))
    rng = np.random.default_rng(0)
    obj = np.exp(1j * rng.uniform(-np.pi, np.pi, data.obj.shape))
    intensity = simulate_intensity(data.probe, obj, data.xcoords, data.ycoords)
    dose = float(np.sum(np.abs(data.probe.astype(np.complex128)) ** 2))
    np.testing.assert_allclose(intensity.sum(axis=(1, 2)), dose, rtol=1e-12)
    np.testing.assert_allclose(dose, 1.0e6, rtol=1e-6)  # the manifest's dose, complex64 rounding


def test_against_direct_dft_matrix():
    # Independent route: explicit DFT matrix, shift by np.roll instead of fftshift.
    n = 4
    rng = np.random.default_rng(1)
    probe = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    obj = rng.normal(size=(9, 8)) + 1j * rng.normal(size=(9, 8))
    xs, ys = [2.0, 4.0], [2.0, 6.0]
    k = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(k, k) / n) / np.sqrt(n)
    expected = []
    for x, y in zip(xs, ys, strict=True):
        patch = obj[int(y) - n // 2 : int(y) + n // 2, int(x) - n // 2 : int(x) + n // 2]
        far = dft @ (probe * patch) @ dft.T
        expected.append(np.abs(np.roll(far, (n // 2, n // 2), axis=(0, 1))) ** 2)
    np.testing.assert_allclose(simulate_intensity(probe, obj, xs, ys), expected, rtol=1e-12)


def test_dc_sits_at_n_over_2():
    intensity = simulate_intensity(np.ones((8, 8)), np.ones((8, 8)), [4], [4])[0]
    assert np.unravel_index(np.argmax(intensity), intensity.shape) == (4, 4)
    np.testing.assert_allclose(intensity[4, 4], 64.0, rtol=1e-12)


@pytest.mark.parametrize("name", ["default", "phase_wrap"])
def test_fixture_diffraction_follows_the_forward_model(name):
    # Poisson counts against the stored probe and object: the per-pattern
    # totals and the reduced chi-square must match Poisson statistics.
    data = load_ptycho_npz(fixture_path(name))
    expected = simulate_intensity(data.probe, data.obj, data.xcoords, data.ycoords)
    squared = data.diffraction.astype(np.float64) ** 2
    counts = np.round(squared)
    # float32 sqrt(counts) squares back to within 0.02 of an integer up to ~1.4e5 counts.
    np.testing.assert_allclose(squared, counts, rtol=0, atol=0.1)
    totals_z = (counts.sum(axis=(1, 2)) - expected.sum(axis=(1, 2))) / np.sqrt(
        expected.sum(axis=(1, 2))
    )
    assert np.abs(totals_z).max() < 5.0
    bright = expected > 20.0
    chi2 = np.mean((counts[bright] - expected[bright]) ** 2 / expected[bright])
    assert 0.9 < chi2 < 1.1


def test_load_scan_takes_a_fixture_name_or_a_file(tmp_path, monkeypatch):
    from ptycho_metrics.data import fixture_path, list_fixtures, load_fixture, load_scan

    assert load_scan(None).path == fixture_path("default")
    assert load_scan("phase_wrap").path == fixture_path("phase_wrap")
    assert load_scan(fixture_path("default")).sha256 == load_fixture("default").sha256
    names = ", ".join(list_fixtures())
    with pytest.raises(
        DataError, match=re.escape(f"defualt: no such file, nor a fixture name (fixtures: {names})")
    ):
        load_scan("defualt")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'a.npz'}: no such file")):
        load_scan(tmp_path / "a.npz")
    # A file named like a fixture is read as the file.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_bytes(fixture_path("phase_wrap").read_bytes())
    assert load_scan("default").sha256 == load_fixture("phase_wrap").sha256
