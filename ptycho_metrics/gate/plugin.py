"""pytest plugin providing the ``quality_gate`` fixture (registered through ``pytest11``).

Thin by design: the comparison lives in :mod:`ptycho_metrics.gate._engine`,
the failure report in :mod:`ptycho_metrics.gate.report`, the review command in
:mod:`ptycho_metrics.gate.review`; storage, first-run creation,
``--force-regen`` and ``--regen-all`` come from pytest-regressions'
``file_regression`` fixture with a one-sided ``check_fn``. This module is
imported by every pytest session of an environment where ptycho-metrics is
installed, so it imports only pytest itself; the engine is imported inside
the fixture and the hooks that need it, and torch is never imported by the
plugin (the package ``__init__`` files load their public names lazily, so
registering the plugin costs ~0.2 s, not the ~1.1 s of importing SciPy and
scikit-image).

Goldens live beside the test module, in
``<test dir>/goldens/<module name>/<basename>.json``.

Rules, outside the review command's staging runs:

- under CI (:func:`ptycho_metrics.gate._ci.in_ci`) nothing writes a golden:
  ``--force-regen`` / ``--regen-all`` are a usage error, and a missing golden
  fails without being created (its would-be content goes to the report);
- ``--force-regen`` / ``--regen-all`` never write a golden whose metrics got
  worse (or were dropped) unless ``--quality-gate-allow-worse=REASON``; every
  golden they write gets a ``PROVENANCE.jsonl`` record, like the review command's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_regressions.file_regression import FileRegressionFixture

    from .report import ReportEntry, ResultsDir

__all__ = ["QualityGate", "golden_path_for"]

_STAGING_OPTION = "--quality-gate-staging"
_ALLOW_WORSE_OPTION = "--quality-gate-allow-worse"
_META_SUFFIX = ".gatemeta"
ROOTDIR_FILE = ".quality_gate_rootdir"
_REPORT_MODES = ("failed", "all", "never")
_UNUSED_MODES = ("warn", "error", "ignore")
_REVIEW = "ptycho-metrics goldens"  # == _ci.REVIEW_COMMAND; not imported, to stay cheap


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("quality_gate", "ptycho-metrics quality gate")
    group.addoption(
        _STAGING_OPTION,
        metavar="DIR",
        default=None,
        help=(
            "write quality_gate goldens under DIR (mirroring their path from the rootdir) "
            f"instead of the tree, and run only tests that use quality_gate; used by `{_REVIEW}`"
        ),
    )
    group.addoption(
        _ALLOW_WORSE_OPTION,
        metavar="REASON",
        default=None,
        help=(
            "let --force-regen / --regen-all write goldens whose metrics got worse; "
            "REASON is recorded in goldens/PROVENANCE.jsonl"
        ),
    )
    group.addoption(
        "--quality-gate-report-dir",
        metavar="DIR",
        default=None,
        help="where the HTML/JSON failure report goes (ini quality_gate_report_dir; "
        "default <rootdir>/quality-gate-report)",
    )
    group.addoption(
        "--quality-gate-report",
        choices=_REPORT_MODES,
        default=None,
        help="report failed tests (default), all gated tests, or never (ini quality_gate_report)",
    )
    group.addoption(
        "--quality-gate-unused",
        choices=_UNUSED_MODES,
        default=None,
        help="goldens no test used: warn (default), error (exit status 1) or ignore "
        "(ini quality_gate_unused)",
    )
    parser.addini(
        "quality_gate_report_dir", "directory of the quality gate's failure report", default=""
    )
    parser.addini("quality_gate_report", "failed | all | never", default="failed")
    parser.addini("quality_gate_unused", "warn | error | ignore", default="warn")
    parser.addini(
        "quality_gate_fingerprint_packages",
        "further distributions whose versions go into the goldens' fingerprint",
        type="args",
        default=[],
    )


def _in_ci() -> bool:
    # Same rule as ptycho_metrics.gate._ci.in_ci, which would import the package here.
    value = os.environ.get("CI")
    return value is not None and value.strip().lower() not in ("", "0", "false")


def _choice(config: pytest.Config, name: str, choices: tuple[str, ...]) -> str:
    value = config.getoption(name) or config.getini(name)
    if value not in choices:
        msg = f"ini option {name} must be one of {', '.join(choices)}; got {value!r}"
        raise pytest.UsageError(msg)
    return str(value)


def _regen_flags(config: pytest.Config) -> list[str]:
    # getoption with a default: pytest-regressions may be absent from this session.
    flags = {"--force-regen": "force_regen", "--regen-all": "regen_all"}
    return [flag for flag, dest in flags.items() if config.getoption(dest, default=False)]


def _staging(config: pytest.Config) -> str | None:
    value = config.getoption("quality_gate_staging")
    return None if value is None else str(value)


def _refuse_regen_in_ci(config: pytest.Config) -> None:
    flags = _regen_flags(config)
    if flags and _in_ci() and _staging(config) is None:
        msg = (
            f"{' and '.join(flags)} refused for quality_gate goldens: the environment variable "
            f"CI is set ({os.environ.get('CI')!r}). Goldens are updated locally and reviewed "
            f"(`{_REVIEW} update --reason '...'`), never in CI."
        )
        raise pytest.UsageError(msg)


class _Session:
    """What the plugin remembers across one session's tests."""

    def __init__(self) -> None:
        self.used: set[Path] = set()
        self.gated: dict[Path, set[str]] = {}  # module -> gated node ids collected
        self.checked: dict[Path, set[str]] = {}  # module -> node ids that called check()
        self.deselected: set[Path] = set()
        self.results: ResultsDir | None = None
        self.unused: list[Path] = []


