"""Measure the run-to-run spread of the cdtools example's metrics and propose tolerances.

Runs the pipeline of ``tests/interop/cdtools_pipeline.py`` exactly as
``tests/interop/test_cdtools_gate.py`` does (same settings, same reading back
and metrics), ``--reruns`` times with each thread count of ``--threads``;
prints each run's metrics, the range (max - min) per metric, and the proposed
tolerance ``max(floor, 3 x range)`` (floors: ``tools/measure_spread.py``'s
``FLOORS``, the gate's resolution).

Usage::

    python tools/measure_interop_spread.py [--reruns 2] [--threads 1 2] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
MULTIPLE = 3.0


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, help="also write every run's metrics here")
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore", message="Passing more than 2 positional arguments")
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    pipeline = _module(REPO_ROOT / "tests/interop/cdtools_pipeline.py", "cdtools_pipeline")
    gate_test = _module(REPO_ROOT / "tests/interop/test_cdtools_gate.py", "interop.test_gate")
    floors = _module(REPO_ROOT / "tools/measure_spread.py", "measure_spread").FLOORS
    from ptycho_metrics.data import fixture_path, load_fixture

    data = load_fixture("default")
    cxi = fixture_path("default").with_suffix(".cxi")
    runs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            for rerun in range(args.reruns):
                label = f"threads={threads} run={rerun}"
                start = time.perf_counter()
                out = pipeline.reconstruct(
                    cxi, data.probe, Path(tmp) / f"{threads}-{rerun}.h5", threads=threads
                )
                runs[label] = gate_test.gated(out)
                print(f"{label}: {time.perf_counter() - start:.1f} s", flush=True)
    names = sorted(next(iter(runs.values())))
    print(f"\n{'metric':<22} {'min':>12} {'max':>12} {'range':>10} {'proposed':>10}")
    for name in names:
        values = [r[name] for r in runs.values()]
        spread = max(values) - min(values)
        proposed = max(floors.get(name, 0.0), MULTIPLE * spread)
        low, high = min(values), max(values)
        print(f"{name:<22} {low:>12.6g} {high:>12.6g} {spread:>10.3g} {proposed:>10.3g}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
