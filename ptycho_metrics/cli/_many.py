"""``ptycho-metrics evaluate --many``: many reconstructions, one JSON and one CSV table.

The pairs come from a directory or a manifest and run through
:func:`ptycho_metrics.evaluate_many` (local processes by default, a Dask
cluster with ``--scheduler``). A failing pair is reported in the tables and
the others go on; the command then exits with status 1 naming how many failed.

* a directory: every ``*.npz`` in it and every ``*/reconstruction.npz``
  below it (the layout ``ptycho-metrics run`` writes), named by file stem or
  folder name, all against ``--truth``;
* a ``.csv`` manifest with a header ``name,recon,truth,mask`` (``recon``
  required; ``truth`` defaults to ``--truth``; ``mask`` an optional
  ``.npy``), or a ``.json`` manifest: a list of objects with those keys.
  Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from .. import ManyReport, Pair, PairResult, evaluate_many
from .._checks import QualityInputError
from .._many import Route

__all__ = ["add_arguments", "read_pairs", "require_single", "run"]

MANIFEST_KEYS = ("name", "recon", "truth", "mask")

#: Columns of the summary printed on stdout (all metrics are in the tables).
SUMMARY = ("amplitude_ssim", "phase_rmse", "frc_mean")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--many``, ``--scheduler`` and ``--workers`` to the evaluate parser."""
    parser.add_argument(
        "--many",
        metavar="MANIFEST_OR_DIR",
        help="evaluate many reconstructions: a directory of .npz files (against --truth) "
        "or a .csv/.json manifest with name,recon,truth,mask; needs --output FILE.json "
        "(a CSV table is written beside it)",
    )
    parser.add_argument(
        "--scheduler", help="with --many: run on the Dask cluster at this scheduler address"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="with --many: local processes (default: usable cores; 1 runs in this process)",
    )


def require_single(args: argparse.Namespace) -> None:
    """The single-pair form needs --recon and --truth."""
    missing = [f"--{k}" for k in ("recon", "truth") if getattr(args, k) is None]
    if missing:
        msg = f"evaluate needs {' and '.join(missing)} (or --many MANIFEST_OR_DIR)"
        raise QualityInputError(msg)


def _resolve(value: str, base: Path) -> str:
    path = Path(value)
    candidate = path if path.is_absolute() else base / path
    # A fixture name ("default") is not a path: keep it when no such file exists.
    return str(candidate) if candidate.exists() or path.suffix else value


def _manifest_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            msg = f"{path}: not valid JSON ({exc})"
            raise QualityInputError(msg) from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            msg = f"{path}: a JSON manifest must be a list of objects with keys {MANIFEST_KEYS}"
            raise QualityInputError(msg)
        return rows
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return [dict(r) for r in csv.DictReader(fh)]
    msg = f"--many must be a directory, a .csv or a .json manifest, got {path}"
    raise QualityInputError(msg)


def read_pairs(source: str, truth: str | None) -> list[Pair]:
    """The pairs a directory or manifest names (see the module docstring)."""
    path = Path(source)
    if not path.exists():
        msg = f"--many: {source} does not exist"
        raise QualityInputError(msg)
    if path.is_dir():
        if truth is None:
            msg = "--many with a directory needs --truth (one ground truth for all)"
            raise QualityInputError(msg)
        files = sorted(path.glob("*.npz")) + sorted(path.glob("*/reconstruction.npz"))
        if not files:
            msg = f"--many: {source} holds no *.npz nor */reconstruction.npz"
            raise QualityInputError(msg)
        names = [f.parent.name if f.name == "reconstruction.npz" else f.stem for f in files]
        return [Pair(n, f, truth) for n, f in zip(names, files, strict=True)]
    pairs = []
    for i, row in enumerate(_manifest_rows(path), start=1):
        unknown = sorted(set(row) - set(MANIFEST_KEYS))
        if unknown or not row.get("recon"):
            msg = (
                f"{path}: entry {i} must have a 'recon' and only the keys "
                f"{', '.join(MANIFEST_KEYS)}; got {sorted(row)}"
            )
            raise QualityInputError(msg)
        row_truth = row.get("truth") or truth
        if not row_truth:
            msg = f"{path}: entry {i} has no 'truth' and no --truth was given"
            raise QualityInputError(msg)
        recon = _resolve(str(row["recon"]), path.parent)
        mask = _resolve(str(row["mask"]), path.parent) if row.get("mask") else None
        name = str(row.get("name") or Path(recon).stem)
        pairs.append(Pair(name, recon, _resolve(str(row_truth), path.parent), mask))
    if not pairs:
        msg = f"--many: the manifest {source} lists no pairs"
        raise QualityInputError(msg)
    return pairs


def _progress(total: int) -> Any:
    """A tqdm bar on stderr when tqdm is installed, else one line per finished pair."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    bar = None if tqdm is None else tqdm(total=total, unit="pair", file=sys.stderr)

    def update(done: int, n: int, result: PairResult) -> None:
        state = "ok" if result.ok else "FAILED"
        if bar is None:
            print(f"[{done}/{n}] {result.name}: {state}", file=sys.stderr, flush=True)
        else:
            bar.set_postfix_str(f"{result.name}: {state}")
            bar.update(1)
            if done == n:
                bar.close()

    return update


def _print_summary(many: ManyReport) -> None:
    width = max([len(r.name) for r in many.results] + [4])
    print(f"{'pair':<{width}}  " + "  ".join(f"{k:>14}" for k in SUMMARY) + "  seconds")
    for r in many.results:
        if r.report is None:
            print(f"{r.name:<{width}}  FAILED: {r.error}")
            continue
        values = "  ".join(f"{r.report.metrics[k]:>14.6g}" for k in SUMMARY)
        print(f"{r.name:<{width}}  {values}  {r.seconds:7.2f}")


def run(args: argparse.Namespace) -> None:
    """Evaluate the pairs of ``--many``, write the JSON and CSV tables, fail if any pair did."""
    if not args.output:
        msg = "--many needs --output FILE.json (a CSV table is written beside it)"
        raise QualityInputError(msg)
    json_path = Path(args.output)
    csv_path = json_path.with_suffix(".csv")
    for out in (json_path, csv_path):
        if out.exists():
            msg = f"{out} exists; remove it or choose another --output (nothing is overwritten)"
            raise QualityInputError(msg)
    if args.workers is not None and args.workers < 1:
        msg = f"--workers must be >= 1, got {args.workers}"
        raise QualityInputError(msg)
    pairs = read_pairs(args.many, args.truth)
    route: Route = "dask" if args.scheduler else ("serial" if args.workers == 1 else "processes")
    many = evaluate_many(
        pairs,
        route=route,
        scheduler=args.scheduler,
        max_workers=args.workers,
        progress=_progress(len(pairs)),
    )
    json_path.write_text(many.to_json() + "\n", encoding="utf-8")
    many.write_csv(csv_path)
    _print_summary(many)
    print(f"tables: {json_path} {csv_path} ({len(pairs)} pairs, {many.seconds:.1f} s, {route})")
    if many.failed:
        names = ", ".join(r.name for r in many.failed)
        msg = f"{len(many.failed)} of {len(pairs)} pairs failed: {names}"
        raise QualityInputError(msg)