_SESSION = pytest.StashKey[_Session]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSION] = _Session()
    _choice(config, "quality_gate_report", _REPORT_MODES)  # a bad ini value fails now
    _choice(config, "quality_gate_unused", _UNUSED_MODES)
    staging = _staging(config)
    if staging is not None:
        # The review command maps staged goldens back to the tree from here.
        Path(staging).mkdir(parents=True, exist_ok=True)
        (Path(staging) / ROOTDIR_FILE).write_text(str(config.rootpath), encoding="utf-8")


def pytest_deselected(items: Sequence[pytest.Item]) -> None:
    for item in items:
        if "quality_gate" in getattr(item, "fixturenames", ()):
            item.config.stash[_SESSION].deselected.add(Path(item.path))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    gated = [item for item in items if "quality_gate" in getattr(item, "fixturenames", ())]
    if gated:
        _refuse_regen_in_ci(config)
    state = config.stash[_SESSION]
    for item in gated:
        state.gated.setdefault(Path(item.path), set()).add(item.nodeid)
    if _staging(config) is None:
        return
    others = [item for item in items if item not in gated]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = gated


def _narrowed(config: pytest.Config) -> set[Path]:
    """Modules the command line narrowed to some of their tests (``path::name``)."""
    base = config.invocation_params.dir
    return {(base / arg.split("::")[0]).resolve() for arg in config.args if "::" in arg}


def _unused_goldens(config: pytest.Config) -> list[Path]:
    """Goldens of modules whose every gated test ran check(), and that none of them used."""
    state = config.stash[_SESSION]
    narrowed = _narrowed(config)
    unused: list[Path] = []
    for module, nodeids in state.gated.items():
        if module in state.deselected or module.resolve() in narrowed:
            continue
        if state.checked.get(module, set()) != nodeids:
            continue  # a test failed or skipped before check(): its golden is unknown
        folder = golden_path_for(module, "x").parent
        if folder.is_dir():
            unused += [
                f
                for f in sorted(folder.glob("*.json"))
                if not f.name.endswith(".obtained.json") and f.resolve() not in state.used
            ]
    return unused


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _staging(config) is not None or _SESSION not in config.stash:
        return
    mode = _choice(config, "quality_gate_unused", _UNUSED_MODES)
    if mode == "ignore":
        return
    state = config.stash[_SESSION]
    state.unused = _unused_goldens(config)
    if state.unused and mode == "error" and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _SESSION not in config.stash:
        return
    state = config.stash[_SESSION]
    if state.results is not None and state.results.entries:
        terminalreporter.write_line(f"quality gate report: {state.results.index}")
    if state.unused:
        mode = _choice(config, "quality_gate_unused", _UNUSED_MODES)
        word = "ERROR" if mode == "error" else "warning"
        terminalreporter.write_sep("=", f"quality gate: {len(state.unused)} unused golden(s)")
        terminalreporter.write_line(
            f"{word}: golden(s) that no test of their module used in this session "
            f"(remove them with `{_REVIEW} update --prune-stale --reason '...'`):"
        )
        root = config.rootpath
        for path in state.unused:
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            terminalreporter.write_line(f"  {shown}")


