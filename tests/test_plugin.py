"""The quality_gate fixture end to end, in throw-away pytest sessions (pytester).

Every inner session uses the project's warning policy (``filterwarnings =
error`` plus ``default`` for RatchetWarning). The environment variable CI is
set or removed explicitly per test, since the outer run may itself be in CI.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

# matplotlib too, before any in-process pytester run (why: see below): the inner runs'
# failure reports draw with it, and imported a second time its classes would fail the
# first import's isinstance checks in later inner runs.
import matplotlib.backends.backend_agg
import matplotlib.figure  # noqa: F401
import pytest

# Imported here, before any in-process pytester run: pytester restores sys.modules after
# each run, and a NumPy submodule (numpy.fft, via the CLI's readers) first imported inside
# one cannot be imported a second time in this process.
import ptycho_metrics.io  # noqa: F401
from ptycho_metrics._metadata import EVALUATE_METRICS
from ptycho_metrics.cli import main as cli_main
from ptycho_metrics.gate import DEFAULT_TOLERANCES, compare_metrics, review

pytest_plugins = ["pytester"]

INI = """
[pytest]
filterwarnings =
    error
    default::ptycho_metrics.gate.RatchetWarning
"""

# The gated test reads its metrics and contract from values.json, so a test
# here changes the "pipeline output" between runs without touching the test.
TEST_MODULE = """
import json
from pathlib import Path

def test_gate(quality_gate):
    values = json.loads((Path(__file__).parent / "values.json").read_text())
    quality_gate.check(values["metrics"], contract=values.get("contract"), **values.get("kw", {}))

def test_not_gated():
    pass
