"""Geometry: derived values, float32 exactness of the fixtures' pixel size and positions."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from ptycho_metrics.data import DataError, list_fixtures, load_fixture
from ptycho_metrics.geometry import ELECTRON_VOLT_J, HC_J_M, Geometry, GeometryError


def _geometry(**changes: float) -> Geometry:
    values = {
        "wavelength_m": 2.0**-33,
        "distance_m": 1.0,
        "det_pixel_m": 2.0**-14,
        "n_pixels": 32,
        "dose": 1e6,
    }
    values.update(changes)
    return Geometry(**values)  # type: ignore[arg-type]


def test_derived_values():
    g = _geometry()
    assert g.pixel_size_m == 2.0**-24
    assert g.energy_J == HC_J_M / 2.0**-33
    assert g.energy_eV == pytest.approx(10650.16155, rel=1e-9)
    assert g.energy_J / ELECTRON_VOLT_J == g.energy_eV
    # An independent route: E[keV] = 12.398419843320026 / lambda[Angstrom].
    assert g.energy_eV / 1000 == pytest.approx(12.398419843320026 / (2.0**-33 * 1e10), rel=1e-12)


@pytest.mark.parametrize("name", list_fixtures())
def test_fixture_geometry_survives_float32(name):
    data = load_fixture(name)
    g = data.geometry
    assert g is not None
    n = data.probe_size
    assert g.n_pixels == n
    for value in (g.wavelength_m, g.distance_m, g.det_pixel_m, g.pixel_size_m):
        assert float(np.float32(value)) == value
    # dx computed entirely in float32, as codes that store geometry in float32 do.
    f32 = np.float32
    dx32 = f32(g.wavelength_m) * f32(g.distance_m) / (f32(n) * f32(g.det_pixel_m))
    assert float(dx32) == g.pixel_size_m
    x_m, y_m = data.positions_m
    for coords_m, coords_px in ((x_m, data.xcoords), (y_m, data.ycoords)):
        as32 = coords_m.astype(np.float32)
        np.testing.assert_array_equal(as32.astype(np.float64), coords_m)
        # Back to pixels in float32: exact integers, so floor() and round() agree.
        np.testing.assert_array_equal(as32 / dx32, coords_px.astype(np.float32))
    assert g.energy_eV == pytest.approx(10650.16155, rel=1e-9)


@pytest.mark.parametrize(
    ("field", "value"), [("wavelength_m", 0.0), ("distance_m", -1.0), ("dose", math.nan)]
)
def test_rejects_non_positive_values(field, value):
    text = f"Geometry: {field} must be a positive finite number, got {value!r}"
    with pytest.raises(GeometryError, match=re.escape(text)):
        _geometry(**{field: value})


def test_rejects_bad_pattern_size():
    with pytest.raises(GeometryError, match=re.escape("n_pixels must be a positive integer")):
        _geometry(n_pixels=0)


def test_npz_round_trip_and_consistency_check():
    g = _geometry()
    arrays = g.npz_arrays()
    assert Geometry.from_npz_arrays(arrays, n_pixels=32) == g
    assert Geometry.from_npz_arrays({}, n_pixels=32) is None
    partial = {k: v for k, v in arrays.items() if k != "dose"}
    with pytest.raises(
        GeometryError, match=re.escape("geometry keys are incomplete, missing dose")
    ):
        Geometry.from_npz_arrays(partial, n_pixels=32)
    # The stored dx belongs to N = 32; reading the keys for N = 64 must not pass silently.
    text = "key 'pixel_size_m' = 5.960464477539063e-08 disagrees with the value"
    with pytest.raises(GeometryError, match=re.escape(text)):
        Geometry.from_npz_arrays(arrays, n_pixels=64)


def test_positions_without_geometry_raise(tmp_path):
    from ptycho_metrics.data import fixture_path, load_ptycho_npz

    with np.load(fixture_path("default")) as npz:
        keep = ("diffraction", "probeGuess", "objectGuess", "xcoords", "ycoords")
        np.savez(tmp_path / "plain.npz", **{k: npz[k] for k in keep})
    data = load_ptycho_npz(tmp_path / "plain.npz")
    assert data.geometry is None
    with pytest.raises(DataError, match=re.escape("the file stores no geometry")):
        _ = data.positions_m
