"""``ptycho-metrics evaluate --many``: directories and manifests in, one JSON and one CSV out.

Every file is read as the single-pair ``ptycho-metrics evaluate`` reads it
(any format; per-pair manifest columns or command-line options for all).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from _io_cases import PIXEL, embedded, write_cdtools_results, write_native

from ptycho_metrics import QualityInputError, cli, evaluate, scan_mask
from ptycho_metrics.cli._many import read_pairs
from ptycho_metrics.data import fixture_path, load_fixture


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return load_fixture("default").obj


def _write(folder: Path, truth: np.ndarray) -> None:
    """Reconstructions as ``ptycho-metrics run`` writes them, and a truncated one."""
    sha = load_fixture("default").sha256
    folder.mkdir()
    write_native(folder / "a.npz", truth * np.exp(0.2j), sha)
    (folder / "run7").mkdir()
    write_native(folder / "run7" / "reconstruction.npz", truth * 1.1, sha)
    (folder / "broken.npz").write_bytes((folder / "a.npz").read_bytes()[:300])  # cut short


def _expected(obj: np.ndarray) -> dict:
    """evaluate() of an object on the default fixture's grid, on its scan mask, as JSON."""
    data = load_fixture("default")
    report = evaluate(obj.astype(np.complex64), data.obj, mask=scan_mask(data))
    return json.loads(report.to_json())["metrics"]


def test_directory_against_one_truth(tmp_path, truth, capsys):
    _write(tmp_path / "sweep", truth)
    out = tmp_path / "res.json"
    argv = ["evaluate", "--many", tmp_path / "sweep", "--truth", "default", "--output", out]
    status = cli.main([str(a) for a in argv] + ["--workers", "1"])
    captured = capsys.readouterr()
    assert status == 1
    assert "ptycho-metrics: error: 1 of 3 pairs failed: broken" in captured.err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [p["name"] for p in data["pairs"]] == ["a", "broken", "run7"]
    assert data["pairs"][1]["error"].startswith(
        f"ReaderError: {tmp_path / 'sweep' / 'broken.npz'}: "
    )
    assert data["pairs"][2]["report"]["metrics"] == _expected(truth * 1.1)
    assert data["pairs"][2]["input"]["placement"]["method"] == "same grid"
    with open(out.with_suffix(".csv"), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["ok"] for r in rows] == ["True", "False", "True"]
    assert "run7" in captured.out


def test_csv_manifest_with_relative_paths_and_no_overwrite(tmp_path, truth, capsys):
    _write(tmp_path / "sweep", truth)
    manifest = tmp_path / "m.csv"
    manifest.write_text("name,recon,truth\nfirst,sweep/a.npz,default\n", encoding="utf-8")
    out = tmp_path / "res.json"
    argv = ["evaluate", "--many", str(manifest), "--output", str(out), "--workers", "1"]
    assert cli.main(argv) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["pairs"][0]["name"] == "first"
    assert cli.main(argv) == 1
    assert f"{out} exists; remove it or choose another --output" in capsys.readouterr().err


def test_json_manifest(tmp_path, truth):
    _write(tmp_path / "sweep", truth)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"recon": "sweep/a.npz"}]), encoding="utf-8")
    (pair,) = read_pairs(str(manifest), "default")
    assert pair.name == "a"
    assert Path(pair.recon) == tmp_path / "sweep" / "a.npz"
    assert pair.truth == "default"


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("recon\n", ".csv", "lists no pairs"),
        ("name,recon\nx,a.npz\n", ".csv", "entry 1 has no 'truth' and no --truth was given"),
        (
            "name,recon,colour\nx,a.npz,red\n",
            ".csv",
            "entry 1 must have a 'recon' and only the keys",
        ),
        ("{", ".json", "not valid JSON"),
        ("{}", ".json", "a JSON manifest must be a list of objects"),
        ("", ".txt", "--many must be a directory, a .csv or a .json manifest"),
    ],
)
def test_bad_manifests(tmp_path, content, suffix, message):
    manifest = tmp_path / f"m{suffix}"
    manifest.write_text(content, encoding="utf-8")
    with pytest.raises(QualityInputError, match=re.escape(message)):
        read_pairs(str(manifest), None)