def golden_path_for(test_path: Path, basename: str) -> Path:
    """Where the golden of ``basename`` for the test module ``test_path`` lives in the tree."""
    return test_path.parent / "goldens" / test_path.stem / f"{basename}.json"


def _results(config: pytest.Config) -> ResultsDir:
    state = config.stash[_SESSION]
    if state.results is None:
        from ._engine import environment_fingerprint
        from .report import ResultsDir

        raw = config.getoption("quality_gate_report_dir") or config.getini(
            "quality_gate_report_dir"
        )
        path = Path(raw) if raw else config.rootpath / "quality-gate-report"
        if not path.is_absolute():
            base = (
                config.invocation_params.dir
                if config.getoption("quality_gate_report_dir")
                else config.rootpath
            )
            path = base / path
        packages = config.getini("quality_gate_fingerprint_packages")
        header = {
            "rootdir": str(config.rootpath),
            "packages": environment_fingerprint(packages=packages)["packages"],
        }
        state.results = ResultsDir(path, header=header)
    return state.results


class QualityGate:
    """The ``quality_gate`` fixture: one public :meth:`check`."""

    def __init__(self, request: pytest.FixtureRequest, file_regression: FileRegressionFixture):
        self._request = request
        self._file_regression = file_regression

    def golden_path(self, basename: str | None = None) -> Path:
        """The golden file this test's :meth:`check` compares against (in the tree)."""
        return golden_path_for(Path(self._request.path), self._basename(basename))

    def _basename(self, basename: str | None) -> str:
        if basename is None:
            return re.sub(r"\W", "_", self._request.node.name)
        if not re.fullmatch(r"[\w.-]+", basename) or basename.startswith("."):
            msg = f"basename must be a plain file stem ([A-Za-z0-9_.-]), got {basename!r}"
            raise ValueError(msg)
        return basename

    def _target(self, tree_path: Path) -> Path:
        staging = _staging(self._request.config)
        if staging is None:
            return tree_path
        root = self._request.config.rootpath
        try:
            relative = tree_path.relative_to(root)
        except ValueError:
            msg = f"{_STAGING_OPTION} needs goldens under the rootdir {root}; got {tree_path}"
            raise pytest.UsageError(msg) from None
        target = Path(staging).resolve() / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if tree_path.is_file() and not target.exists():
            # So --force-regen in staging compares against the tree's golden.
            shutil.copy2(tree_path, target)
        return target

    def check(
        self,
        metrics: Mapping[str, float] | Any,
        *,
        recon: Any = None,
        truth: Any = None,
        mask: Any = None,
        tolerances: Mapping[str, float] | None = None,
        rel_tolerances: Mapping[str, float] | None = None,
        directions: Mapping[str, str] | None = None,
        contract: Mapping[str, Any] | None = None,
        basename: str | None = None,
        fingerprint_packages: Sequence[str] = (),
        curve: Any = None,
    ) -> None:
        """Gate metrics against this test's golden; write it on the first run (outside CI).

        Parameters
        ----------
        metrics : QualityReport or Mapping[str, float]
            A :class:`ptycho_metrics.QualityReport` (its
            :meth:`~ptycho_metrics.QualityReport.gate_metrics` are gated, its
            FRC curve and alignment go into the failure report), or finite
            values by name. Every name needs a direction (from
            ``ptycho_metrics.METRICS`` or ``directions``) and a tolerance (from
            ``ptycho_metrics.gate.DEFAULT_TOLERANCES`` or ``tolerances``).
        recon, truth, mask : array_like, optional
            The reconstruction, its ground truth and the compared mask, as given
            to :func:`ptycho_metrics.evaluate`: the report then shows truth /
            aligned reconstruction / error panels. With ``metrics`` a plain
            mapping they are only drawn; with ``metrics=None`` they are
            evaluated here.
        tolerances, rel_tolerances : Mapping[str, float], optional
            Absolute and relative (fraction of ``|golden|``) tolerances per
            metric; the comparison uses ``max(absolute, relative * |golden|)``.
            Never stored in the golden.
        directions : Mapping[str, str], optional
            Direction overrides, per metric.
        contract : Mapping[str, Any], optional
            JSON values that must equal the golden's (fixture sha256, seed,
            epochs, model configuration, threads, ...).
        basename : str, optional
            Golden file stem; defaults to the sanitised test name.
        fingerprint_packages : sequence of str
            Distributions whose versions the fingerprint records, beside the
            ini option ``quality_gate_fingerprint_packages``.
        curve : mapping of str to array_like, optional
            The run's learning curve (``"epoch"``, optionally ``"step"``, and
            metric columns of ``ptycho_metrics.METRICS``; or a
            :class:`ptycho_metrics.lightning.QualityCallback`). Stored in the
            golden's ``info`` block (``learning_curve``) whenever the golden
            is written, drawn with the golden's in the failure report, and
            never compared: only ``metrics`` are gated (derive convergence
            metrics with :func:`ptycho_metrics.convergence_metrics` to gate
            how fast a run converges).

        Raises
        ------
        AssertionError
            (test failure) Golden missing, contract changed, a metric worse
            beyond tolerance / missing / extra, or a regeneration refused.
        ptycho_metrics.gate.GateConfigError
            NaN/Inf values, a metric without a direction or a tolerance.
        ptycho_metrics.QualityInputError
            A ``curve`` that is not a learning curve (the message says why).
        pytest.UsageError
            ``--force-regen`` / ``--regen-all`` while in CI.
        """
        __tracebackhide__ = True
        from . import _engine as gate

        config = self._request.config
        _refuse_regen_in_ci(config)
        state = config.stash[_SESSION]
        state.checked.setdefault(Path(self._request.path), set()).add(self._request.node.nodeid)
        report = _as_report(metrics, recon, truth, mask)
        curve_doc = _curve_doc(curve)
        values = report.gate_metrics() if report is not None else metrics
        obtained = gate.validate_metrics(values)
        dirs = gate.resolve_directions(obtained, directions)
        tols = gate.resolve_tolerances(dirs, tolerances)
        rels = gate.resolve_rel_tolerances(dirs, rel_tolerances)
        wanted = gate.normalize_contract(contract)
        packages = [*config.getini("quality_gate_fingerprint_packages"), *fingerprint_packages]
        fingerprint = gate.environment_fingerprint(root=config.rootpath, packages=packages)
        info = _info(report, curve_doc)
        text = gate.dumps_golden(obtained, contract=wanted, fingerprint=fingerprint, info=info)
        tree = self.golden_path(basename)
        state.used.add(tree.resolve())
        target = self._target(tree)
        staging = target != tree
        ctx = _Context(self._request, tree, text, obtained, wanted, fingerprint, tols, rels, dirs)
        ctx.report, ctx.arrays = report, (recon, truth, mask)
        ctx.curve = curve_doc
        if staging:
            # Tolerances stay out of goldens; the review command reads them from here.
            meta = {"tolerances": tols, "rel_tolerances": rels, "directions": dirs}
            meta_path = target.with_name(target.name + _META_SUFFIX)
            meta_path.write_text(json.dumps(meta, sort_keys=True, indent=2), encoding="utf-8")
        else:
            _guard_tree_write(ctx, target)
        before = target.read_bytes() if target.is_file() else None

        def check_fn(obtained_file: Path, golden_file: Path) -> None:
            __tracebackhide__ = True
            _compare_files(ctx, obtained_file, golden_file)

        try:
            self._file_regression.check(
                text,
                encoding="utf-8",
                newline="\n",
                extension=".json",
                fullpath=target,
                check_fn=check_fn,
            )
        finally:
            if not staging:
                _log_tree_write(ctx, target, before)


