"""The failure report (ptycho_metrics.gate.report): results directory, JSON summary, HTML,
and the HTML rendered in a real headless Chromium (Debian's chromium + chromium-driver,
driven by selenium). Without Chromium the browser test skips locally and fails under CI.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ptycho_metrics import convergence_metrics, evaluate
from ptycho_metrics._curve import curve_from_json, curve_to_json
from ptycho_metrics.gate import _figures, compare_contract, compare_metrics, in_ci
from ptycho_metrics.gate.report import ReportEntry, ResultsDir, frc_curve, image_rows

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2400",
)


def _pair(noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, x = np.mgrid[:64, :64]
    truth = (1 + 0.3 * np.cos(x / 4) * np.sin(y / 5)) * np.exp(1j * 0.8 * np.sin(x / 7 + y / 9))
    rng = np.random.default_rng(5)
    recon = truth * np.exp(0.3j) + noise * (rng.standard_normal(truth.shape) + 0j)
    mask = np.zeros(truth.shape, dtype=bool)
    mask[4:60, 6:58] = True
    return recon, truth, mask


def _curves() -> tuple[dict, dict]:
    """A golden's and a slower run's learning curves (JSON columns, as a golden stores them)."""
    epochs = np.arange(13.0)
    golden = {
        "epoch": epochs,
        "step": 25 * epochs,
        "amplitude_ssim": 0.98 - 0.65 * np.exp(-epochs / 1.5),
        "phase_rmse": 0.01 + 0.5 * np.exp(-epochs / 1.2),
        "frc_mean": 0.97 - 0.95 * np.exp(-epochs / 1.8),
    }
    run = {
        k: v if k in ("epoch", "step") else np.interp(epochs - 2.0, epochs, v)
        for k, v in golden.items()
    }
    run["phase_rmse"][4] = np.nan  # a failed evaluation: a gap, not a crash
    return curve_to_json(golden), curve_to_json(run)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> ResultsDir:
    """A results directory with one failed entry drawn from real evaluate() output."""
    good = evaluate(*_pair(0.01)[:2])
    recon, truth, mask = _pair(0.08)
    worse = evaluate(recon, truth, mask=mask)
    golden_curve, run_curve = _curves()
    result = compare_metrics(
        {**worse.gate_metrics(), **convergence_metrics(curve_from_json(run_curve))},
        {**good.gate_metrics(), **convergence_metrics(curve_from_json(golden_curve))},
    )
    rows, alignment = image_rows(recon, truth, mask)
    entry = ReportEntry(
        nodeid="tests/test_x.py::test_y[<b>]",
        golden="tests/goldens/test_x/test_y.json",
        outcome="failed",
        message="quality gate: <worse> & more",
        rows=ReportEntry.table(result),
        contract_changes=ReportEntry.changes(compare_contract({"seed": 2}, {"seed": 1})),
        alignment=alignment,
        notes=list(worse.notes),
        images={
            "frc": _figures.frc_png(frc_curve(good.frc), frc_curve(worse.frc)),
            "curve": _figures.learning_curves_png(
                golden_curve, run_curve, gated=ReportEntry.table(result)
            ),
            "panels": _figures.panels_png(rows),
        },
    )
    out = ResultsDir(tmp_path_factory.mktemp("results") / "report", header={"rootdir": "/r"})
    out.add(entry, '{"metrics": {}}\n', "test_y")
    return out


def test_results_dir_holds_html_summary_and_obtained(results: ResultsDir) -> None:
    summary = json.loads((results.path / "summary.json").read_text())
    assert (summary["schema"], summary["failed"], summary["passed"]) == (1, 1, 0)
    test = summary["tests"][0]
    assert test["obtained"] == "tests_test_x.py_test_y_b/test_y.obtained.json"
    assert (results.path / test["obtained"]).read_text() == '{"metrics": {}}\n'
    assert "amplitude_ssim" in test["failed_metrics"]
    assert "images" not in test
    page = results.index.read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert page.index('alt="FRC curves') < page.index('alt="learning curves') < page.index("truth,")
    assert "&lt;worse&gt; &amp; more" in page  # escaped
    assert "<script" not in page
    assert "http" not in page  # nothing to fetch: opens from a CI artifact


def test_a_new_session_removes_only_what_the_last_one_wrote(tmp_path: Path) -> None:
    path = tmp_path / "report"
    first = ResultsDir(path, header={})
    first.add(ReportEntry("t::a", "g.json", "failed", "m"), "{}", "a")
    (path / "mine.txt").write_text("keep")
    second = ResultsDir(path, header={})
    second.add(ReportEntry("t::b", "g.json", "failed", "m"), "{}", "b")
    assert sorted(p.name for p in path.iterdir()) == [
        "index.html", "mine.txt", "summary.json", "t_b"
    ]  # fmt: skip


def test_image_rows_cover_the_compared_box_only() -> None:
    recon, truth, mask = _pair(0.0)
    rows, alignment = image_rows(recon, truth, mask)
    assert [label for label, *_ in rows] == ["amplitude", "phase (rad)"]
    for _, t, r, err in rows:
        assert t.shape == r.shape == err.shape == (56, 52)
        assert np.nanmax(np.abs(err)) < 1e-6  # a global phase only: aligned away
    assert alignment["phase_offset"] == pytest.approx(0.3, abs=1e-6)


def test_report_renders_in_headless_chromium(results: ResultsDir, tmp_path: Path) -> None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        msg = "chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
        if in_ci():
            pytest.fail(f"{msg}; under CI this test never skips")
        pytest.skip(msg)
    if not in_ci():
        pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(results.index.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth]);"
        )
        logs = driver.get_log("browser")
        driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    assert [alt.split()[0] for alt, *_ in images] == ["FRC", "learning", "truth,"]
    assert all(complete and width > 0 for _, complete, width in images), images
    assert [e for e in logs if e["level"] in ("SEVERE", "WARNING")] == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_learning_curves_png_draws_one_side_alone() -> None:
    one = {"epoch": [0.0, 1.0], "phase_ssim": [0.2, 0.9]}  # a single panel
    for curves in ((one, None), (None, one)):
        png = base64.b64decode(_figures.learning_curves_png(*curves))
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
