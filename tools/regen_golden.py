"""Regenerate the quality-gate goldens as a reviewed act.

Runs the gated tests with ``--regen-all --quality-gate-staging=DIR`` so the new
goldens land in a staging directory and nothing in the tree is touched; prints,
per golden file and metric, the old and new values, delta, direction and
whether the change is within tolerance, the contract and fingerprint changes,
and the added / unchanged / stale files; then, after confirmation, replaces the
goldens atomically and appends a provenance record to ``PROVENANCE.jsonl``
beside them.

Usage::

    python tools/regen_golden.py --reason "retrained with the new probe" [--allow-worse]
        [--yes] [--prune-stale] [PATH ...] [-- PYTEST_ARGS ...]

Refuses when the environment variable ``CI`` is set, when a metric got worse
beyond its tolerance and ``--allow-worse`` is not given, and when there is no
terminal to confirm on and ``--yes`` is not given. Exit status: 0 written or
nothing to do, 1 refused or failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptycho_metrics.gate import _engine as gate

REPO_ROOT = Path(__file__).resolve().parents[1]
PROVENANCE_NAME = "PROVENANCE.jsonl"
META_SUFFIX = ".gatemeta"


@dataclass
class FilePlan:
    """What regeneration would do to one golden file."""

    relative: Path
    staged: Path
    tree: Path
    status: str  # "added", "changed", "unchanged"
    new: gate.Golden
    old: gate.Golden | None = None
    result: gate.GateResult | None = None
    contract_changes: list[gate.ContractChange] = field(default_factory=list)
    fingerprint_changes: list[gate.ContractChange] = field(default_factory=list)

    @property
    def worse(self) -> list[gate.GateRow]:
        rows = self.result.rows if self.result is not None else ()
        return [r for r in rows if r.verdict in ("worse", "changed")]


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="regen_golden.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("paths", nargs="*", default=["tests/quality"], help="test paths")
    parser.add_argument("--reason", required=True, help="why, recorded in the provenance log")
    parser.add_argument("--allow-worse", action="store_true", help="accept worse metrics")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--prune-stale", action="store_true", help="delete goldens no test produced"
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not args.reason.strip():
        parser.error("--reason must not be empty")
    return args, extra


def _run_pytest(root: Path, paths: list[str], staging: Path, extra: list[str]) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "--regen-all",
        f"--quality-gate-staging={staging}",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=root, check=False).returncode


def _tree_goldens(root: Path, paths: list[str]) -> set[Path]:
    found: set[Path] = set()
    for p in paths:
        base = (root / p).resolve()
        dirs = [base.parent / "goldens" / base.stem] if base.is_file() else base.rglob("goldens")
        for d in dirs:
            found.update(f.resolve() for f in Path(d).rglob("*.json") if f.is_file())
    return found


def _plan_file(root: Path, staging: Path, staged: Path) -> FilePlan:
    relative = staged.relative_to(staging)
    tree = root / relative
    new = gate.load_golden(staged)
    if not tree.is_file():
        return FilePlan(relative, staged, tree, "added", new)
    old = gate.load_golden(tree)
    meta = json.loads(staged.with_name(staged.name + META_SUFFIX).read_text(encoding="utf-8"))
    result = gate.compare_metrics(
        new.metrics, old.metrics, tolerances=meta["tolerances"], directions=meta["directions"]
    )
    contract = gate.compare_contract(new.contract, old.contract)
    same = new.metrics == old.metrics and not contract
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
    )


def _report(plans: list[FilePlan], stale: list[Path], root: Path) -> None:
    print("\nIn the tables, golden = the tree's current value, obtained = the regenerated one.")
    for plan in plans:
        print(f"\n== {plan.relative}: {plan.status}")
        if plan.result is None:
            for name, value in sorted(plan.new.metrics.items()):
                print(f"  {name} = {value!r}")
            continue
        print(textwrap.indent(plan.result.format_table(), "  "))
        for c in plan.contract_changes:
            print(f"  contract {c.key}: {c.golden!r} -> {c.obtained!r}")
        for c in plan.fingerprint_changes:
            print(f"  fingerprint {c.key}: {c.golden!r} -> {c.obtained!r}")
        if not plan.fingerprint_changes:
            print("  fingerprint: unchanged")
    for path in stale:
        print(f"\n== {path.relative_to(root)}: stale (no test produced it in this run)")


def _confirm(args: argparse.Namespace, count: int) -> bool:
    if args.yes:
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


def _append_provenance(
    root: Path, args: argparse.Namespace, plans: list[FilePlan], stale: list[Path]
) -> list[Path]:
    fingerprint = gate.environment_fingerprint(root=root)
    by_root: dict[Path, list[dict[str, Any]]] = {}
    for plan in plans:
        entry = {"path": str(plan.relative), "status": plan.status, "sha256": _sha256(plan.tree)}
        entry["worse"] = [r.metric for r in plan.worse]
        by_root.setdefault(_goldens_root(plan.tree), []).append(entry)
    for path in stale:
        rel = str(path.relative_to(root))
        by_root.setdefault(_goldens_root(path), []).append({"path": rel, "status": "removed"})
    logs = []
    for golden_root, files in by_root.items():
        record = {
            "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "reason": args.reason,
            "allow_worse": args.allow_worse,
            "git": fingerprint["git"],
            "fingerprint": fingerprint,
            "files": files,
        }
        log = golden_root / PROVENANCE_NAME
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
        logs.append(log)
    return logs


def main(argv: list[str] | None = None) -> int:
    args, extra = _parse(argv)
    if "CI" in os.environ:
        print("refused: the environment variable CI is set; regenerate goldens locally")
        return 2
    root = args.root.resolve()
    with tempfile.TemporaryDirectory(prefix="regen-golden-") as tmp:
        staging = Path(tmp)
        rc = _run_pytest(root, args.paths, staging, extra)
        if rc != 0:
            print(f"refused: the staging pytest run failed (exit status {rc}); nothing written")
            return 1
        produced = sorted(staging.rglob("*.json"))
        if not produced:
            print("refused: no quality_gate golden was produced; nothing written")
            return 1
        plans = [_plan_file(root, staging, p) for p in produced]
        done = {p.tree.resolve() for p in plans}
        stale = sorted(p for p in _tree_goldens(root, args.paths) if p not in done)
        _report(plans, stale, root)
        to_write = [p for p in plans if p.status != "unchanged"]
        to_prune = stale if args.prune_stale else []
        worse = [f"{p.relative}: {r.metric}" for p in to_write for r in p.worse]
        if worse and not args.allow_worse:
            print("\nrefused: worse beyond tolerance (pass --allow-worse to accept):")
            print("\n".join(f"  {w}" for w in worse))
            return 1
        if not to_write and not to_prune:
            print("\nnothing to write: every golden's metrics and contract are unchanged")
            return 0
        if not _confirm(args, len(to_write) + len(to_prune)):
            return 1
        _apply(to_write, to_prune)
        logs = _append_provenance(root, args, to_write, to_prune)
    for plan in to_write:
        print(f"wrote {plan.relative} ({plan.status})")
    for path in to_prune:
        print(f"removed {path.relative_to(root)}")
    for log in logs:
        print(f"provenance appended to {log.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
