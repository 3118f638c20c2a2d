"""Review and update quality-gate goldens as a reviewed act (``ptycho-metrics goldens``).

Works in any repository whose tests use the ``quality_gate`` fixture: it finds
the goldens through pytest, by running the gated tests in a subprocess with
``--regen-all --quality-gate-staging=DIR``, so the new goldens land in a
staging directory and nothing in the tree is touched. Then, per golden file and
metric, it shows the old and new values, delta, relative delta, direction,
effective tolerance and verdict, the contract and fingerprint changes, one line
per changed ``info`` entry (a learning curve as its length and final values,
never point by point), and the added / unchanged / stale files (:func:`diff`,
or one line per file with :func:`status`). :func:`update` then, after
confirmation, replaces the goldens atomically and appends a provenance record
to ``PROVENANCE.jsonl`` beside them.

:func:`update` refuses in CI (:func:`ptycho_metrics.gate._ci.in_ci`), when a
metric got worse beyond its tolerance (or was dropped) without
``allow_worse``, and when there is no terminal to confirm on without ``yes``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _engine as gate
from ._ci import REVIEW_COMMAND, in_ci

__all__ = [
    "PROVENANCE_NAME",
    "FilePlan",
    "Staged",
    "append_provenance",
    "diff",
    "stage",
    "status",
    "update",
]

PROVENANCE_NAME = "PROVENANCE.jsonl"
_META_SUFFIX = ".gatemeta"
_ROOTDIR_FILE = ".quality_gate_rootdir"  # written by the plugin in staging runs


@dataclass
class FilePlan:
    """What an update would do to one golden file."""

    relative: Path
    staged: Path
    tree: Path
    status: str  # "added", "changed", "unchanged"
    new: gate.Golden
    old: gate.Golden | None = None
    result: gate.GateResult | None = None
    contract_changes: list[gate.ContractChange] = field(default_factory=list)
    fingerprint_changes: list[gate.ContractChange] = field(default_factory=list)
    info_changes: list[str] = field(default_factory=list)

    @property
    def worse(self) -> list[gate.GateRow]:
        """Rows the update would loosen (worse, changed, dropped)."""
        return list(self.result.loosened) if self.result is not None else []

    def summary(self) -> str:
        """One line for :func:`status`."""
        if self.result is None or self.status != "changed":
            return f"{self.status:<9} {self.relative}"
        counts: dict[str, int] = {}
        for r in self.result.rows:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        parts = [f"{n} {v}" for v, n in sorted(counts.items())]
        if self.worse:
            parts.append("loosened: " + ", ".join(r.metric for r in self.worse))
        if self.contract_changes:
            parts.append(f"contract: {', '.join(c.key for c in self.contract_changes)}")
        if self.info_changes:
            keys = [line.split(":")[0].removeprefix("info ") for line in self.info_changes]
            parts.append(f"info (not compared): {', '.join(keys)}")
        return f"{self.status:<9} {self.relative} ({'; '.join(parts)})"


@dataclass
class Staged:
    """The outcome of one staging pytest run."""

    rootdir: Path
    returncode: int
    plans: list[FilePlan]
    stale: list[Path]


def _run_pytest(cwd: Path, paths: Sequence[str], staging: Path, extra: Sequence[str]) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "--regen-all",
        f"--quality-gate-staging={staging}",
        "--quality-gate-report=never",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    print("$", shlex.join(cmd), flush=True)
    return subprocess.run(cmd, cwd=cwd, check=False).returncode


def _tree_goldens(cwd: Path, paths: Sequence[str], rootdir: Path) -> set[Path]:
    found: set[Path] = set()
    for p in paths or [str(rootdir)]:
        base = (cwd / p).resolve()
        dirs = [base.parent / "goldens" / base.stem] if base.is_file() else base.rglob("goldens")
        for d in dirs:
            if ".venv" in Path(d).parts or "site-packages" in Path(d).parts:
                continue
            found.update(
                f.resolve()
                for f in Path(d).rglob("*.json")
                if f.is_file() and not f.name.endswith(".obtained.json")
            )
    return found


def _plan_file(rootdir: Path, staging: Path, staged: Path) -> FilePlan:
    relative = staged.relative_to(staging)
    tree = rootdir / relative
    new = gate.load_golden(staged)
    if not tree.is_file():
        return FilePlan(relative, staged, tree, "added", new)
    old = gate.load_golden(tree)
    meta = json.loads(staged.with_name(staged.name + _META_SUFFIX).read_text(encoding="utf-8"))
    result = gate.compare_metrics(
        new.metrics,
        old.metrics,
        tolerances=meta["tolerances"],
        rel_tolerances=meta.get("rel_tolerances"),
        directions=meta["directions"],
    )
    contract = gate.compare_contract(new.contract, old.contract)
    # The info block (FRC and learning curves) is never compared, but a golden whose
    # curve changed is still rewritten by a reviewed update, so the report draws the new one.
    info = gate.describe_info_changes(old.info, new.info)
    same = new.metrics == old.metrics and not contract and not info
    return FilePlan(
        relative,
        staged,
        tree,
        "unchanged" if same else "changed",
        new,
        old,
        result,
        contract,
        gate.fingerprint_diff(old.fingerprint, new.fingerprint),
        info,
    )


def stage(
    staging: Path, *, cwd: Path, paths: Sequence[str] = (), pytest_args: Sequence[str] = ()
) -> Staged:
    """Run the gated tests into ``staging`` and plan every produced golden against the tree."""
    rc = _run_pytest(cwd, paths, staging, pytest_args)
    marker = staging / _ROOTDIR_FILE
    rootdir = Path(marker.read_text(encoding="utf-8")) if marker.is_file() else cwd
    produced = sorted(staging.rglob("*.json"))
    plans = [_plan_file(rootdir, staging, p) for p in produced] if rc == 0 else []
    done = {p.tree.resolve() for p in plans}
    stale = sorted(p for p in _tree_goldens(cwd, paths, rootdir) if p not in done)
    return Staged(rootdir, rc, plans, stale)


def _print_diff(staged: Staged) -> None:
    root = staged.rootdir
    print("\nIn the tables, golden = the tree's current value, obtained = the regenerated one.")
    for plan in staged.plans:
        print(f"\n== {plan.relative}: {plan.status}")
        if plan.result is None:
            for name, value in sorted(plan.new.metrics.items()):
                print(f"  {name} = {value!r}")
            for line in gate.describe_info_changes({}, plan.new.info):
                print(f"  {line}")
            continue
        print(textwrap.indent(plan.result.format_table(), "  "))
        for c in plan.contract_changes:
            print(f"  contract {c.key}: {c.golden!r} -> {c.obtained!r}")
        for line in plan.info_changes:
            print(f"  {line}")
        for c in plan.fingerprint_changes:
            print(f"  fingerprint {c.key}: {c.golden!r} -> {c.obtained!r}")
        if not plan.fingerprint_changes:
            print("  fingerprint: unchanged")
    for path in staged.stale:
        print(f"\n== {_rel(path, root)}: stale (no test produced it in this run)")


def _rel(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def _staging_failed(staged: Staged) -> int | None:
    if staged.returncode != 0:
        print(
            f"refused: the staging pytest run failed (exit status {staged.returncode}); "
            "nothing written"
        )
        return 1
    if not staged.plans:
        print("refused: no quality_gate golden was produced; nothing written")
        return 1
    return None


def status(*, cwd: Path, paths: Sequence[str] = (), pytest_args: Sequence[str] = ()) -> int:
    """One line per golden: added, changed (with verdict counts), unchanged, stale."""
    with tempfile.TemporaryDirectory(prefix="goldens-") as tmp:
        staged = stage(Path(tmp), cwd=cwd, paths=paths, pytest_args=pytest_args)
        failed = _staging_failed(staged)
        if failed is not None:
            return failed
        print()
        for plan in staged.plans:
            print(plan.summary())
        for path in staged.stale:
            print(f"{'stale':<9} {_rel(path, staged.rootdir)}")
    return 0


def diff(*, cwd: Path, paths: Sequence[str] = (), pytest_args: Sequence[str] = ()) -> int:
    """The full tables of what :func:`update` would write; writes nothing."""
    with tempfile.TemporaryDirectory(prefix="goldens-") as tmp:
        staged = stage(Path(tmp), cwd=cwd, paths=paths, pytest_args=pytest_args)
        failed = _staging_failed(staged)
        if failed is not None:
            return failed
        _print_diff(staged)
    return 0


def _confirm(yes: bool, count: int) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print("refused: no terminal to confirm on; pass --yes after reviewing the diff above")
        return False
    answer = input(f"Write {count} golden change(s)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _goldens_root(path: Path) -> Path:
    for parent in path.parents:
        if parent.name == "goldens":
            return parent
    return path.parent


def _apply(plans: list[FilePlan], stale: list[Path]) -> None:
    """Copy every new file next to its target first, then ``os.replace`` one by one.

    An interruption before the replaces leaves all old goldens; each replace is
    atomic, so no file is ever half written.
    """
    temp_dirs: dict[Path, Path] = {}
    staged: list[tuple[Path, Path]] = []
    try:
        for plan in plans:
            golden_root = _goldens_root(plan.tree)
            golden_root.mkdir(parents=True, exist_ok=True)
            if golden_root not in temp_dirs:
                temp_dirs[golden_root] = Path(tempfile.mkdtemp(prefix=".regen-", dir=golden_root))
            tmp = temp_dirs[golden_root] / f"{len(staged)}.json"
            shutil.copyfile(plan.staged, tmp)
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            staged.append((tmp, plan.tree))
        for tmp, target in staged:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        for path in stale:
            path.unlink()
    finally:
        for d in temp_dirs.values():
            shutil.rmtree(d, ignore_errors=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def append_provenance(
    *,
    config_root: Path,
    reason: str,
    allow_worse: bool,
    files: Sequence[tuple[Path, str, Sequence[str]]],
    tool: str,
) -> list[Path]:
    """Append one JSON line per goldens directory to its ``PROVENANCE.jsonl``.

    ``files``: ``(path in the tree, status, metrics that got worse)``; status
    ``"removed"`` for a pruned file (no sha256). The record: UTC time, reason,
    allow_worse, the tool that wrote (``ptycho-metrics goldens update``,
    ``pytest --force-regen``, ...), git commit, fingerprint, and per file its
    path (from the rootdir), status, sha256 and the worse metrics.
    """
    fingerprint = gate.environment_fingerprint(root=config_root)
    by_root: dict[Path, list[dict[str, Any]]] = {}
    for path, file_status, worse in files:
        entry: dict[str, Any] = {"path": str(_rel(path, config_root)), "status": file_status}
        if file_status != "removed":
            entry["sha256"] = _sha256(path)
            entry["worse"] = list(worse)
        by_root.setdefault(_goldens_root(path), []).append(entry)
    logs = []
    for golden_root, entries in by_root.items():
        record = {
            "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "reason": reason,
            "allow_worse": allow_worse,
            "tool": tool,
            "git": fingerprint["git"],
            "fingerprint": fingerprint,
            "files": entries,
        }
        log = golden_root / PROVENANCE_NAME
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
        logs.append(log)
    return logs


def update(
    *,
    reason: str,
    cwd: Path,
    paths: Sequence[str] = (),
    pytest_args: Sequence[str] = (),
    allow_worse: bool = False,
    yes: bool = False,
    prune_stale: bool = False,
) -> int:
    """Stage, show the diff, then (confirmed) write the changed goldens and log provenance.

    Returns the exit status: 0 written or nothing to do, 1 refused or failed,
    2 refused in CI or empty reason.
    """
    if not reason.strip():
        print("refused: --reason must not be empty")
        return 2
    if in_ci():
        print(
            f"refused: the environment variable CI is set ({os.environ.get('CI')!r}); "
            f"update goldens locally with `{REVIEW_COMMAND} update` and commit them"
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="goldens-") as tmp:
        staged = stage(Path(tmp), cwd=cwd, paths=paths, pytest_args=pytest_args)
        failed = _staging_failed(staged)
        if failed is not None:
            return failed
        _print_diff(staged)
        root = staged.rootdir
        to_write = [p for p in staged.plans if p.status != "unchanged"]
        to_prune = staged.stale if prune_stale else []
        worse = [f"{p.relative}: {r.metric} ({r.verdict})" for p in to_write for r in p.worse]
        if worse and not allow_worse:
            print("\nrefused: worse beyond tolerance or dropped (pass --allow-worse to accept):")
            print("\n".join(f"  {w}" for w in worse))
            return 1
        if not to_write and not to_prune:
            print("\nnothing to write: every golden's metrics, contract and info are unchanged")
            return 0
        if not _confirm(yes, len(to_write) + len(to_prune)):
            return 1
        _apply(to_write, to_prune)
        files = [(p.tree, p.status, [r.metric for r in p.worse]) for p in to_write]
        files += [(p, "removed", []) for p in to_prune]
        logs = append_provenance(
            config_root=root,
            reason=reason,
            allow_worse=allow_worse,
            files=files,
            tool=f"{REVIEW_COMMAND} update",
        )
    for plan in to_write:
        print(f"wrote {plan.relative} ({plan.status})")
    for path in to_prune:
        print(f"removed {_rel(path, root)}")
    for log in logs:
        print(f"provenance appended to {_rel(log, root)}")
    return 0
