"""``ptycho-metrics fixtures list`` and ``fixtures export``: output, refusals, errors."""

from __future__ import annotations

import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

from ptycho_metrics import cli
from ptycho_metrics.data import fixture_path, list_fixtures


def test_list_shows_every_fixture_with_geometry(capsys):
    assert cli.main(["fixtures", "list"]) == 0
    out = capsys.readouterr().out
    for name in list_fixtures():
        assert re.search(rf"^{name}: ", out, re.MULTILINE), name
    assert out.count("geometry  10.6502 keV (wavelength 1.16415e-10 m), distance 1 m") == 4
    assert "object pixel 5.96046e-08 m" in out
    assert "object pixel 2.98023e-08 m" in out  # pinn64, N = 64
    assert "scan      jittered_raster, step 8 px, starting probe probe_initial" in out
    assert "PtychoPINN (TF and torch" in out
    assert "dose      1e+06 counts/pattern" in out


def test_export_as_a_subprocess(tmp_path):
    out = tmp_path / "default.cxi"
    cmd = [sys.executable, "-m", "ptycho_metrics.cli", "fixtures", "export", "default"]
    cmd += ["--format", "cxi", "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    assert out.read_bytes() == fixture_path("default").with_suffix(".cxi").read_bytes()
    with h5py.File(out, "r") as f:
        assert f["entry_1/data_1/data"].shape == (169, 32, 32)


def test_export_npz_notes_the_patch_size(tmp_path, capsys):
    out = tmp_path / "d.npz"
    assert cli.main(["fixtures", "export", "default", "--format", "npz", "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert "note: PtychoPINN's models need N in {64, 128, 256}; default has N = 32" in captured.err
    with np.load(out) as npz:
        assert {"diffraction", "diff3d", "Y", "xcoords_start", "ycoords_start"} <= set(npz.files)
    out64 = tmp_path / "p.npz"
    assert (
        cli.main(["fixtures", "export", "pinn64", "--format", "npz", "--output", str(out64)]) == 0
    )
    assert "note:" not in capsys.readouterr().err


def test_unknown_name_lists_the_known_ones(tmp_path, capsys):
    out = tmp_path / "x.cxi"
    status = cli.main(["fixtures", "export", "nope", "--format", "cxi", "--output", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    known = ", ".join(repr(n) for n in list_fixtures())
    assert err.startswith("ptycho-metrics: error: unknown fixture 'nope'")
    assert f"lists {known}" in err
    assert not out.exists()


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "d.cxi"
    out.write_bytes(b"keep me")
    argv = ["fixtures", "export", "default", "--format", "cxi", "--output", str(out)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"ptycho-metrics: error: {out}: already exists; pass --overwrite (overwrite=True) "
        "to replace it"
    )
    assert out.read_bytes() == b"keep me"
    assert cli.main([*argv, "--overwrite"]) == 0
    assert out.read_bytes() == fixture_path("default").with_suffix(".cxi").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.cxi"]  # no temporary left


def test_bad_format_is_a_usage_error(tmp_path, capsys):
    argv = ["fixtures", "export", "default", "--format", "tiff", "--output", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "invalid choice: 'tiff' (choose from 'cxi', 'npz')" in capsys.readouterr().err