def test_usage_errors(tmp_path, capsys):
    assert cli.main(["evaluate", "--truth", "default"]) == 1
    assert "evaluate needs --recon (or --many MANIFEST_OR_DIR)" in capsys.readouterr().err
    assert cli.main(["evaluate", "--many", str(tmp_path)]) == 1
    assert "--many needs --output FILE.json" in capsys.readouterr().err
    assert (
        cli.main(["evaluate", "--many", str(tmp_path), "--output", str(tmp_path / "o.json")]) == 1
    )
    assert "--many with a directory needs --truth" in capsys.readouterr().err


def test_single_pair_options_are_refused_with_many(tmp_path, capsys):
    out = tmp_path / "o.json"
    argv = ["evaluate", "--many", str(tmp_path), "--truth", "default", "--output", str(out)]
    assert cli.main([*argv, "--format", "cdtools", "--json", "--plot", "p.png"]) == 1
    assert (
        "--many takes no --recon, --json or --plot (the reconstructions come from "
        "MANIFEST_OR_DIR, the results go to the --output tables), got --json, --plot"
    ) in capsys.readouterr().err
    assert not out.exists()


def test_old_manifest_gives_the_single_pair_numbers(tmp_path, truth, capsys):
    """A manifest of before the io readers (name,recon,truth,mask) reads as it did."""
    _write(tmp_path / "sweep", truth)
    np.save(tmp_path / "m.npy", np.ones(truth.shape, bool))
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "name,recon,truth,mask\nfirst,sweep/a.npz,default,m.npy\n"
        f"second,sweep/run7/reconstruction.npz,{fixture_path('default')},\n",
        encoding="utf-8",
    )
    out = tmp_path / "res.json"
    argv = ["evaluate", "--many", str(manifest), "--output", str(out), "--workers", "1"]
    assert cli.main(argv) == 0
    pairs = json.loads(out.read_text(encoding="utf-8"))["pairs"]
    capsys.readouterr()
    for pair, recon in zip(pairs, ("sweep/a.npz", "sweep/run7/reconstruction.npz"), strict=True):
        status = cli.main(
            ["evaluate", "--recon", str(tmp_path / recon), "--truth", "default", "--json"]
        )
        single = json.loads(capsys.readouterr().out)
        assert status == 0
        assert pair["report"]["metrics"] == single["metrics"]
        assert pair["input"]["reconstruction"]["format"] == "ptycho-metrics"
    assert pairs[0]["input"]["input_notes"][-2] == f"mask narrowed by {tmp_path / 'm.npy'}"


def test_manifest_columns_set_each_pairs_format_and_options(tmp_path, capsys):
    pytest.importorskip("cdtools", reason="the interop extra is not installed")
    data = load_fixture("default")
    write_cdtools_results(tmp_path / "results.h5", data, data.obj * np.exp(0.1j))
    np.save(tmp_path / "big.npy", embedded(data))
    np.savez(tmp_path / "hand.npz", object=data.obj * 0.9)
    write_native(tmp_path / "other.npz", data.obj, "0" * 64)
    rows = [
        {"name": "cd", "recon": "results.h5"},  # detected, a fixture name from --truth
        {"name": "npy", "recon": "big.npy", "format": "plain", "pixel_size": PIXEL},
        {"name": "hand", "recon": "hand.npz", "format": "ptycho-metrics"},
        {"name": "other", "recon": "other.npz", "allow_other_data": True},
        {"name": "refused", "recon": "other.npz"},
        {"name": "not_h5", "recon": "hand.npz", "format": "cdtools"},
    ]
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(rows), encoding="utf-8")
    out = tmp_path / "res.json"
    argv = ["evaluate", "--many", manifest, "--truth", "default", "--output", out]
    status = cli.main([str(a) for a in argv] + ["--workers", "1"])
    err = capsys.readouterr().err
    assert status == 1
    assert "2 of 6 pairs failed: refused, not_h5" in err
    pairs = {p["name"]: p for p in json.loads(out.read_text(encoding="utf-8"))["pairs"]}
    assert pairs["cd"]["input"]["reconstruction"]["format"] == "cdtools"
    assert pairs["cd"]["report"]["metrics"] == _expected(data.obj * np.exp(0.1j))
    assert pairs["npy"]["input"]["placement"]["method"] == "registration"
    assert pairs["npy"]["report"]["metrics"] == _expected(data.obj)
    assert pairs["hand"]["report"]["metrics"] == _expected(data.obj * 0.9)
    assert pairs["other"]["input"]["input_notes"][0].startswith("allowed other data: ")
    assert pairs["refused"]["error"].startswith(f"OtherDataError: {tmp_path / 'other.npz'}: ")
    assert pairs["not_h5"]["error"] == (
        f"FormatError: {tmp_path / 'hand.npz'}: format='cdtools' needs an HDF5 file, and this "
        "is not one"
    )


