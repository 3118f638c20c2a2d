"""pytest plugin providing the ``quality_gate`` fixture (registered through ``pytest11``).

Thin by design: the comparison lives in :mod:`ptycho_metrics.gate._engine`; storage,
first-run creation, ``--force-regen`` and ``--regen-all`` come from
pytest-regressions' ``file_regression`` fixture with a one-sided ``check_fn``.
This module is imported by every pytest session of an environment where
ptycho-metrics is installed, so it imports only pytest itself; the engine is
imported inside the fixture, and torch is never imported by the plugin (the
package ``__init__`` loads its public names lazily, so registering the plugin
costs ~0.2 s, not the ~1.1 s of importing SciPy and scikit-image).

Goldens live beside the test module, in
``<test dir>/goldens/<module name>/<basename>.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_regressions.file_regression import FileRegressionFixture

__all__ = ["QualityGate", "golden_path_for"]

_STAGING_OPTION = "--quality-gate-staging"
_META_SUFFIX = ".gatemeta"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("quality_gate", "ptycho-metrics quality gate")
    group.addoption(
        _STAGING_OPTION,
        metavar="DIR",
        default=None,
        help=(
            "write quality_gate goldens under DIR (mirroring their path from the rootdir) "
            "instead of the tree, and run only tests that use quality_gate; "
            "used by tools/regen_golden.py with --regen-all"
        ),
    )


def _regen_flags(config: pytest.Config) -> list[str]:
    # getoption with a default: pytest-regressions may be absent from this session.
    flags = {"--force-regen": "force_regen", "--regen-all": "regen_all"}
    return [flag for flag, dest in flags.items() if config.getoption(dest, default=False)]


def _refuse_regen_in_ci(config: pytest.Config) -> None:
    flags = _regen_flags(config)
    if flags and "CI" in os.environ:
        msg = (
            f"{' and '.join(flags)} refused for quality_gate goldens: the environment variable "
            "CI is set. Goldens are regenerated locally and reviewed "
            "(python tools/regen_golden.py --reason '...'), never in CI."
        )
        raise pytest.UsageError(msg)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    gated = [item for item in items if "quality_gate" in getattr(item, "fixturenames", ())]
    if gated:
        _refuse_regen_in_ci(config)
    if config.getoption("quality_gate_staging") is None:
        return
    others = [item for item in items if item not in gated]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = gated


def golden_path_for(test_path: Path, basename: str) -> Path:
    """Where the golden of ``basename`` for the test module ``test_path`` lives in the tree."""
    return test_path.parent / "goldens" / test_path.stem / f"{basename}.json"


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
        staging = self._request.config.getoption("quality_gate_staging")
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
        metrics: Mapping[str, float],
        *,
        tolerances: Mapping[str, float] | None = None,
        directions: Mapping[str, str] | None = None,
        contract: Mapping[str, Any] | None = None,
        basename: str | None = None,
    ) -> None:
        """Gate ``metrics`` against this test's golden; write it on the first run.

        Parameters
        ----------
        metrics : Mapping[str, float]
            Finite values; every name needs a direction (from
            ``ptycho_metrics.METRICS`` or ``directions``) and a tolerance (from
            ``ptycho_metrics.gate.DEFAULT_TOLERANCES`` or ``tolerances``).
        tolerances, directions : Mapping, optional
            Overrides, per metric. Never stored in the golden.
        contract : Mapping[str, Any], optional
            JSON values that must equal the golden's (fixture sha256, seed,
            epochs, model configuration, threads, ...).
        basename : str, optional
            Golden file stem; defaults to the sanitised test name.

        Raises
        ------
        AssertionError
            (test failure) Golden missing (it is written), contract changed,
            or a metric worse beyond tolerance / missing / extra.
        ptycho_metrics.gate.GateConfigError
            NaN/Inf values, a metric without a direction or a tolerance.
        pytest.UsageError
            ``--force-regen`` / ``--regen-all`` while ``CI`` is set.
        """
        __tracebackhide__ = True
        from ptycho_metrics.gate import _engine as gate

        _refuse_regen_in_ci(self._request.config)
        obtained = gate.validate_metrics(metrics)
        dirs = gate.resolve_directions(obtained, directions)
        tols = gate.resolve_tolerances(dirs, tolerances)
        wanted = gate.normalize_contract(contract)
        fingerprint = gate.environment_fingerprint(root=self._request.config.rootpath)
        text = gate.dumps_golden(obtained, contract=wanted, fingerprint=fingerprint)
        target = self._target(self.golden_path(basename))
        if target != self.golden_path(basename):
            # Tolerances stay out of goldens; tools/regen_golden.py reads them from here.
            meta = json.dumps({"tolerances": tols, "directions": dirs}, sort_keys=True, indent=2)
            target.with_name(target.name + _META_SUFFIX).write_text(meta, encoding="utf-8")

        def check_fn(obtained_file: Path, golden_file: Path) -> None:
            __tracebackhide__ = True
            _compare_files(obtained_file, golden_file, obtained, wanted, fingerprint, tols, dirs)

        self._file_regression.check(
            text,
            encoding="utf-8",
            newline="\n",
            extension=".json",
            fullpath=target,
            check_fn=check_fn,
        )


def _compare_files(
    obtained_file: Path,
    golden_file: Path,
    obtained: dict[str, float],
    contract: dict[str, Any],
    fingerprint: dict[str, Any],
    tolerances: dict[str, float],
    directions: Mapping[str, Any],
) -> None:
    """The ``check_fn`` handed to ``file_regression``: raise AssertionError to fail."""
    __tracebackhide__ = True
    from ptycho_metrics.gate import _engine as gate

    try:
        golden = gate.load_golden(golden_file)
    except gate.GateConfigError as exc:
        # An AssertionError lets --force-regen replace a corrupted golden.
        msg = f"quality gate: {exc}\n{gate.REGEN_HINT}"
        raise AssertionError(msg) from None
    where = f"quality gate: golden {golden_file}\n  (this run's values: {obtained_file})"
    env = gate.format_fingerprint(golden.fingerprint, fingerprint)
    changes = gate.compare_contract(contract, golden.contract)
    if changes:
        msg = f"{where}\n{gate.format_contract_changes(changes)}\n\n{env}"
        raise AssertionError(msg)
    result = gate.compare_metrics(
        obtained, golden.metrics, tolerances=tolerances, directions=directions
    )
    if not result.passed:
        table = result.format_table()
        msg = f"{where}\nFailed: {result.describe_failures()}\n{table}\n{gate.REGEN_HINT}\n\n{env}"
        raise AssertionError(msg)
    if result.improvements:
        better = result.format_table(result.improvements)
        msg = (
            f"quality gate: {golden_file}: metrics improved beyond tolerance; consider "
            f"ratcheting the golden (python tools/regen_golden.py --reason '...'):\n{better}"
        )
        warnings.warn(gate.RatchetWarning(msg), stacklevel=2)


@pytest.fixture
def quality_gate(request: pytest.FixtureRequest) -> QualityGate:
    """Gate a dict of metrics against a golden file stored beside the test module.

    ``quality_gate.check(metrics, *, tolerances=None, directions=None,
    contract=None, basename=None)``; see :meth:`QualityGate.check`.
    """
    return QualityGate(request, request.getfixturevalue("file_regression"))
