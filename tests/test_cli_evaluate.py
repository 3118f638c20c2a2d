"""``ptycho-metrics evaluate`` on any format: JSON, plot, data-hash refusal, real-valued objects."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _io_cases import embedded, fixture, write_native

from ptycho_metrics import cli

CLI = [sys.executable, "-m", "ptycho_metrics.cli"]


def _error_line(argv: list, capsys: pytest.CaptureFixture) -> str:
    status = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_json_report_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = fixture()
    recon = write_native(tmp_path / "reconstruction.npz", data.obj, data.sha256)
    out = tmp_path / "report.json"
    status = cli.main(
        ["evaluate", "--recon", str(recon), "--truth", "default", "--json", "--output", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    report = json.loads(captured.out)  # stdout is the JSON document and nothing else
    assert report["metrics"]["amplitude_ssim"] == pytest.approx(1.0)
    assert report["reconstruction"]["format"] == "ptycho-metrics"
    assert report["placement"]["method"] == "same grid"
    assert report["truth"]["sha256"] == data.sha256
    assert json.loads(out.read_text()) == report
    assert f"metrics: {out}" in captured.err


def test_table_and_notes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = fixture()
    path = tmp_path / "obj.npy"
    np.save(path, embedded(data))
    status = cli.main(
        [
            "evaluate",
            "--recon",
            str(path),
            "--truth",
            "default",
            "--pixel-size",
            "5.960464477539063e-08",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "note: placed by registration" in out
    assert "amplitude_ssim" in out


def test_other_data_refused_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = fixture()
    recon = write_native(tmp_path / "reconstruction.npz", data.obj, "ab" * 32, "phase_wrap.npz")
    line = _error_line(["evaluate", "--recon", recon, "--truth", "default"], capsys)
    assert line.startswith(
        f"ptycho-metrics: error: {recon}: made from data with sha256 abababababab"
    )
    assert "--allow-other-data" in line
    status = cli.main(
        ["evaluate", "--recon", str(recon), "--truth", "default", "--allow-other-data"]
    )
    assert status == 0
    assert "note: allowed other data" in capsys.readouterr().out


def test_real_valued_object_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = fixture()
    recon = tmp_path / "reconstruction.npz"
    write_native(recon, data.obj, data.sha256)
    with np.load(recon) as npz:
        arrays = dict(npz)
    arrays["object"] = np.abs(arrays["object"])  # the amplitude saved as the object
    np.savez(recon, **arrays)
    line = _error_line(["evaluate", "--recon", recon, "--truth", "default"], capsys)
    expected = (
        f"{recon}: key 'object': the object is real-valued (float32); a reconstruction must be "
        "the complex object"
    )
    assert re.search(re.escape(expected), line), line


def test_layered_object_without_choice(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "stack.npy"
    np.save(path, np.ones((2, 8, 8), complex))
    line = _error_line(
        ["evaluate", "--recon", path, "--truth", "default", "--pixel-size", "1e-8"], capsys
    )
    assert "the object has 2 slices, shape (2, 8, 8); choose one with layer=0..1" in line


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = fixture()
    recon = write_native(tmp_path / "reconstruction.npz", data.obj, data.sha256)
    png = tmp_path / "eval.png"
    assert (
        cli.main(["evaluate", "--recon", str(recon), "--truth", "default", "--plot", str(png)]) == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: {png}" in capsys.readouterr().out


def test_subprocess_one_line_error(tmp_path: Path) -> None:
    bogus = tmp_path / "recon.h5"
    bogus.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 32)
    done = subprocess.run(
        [*CLI, "evaluate", "--recon", str(bogus), "--truth", "default"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"ptycho-metrics: error: {bogus}: not a readable HDF5 file "
        + done.stderr.split("not a readable HDF5 file ", 1)[1].strip()
    ]


def test_made_from_the_fixtures_cxi_is_the_same_data(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = fixture()
    manifest = json.loads((data.path.parent / "manifest.json").read_text())
    cxi_sha = manifest["files"]["default.npz"]["cxi"]["sha256"]
    recon = write_native(tmp_path / "reconstruction.npz", data.obj, cxi_sha, "default.cxi")
    assert cli.main(["evaluate", "--recon", str(recon), "--truth", "default"]) == 0
    assert "allowed other data" not in capsys.readouterr().out