def test_command_line_options_apply_to_every_pair(tmp_path, truth, capsys):
    """Hand-saved object-only npz files: --format ptycho-metrics for the whole directory."""
    (tmp_path / "sweep").mkdir()
    for k in range(2):
        np.savez(tmp_path / "sweep" / f"r{k}.npz", object=truth * (1 + 0.1 * k))
    np.save(tmp_path / "sweep" / "flat.npy", embedded(load_fixture("default")))
    out = tmp_path / "res.json"
    argv = ["evaluate", "--many", str(tmp_path / "sweep"), "--truth", "default"]
    argv += ["--output", str(out), "--workers", "1", "--format", "ptycho-metrics"]
    assert cli.main(argv) == 1
    pairs = json.loads(out.read_text(encoding="utf-8"))["pairs"]
    assert [p["name"] for p in pairs] == ["flat", "r0", "r1"]
    assert pairs[0]["error"] == (
        f"FormatError: {tmp_path / 'sweep' / 'flat.npy'}: format='ptycho-metrics' needs an .npz "
        "archive, and this is not one"
    )
    assert pairs[2]["report"]["metrics"] == _expected(truth * 1.1)
    assert "1 of 3 pairs failed: flat" in capsys.readouterr().err


def test_directory_takes_every_format_and_skips_its_truth(tmp_path, truth):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "scan.npz").write_bytes(fixture_path("default").read_bytes())
    for name in ("a.npz", "a.h5", "b.ptyr", "c.npy", "d.tif", "notes.txt", "sweep.json"):
        (sweep / name).write_bytes(b"")
    pairs = read_pairs(str(sweep), str(sweep / "scan.npz"))
    assert [p.name for p in pairs] == ["a.h5", "a.npz", "b.ptyr", "c.npy", "d.tif"]
    assert {Path(p.truth) for p in pairs} == {sweep / "scan.npz"}


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("layer\nx", "entry 1: 'layer' must be an integer, got 'x'"),
        ("mode\n1.5", "entry 1: 'mode' must be an integer, got '1.5'"),
        ("resample\nmaybe", "entry 1: 'resample' must be true or false, got 'maybe'"),
        ('pixel_size\n"1e-8,2e-8,3e-8"', "entry 1: 'pixel_size' must be metres as W or W,H"),
        ("pixel_tolerance\nsmall", "entry 1: 'pixel_tolerance' must be a number, got 'small'"),
    ],
)
def test_bad_manifest_cells(tmp_path, cell, message):
    header, value = cell.split("\n")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"recon,truth,{header}\na.npz,default,{value}\n", encoding="utf-8")
    with pytest.raises(QualityInputError, match=re.escape(message)):
        read_pairs(str(manifest), None)


def test_manifest_cells_are_typed(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "recon,truth,layer,pixel_size,resample,allow_other_data,key,format\n"
        'a.h5,default,2,"1e-8,2e-8",yes,FALSE,obj,cdtools\n'
        "b.h5,default,,,,,,\n",
        encoding="utf-8",
    )
    first, second = read_pairs(str(manifest), None)
    assert first.read == {
        "format": "cdtools",
        "layer": 2,
        "key": "obj",
        "pixel_size": (1e-8, 2e-8),
        "resample": True,
        "allow_other_data": False,
    }
    assert second.read is None


def test_paths_are_made_absolute_for_workers_elsewhere(tmp_path, monkeypatch):
    """--truth is relative to the current folder, a manifest's paths to the manifest's."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "scan.npz").write_bytes(fixture_path("default").read_bytes())
    (tmp_path / "runs" / "m.csv").write_text(
        "recon,truth\na.npz,\nb.npz,../scan.npz\nc.npz,default\n", encoding="utf-8"
    )
    (tmp_path / "runs" / "d.npz").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    a, b, c = read_pairs("runs/m.csv", "scan.npz")
    assert [Path(p.recon) for p in (a, b, c)] == [tmp_path / "runs" / f"{n}.npz" for n in "abc"]
    assert Path(a.truth) == tmp_path / "scan.npz"
    assert Path(b.truth).resolve() == tmp_path / "scan.npz"
    assert Path(b.truth).is_absolute()
    assert c.truth == "default"
    (d,) = read_pairs("runs", "default")
    assert Path(d.recon) == tmp_path / "runs" / "d.npz"
