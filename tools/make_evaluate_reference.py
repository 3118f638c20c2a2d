"""Write tests/evaluate_reference.json: evaluate() on the seeded cases of tests/evaluate_cases.py.

The reference values pin evaluate()'s float64 results so that numerical
rewrites (issue #13) can be checked to reproduce them within 1e-9
(tests/test_report_reference.py). They are always made with this script,
on the float64 path, and record their provenance: the git commit and
whether the package tree had local changes, the library versions, the
command, and the time.

Usage::

    python tools/make_evaluate_reference.py [--output tests/evaluate_reference.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from evaluate_cases import CASES  # noqa: E402

from ptycho_metrics import evaluate  # noqa: E402


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO_ROOT / "tests" / "evaluate_reference.json"))
    args = parser.parse_args()
    dirty = bool(_git("status", "--porcelain", "--", "ptycho_metrics"))
    cases = {}
    for name, build in CASES.items():
        recon, truth, kwargs = build()
        cases[name] = evaluate(recon, truth, **kwargs).to_dict()
        print(f"{name}: {recon.shape} {recon.dtype}")
    provenance = {
        "command": "python tools/make_evaluate_reference.py",
        "commit": _git("rev-parse", "HEAD"),
        "package_tree_modified": dirty,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("numpy", "scipy", "scikit-image")},
        "path": "float64 (complex128) evaluate(), default options unless the case sets them",
    }
    text = json.dumps({"provenance": provenance, "cases": cases}, indent=1, allow_nan=False)
    Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