class _Context:
    """One check()'s inputs, for the comparison, the guard and the report."""

    def __init__(
        self,
        request: pytest.FixtureRequest,
        tree: Path,
        text: str,
        obtained: dict[str, float],
        contract: dict[str, Any],
        fingerprint: dict[str, Any],
        tolerances: dict[str, float],
        rel_tolerances: dict[str, float],
        directions: Mapping[str, Any],
    ):
        self.request = request
        self.tree = tree
        self.text = text
        self.obtained = obtained
        self.contract = contract
        self.fingerprint = fingerprint
        self.tolerances = tolerances
        self.rel_tolerances = rel_tolerances
        self.directions = directions
        self.report: Any = None
        self.arrays: tuple[Any, Any, Any] = (None, None, None)
        self.curve: dict[str, Any] | None = None

    @property
    def config(self) -> pytest.Config:
        return self.request.config

    def compare(self, golden_metrics: Mapping[str, float]) -> Any:
        from . import _engine as gate

        return gate.compare_metrics(
            self.obtained,
            golden_metrics,
            tolerances=self.tolerances,
            rel_tolerances=self.rel_tolerances,
            directions=self.directions,
        )

    def write_report(
        self,
        outcome: str,
        message: str,
        *,
        result: Any = None,
        golden: Any = None,
        contract_changes: Sequence[Any] = (),
    ) -> str:
        """Add this test to the results directory when the mode asks; return a hint line."""
        mode = _choice(self.config, "quality_gate_report", _REPORT_MODES)
        if mode == "never" or (mode == "failed" and outcome == "passed"):
            return ""
        from . import _engine as gate
        from .report import ReportEntry

        root = self.config.rootpath
        entry = ReportEntry(
            nodeid=self.request.node.nodeid,
            golden=str(
                self.tree.relative_to(root) if self.tree.is_relative_to(root) else self.tree
            ),
            outcome=outcome,
            message=message,
            rows=ReportEntry.table(result),
            contract_changes=ReportEntry.changes(contract_changes),
            fingerprint_changes=ReportEntry.changes(
                gate.fingerprint_diff(golden.fingerprint if golden else {}, self.fingerprint)
            ),
        )
        _draw(entry, self, golden, result)
        index = _results(self.config).add(entry, self.text, self.tree.stem)
        return f"HTML report: {index}\n  (this run's golden: {index.parent / entry.obtained})"


