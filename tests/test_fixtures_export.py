"""CXI and PtychoPINN files of the fixtures, read back with h5py and with the real readers.

cdtools-py 0.3.2 (``Ptycho2DDataset.from_cxi``, ``FancyPtycho``) and ptychodus
1.7.0 (``ptychodus.plugins.cxi_file``) are installed by the ``test`` extra;
PtychoPINN is not installable here, so its file is checked rule by rule
against its documented contract (hoidn/PtychoPINN ``docs/data_contracts.md``,
``docs/specs/spec-ptycho-core.md``, ``ptycho/raw_data.py``,
``ptycho/workflows/components.py``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_metrics.data import (
    DataError,
    FixtureIntegrityError,
    fixture_manifest_entry,
    fixture_path,
    list_fixtures,
    load_fixture,
)
from ptycho_metrics.fixtures_export import export_fixture
from ptycho_metrics.fixtures_export.cxi import cxi_bytes
from ptycho_metrics.fixtures_export.export import fixture_bytes
from ptycho_metrics.forward import extract_patches, simulate_intensity

NAMES = list_fixtures()
CXI_NAMES = ("default", "probe_retrieval", "pinn64")  # raster N=32, jittered N=32, N=64


def _cxi(name: str) -> Path:
    return fixture_path(name).with_suffix(".cxi")


def _physical_probe(name: str) -> np.ndarray:
    """The fixture's probe in sqrt(counts) (pinn64 stores it normalised, like its data)."""
    data = load_fixture(name)
    with np.load(data.path) as npz:
        scale = float(npz["diffraction_scale"]) if "diffraction_scale" in npz.files else 1.0
    return data.probe.astype(np.complex128) / scale


# --------------------------------------------------------------------- CXI bytes


