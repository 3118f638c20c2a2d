"""Inject realistic bugs into the reference pipeline and check that ``pytest tests/quality`` fails.

A mutation check of the gate itself (issue #10): each mutation is one small
source edit of the kind a real change could make (a mask rule, an artifact
written from the wrong array, a shifted object, a changed default, a
learning-rate-schedule slip, a stitching, coordinate, forward-model, loss,
whitening or checkpoint-reload bug, a wrong output). For each, the working
tree (tracked and untracked, not ignored files: your uncommitted changes
included) is copied into a temporary directory, the edit is applied there,
and ``pytest tests/quality`` runs in that copy with ``PYTHONPATH`` pointing
at it (the copy's package is the one imported; checked before each run).
It prints per mutation whether the gate caught it, every failing test of
the pass that decided (not only the first: which checks catch a bug matters
as much as that one does) and the time, and a table for ``docs/quality-gate.md``.

A tool, not part of CI: each mutation trains the pipeline at least once
(about 1-3 minutes each on a loaded 2-core machine). Run it in the
background::

    nohup python tools/gate_mutations.py --json /tmp/mutations.json > /tmp/mutations.log 2>&1 &

Usage::

    python tools/gate_mutations.py [--only NAME ...] [--list] [--no-control]
        [--json OUT.json] [--keep] [-- PYTEST_ARGS ...]

Exit status: 0 when the control run passes and every mutation is caught,
1 otherwise, 2 on a usage error or a mutation that no longer applies.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    """One bug: replace ``old`` by ``new`` (each exactly once) in ``path``."""

    name: str
    bug_class: str
    description: str
    path: str
    edits: tuple[tuple[str, str], ...]


def _m(name: str, bug_class: str, description: str, path: str, *edits: tuple[str, str]) -> Mutation:
    return Mutation(name, bug_class, description, path, edits)


INFER = "ptycho_metrics/pipeline/infer.py"
MODEL = "ptycho_metrics/pipeline/model.py"
PHYSICS = "ptycho_metrics/pipeline/physics.py"
STITCH = "ptycho_metrics/pipeline/stitch.py"
TRAIN = "ptycho_metrics/pipeline/train.py"
RUN = "ptycho_metrics/cli/run.py"

MUTATIONS: tuple[Mutation, ...] = (
    _m(
        "mask_threshold_0.2",
        "mask rule",
        "stitching's mask keeps pixels with >= 20 % (not 10 %) of the maximum illumination",
        STITCH,
        (
            "mask = mask_from_weight(wsum, float(mask_fraction))",
            "mask = mask_from_weight(wsum, 2 * float(mask_fraction))",
        ),
    ),
    _m(
        "phase_array_transposed",
        "phase artifact",
        "reconstruction.npz's phase is arg(object) transposed (an axis-order slip)",
        INFER,
        (
            "phase = np.angle(obj64).astype(np.float32)",
            "phase = np.angle(obj64.T).astype(np.float32)",
        ),
    ),
    _m(
        "amplitude_png_of_intensity",
        "PNG artifact",
        "the amplitude PNG shows |O|^2",
        INFER,
        ("render_pngs(out, amplitude, phase, mask)", "render_pngs(out, amplitude**2, phase, mask)"),
    ),
    _m(
        "pngs_swapped",
        "outputs",
        "the two PNG file names are swapped",
        INFER,
        (
            "amp_png, phase_png = (out / name for name in OUTPUT_FILES[1:])",
            "phase_png, amp_png = (out / name for name in OUTPUT_FILES[1:])",
        ),
    ),
    _m(
        "run_report_without_mask",
        "outputs",
        "`ptycho-metrics run` writes metrics.json evaluated without the mask",
        RUN,
        (
            "report = evaluate_recon(obj, scan.obj, mask=mask)",
            "report = evaluate_recon(obj, scan.obj, mask=None)",
        ),
    ),
    _m(
        "object_shifted_1px",
        "global shift",
        "the stitched object is written one pixel to the right (np.roll)",
        INFER,
        (
            "obj = packed.real * np.exp(1j * packed.imag)",
            "obj = np.roll(packed.real * np.exp(1j * packed.imag), 1, axis=1)",
        ),
    ),
    _m(
        "default_seed_1",
        "changed default",
        "DEFAULT_SEED = 1",
        TRAIN,
        ("DEFAULT_SEED = 0", "DEFAULT_SEED = 1"),
    ),
    _m(
        "default_lr_5e-3",
        "changed default",
        "the model's default peak learning rate 5e-3 (not 1e-2)",
        MODEL,
        ("lr: float = 1e-2,", "lr: float = 5e-3,"),
    ),
    _m(
        "one_cycle_total_steps_x2",
        "lr-schedule bug",
        "OneCycleLR spans twice the steps trained: training stops mid-schedule, lr never anneals",
        MODEL,
        (
            "total_steps=int(self.trainer.estimated_stepping_batches),",
            "total_steps=2 * int(self.trainer.estimated_stepping_batches),",
        ),
    ),
    _m(
        "one_cycle_warmup_0.3",
        "lr-schedule bug",
        "the one-cycle schedule warms up over 30 % of the steps (pct_start hard-coded)",
        MODEL,
        ('pct_start=self.hparams["warmup_fraction"],', "pct_start=0.3,"),
    ),
    _m(
        "inference_stitch_weights_squared",
        "stitching",
        "inference stitching weighs patch values by w^2 but normalises by sum w",
        STITCH,
        (
            "values = p.astype(np.complex128).reshape(n, -1) * weights",
            "values = p.astype(np.complex128).reshape(n, -1) * weights**2",
        ),
    ),
    _m(
        "patch_offset_off_by_one",
        "coordinates",
        "training cuts patches one pixel off their centres (N//2 - 1)",
        PHYSICS,
        (
            "offsets = np.arange(patch_size) - patch_size // 2",
            "offsets = np.arange(patch_size) - patch_size // 2 + 1",
        ),
    ),
    _m(
        "fft_norm_backward",
        "forward model",
        "the forward model's FFT uses norm='backward' (counts N^2 too large)",
        PHYSICS,
        ('torch.fft.fft2(probe * patches, norm="ortho")', "torch.fft.fft2(probe * patches)"),
    ),
    _m(
        "loss_on_amplitudes",
        "loss",
        "the Poisson NLL is given the measured amplitudes as counts (no square)",
        MODEL,
        (
            "return physics.poisson_nll(intensity, diffraction.square())",
            "return physics.poisson_nll(intensity, diffraction)",
        ),
    ),
    _m(
        "pca_not_whitened",
        "whitening",
        "inputs projected on the principal axes but not divided by their singular values",
        MODEL,
        (
            "projection = vt[:keep].T / sing[:keep] * np.sqrt(n)",
            "projection = vt[:keep].T / sing[0] * np.sqrt(n)",
        ),
    ),
    _m(
        "feature_std_not_saved",
        "checkpoint reload",
        "the whitening's feature_std buffer is not persistent: reload uses ones",
        MODEL,
        (
            'self.register_buffer("feature_std", torch.ones(n_pix))',
            'self.register_buffer("feature_std", torch.ones(n_pix), persistent=False)',
        ),
    ),
)


def _tree_files(root: Path) -> list[str]:
    """Tracked and untracked, not ignored files of the working tree."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return [p for p in out.decode().split("\0") if p and (root / p).is_file()]