def _as_report(metrics: Any, recon: Any, truth: Any, mask: Any) -> Any:
    """The QualityReport to gate and draw from, or None for a plain metrics mapping."""
    if metrics is None:
        if recon is None or truth is None:
            from ._engine import GateConfigError

            msg = (
                "quality_gate.check needs metrics (a QualityReport or a mapping of metric "
                "name to float) or both recon and truth; got metrics=None, recon "
                f"{'given' if recon is not None else 'None'}, truth "
                f"{'given' if truth is not None else 'None'}"
            )
            raise GateConfigError(msg)
        from .. import evaluate

        return evaluate(recon, truth, mask=mask)
    if hasattr(metrics, "gate_metrics") and hasattr(metrics, "frc"):
        return metrics
    return None


def _curve_doc(curve: Any) -> dict[str, Any] | None:
    """``curve=`` as the JSON columns a golden stores (checked), or None."""
    if curve is None:
        return None
    from .._curve import curve_to_json

    return curve_to_json(curve, name="curve")


def _info(report: Any, curve: dict[str, Any] | None = None) -> dict[str, Any] | None:
    from ._engine import CURVE_INFO_KEY

    info: dict[str, Any] = {}
    if report is not None:
        from .report import frc_curve

        # Which crossings gate_metrics() set to Nyquist (or 0): stated, never compared.
        crossed = {k: v == v for k, v in report.metrics.items() if k in ("frc_0p5", "frc_half_bit")}
        info.update(frc=frc_curve(report.frc), frc_crossed=crossed)
    if curve is not None:
        info[CURVE_INFO_KEY] = curve
    return info or None