def test_cxi_bytes_are_reproducible_across_writes():
    data = load_fixture("probe_retrieval")
    assert data.counts is not None
    assert data.geometry is not None
    kwargs = {
        "name": "probe_retrieval",
        "counts": data.counts,
        "probe": data.probe,
        "obj": data.obj,
        "xcoords": data.xcoords,
        "ycoords": data.ycoords,
        "geometry": data.geometry,
    }
    first = cxi_bytes(**kwargs)
    time.sleep(1.1)  # HDF5 modification times have 1 s resolution
    second = cxi_bytes(**kwargs)
    assert first == second
    assert first == _cxi("probe_retrieval").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_cxi_layout_and_units(name):
    data = load_fixture(name)
    g = data.geometry
    assert g is not None
    x_m, y_m = data.positions_m
    with h5py.File(_cxi(name), "r") as f:
        assert f["cxi_version"][()] == 160
        source = f["entry_1/instrument_1/source_1"]
        assert source["energy"][()] == g.energy_J  # joules
        assert source["wavelength"][()] == g.wavelength_m
        illumination = source["illumination"][()]
        assert illumination.dtype == np.complex64
        np.testing.assert_allclose(illumination, _physical_probe(name), rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(illumination, f["entry_1/image_1/data"][()])
        detector = f["entry_1/instrument_1/detector_1"]
        assert detector["distance"][()] == g.distance_m
        assert detector["x_pixel_size"][()] == detector["y_pixel_size"][()] == g.det_pixel_m
        mask = detector["mask"][()]
        assert mask.dtype == np.uint32
        assert mask.shape == data.diffraction.shape[1:]
        assert not mask.any()
        counts = f["entry_1/data_1/data"][()]
        assert counts.dtype == np.int32
        np.testing.assert_array_equal(counts, data.counts)
        assert f.get("entry_1/data_1/data", getlink=True).path == (
            "/entry_1/instrument_1/detector_1/data"
        )
        translation = f["entry_1/sample_1/geometry_1/translation"][()]
        np.testing.assert_array_equal(translation, np.stack([x_m, y_m, 0 * x_m], axis=1))
        np.testing.assert_array_equal(f["entry_1/data_1/translation"][()], translation)
        np.testing.assert_array_equal(f["entry_1/image_2/data"][()], data.obj)


# ------------------------------------------------------------------------- cdtools


@pytest.fixture(scope="module")
def cdtools():
    return pytest.importorskip("cdtools")


#: cdtools 0.3.2 calls np.maximum(data, 0, data), deprecated in NumPy 2.4 (its bug, not ours).
cdtools_numpy_warning = pytest.mark.filterwarnings(
    "ignore:Passing more than 2 positional arguments to np.maximum:DeprecationWarning"
)


@cdtools_numpy_warning
@pytest.mark.parametrize("name", CXI_NAMES)
def test_cdtools_reads_counts_geometry_and_positions(cdtools, name):
    data = load_fixture(name)
    g = data.geometry
    assert g is not None
    dataset = cdtools.datasets.Ptycho2DDataset.from_cxi(_cxi(name))
    np.testing.assert_array_equal(dataset.patterns.numpy(), data.counts)
    assert float(dataset.wavelength) == g.wavelength_m
    assert float(dataset.detector_geometry["distance"]) == g.distance_m
    model = cdtools.models.FancyPtycho.from_dataset(dataset, obj_padding=0)
    # cdtools derives the object pixel in float32: exactly our dx, no 1.0000001e-8 drift.
    basis = model.probe_basis.numpy()
    np.testing.assert_array_equal(basis[:2], [[0, -g.pixel_size_m], [-g.pixel_size_m, 0]])
    # Probe translations -> (row, column) pixels through cdtools' own basis: our centres.
    pixels = cdtools.tools.interactions.translations_to_pixel(
        model.probe_basis, dataset.translations
    ).numpy()
    np.testing.assert_array_equal(pixels[:, 0], data.ycoords)
    np.testing.assert_array_equal(pixels[:, 1], data.xcoords)
    assert tuple(model.obj.shape) == data.obj.shape  # obj_padding=0: our grid exactly


@cdtools_numpy_warning
@pytest.mark.parametrize("name", CXI_NAMES)
def test_cdtools_forward_model_reproduces_the_data(cdtools, name):
    torch = pytest.importorskip("torch")
    data = load_fixture(name)
    assert data.counts is not None
    dataset = cdtools.datasets.Ptycho2DDataset.from_cxi(_cxi(name))
    model = cdtools.models.FancyPtycho.from_dataset(dataset, n_modes=1, obj_padding=0)
    with h5py.File(_cxi(name), "r") as f:
        probe = f["entry_1/instrument_1/source_1/illumination"][()]
    with torch.no_grad():
        model.probe.data[0] = torch.as_tensor(probe) / model.probe_norm
        model.obj.data[...] = torch.as_tensor(data.obj)
        model.background.data[...] = 0
        index = torch.arange(data.n_patterns)
        predicted = model.forward(index, dataset.translations).numpy().astype(np.float64)
    # Our NumPy reference in complex128 from the same complex64 arrays (CXI probe units).
    expected = simulate_intensity(probe, data.obj, data.xcoords, data.ycoords)
    # float32 FFTs of N^2 terms: measured max error 2.2e-7 of the peak (probe_retrieval).
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=2e-6 * expected.max())
    # The stored counts are a Poisson draw around cdtools' prediction.
    bright = predicted > 20.0
    counts = data.counts[bright]
    chi2 = np.mean((counts - predicted[bright]) ** 2 / predicted[bright])
    assert 0.9 < chi2 < 1.1


# ----------------------------------------------------------------------- ptychodus


@pytest.fixture(scope="module")
def ptychodus_cxi():
    return pytest.importorskip("ptychodus.plugins.cxi_file")


@pytest.mark.parametrize("name", CXI_NAMES)
def test_ptychodus_reads_the_diffraction(ptychodus_cxi, name):
    data = load_fixture(name)
    g = data.geometry
    assert g is not None
    dataset = ptychodus_cxi.CXIDiffractionFileReader().read(_cxi(name))
    metadata = dataset.get_metadata()
    assert metadata.detector_distance_m == g.distance_m
    assert metadata.detector_pixel_geometry.width_m == g.det_pixel_m
    assert metadata.detector_pixel_geometry.height_m == g.det_pixel_m
    assert metadata.photon_energy_eV == pytest.approx(g.energy_eV, rel=1e-12)
    assert metadata.num_patterns_per_array == [data.n_patterns]
    patterns = np.concatenate([array.get_patterns() for array in dataset])
    np.testing.assert_array_equal(patterns, data.counts)
    assert not np.any(dataset.get_bad_pixels())