def _copy_tree(root: Path, dest: Path) -> None:
    for rel in _tree_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def _mutated(root: Path, mutation: Mutation) -> str:
    """The mutated text of ``mutation.path`` under ``root``; exit 2 if an edit no longer applies."""
    text = (root / mutation.path).read_text(encoding="utf-8")
    for old, new in mutation.edits:
        count = text.count(old)
        if count != 1:
            print(f"mutation {mutation.name}: {old!r} occurs {count} times in {mutation.path}")
            raise SystemExit(2)
        text = text.replace(old, new)
    return text


def _apply(clone: Path, mutation: Mutation) -> None:
    (clone / mutation.path).write_text(_mutated(clone, mutation), encoding="utf-8")


def _env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(clone)
    # The packaged fixtures resolve through the editable install (to this tree's
    # fixtures/); read the copy's instead, so the copy is self-contained.
    env["PTYCHO_METRICS_FIXTURES_DIR"] = str(clone / "fixtures")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _check_import(clone: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import ptycho_metrics; print(ptycho_metrics.__file__)"],
        cwd=clone, env=_env(clone), capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = Path(done.stdout.strip()).resolve()
    if clone.resolve() not in imported.parents:
        msg = f"the clone imports ptycho_metrics from {imported}, not from {clone}"
        raise SystemExit(msg)


_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


#: First pass: the tests of the default fixture only (one pipeline run). A
#: failure there is a failure of ``pytest tests/quality`` (the same tests on
#: the same deterministic runs); only a mutation that passes it gets the full
#: command, which adds phase_wrap and the rerun.
FIRST_PASS = ("-k", "default")


def _pytest(clone: Path, args: list[str]) -> tuple[int, str]:
    # No -x: once a pass's runs are trained (tests/quality starts them all ahead)
    # the remaining checks cost seconds, and every failing one is reported.
    cmd = [sys.executable, "-m", "pytest", "tests/quality", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*cmd, *args], cwd=clone, env=_env(clone), capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout + done.stderr


def _run_gate(clone: Path, pytest_args: list[str], *, full: bool) -> tuple[int, str, float, str]:
    """Exit status, output, wall time and which pass decided."""
    start = time.perf_counter()
    if not full:
        code, output = _pytest(clone, [*FIRST_PASS, *pytest_args])
        if code != 0:
            return code, output, time.perf_counter() - start, "default fixture"
    code, output = _pytest(clone, pytest_args)
    return code, output, time.perf_counter() - start, "full"


def _failures(output: str) -> list[str]:
    """Every failing test of the pass, in pytest's summary order (file::name)."""
    found: list[str] = []
    for node in _FAILED.findall(output):
        name = node.rsplit("/", 1)[-1].removesuffix(".py").replace(".py::", "::")
        if name not in found:
            found.append(name)
    return found


def _reason(output: str) -> str:
    """The gate's own summary line of the first failure, shortened."""
    for pattern in (
        r"^E\s+((?:\w|\.)+: golden .* -> obtained .*)$",  # a contract change
        r"^E\s+(Failed: .*)$",
        r"^E\s+(contract .*)$",
        r"^E\s+(AssertionError: .*)$",
        r"^E\s+(.+)$",
    ):
        match = re.search(pattern, output, re.M)
        if match:
            return match.group(1).strip()[:160]
    return ""


def _one(mutation: Mutation | None, work: Path, args: argparse.Namespace) -> dict[str, object]:
    """Copy the tree, apply ``mutation`` (None: the control), run the gate, report."""
    name = "control (no mutation)" if mutation is None else mutation.name
    clone = work / ("control" if mutation is None else mutation.name)
    _copy_tree(REPO_ROOT, clone)
    if mutation is not None:
        _apply(clone, mutation)
    _check_import(clone)
    code, output, wall, decided = _run_gate(clone, args.pytest_args, full=mutation is None)
    caught = code != 0
    if mutation is None:
        verdict = "passes" if code == 0 else f"FAILS (exit {code})"
    else:
        verdict = "caught" if caught else "MISSED"
    row: dict[str, object] = {
        "name": name,
        "class": "-" if mutation is None else mutation.bug_class,
        "description": "" if mutation is None else mutation.description,
        "exit": code,
        "verdict": verdict,
        "decided_by": decided,
        "failures": _failures(output) if caught else [],
        "reason": _reason(output) if caught else "",
        "wall_s": round(wall, 1),
    }
    failures = row["failures"] or ["-"]
    print(
        f"{name:34} {verdict:8} {decided:16} {wall:6.1f} s  {', '.join(failures)}  {row['reason']}",
        flush=True,
    )
    if mutation is None and code != 0:
        print(output[-4000:], flush=True)
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
        (args.log_dir / f"{clone.name}.log").write_text(output, encoding="utf-8")
    if not args.keep:
        shutil.rmtree(clone, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--no-control", action="store_true", help="skip the unmutated run")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clones")
    parser.add_argument("--jobs", type=int, default=1, help="mutations run at once (default 1)")
    parser.add_argument("--log-dir", type=Path, help="write each run's pytest output here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    names = {m.name for m in MUTATIONS}
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:34} {m.bug_class:18} {m.description}")
        return 0
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        parser.error(f"unknown mutation(s) {unknown}; known: {', '.join(sorted(names))}")
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    for m in chosen:  # every edit must apply before minutes of training start
        _mutated(REPO_ROOT, m)
    plan: list[Mutation | None] = ([] if args.no_control else [None]) + list(chosen)
    work = Path(tempfile.mkdtemp(prefix="gate-mutations-"))
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(_one, m, work, args) for m in plan]
            results = [f.result() for f in futures]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n| mutation | class | bug | verdict | pass | failing tests | first message |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        tests = ", ".join(f"`{t}`" for t in r["failures"]) or "-"
        print(
            f"| `{r['name']}` | {r['class']} | {r['description']} | {r['verdict']} | "
            f"{r['decided_by']} | {tests} | {r['reason']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    control_ok = args.no_control or results[0]["exit"] == 0
    all_caught = all(r["verdict"] == "caught" for r in results if r["class"] != "-")
    return 0 if control_ok and all_caught else 1


if __name__ == "__main__":
    sys.exit(main())