def _draw_curves(entry: ReportEntry, ctx: _Context, golden: Any, result: Any) -> None:
    from . import _figures
    from ._engine import CURVE_INFO_KEY
    from .report import ReportEntry

    golden_curve = (golden.info.get(CURVE_INFO_KEY) if golden is not None else None) or None
    if golden_curve is None and ctx.curve is None:
        return
    gated = ReportEntry.table(result) if result is not None else []
    entry.images["curve"] = _figures.learning_curves_png(golden_curve, ctx.curve, gated=gated)
    if golden_curve is None and golden is not None:
        entry.figure_notes.append(
            "the golden holds no learning curve (written before check() got curve=): "
            "this run's curve is drawn alone"
        )
    elif ctx.curve is None:
        entry.figure_notes.append(
            "this run passed no curve= to quality_gate.check: the golden's learning curve "
            "is drawn alone"
        )


def _draw(entry: ReportEntry, ctx: _Context, golden: Any, result: Any = None) -> None:
    """Figures for ``entry``; what cannot be drawn is said in ``figure_notes``."""
    report, (recon, truth, mask) = ctx.report, ctx.arrays
    if report is not None:
        entry.alignment = report.alignment
        entry.notes = list(report.notes)
    try:
        from . import _figures
    except ImportError as exc:  # numpy missing cannot happen; matplotlib is checked below
        entry.figure_notes.append(f"no figures: {exc}")
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        entry.figure_notes.append(
            "no figures: matplotlib is not installed (pip install 'ptycho-metrics[gate]')"
        )
        return
    golden_curve = (golden.info.get("frc") if golden is not None else None) or None
    run_curve = _info(report)["frc"] if report is not None else None  # type: ignore[index]
    if golden_curve or run_curve:
        entry.images["frc"] = _figures.frc_png(golden_curve, run_curve)
    if not golden_curve:
        entry.figure_notes.append("the golden holds no FRC curve (made from a plain metrics dict)")
    _draw_curves(entry, ctx, golden, result)
    if recon is not None and truth is not None:
        from .report import image_rows

        scale = (report.alignment or {}).get("scale_mode", "complex") if report else "complex"
        rows, alignment = image_rows(recon, truth, mask, scale=scale)
        entry.images["panels"] = _figures.panels_png(rows)
        entry.alignment = entry.alignment or alignment
    else:
        entry.figure_notes.append(
            "no image panels: pass recon=, truth= (and mask=) to quality_gate.check to draw them"
        )


def _guard_tree_write(ctx: _Context, target: Path) -> None:
    """Refuse what would write the tree's golden against the rules (see the module docstring)."""
    __tracebackhide__ = True
    from . import _engine as gate

    config = ctx.config
    if not target.is_file():
        if _in_ci():
            msg = (
                f"quality gate: no golden at {target}, and under CI nothing writes one.\n"
                f"Create it locally (`pytest` writes it on the first run, or "
                f"`{_REVIEW} update --reason '...'`) and commit it."
            )
            hint = ctx.write_report("failed", msg)
            pytest.fail(f"{msg}\n{hint}".rstrip(), pytrace=False)
        return
    if not _regen_flags(config):
        return
    try:
        golden = gate.load_golden(target)
    except gate.GateConfigError:
        return  # unreadable: a regeneration may repair it
    worse = list(ctx.compare(golden.metrics).loosened)
    if worse and config.getoption("quality_gate_allow_worse") is None:
        result = ctx.compare(golden.metrics)
        msg = (
            f"quality gate: {' / '.join(_regen_flags(config))} refused for {target}: "
            f"{', '.join(r.metric for r in worse)} would get worse or be dropped, and a worse "
            f"golden is written only with {_ALLOW_WORSE_OPTION}=REASON (or `{_REVIEW} update "
            f"--allow-worse --reason '...'`).\n{result.format_table()}"
        )
        hint = ctx.write_report("refused", msg, result=result, golden=golden)
        pytest.fail(f"{msg}\n{hint}".rstrip(), pytrace=False)


