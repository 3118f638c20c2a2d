"""The command lines: bad inputs give one clear stderr line and a non-zero exit.

Each command line runs at least once as a real subprocess, the way a user or
CI runs it, so a traceback anywhere (interpreter start, argument handling,
loading, Lightning) would show. The full matrix of bad inputs then calls the
same ``main()`` functions in-process, which keeps the suite fast (a
subprocess spends ~5 s importing torch and Lightning).
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_metrics import cli
from ptycho_metrics.data import fixture_path
from ptycho_metrics.pipeline import train

# The package exports the functions train/infer under the modules' names.
train_cli = importlib.import_module("ptycho_metrics.pipeline.train")
infer_cli = importlib.import_module("ptycho_metrics.pipeline.infer")

TRAIN = [sys.executable, "-m", "ptycho_metrics.pipeline.train"]
INFER = [sys.executable, "-m", "ptycho_metrics.pipeline.infer"]
CLI = [sys.executable, "-m", "ptycho_metrics.cli"]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, check=False, timeout=300
    )


def _assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _main_error(main: Callable[[list[str]], int], argv: list, capsys: pytest.CaptureFixture) -> str:
    """Run a CLI ``main`` in-process; return its one stderr line after checking it."""
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Data files that each break the contract in one way."""
    folder = tmp_path_factory.mktemp("bad")
    with np.load(fixture_path("default")) as npz:
        good = {k: npz[k] for k in npz.files}
    files: dict[str, Path] = {"missing": folder / "missing.npz"}

    def write(name: str, **changes: np.ndarray | None) -> None:
        arrays = {k: v for k, v in {**good, **changes}.items() if v is not None}
        files[name] = folder / f"{name}.npz"
        np.savez(files[name], **arrays)

    write("wrong_keys", diffraction=None)
    write("wrong_shapes", diffraction=good["diffraction"][0])
    write("probe_mismatch", probeGuess=good["probeGuess"][:16, :16])
    files["not_npz"] = folder / "not_npz.npz"
    files["not_npz"].write_text("plain text")
    return files


#: bad file -> text the one error line must contain
DATA_CASES = {
    "missing": "missing.npz",
    "wrong_keys": "diffraction",
    "wrong_shapes": "diffraction",
    "probe_mismatch": "probeGuess",
    "not_npz": "not_npz.npz",
}


def test_train_cli_bad_data_subprocess(tmp_path: Path, bad_files: dict[str, Path]) -> None:
    done = _run([*TRAIN, "--data", bad_files["wrong_shapes"], "--output-dir", tmp_path], tmp_path)
    _assert_one_line_error(done, "error:", "diffraction")
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_train_cli_bad_data(
    tmp_path: Path, bad_files: dict[str, Path], case: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--data", bad_files[case], "--output-dir", tmp_path]
    line = _main_error(train_cli.main, argv, capsys)
    assert line.startswith("error:")
    assert DATA_CASES[case] in line
    assert not (tmp_path / "checkpoints").exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ckpt")
    return train(fixture_path("default"), out, max_epochs=1, steps_per_epoch=2, progress=False)


@pytest.fixture(scope="module")
def foreign_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("foreign")
    other = folder / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {}}, other)
    text = folder / "text.ckpt"
    text.write_text("hello")
    return {"missing": folder / "missing.ckpt", "other": other, "text": text}


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing", "does not exist"),
        ("other", "not a PtychoPINNLightning checkpoint"),
        ("text", "not a readable torch checkpoint"),
    ],
)
def test_infer_cli_bad_checkpoint(
    tmp_path: Path,
    foreign_checkpoints: dict[str, Path],
    case: str,
    needle: str,
    capsys: pytest.CaptureFixture,
) -> None:
    argv = ["--checkpoint", foreign_checkpoints[case], "--data", fixture_path("default")]
    line = _main_error(infer_cli.main, [*argv, "--output-dir", tmp_path], capsys)
    assert line.startswith("error:")
    assert needle in line
    assert not (tmp_path / "reconstruction.npz").exists()


def test_infer_cli_bad_checkpoint_subprocess(
    tmp_path: Path, foreign_checkpoints: dict[str, Path]
) -> None:
    cmd = [*INFER, "--checkpoint", foreign_checkpoints["other"], "--data", fixture_path("default")]
    done = _run([*cmd, "--output-dir", tmp_path], tmp_path)
    _assert_one_line_error(done, "error:", "not a PtychoPINNLightning checkpoint")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["wrong_keys", "probe_mismatch", "missing"])
def test_infer_cli_bad_data(
    tmp_path: Path,
    bad_files: dict[str, Path],
    checkpoint: Path,
    case: str,
    capsys: pytest.CaptureFixture,
) -> None:
    argv = ["--checkpoint", checkpoint, "--data", bad_files[case], "--output-dir", tmp_path]
    line = _main_error(infer_cli.main, argv, capsys)
    assert line.startswith("error:")
    assert DATA_CASES[case] in line


@pytest.mark.slow
def test_infer_cli_refuses_to_overwrite(
    tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "reconstruction.npz").write_bytes(b"precious")
    argv = ["--checkpoint", checkpoint, "--data", fixture_path("default")]
    line = _main_error(infer_cli.main, [*argv, "--output-dir", tmp_path], capsys)
    assert "refusing to overwrite" in line
    assert "--overwrite" in line
    assert (tmp_path / "reconstruction.npz").read_bytes() == b"precious"