"""

METRICS = {"amplitude_ssim": 0.9, "phase_mae": 0.1, "frc_0p5": 0.25}
CONTRACT = {"seed": 1, "max_epochs": 40, "fixture_sha256": "ab" * 32}
GOLDEN = Path("goldens", "test_mod", "test_gate.json")
SSIM_TOL = f"{DEFAULT_TOLERANCES['amplitude_ssim']:.4g}"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini(INI)
    pytester.makepyfile(test_mod=TEST_MODULE)
    write_values(pytester, METRICS)
    return pytester


def write_values(pytester: pytest.Pytester, metrics: dict, contract: dict = CONTRACT, **kw) -> None:
    values = {"metrics": metrics, "contract": contract, "kw": kw}
    (pytester.path / "values.json").write_text(json.dumps(values))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-k", "test_gate", *args)


@pytest.fixture
def golden(project: pytest.Pytester) -> Path:
    """A project whose golden exists (written by a first run)."""
    run(project).assert_outcomes(failed=1)
    return project.path / GOLDEN


def test_first_run_writes_golden_and_fails(project: pytest.Pytester) -> None:
    result = run(project)
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*File not found in data directory, created:*", f"*{GOLDEN}"])
    doc = json.loads((project.path / GOLDEN).read_text())
    assert doc["metrics"] == METRICS
    assert doc["contract"] == CONTRACT
    assert doc["fingerprint"]["packages"]["pytest-regressions"]
    assert "tolerance" not in json.dumps(doc)


def test_rerun_passes(golden: Path, project: pytest.Pytester) -> None:
    run(project).assert_outcomes(passed=1, deselected=1)


def test_worse_beyond_tolerance_fails_with_table(golden: Path, project: pytest.Pytester) -> None:
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Failed: amplitude_ssim (worse beyond tolerance)",
            "*metric*golden*obtained*delta*direction*tolerance*verdict",
            f"*amplitude_ssim*0.9*0.8*-0.1*higher*{SSIM_TOL}*WORSE",
            "*phase_mae*0.1*0.1*+0*lower*ok",
            "*Environment fingerprint*",
        ]
    )


def test_worse_within_tolerance_passes(golden: Path, project: pytest.Pytester) -> None:
    tol = DEFAULT_TOLERANCES
    within = {"amplitude_ssim": 0.9 - tol["amplitude_ssim"], "phase_mae": 0.1 + tol["phase_mae"]}
    write_values(project, {**METRICS, **within})
    run(project).assert_outcomes(passed=1)


def test_better_passes_with_ratchet_warning(golden: Path, project: pytest.Pytester) -> None:
    write_values(project, {**METRICS, "phase_mae": 0.01})
    result = run(project)
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*RatchetWarning*metrics improved beyond tolerance*"])
    assert json.loads(golden.read_text())["metrics"] == METRICS  # not rewritten


def test_missing_key_fails_naming_it(golden: Path, project: pytest.Pytester) -> None:
    write_values(project, {k: v for k, v in METRICS.items() if k != "frc_0p5"})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Failed: frc_0p5 (in the golden, missing from this run)"])


def test_extra_key_fails_naming_it(golden: Path, project: pytest.Pytester) -> None:
    write_values(project, {**METRICS, "phase_ssim": 0.9})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Failed: phase_ssim (in this run, absent from the golden)"])


def test_nan_is_never_written(project: pytest.Pytester) -> None:
    write_values(project, {**METRICS, "phase_mae": float("nan")})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*GateConfigError: metrics must be finite*phase_mae=nan*"])
    assert not (project.path / GOLDEN).exists()


def test_nan_is_never_accepted(golden: Path, project: pytest.Pytester) -> None:
    write_values(project, {**METRICS, "phase_mae": float("inf")})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*metrics must be finite*phase_mae=inf*"])


def test_contract_change_fails_saying_what_changed(golden: Path, project: pytest.Pytester) -> None:
    write_values(project, METRICS, contract={**CONTRACT, "max_epochs": 20})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*contract differs from the golden's*",
            "*max_epochs: golden 40 -> obtained 20",
            "*Every metric is within its tolerance*",
            "*ptycho-metrics goldens update --reason*",
        ]
    )


def test_contract_change_shows_the_metrics_that_moved(golden, project) -> None:
    write_values(project, {**METRICS, "phase_mae": 0.3}, contract={**CONTRACT, "seed": 2})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*seed: golden 1 -> obtained 2",
            "*Metrics that moved beyond tolerance (information, not the verdict):",
            "*phase_mae*0.1*0.3*+0.2*lower*WORSE",
        ]
    )


def test_fingerprint_is_shown_not_compared(golden: Path, project: pytest.Pytester) -> None:
    doc = json.loads(golden.read_text())
    doc["fingerprint"]["packages"]["numpy"] = "0.0.1"
    golden.write_text(json.dumps(doc))
    run(project).assert_outcomes(passed=1)
    write_values(project, {**METRICS, "amplitude_ssim": 0.5})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*  * packages.numpy: '*' (golden: '0.0.1')"])


def test_corrupted_golden_fails_and_force_regen_repairs_it(
    golden: Path, project: pytest.Pytester
) -> None:
    golden.write_text("{ not json")
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden file*is unreadable*"])
    run(project, "--force-regen").assert_outcomes(failed=1)
    run(project).assert_outcomes(passed=1)


def provenance(golden: Path) -> list[dict]:
    log = golden.parents[1] / "PROVENANCE.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("flag", ["--force-regen", "--regen-all"])
def test_regen_flags_never_write_a_worse_golden_without_allow_worse(
    golden: Path, project: pytest.Pytester, flag: str
) -> None:
    before = golden.read_bytes()
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    result = run(project, flag)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*{flag} refused for *test_gate.json: amplitude_ssim would get worse*"
            "*--quality-gate-allow-worse=REASON*",
            "*amplitude_ssim*0.9*0.8*WORSE",
        ]
    )
    assert golden.read_bytes() == before
    assert [r["tool"] for r in provenance(golden)] == ["pytest first run (golden created)"]


def test_force_regen_with_allow_worse_rewrites_and_logs_provenance(
    golden: Path, project: pytest.Pytester
) -> None:
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    result = run(project, "--force-regen", "--quality-gate-allow-worse=new probe, reviewed")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Files differ and --force-regen set, regenerating file at:*"])
    assert json.loads(golden.read_text())["metrics"]["amplitude_ssim"] == 0.8
    record = provenance(golden)[-1]
    assert record["reason"] == "new probe, reviewed"
    assert record["allow_worse"] is True
    assert record["tool"] == "pytest --force-regen"
    assert record["files"] == [
        {
            "path": str(GOLDEN),
            "status": "changed",
            "sha256": hashlib.sha256(golden.read_bytes()).hexdigest(),
            "worse": ["amplitude_ssim"],
        }
    ]
    run(project).assert_outcomes(passed=1)


def test_regen_all_writes_a_better_golden_and_passes(golden: Path, project) -> None:
    write_values(project, {**METRICS, "amplitude_ssim": 0.95})
    run(project, "--regen-all").assert_outcomes(passed=1)
    assert json.loads(golden.read_text())["metrics"]["amplitude_ssim"] == 0.95
    record = provenance(golden)[-1]
    assert (record["allow_worse"], record["files"][0]["worse"]) == (False, [])


@pytest.mark.parametrize("flag", ["--force-regen", "--regen-all"])
def test_regen_is_refused_in_ci(
    golden: Path, project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    before = golden.read_bytes()
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    monkeypatch.setenv("CI", "true")
    result = run(project, flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{flag} refused for quality_gate goldens*CI is set*"])
    assert golden.read_bytes() == before


def test_ci_alone_does_not_change_the_gate(golden: Path, project: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    run(project).assert_outcomes(passed=1)


@pytest.mark.parametrize("value", ["false", "0", ""])
def test_ci_false_zero_or_empty_is_not_ci(golden, project, monkeypatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    write_values(project, {**METRICS, "amplitude_ssim": 0.95})
    run(project, "--regen-all").assert_outcomes(passed=1)


def test_missing_golden_in_ci_is_not_written(project, monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no golden at*under CI nothing writes one*", "*HTML report: *"])
    assert not (project.path / GOLDEN).exists()
    obtained = (
        project.path / "quality-gate-report" / "test_mod.py_test_gate" / "test_gate.obtained.json"
    )
    assert json.loads(obtained.read_text())["metrics"] == METRICS


def test_unknown_metric_needs_direction_and_tolerance(project: pytest.Pytester) -> None:
    write_values(project, {"my_count": 169})
    result = run(project)
    result.stdout.fnmatch_lines(["*no direction known for metric(s) 'my_count'*"])
    write_values(project, {"my_drift": 0.1}, directions={"my_drift": "two-sided"})
    result = run(project)
    result.stdout.fnmatch_lines(["*no tolerance for metric(s) 'my_drift'*"])
    assert not (project.path / GOLDEN).exists()
    write_values(project, {"my_count": 169}, directions={"my_count": "exact"})
    run(project).assert_outcomes(failed=1)  # first run: written
    write_values(project, {"my_count": 168}, directions={"my_count": "exact"})
    run(project).stdout.fnmatch_lines(["*my_count*169*168*-1*exact*0*CHANGED"])


def test_staging_writes_outside_the_tree(golden: Path, project: pytest.Pytester) -> None:
    before = golden.read_bytes()
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    staging = project.path / "stage"
    result = project.runpytest(
        "-p", "no:cacheprovider", "--regen-all", f"--quality-gate-staging={staging}"
    )
    result.assert_outcomes(passed=1, deselected=1)  # test_not_gated deselected
    assert golden.read_bytes() == before
    relative = golden.relative_to(project.path)
    assert json.loads((staging / relative).read_text())["metrics"]["amplitude_ssim"] == 0.8
    meta = json.loads((staging / f"{relative}.gatemeta").read_text())
    assert meta["tolerances"]["amplitude_ssim"] == DEFAULT_TOLERANCES["amplitude_ssim"]


def test_plugin_module_imports_only_pytest() -> None:
    code = (
        "import sys, ptycho_metrics.gate.plugin, ptycho_metrics.pytest_plugin; "
        "print(sorted({'torch', 'numpy', 'scipy', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_ini_choice_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makeini(INI + "quality_gate_unused = loud\n")
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*quality_gate_unused must be one of warn, error, ignore*"])


# ----------------------------------------------------------------------------- regen tool


@functools.cache
def _regen_tool() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "tools" / "regen_golden.py"
    spec = importlib.util.spec_from_file_location("regen_golden", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def regen(project: pytest.Pytester, *args: str) -> int:
    """``ptycho-metrics goldens update`` in the project (what a user runs)."""
    return cli_main(["goldens", "update", "--root", str(project.path), *args, "--pytest-args=-q"])


def test_goldens_status_lists_what_an_update_would_do(golden, project, capsys) -> None:
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    (golden.parent / "gone.json").write_bytes(golden.read_bytes())
    before = golden.read_bytes()
    assert cli_main(["goldens", "status", "--root", str(project.path)]) == 0
    out = capsys.readouterr().out
    assert f"changed   {GOLDEN} (2 ok; 1 worse; loosened: amplitude_ssim)" in out
    assert "stale     goldens/test_mod/gone.json" in out
    assert golden.read_bytes() == before


def test_repository_entry_point_calls_the_installed_command(golden, project, capsys) -> None:
    write_values(project, {**METRICS, "phase_mae": 0.05})
    args = ["--root", str(project.path), ".", "--reason", "better", "--yes", "--", "-q"]
    assert _regen_tool().main(args) == 0
    assert "wrote goldens/test_mod/test_gate.json (changed)" in capsys.readouterr().out
    assert provenance(golden)[-1]["tool"] == "ptycho-metrics goldens update"


def test_regen_tool_refuses_in_ci(golden, project, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CI", "1")
    assert regen(project, "--reason", "x", "--yes") == 2
    assert "CI is set" in capsys.readouterr().out


def test_regen_tool_requires_reason(project: pytest.Pytester) -> None:
    with pytest.raises(SystemExit) as info:
        _regen_tool().main(["--root", str(project.path), "--yes"])
    assert info.value.code == 2


def test_regen_tool_refuses_worse_without_allow_worse(golden, project, capsys) -> None:
    before = golden.read_bytes()
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    assert regen(project, "--reason", "x", "--yes") == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("amplitude_ssim"))
    assert row.split() == [
        "amplitude_ssim", "0.9", "0.8", "-0.1", "-11.111%", "higher", SSIM_TOL, "abs", "WORSE"
    ]  # fmt: skip
    assert "refused: worse beyond tolerance" in out
    assert golden.read_bytes() == before


def test_regen_tool_without_tty_or_yes_refuses(golden, project, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # answers yes, but is no TTY
    before = golden.read_bytes()
    write_values(project, {**METRICS, "phase_mae": 0.05})
    assert regen(project, "--reason", "x") == 1
    assert "no terminal to confirm on" in capsys.readouterr().out
    assert golden.read_bytes() == before


def test_regen_tool_writes_and_logs_provenance(golden, project, capsys) -> None:
    stale = golden.with_name("removed_test.json")
    stale.write_bytes(golden.read_bytes())
    write_values(project, {**METRICS, "amplitude_ssim": 0.8}, contract={**CONTRACT, "seed": 2})
    assert regen(project, "--reason", "new seed", "--allow-worse", "--yes") == 0
    out = capsys.readouterr().out
    assert "contract seed: 1 -> 2" in out
    assert "removed_test.json: stale" in out
    doc = json.loads(golden.read_text())
    assert doc["metrics"]["amplitude_ssim"] == 0.8
    assert doc["contract"]["seed"] == 2
    assert stale.exists()  # reported, removed only with --prune-stale
    log = golden.parents[1] / "PROVENANCE.jsonl"
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["reason"] == "new seed"
    assert record["allow_worse"] is True
    assert record["files"][0]["worse"] == ["amplitude_ssim"]
    assert record["fingerprint"]["packages"]["pytest"]
    assert not list(golden.parents[1].glob(".regen-*"))  # temp dir cleaned
    assert regen(project, "--reason", "again", "--yes") == 0
    assert "nothing to write" in capsys.readouterr().out


def test_regen_tool_adds_missing_goldens_and_prunes_stale(project, capsys) -> None:
    stale = project.path / "goldens" / "test_gone" / "old.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    assert regen(project, "--reason", "first goldens", "--yes", "--prune-stale") == 0
    out = capsys.readouterr().out
    assert f"wrote {GOLDEN} (added)" in out
    assert "removed goldens/test_gone/old.json" in out
    assert not stale.exists()
    assert json.loads((project.path / GOLDEN).read_text())["metrics"] == METRICS
    run(project).assert_outcomes(passed=1)


def test_regen_tool_interrupted_leaves_old_goldens(golden, project, monkeypatch) -> None:
    before = golden.read_bytes()
    records = provenance(golden)
    write_values(project, {**METRICS, "phase_mae": 0.05})

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(review.shutil, "copyfile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        regen(project, "--reason", "x", "--yes")
    assert golden.read_bytes() == before
    assert not list(golden.parents[1].glob(".regen-*"))
    assert provenance(golden) == records


# ----------------------------------------------------------------------------- report, unused


def test_failure_report_goes_to_the_results_dir_named_in_the_message(golden, project) -> None:
    write_values(project, {**METRICS, "amplitude_ssim": 0.8})
    result = run(project, "--quality-gate-report-dir=out")
    result.assert_outcomes(failed=1)
    out = project.path / "out"
    result.stdout.fnmatch_lines([f"*HTML report: {out / 'index.html'}", "*this run's golden: *"])
    summary = json.loads((out / "summary.json").read_text())
    (test,) = summary["tests"]
    assert (test["nodeid"], test["golden"]) == ("test_mod.py::test_gate", str(GOLDEN))
    assert test["failed_metrics"] == ["amplitude_ssim"]
    assert json.loads((out / test["obtained"]).read_text())["metrics"]["amplitude_ssim"] == 0.8
    page = (out / "index.html").read_text()
    assert "amplitude_ssim" in page
    assert "pass recon=, truth=" in page  # a plain dict: the table only, and why


def test_report_all_includes_passing_tests(golden, project) -> None:
    run(project, "--quality-gate-report=all").assert_outcomes(passed=1)
    summary = json.loads((project.path / "quality-gate-report" / "summary.json").read_text())
    assert (summary["passed"], summary["failed"]) == (1, 0)


def test_relative_tolerance_through_check(golden, project) -> None:
    write_values(project, {**METRICS, "phase_mae": 0.104}, rel_tolerances={"phase_mae": 0.05})
    run(project).assert_outcomes(passed=1)
    write_values(project, {**METRICS, "phase_mae": 0.106}, rel_tolerances={"phase_mae": 0.05})
    run(project).stdout.fnmatch_lines(["*phase_mae*0.1*0.106*lower*0.005*rel 0.05*WORSE"])


def test_unused_goldens_warn_by_default_and_fail_with_the_option(golden, project) -> None:
    (golden.parent / "renamed_test.json").write_bytes(golden.read_bytes())
    result = run(project)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*quality gate: 1 unused golden(s)*", "warning: *", "  goldens/test_mod/renamed_test.json"]
    )
    result = run(project, "--quality-gate-unused=error")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["ERROR: golden(s) that no test of their module used*"])
    # Narrowed to some tests, the other goldens are not judged.
    assert run(project, "test_mod.py::test_gate", "--quality-gate-unused=error").ret == 0


def test_fingerprint_records_the_packages_of_the_ini_option(project) -> None:
    project.makeini(INI + "quality_gate_fingerprint_packages = pytest-datadir\n")
    run(project).assert_outcomes(failed=1)
    packages = json.loads((project.path / GOLDEN).read_text())["fingerprint"]["packages"]
    assert packages["pytest-datadir"] == importlib.metadata.version("pytest-datadir")


ARRAYS_MODULE = """
import numpy as np