def _log_tree_write(ctx: _Context, target: Path, before: bytes | None) -> None:
    """A provenance record for a golden pytest itself wrote (first run or regeneration)."""
    after = target.read_bytes() if target.is_file() else None
    if after is None or after == before:
        return
    from . import _engine as gate
    from .review import append_provenance

    worse: list[str] = []
    if before is not None:
        try:
            old = gate.load_golden_text(before.decode("utf-8"), target)
            worse = [r.metric for r in ctx.compare(old.metrics).loosened]
        except gate.GateConfigError:
            worse = []
    allow = ctx.config.getoption("quality_gate_allow_worse")
    flags = _regen_flags(ctx.config)
    how = f"pytest {' '.join(flags)}" if flags else "pytest first run (golden created)"
    append_provenance(
        config_root=ctx.config.rootpath,
        reason=allow or how,
        allow_worse=allow is not None,
        files=[(target, "changed" if before is not None else "added", worse)],
        tool=how,
    )


def _compare_files(ctx: _Context, obtained_file: Path, golden_file: Path) -> None:
    """The ``check_fn`` handed to ``file_regression``: raise AssertionError to fail."""
    __tracebackhide__ = True
    from . import _engine as gate

    try:
        golden = gate.load_golden(golden_file)
    except gate.GateConfigError as exc:
        # An AssertionError lets --force-regen replace a corrupted golden.
        msg = f"quality gate: {exc}\n{gate.REGEN_HINT}"
        hint = ctx.write_report("failed", msg)
        raise AssertionError(f"{msg}\n{hint}".rstrip()) from None
    where = f"quality gate: golden {golden_file}\n  (this run's values: {obtained_file})"
    env = gate.format_fingerprint(golden.fingerprint, ctx.fingerprint)
    changes = gate.compare_contract(ctx.contract, golden.contract)
    result = ctx.compare(golden.metrics)
    if changes:
        msg = f"{where}\n{gate.format_contract_changes(changes, result)}\n\n{env}"
        hint = ctx.write_report(
            "failed", msg, result=result, golden=golden, contract_changes=changes
        )
        raise AssertionError(f"{msg}\n{hint}".rstrip())
    if not result.passed:
        table = result.format_table()
        msg = f"{where}\nFailed: {result.describe_failures()}\n{table}\n{gate.REGEN_HINT}\n\n{env}"
        hint = ctx.write_report("failed", msg, result=result, golden=golden)
        raise AssertionError(f"{msg}\n{hint}".rstrip())
    ctx.write_report("passed", f"{where}\npassed", result=result, golden=golden)
    if result.improvements:
        better = result.format_table(result.improvements)
        msg = (
            f"quality gate: {golden_file}: metrics improved beyond tolerance; consider "
            f"ratcheting the golden (`{_REVIEW} update --reason '...'`):\n{better}"
        )
        warnings.warn(gate.RatchetWarning(msg), stacklevel=2)


@pytest.fixture
def quality_gate(request: pytest.FixtureRequest) -> QualityGate:
    """Gate a QualityReport (or a dict of metrics) against a golden file beside the test module.

    ``quality_gate.check(report_or_metrics, *, recon=None, truth=None, mask=None,
    tolerances=None, rel_tolerances=None, directions=None, contract=None,
    basename=None, fingerprint_packages=(), curve=None)``; see :meth:`QualityGate.check`.
    """
    return QualityGate(request, request.getfixturevalue("file_regression"))
