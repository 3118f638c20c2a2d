"""Embedded fixtures: integrity, contract, and bit-identical regeneration."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from ptycho_metrics.data import (
    FIXTURES_DIR_ENV,
    DataError,
    FixtureIntegrityError,
    fixture_path,
    fixtures_dir,
    list_fixtures,
    load_fixture,
    sha256_file,
)
from ptycho_metrics.fixtures_export.npz import npz_bytes
from ptycho_metrics.geometry import NPZ_KEYS as GEOMETRY_KEYS

REPO = Path(__file__).resolve().parents[1]
REPO_FIXTURES = REPO / "fixtures"
NAMES = ("default", "phase_wrap", "probe_retrieval", "pinn64")
GENERATED = (
    *(f"{name}.{ext}" for name in NAMES for ext in ("npz", "cxi")),
    "manifest.json",
)
#: The original six keys of the N = 32 fixtures, unchanged since format 1.
CONTRACT = {
    "diffraction": ((169, 32, 32), "float32"),
    "probeGuess": ((32, 32), "complex64"),
    "objectGuess": ((128, 128), "complex64"),
    "xcoords": ((169,), "float64"),
    "ycoords": ((169,), "float64"),
    "scan_index": ((169,), "int64"),
}


@pytest.fixture(scope="module")
def make_fixtures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_fixtures", REPO / "tools/make_fixtures.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(make_fixtures) -> dict[str, bytes]:
    return make_fixtures.generate()


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((fixtures_dir() / "manifest.json").read_text())


@pytest.fixture
def fixture_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the fixture folder, selected through the environment override."""
    folder = tmp_path / "fixtures"
    folder.mkdir()
    for name in GENERATED:
        shutil.copyfile(REPO_FIXTURES / name, folder / name)
    monkeypatch.setenv(FIXTURES_DIR_ENV, str(folder))
    return folder