def test_train_cli_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"precious")
    argv = ["--data", fixture_path("default"), "--output-dir", tmp_path]
    line = _main_error(train_cli.main, argv, capsys)
    assert "refusing to overwrite" in line
    assert "last.ckpt" in line
    assert ckpt.read_bytes() == b"precious"


def test_run_cli_bad_data(tmp_path: Path, bad_files: dict[str, Path]) -> None:
    done = _run([*CLI, "run", "--data", bad_files["wrong_keys"]], tmp_path)
    _assert_one_line_error(done, "ptycho-metrics: error:", "diffraction")
    assert not (tmp_path / "ptycho-metrics-run" / "checkpoints").exists()


def test_run_cli_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "metrics.json").write_text("{}")
    line = _main_error(cli.main, ["run", "--output-dir", tmp_path], capsys)
    assert line.startswith("ptycho-metrics: error: refusing to overwrite")
    assert "metrics.json" in line
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_evaluate_cli_bad_recon(tmp_path: Path, bad_files: dict[str, Path]) -> None:
    done = _run([*CLI, "evaluate", "--recon", bad_files["not_npz"], "--truth", "default"], tmp_path)
    _assert_one_line_error(done, "ptycho-metrics: error:", "unknown reconstruction format")


def test_evaluate_cli_recon_without_object(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    np.savez(tmp_path / "no_object.npz", amplitude=np.ones((4, 4)))
    argv = ["evaluate", "--recon", tmp_path / "no_object.npz", "--truth", "default"]
    line = _main_error(cli.main, argv, capsys)
    assert "no complex array (a reconstruction must be the complex object" in line


@pytest.mark.slow
def test_run_end_to_end_then_evaluate(tmp_path: Path) -> None:
    done = _run([*CLI, "run", "--max-epochs", "1", "--threads", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = tmp_path / "ptycho-metrics-run"
    names = [
        "checkpoints/last.ckpt",
        "reconstruction.npz",
        "reconstructed_amplitude.png",
        "reconstructed_phase.png",
        "metrics.json",
    ]
    for name in names:
        assert (out / name).is_file(), name
        assert str(Path("ptycho-metrics-run") / name) in done.stdout, name
    assert "amplitude_ssim" in done.stdout
    assert "train: epoch 1/1" in done.stderr  # progress
    report = json.loads((out / "metrics.json").read_text())
    assert set(report["metrics"]) >= {"amplitude_ssim", "phase_ssim"}
    assert not (tmp_path / "lightning_logs").exists()
    # The evaluate command reproduces the run's numbers from the written files.
    truth = tmp_path / "truth.npz"
    shutil.copy(fixture_path("default"), truth)
    again = _run(
        [*CLI, "evaluate", "--recon", out / "reconstruction.npz", "--truth", truth,
         "--output", tmp_path / "again.json"],
        tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again.json").read_text())["metrics"] == report["metrics"]


def test_version(capsys: pytest.CaptureFixture) -> None:
    import ptycho_metrics
    from ptycho_metrics.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"ptycho-metrics {ptycho_metrics.__version__}\n"


def test_goldens_subcommands_are_listed(capsys: pytest.CaptureFixture) -> None:
    from ptycho_metrics.cli import main

    with pytest.raises(SystemExit):
        main(["goldens", "--help"])
    out = capsys.readouterr().out
    assert "{status,diff,update}" in out
    with pytest.raises(SystemExit) as info:
        main(["goldens", "update"])  # --reason is required
    assert info.value.code == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err


def test_train_cli_refuses_to_overwrite_a_learning_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "quality_curve.png").write_bytes(b"precious")
    argv = ["--data", fixture_path("default"), "--output-dir", tmp_path, "--log-quality-every", 1]
    line = _main_error(train_cli.main, argv, capsys)
    assert line.startswith("error: refusing to overwrite existing output")
    assert "quality_curve.png" in line
    assert (tmp_path / "quality_curve.png").read_bytes() == b"precious"
    assert not (tmp_path / "checkpoints").exists()


def test_train_cli_bad_quality_interval(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--data", fixture_path("default"), "--output-dir", tmp_path, "--log-quality-every", 0]
    line = _main_error(train_cli.main, argv, capsys)
    assert line == "error: log_quality_every must be a positive integer, got 0"


def test_run_cli_refuses_to_overwrite_a_learning_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "quality_curve.csv").write_text("precious")
    argv = ["run", "--output-dir", tmp_path, "--log-quality-every", 2]
    line = _main_error(cli.main, argv, capsys)
    assert "quality_curve.csv" in line
    assert not (tmp_path / "checkpoints").exists()  # refused before training
    assert (tmp_path / "quality_curve.csv").read_text() == "precious"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*LeafSpec.* is deprecated:FutureWarning")
def test_run_cli_writes_the_learning_curve(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ptycho_metrics._curve import read_curve_csv

    argv = ["run", "--output-dir", tmp_path, "--max-epochs", 2, "--threads", 1]
    assert cli.main([str(a) for a in [*argv, "--log-quality-every", 1]]) == 0
    out = capsys.readouterr()
    for name in ("quality_curve.csv", "quality_curve.png"):
        assert f"  {tmp_path / name}" in out.out.splitlines()
    assert "learning curve: epochs_to_amplitude_ssim_0p95 = " in out.out
    assert "| amplitude_ssim " in out.err  # the epoch lines show the new values
    curve = read_curve_csv(tmp_path / "quality_curve.csv")
    assert curve["epoch"].tolist() == [0, 1, 2]
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert curve["amplitude_ssim"][-1] == report["metrics"]["amplitude_ssim"]
