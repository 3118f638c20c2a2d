"""``ptycho-metrics evaluate --many``: directories and manifests in, one JSON and one CSV out."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from ptycho_metrics import QualityInputError, cli, evaluate
from ptycho_metrics.cli._many import read_pairs
from ptycho_metrics.data import load_fixture


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return load_fixture("default").obj


def _write(folder: Path, truth: np.ndarray) -> None:
    folder.mkdir()
    np.savez(folder / "a.npz", object=truth * np.exp(0.2j))
    (folder / "run7").mkdir()
    np.savez(folder / "run7" / "reconstruction.npz", object=truth * 1.1)
    np.savez(folder / "broken.npz", object=truth[:50])


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
    assert data["pairs"][1]["error"].startswith("QualityInputError: recon and truth must have")
    expected = evaluate(truth * 1.1, truth).metrics["amplitude_ssim"]
    assert data["pairs"][2]["report"]["metrics"]["amplitude_ssim"] == expected
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
    assert cli.main([*argv, "--format", "cdtools", "--json"]) == 1
    assert (
        "--many takes none of the single-pair options (its pairs are ptycho-metrics "
        "reconstruction.npz files with keys object, mask), got --format, --json"
    ) in capsys.readouterr().err
    assert not out.exists()