def _raw(name: str) -> dict[str, np.ndarray]:
    with np.load(fixture_path(name), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


# -------------------------------------------------------------------- location/integrity


def test_fixtures_resolve_through_the_package(monkeypatch):
    monkeypatch.delenv(FIXTURES_DIR_ENV, raising=False)
    folder = fixtures_dir()
    assert folder == Path(str(files("ptycho_metrics._fixture_data")))
    assert (folder / "manifest.json").is_file()
    assert list_fixtures() == list(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_hash_matches_manifest(name, manifest):
    data = load_fixture(name)
    entry = manifest["files"][f"{name}.npz"]
    assert data.sha256 == entry["sha256"] == sha256_file(fixture_path(name))
    assert fixture_path(name).stat().st_size == entry["size_bytes"]
    cxi = REPO_FIXTURES / entry["cxi"]["file"]
    assert cxi.name == f"{name}.cxi"
    assert sha256_file(cxi) == entry["cxi"]["sha256"]
    assert cxi.stat().st_size == entry["cxi"]["size_bytes"]


@pytest.mark.parametrize("name", ["default", "phase_wrap", "probe_retrieval"])
def test_stored_arrays_follow_the_contract(name, manifest):
    raw = _raw(name)
    extra = {"counts", "xcoords_m", "ycoords_m", *GEOMETRY_KEYS}
    if name == "probe_retrieval":
        extra.add("probe_initial")
    assert set(raw) == set(CONTRACT) | extra
    recorded = manifest["files"][f"{name}.npz"]["arrays"]
    assert list(raw) == list(recorded)  # file order = manifest order, original keys first
    assert list(raw)[: len(CONTRACT)] == list(CONTRACT)
    for key, (shape, dtype) in CONTRACT.items():
        assert raw[key].shape == shape, key
        assert raw[key].dtype == np.dtype(dtype), key
        assert recorded[key] == {"shape": list(shape), "dtype": dtype}
    assert raw["counts"].dtype == np.int32
    assert raw["counts"].shape == CONTRACT["diffraction"][0]
    for key in GEOMETRY_KEYS:
        assert raw[key].shape == (), key
        assert raw[key].dtype == np.float64, key


@pytest.mark.parametrize("name", ["default", "phase_wrap"])
def test_original_fixtures_keep_their_arrays(name):
    # Format 1 hashes of the six original arrays (default.npz 3f880ea8..., phase_wrap.npz
    # 9bdc61ae... before geometry and counts were added): rebuilding the format-1 file from
    # today's arrays must give the old bytes, so ground truth and the Poisson draw are unchanged.
    old_sha = {
        "default": "3f880ea8882f1d3328c58bdc7473d7a63c775ad6a3488fe1c19c509e9a250814",
        "phase_wrap": "9bdc61aefd825d64eee23ef6bd91f30d1073bd93a35cee609fab640c96619c3b",
    }
    raw = _raw(name)
    old_file = npz_bytes({key: raw[key] for key in CONTRACT})
    assert hashlib.sha256(old_file).hexdigest() == old_sha[name]


@pytest.mark.parametrize("name", NAMES)
def test_counts_match_the_amplitudes(name):
    data = load_fixture(name)
    assert data.counts is not None
    scale = 1.0 if name != "pinn64" else float(_raw(name)["diffraction_scale"])
    np.testing.assert_allclose(
        data.diffraction.astype(np.float64), np.sqrt(data.counts) * scale, rtol=1e-6, atol=0
    )


def test_total_size_under_25_mb():
    total = sum((REPO_FIXTURES / name).stat().st_size for name in GENERATED)
    assert total < 25 * 2**20


def test_manifest_records_generation_parameters(manifest):
    assert manifest["format_version"] == 2
    for name, entry in manifest["files"].items():
        params = entry["parameters"]
        assert params["dose"] == 1.0e6
        n = 64 if name == "pinn64.npz" else 32
        assert params["probe"]["size_px"] == n
        assert params["scan"]["step_px"] == n // 4
        assert "ortho" in params["fft_convention"]
        assert isinstance(params["seed"], int)
        assert entry["geometry"]["n_pixels"] == n
        assert entry["pipelines"]
        assert entry["layout"] in ("ptycho_metrics", "ptychopinn")


# ----------------------------------------------------------------------- load errors


def test_corrupted_copy_raises_integrity_error(fixture_copy):
    path = fixture_copy / "default.npz"
    expected = sha256_file(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    actual = sha256_file(path)
    text = f"{path}: sha256 {actual} does not match the manifest's {expected}"
    with pytest.raises(FixtureIntegrityError, match=re.escape(text)) as info:
        load_fixture("default")
    assert "make_fixtures.py" in str(info.value)
    load_fixture("phase_wrap")  # the untouched file still loads


def test_missing_fixture_file(fixture_copy):
    (fixture_copy / "phase_wrap.npz").unlink()
    text = f"{fixture_copy / 'phase_wrap.npz'}: fixture file is missing; regenerate it"
    with pytest.raises(DataError, match=re.escape(text)):
        load_fixture("phase_wrap")


def test_unknown_fixture_name(fixture_copy):
    known = "'default', 'phase_wrap', 'probe_retrieval', 'pinn64'"
    text = f"unknown fixture 'nope'; the manifest in {fixture_copy} lists {known}"
    with pytest.raises(DataError, match=re.escape(text)):
        fixture_path("nope")


def test_missing_manifest(fixture_copy):
    (fixture_copy / "manifest.json").unlink()
    text = f"{fixture_copy / 'manifest.json'}: cannot read the fixture manifest"
    with pytest.raises(DataError, match=re.escape(text)):
        list_fixtures()


# ---------------------------------------------------------------------- regeneration


def test_regeneration_is_bit_identical(make_fixtures, tmp_path, capsys):
    assert make_fixtures.main(["--output-dir", str(tmp_path)]) == 0
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (REPO_FIXTURES / name).read_bytes(), name
    out = capsys.readouterr().out
    assert f"sha256 {sha256_file(REPO_FIXTURES / 'default.npz')}" in out


def test_generate_is_repeatable_in_process(make_fixtures, generated):
    assert make_fixtures.generate() == generated


def test_check_passes_on_the_committed_fixtures(make_fixtures, generated, capsys):
    assert make_fixtures.check(generated, REPO_FIXTURES) == 0
    assert "all fixtures match the manifest" in capsys.readouterr().out


def test_check_reports_a_modified_file(make_fixtures, generated, fixture_copy, capsys):
    path = fixture_copy / "phase_wrap.npz"
    path.write_bytes(path.read_bytes()[:-1])
    assert make_fixtures.check(generated, fixture_copy) == 1
    out, err = capsys.readouterr()
    assert "MISMATCH phase_wrap.npz" in out
    assert f"on disk     {sha256_file(path)}" in out
    assert "check failed for: phase_wrap.npz" in err


def test_write_refuses_to_overwrite_a_different_file(make_fixtures, generated, tmp_path, capsys):
    (tmp_path / "default.npz").write_bytes(b"old")
    assert make_fixtures.write(generated, tmp_path, force=False) == 1
    assert (tmp_path / "default.npz").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.npz"]
    assert "refusing to overwrite" in capsys.readouterr().err
    assert make_fixtures.write(generated, tmp_path, force=True) == 0
    assert (tmp_path / "default.npz").read_bytes() == generated["default.npz"]
    assert make_fixtures.write(generated, tmp_path, force=False) == 0
    assert capsys.readouterr().out.count("unchanged") == len(GENERATED)