@pytest.mark.parametrize("name", CXI_NAMES)
def test_ptychodus_reads_probe_positions_and_truth(ptychodus_cxi, name):
    interpolate = pytest.importorskip("ptychodus.api.interpolate")
    data = load_fixture(name)
    g = data.geometry
    assert g is not None
    product = ptychodus_cxi.CXIProductFileIO().read(_cxi(name))
    assert product.metadata.detector_distance_m == g.distance_m
    wavelength = product.metadata.photon_wavelength_m
    assert wavelength == pytest.approx(g.wavelength_m, rel=1e-12)
    with h5py.File(_cxi(name), "r") as f:
        illumination = f["entry_1/instrument_1/source_1/illumination"][()]
    np.testing.assert_array_equal(np.squeeze(product.probes.get_array()), illumination)
    np.testing.assert_allclose(illumination, _physical_probe(name), rtol=1e-6, atol=1e-4)
    obj = product.object_
    np.testing.assert_array_equal(np.squeeze(obj.get_array()), data.obj)
    geometry = obj.get_geometry()
    assert geometry.pixel_width_m == geometry.pixel_height_m == g.pixel_size_m
    positions = product.probe_positions
    x_m, y_m = data.positions_m
    np.testing.assert_array_equal(positions.get_coordinates_x_m(), x_m)
    np.testing.assert_array_equal(positions.get_coordinates_y_m(), y_m)
    # ptychodus' pixel coordinate is ours minus 1/2 (its window centre is at (N-1)/2,
    # ours at N/2); its own patch extraction then cuts exactly our patches.
    x_px = geometry.map_probe_positions_to_object_x_px(positions)
    y_px = geometry.map_probe_positions_to_object_y_px(positions)
    np.testing.assert_array_equal(x_px + 0.5, data.xcoords)
    np.testing.assert_array_equal(y_px + 0.5, data.ycoords)
    interpolator = interpolate.BarycentricArrayInterpolator(np.squeeze(obj.get_array()))
    n = data.probe_size
    ours = extract_patches(data.obj, data.xcoords, data.ycoords, n)
    # Its bilinear window reads n + 1 samples, so it needs one pixel beyond a patch that ends
    # on the last row or column; check every position whose patch does not.
    rows, cols = data.obj.shape
    inside = np.flatnonzero((data.xcoords + n // 2 < cols) & (data.ycoords + n // 2 < rows))
    assert inside.size > data.n_patterns // 2
    for k in inside:
        np.testing.assert_array_equal(interpolator.get_patch(x_px[k], y_px[k], n, n), ours[k])


# ----------------------------------------------------------------- PtychoPINN layout


@pytest.fixture(scope="module", params=["pinn64", "default"])
def pinn_file(request, tmp_path_factory) -> tuple[str, dict[str, np.ndarray]]:
    name = request.param
    path = tmp_path_factory.mktemp("pinn") / f"{name}.npz"
    export_fixture(name, format="npz", output=path)
    with np.load(path, allow_pickle=False) as npz:
        return name, {key: npz[key] for key in npz.files}


def test_ptychopinn_contract_rule_by_rule(pinn_file):
    name, f = pinn_file
    n_images, h, w = f["diffraction"].shape
    # data_contracts.md section 1, table: keys, shapes, dtypes.
    assert f["diffraction"].dtype == np.float32
    assert f["diffraction"].ndim == 3  # "Must be 3D"
    assert f["Y"].shape == (n_images, h, w)  # "MUST be 3D", no channel dimension
    assert f["Y"].dtype == np.complex64
    m = f["objectGuess"].shape
    assert len(m) == 2
    assert m[0] == m[1]  # (M, M)
    assert f["objectGuess"].dtype == np.complex64
    assert f["probeGuess"].shape == (h, w)
    assert f["probeGuess"].dtype == np.complex64
    for key in ("xcoords", "ycoords"):
        assert f[key].shape == (n_images,)
        assert f[key].dtype == np.float64
    assert f["scan_index"].shape == (n_images,)
    assert f["scan_index"].dtype.kind == "i"
    # Legacy / CLI / TF keys: diff3d (ptycho_torch CLI, RawData.from_file), xcoords_start
    # and ycoords_start (workflows.components.load_data requires them).
    np.testing.assert_array_equal(f["diff3d"], f["diffraction"])
    assert f["diff3d"].dtype == np.float32
    np.testing.assert_array_equal(f["xcoords_start"], f["xcoords"])
    np.testing.assert_array_equal(f["ycoords_start"], f["ycoords"])
    # Normalisation requirements: normalised amplitude, the contract's own checks.
    diffraction = f["diffraction"]
    assert np.max(diffraction) < 10.0
    assert np.max(diffraction) <= 1.0  # "typically with max values < 1.0"
    assert np.min(diffraction) >= 0.0
    assert np.max(diffraction) / np.mean(diffraction) < 100
    # Amplitude, not intensity: diffraction**2 is proportional to the counts.
    scale = float(f["diffraction_scale"])
    np.testing.assert_allclose(diffraction, np.sqrt(f["counts"]) * scale, rtol=1e-6)
    # "DO NOT pre-apply photon scaling": the dose lives in metadata, nphotons.
    metadata = json.loads(str(f["_metadata"]))
    nphotons = metadata["physics_parameters"]["nphotons"]
    assert nphotons == pytest.approx(f["counts"].sum(axis=(1, 2)).mean())
    assert metadata["physics_parameters"]["N"] == h
    # Coordinates: pixels, patch centred on (x, y) (spec-ptycho-core); Y = those patches.
    np.testing.assert_array_equal(
        f["Y"], extract_patches(f["objectGuess"], f["xcoords"], f["ycoords"], h)
    )
    # Forward model (spec-ptycho-core): A_obs = sqrt(Poisson(|F(P O)|^2)) in the file's units.
    expected = simulate_intensity(f["probeGuess"], f["objectGuess"], f["xcoords"], f["ycoords"])
    counts_expected = expected / scale**2
    bright = counts_expected > 20.0
    chi2 = np.mean((f["counts"][bright] - counts_expected[bright]) ** 2 / counts_expected[bright])
    assert 0.9 < chi2 < 1.1
    # Model size: N must be one of {64, 128, 256}; only pinn64 is meant to satisfy it.
    assert (h in (64, 128, 256)) == (name == "pinn64")


def test_pinn64_export_is_the_shipped_file(tmp_path):
    out = export_fixture("pinn64", format="npz", output=tmp_path / "p.npz")
    assert out.read_bytes() == fixture_path("pinn64").read_bytes()


# ------------------------------------------------------------------------- export


def test_export_cxi_is_the_shipped_file(tmp_path):
    out = export_fixture("default", format="cxi", output=tmp_path / "d.cxi")
    assert out.read_bytes() == _cxi("default").read_bytes()
    sha = fixture_manifest_entry("default")["cxi"]["sha256"]
    assert len(sha) == 64


def test_export_refuses_to_overwrite(tmp_path):
    out = tmp_path / "d.cxi"
    out.write_bytes(b"old")
    text = f"{out}: already exists; pass --overwrite (overwrite=True) to replace it"
    with pytest.raises(DataError, match=re.escape(text)):
        export_fixture("default", format="cxi", output=out)
    assert out.read_bytes() == b"old"
    export_fixture("default", format="cxi", output=out, overwrite=True)
    assert out.read_bytes() == _cxi("default").read_bytes()


def test_interrupted_export_leaves_no_partial_file(tmp_path, monkeypatch):
    out = tmp_path / "d.npz"
    out.write_bytes(b"old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_fixture("default", format="npz", output=out, overwrite=True)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


def test_export_unknown_fixture_lists_known_ones(tmp_path):
    known = ", ".join(repr(n) for n in NAMES)
    with pytest.raises(DataError, match=re.escape(f"lists {known}")):
        export_fixture("nope", format="cxi", output=tmp_path / "x.cxi")
    assert not list(tmp_path.iterdir())


def test_export_bad_format():
    text = "format must be one of 'cxi', 'npz', got 'tiff'"
    with pytest.raises(DataError, match=re.escape(text)):
        fixture_bytes("default", "tiff")  # type: ignore[arg-type]


def test_export_missing_folder(tmp_path):
    out = tmp_path / "absent" / "d.cxi"
    with pytest.raises(DataError, match=re.escape(f"the folder {out.parent} does not exist")):
        export_fixture("default", format="cxi", output=out)


def test_export_detects_a_modified_cxi(tmp_path, monkeypatch):
    from ptycho_metrics.data import FIXTURES_DIR_ENV

    folder = tmp_path / "fx"
    folder.mkdir()
    source = fixture_path("default").parent
    for name in ("default.npz", "default.cxi", "manifest.json"):
        (folder / name).write_bytes((source / name).read_bytes())
    cxi = folder / "default.cxi"
    cxi.write_bytes(cxi.read_bytes()[:-1] + b"\x00")
    monkeypatch.setenv(FIXTURES_DIR_ENV, str(folder))
    with pytest.raises(FixtureIntegrityError, match=re.escape(f"{cxi}: sha256")):
        export_fixture("default", format="cxi", output=tmp_path / "out.cxi")
    assert not (tmp_path / "out.cxi").exists()