def test_arrays(quality_gate):
    y, x = np.mgrid[:48, :48]
    truth = (1 + 0.3 * np.cos(x / 3)) * np.exp(1j * 0.5 * np.sin(y / 4))
    noise = np.random.default_rng(0).standard_normal(truth.shape)
    quality_gate.check(None, recon=truth * np.exp(0.2j) + 0.02 * noise, truth=truth)
"""


def test_check_without_metrics_needs_recon_and_truth(project: pytest.Pytester) -> None:
    project.makepyfile(test_none="def test_none(quality_gate):\n    quality_gate.check(None)\n")
    result = project.runpytest("test_none.py", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*GateConfigError: quality_gate.check needs metrics*"
            "got metrics=None, recon None, truth None"
        ]
    )


def test_check_evaluates_arrays_and_stores_the_frc_curve(project: pytest.Pytester) -> None:
    import ptycho_metrics._report  # noqa: F401  (loaded once, outside the inner runs)

    project.makepyfile(test_arrays=ARRAYS_MODULE)
    project.runpytest("test_arrays.py", "-p", "no:cacheprovider").assert_outcomes(failed=1)
    doc = json.loads((project.path / "goldens/test_arrays/test_arrays.json").read_text())
    assert set(doc["metrics"]) == set(EVALUATE_METRICS)  # gate_metrics(): every evaluate() metric
    assert len(doc["info"]["frc"]["frequency"]) == 25
    project.runpytest("test_arrays.py", "-p", "no:cacheprovider").assert_outcomes(passed=1)


# ----------------------------------------------------------------------------- learning curve

CURVE = {
    "epoch": [0.0, 1.0, 2.0, 3.0],
    "step": [0.0, 25.0, 50.0, 75.0],
    "amplitude_ssim": [0.31, 0.62, 0.87, 0.9],
    "phase_mae": [0.9, 0.4, 0.2, 0.1],
}
# Another run of the same pipeline: every point moved, the gated final values unchanged.
OTHER_CURVE = {
    **CURVE,
    "amplitude_ssim": [0.2, 0.45, 0.8125, 0.9],
    "phase_mae": [1.1, 0.7, 0.3, 0.1],
}


@pytest.fixture
def curve_golden(project: pytest.Pytester) -> Path:
    """A golden written by a first run that passed curve=."""
    write_values(project, METRICS, curve=CURVE)
    run(project).assert_outcomes(failed=1)
    return project.path / GOLDEN


def test_curve_is_stored_as_info_and_never_compared(curve_golden, project) -> None:
    doc = json.loads(curve_golden.read_text())
    assert doc["info"] == {"learning_curve": CURVE}
    assert doc["metrics"] == METRICS  # the curve is no metric
    before = curve_golden.read_bytes()
    write_values(project, METRICS, curve=OTHER_CURVE)
    run(project).assert_outcomes(passed=1)  # a curve mismatch alone never fails
    run(project, "--force-regen").assert_outcomes(passed=1)  # nor rewrites a passing golden
    write_values(project, METRICS)  # nor does a run without a curve
    run(project).assert_outcomes(passed=1)
    assert curve_golden.read_bytes() == before  # and a passing check writes nothing


def test_golden_without_curve_still_works(golden, project) -> None:
    before = golden.read_bytes()
    write_values(project, METRICS, curve=CURVE)
    run(project).assert_outcomes(passed=1)
    assert golden.read_bytes() == before  # gains the curve only through a reviewed write


def test_failure_report_draws_both_learning_curves(curve_golden, project) -> None:
    write_values(project, {**METRICS, "amplitude_ssim": 0.8}, curve=OTHER_CURVE)
    run(project).assert_outcomes(failed=1)
    out = project.path / "quality-gate-report"
    page = (out / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1  # a plain dict: the curves only
    assert "<h3>Learning curves</h3>" in page
    assert "never compared point by point" in page
    (test,) = json.loads((out / "summary.json").read_text())["tests"]
    assert test["failed_metrics"] == ["amplitude_ssim"]  # not the curve
    obtained = json.loads((out / test["obtained"]).read_text())
    assert obtained["info"]["learning_curve"] == OTHER_CURVE  # what an update would write


def test_bad_curve_is_refused_naming_the_argument(project) -> None:
    write_values(project, METRICS, curve={"epoch": [0, 1], "loss": [1.0, 0.5]})
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E *QualityInputError: curve columns must be 'epoch', 'step' or metrics of*got ?'loss'?"]
    )
    assert not (project.path / GOLDEN).exists()


def test_goldens_update_shows_a_curve_change_in_one_line_and_writes_it(
    curve_golden, project, capsys, monkeypatch
):
    def in_process(cwd: Path, paths: object, staging: Path, extra: object) -> int:
        # The staging run of `goldens update`, minus the subprocess (seconds; tested above).
        flags = ("--regen-all", f"--quality-gate-staging={staging}", "--quality-gate-report=never")
        return int(run(project, *flags).ret)

    monkeypatch.setattr(review, "_run_pytest", in_process)
    write_values(project, METRICS, curve=OTHER_CURVE)
    # update prints the same diff as `goldens diff` (one function), then writes.
    assert regen(project, "--reason", "curve of the new run", "--yes") == 0
    out = capsys.readouterr().out
    line = (
        "  info learning_curve: changed (4 evaluations, epochs 0-3; final amplitude_ssim 0.9, "
        "phase_mae 0.1 -> 4 evaluations, epochs 0-3; final amplitude_ssim 0.9, phase_mae 0.1; "
        "not compared)"
    )
    assert line in out.splitlines()
    assert f"== {GOLDEN}: changed" in out
    assert "0.8125" not in out  # never point by point
    assert f"wrote {GOLDEN} (changed)" in out
    assert json.loads(curve_golden.read_text())["info"]["learning_curve"] == OTHER_CURVE
    assert provenance(curve_golden)[-1]["files"][0]["worse"] == []


def test_status_names_an_info_only_change() -> None:
    plan = review.FilePlan(
        GOLDEN, GOLDEN, GOLDEN, "changed", new=None,  # type: ignore[arg-type]
        result=compare_metrics(METRICS, METRICS),
        info_changes=["info learning_curve: changed (...; not compared)"],
    )  # fmt: skip
    assert plan.summary() == f"changed   {GOLDEN} (3 ok; info (not compared): learning_curve)"
