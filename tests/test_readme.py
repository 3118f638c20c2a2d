"""The README's "Gate your own pipeline" example, run as written in a fresh repository.

The code block marked ``gate-example`` is saved, unchanged, as the test file it
names, in a throw-away directory that knows nothing of this repository; then the
README's steps run there: first run (writes the golden, fails), rerun (passes),
``NOISE = 0.05`` (fails, with the HTML report at the printed path),
``ptycho-metrics goldens diff`` and ``ptycho-metrics goldens update --reason ...
--allow-worse`` (the review command, which runs pytest in a subprocess), and a
final run that passes against the reviewed golden.

Not covered here: creating a fresh virtual environment and installing into it
(minutes); the package under test is the one installed in this environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ptycho_metrics.cli import main as cli_main

# Loaded here, so pytester's in-process runs (which restore sys.modules after each run)
# never import a C extension a second time ("cannot load module more than once").
for _name in (
    "numpy",
    "scipy.fft",
    "skimage.metrics",
    "matplotlib.backends.backend_agg",
    "ptycho_metrics._report",
):
    __import__(_name)

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> tuple[str, str]:
    """(file name, code) of the README block after the ``gate-example`` marker."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- gate-example: (\S+) .*?-->\n```python\n(.*?)```", text, re.S)
    assert found, "README.md lost its gate-example block"
    return found.group(1), found.group(2)


def test_readme_gate_example_flow(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("CI", raising=False)  # the README's local steps
    name, code = _example()
    test_file = pytester.path / name
    test_file.parent.mkdir(parents=True)
    test_file.write_text(code, encoding="utf-8")
    golden = test_file.parent / "goldens" / "test_my_pipeline" / "test_my_reconstruction.json"

    first = pytester.runpytest(name, "-p", "no:cacheprovider")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(["*File not found in data directory, created:*"])
    doc = json.loads(golden.read_text())
    assert "frc_0p5" in doc["metrics"]  # gate_metrics: present even where NaN
    assert doc["info"]["frc"]["correlation"]  # the curve, for the report
    assert doc["info"]["frc_crossed"] == {"frc_0p5": True, "frc_half_bit": False}
    assert doc["metrics"]["frc_half_bit"] == 0.5  # never crossed: Nyquist
    pytester.runpytest(name, "-p", "no:cacheprovider").assert_outcomes(passed=1)

    assert "NOISE = 0.02" in code, "the README's provoked failure no longer applies"
    test_file.write_text(code.replace("NOISE = 0.02", "NOISE = 0.05"), encoding="utf-8")
    failed = pytester.runpytest(name, "-p", "no:cacheprovider")
    failed.assert_outcomes(failed=1)
    index = pytester.path / "quality-gate-report" / "index.html"
    failed.stdout.fnmatch_lines(
        ["*Failed: *amplitude_ssim (worse beyond tolerance)*", f"*HTML report: {index}"]
    )
    page = index.read_text()
    assert page.count('src="data:image/png;base64,') == 2  # FRC curves, image panels

    root = ["--root", str(pytester.path)]
    capsys.readouterr()
    assert cli_main(["goldens", "diff", *root]) == 0
    assert re.search(r"amplitude_ssim .* WORSE", capsys.readouterr().out)
    reason = "noisier detector, accepted by review"
    assert cli_main(["goldens", "update", *root, "--reason", reason, "--allow-worse", "--yes"]) == 0
    assert "wrote tests/goldens/test_my_pipeline/test_my_reconstruction.json" in (
        capsys.readouterr().out
    )
    log = golden.parents[1] / "PROVENANCE.jsonl"
    record = json.loads(log.read_text().splitlines()[-1])
    assert (record["reason"], record["allow_worse"]) == (reason, True)
    assert "amplitude_ssim" in record["files"][0]["worse"]
    pytester.runpytest(name, "-p", "no:cacheprovider").assert_outcomes(passed=1)
