"""``ptycho-metrics evaluate --many``: many reconstructions, one JSON and one CSV table.

The pairs come from a directory or a manifest and run through
:func:`ptycho_metrics.evaluate_many` (local processes by default, a Dask
cluster with ``--scheduler``); each file is read as the single-pair
``ptycho-metrics evaluate`` reads one (:func:`ptycho_metrics.io.read_pair`:
any supported format, the truth a fixture name or a scan file). A failing
pair is reported in the tables and the others go on; the command then exits
with status 1 naming how many failed.

* a directory: every reconstruction-like file in it (``*.npz``, ``*.h5``,
  ``*.hdf5``, ``*.ptyr``, ``*.npy``, ``*.tif``, ``*.tiff``) and every
  ``*/reconstruction.npz`` below it (the layout ``ptycho-metrics run``
  writes), named by file stem or folder name, all against ``--truth`` (the
  truth's own file is skipped when it lies in the directory);
* a ``.csv`` manifest with a header naming some of :data:`MANIFEST_KEYS`
  (``recon`` required; ``truth`` defaults to ``--truth``; ``mask`` an
  optional ``.npy``; the reading options of :data:`READ_COLUMNS` override
  the command line's for that pair; an empty cell is unset), or a ``.json``
  manifest: a list of objects with those keys.
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
from ..io import READ_OPTIONS

__all__ = ["add_arguments", "read_options", "read_pairs", "require_single", "run"]

#: Manifest columns (CSV) or keys (JSON) that set read_pair() options of one pair.
READ_COLUMNS = READ_OPTIONS

MANIFEST_KEYS = ("name", "recon", "truth", "mask", *READ_COLUMNS)

#: Files a directory given to --many contributes (besides */reconstruction.npz).
RECON_SUFFIXES = (".npz", ".h5", ".hdf5", ".ptyr", ".npy", ".tif", ".tiff")

#: Columns of the summary printed on stdout (all metrics are in the tables).
SUMMARY = ("amplitude_ssim", "phase_rmse", "frc_mean")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--many``, ``--scheduler`` and ``--workers`` to the evaluate parser."""
    parser.add_argument(
        "--many",
        metavar="MANIFEST_OR_DIR",
        help="evaluate many reconstructions: a directory of reconstruction files (against "
        "--truth) or a .csv/.json manifest with name,recon,truth,mask and optional per-pair "
        "format,layer,mode,key,pixel_size,resample,pixel_tolerance,allow_other_data; the "
        "reading options given here apply to every pair; needs --output FILE.json (a CSV "
        "table is written beside it)",
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


def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's :func:`ptycho_metrics.io.read_pair` options (for one pair or all)."""
    return {name: getattr(args, name) for name in READ_OPTIONS}


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


_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def _cell(value: Any, column: str, where: str) -> Any:
    """A manifest cell as the type :func:`read_pair` takes (CSV cells are text)."""
    expected = {
        "layer": "an integer",
        "mode": "an integer",
        "pixel_size": "metres as W or W,H (a number or a list of two in JSON)",
        "pixel_tolerance": "a number",
        "resample": "true or false",
        "allow_other_data": "true or false",
    }
    try:
        if column in ("layer", "mode"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if column == "pixel_tolerance" and not isinstance(value, bool):
            return float(value)
        if column == "pixel_size":
            if isinstance(value, str):
                parts = [float(v) for v in value.split(",")]
                if len(parts) not in (1, 2):
                    raise ValueError
                return parts[0] if len(parts) == 1 else (parts[0], parts[1])
            if isinstance(value, list):
                return tuple(value)
            return value  # a number: checked by the reader
        if column in ("resample", "allow_other_data"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE + _FALSE:
                return text in _TRUE
            raise ValueError
    except (TypeError, ValueError):
        msg = f"{where}: '{column}' must be {expected[column]}, got {value!r}"
        raise QualityInputError(msg) from None
    return str(value)  # format, key: text


def _directory_pairs(path: Path, truth: str | None) -> list[Pair]:
    if truth is None:
        msg = "--many with a directory needs --truth (one ground truth for all)"
        raise QualityInputError(msg)
    own = Path(truth).resolve() if Path(truth).is_file() else None
    files = [
        f
        for f in sorted(path.iterdir())
        if f.is_file() and f.suffix.lower() in RECON_SUFFIXES and f.resolve() != own
    ]
    files += sorted(path.glob("*/reconstruction.npz"))
    if not files:
        msg = (
            f"--many: {path} holds no reconstruction file ({', '.join(RECON_SUFFIXES)}) "
            f"nor */reconstruction.npz"
        )
        raise QualityInputError(msg)
    names = [f.parent.name if f.name == "reconstruction.npz" else f.stem for f in files]
    if len(set(names)) < len(names):  # a.npz beside a.h5: name them by file name instead
        names = [str(f.relative_to(path)) for f in files]
    return [Pair(n, f, truth) for n, f in zip(names, files, strict=True)]


def read_pairs(source: str, truth: str | None) -> list[Pair]:
    """The pairs a directory or manifest names (see the module docstring)."""
    path = Path(source)
    if not path.exists():
        msg = f"--many: {source} does not exist"
        raise QualityInputError(msg)
    # Absolute paths: workers (Dask, other hosts) may run in another directory.
    # --truth is relative to the current directory, a manifest's paths to its folder.
    path = path.resolve()
    if truth is not None and Path(truth).exists():
        truth = str(Path(truth).resolve())
    if path.is_dir():
        return _directory_pairs(path, truth)
    pairs = []
    for i, row in enumerate(_manifest_rows(path), start=1):
        unknown = sorted(set(row) - set(MANIFEST_KEYS))
        if unknown or not row.get("recon"):
            msg = (
                f"{path}: entry {i} must have a 'recon' and only the keys "
                f"{', '.join(MANIFEST_KEYS)}; got {sorted(row)}"
            )
            raise QualityInputError(msg)
        truth_spec = _resolve(str(row["truth"]), path.parent) if row.get("truth") else truth
        if not truth_spec:
            msg = f"{path}: entry {i} has no 'truth' and no --truth was given"
            raise QualityInputError(msg)
        where = f"{path}: entry {i}"
        read = {
            column: _cell(row[column], column, where)
            for column in READ_COLUMNS
            if row.get(column) not in (None, "")
        }
        recon = _resolve(str(row["recon"]), path.parent)
        mask = _resolve(str(row["mask"]), path.parent) if row.get("mask") else None
        name = str(row.get("name") or Path(recon).stem)
        pairs.append(Pair(name, recon, truth_spec, mask, read or None))
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
        read=read_options(args),
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
