"""Run the reference pipeline the way users run it, and the numbers the gate compares.

The gate runs the main job exactly as a user does, ``ptycho-metrics run --data
<fixture> --output-dir DIR`` with *no other option*: seed, epochs, learning
rate and thread count are the pipeline's defaults (one place: the signatures
of ``ptycho_metrics.pipeline.train``/``infer`` and the model), and the
contract records the values the pipeline says it used, so a changed default
is a contract change that names itself. The command trains, writes
``checkpoints/last.ckpt``, reloads it with ``load_from_checkpoint`` (no
kwargs), predicts, stitches and writes ``reconstruction.npz``, the two PNGs
and ``metrics.json``.

The reconstruction is then measured with :func:`ptycho_metrics.evaluate`
against the fixture's truth *on the fixture's scan mask*
(:func:`ptycho_metrics.scan_mask`, from the scan geometry), never on the
mask the pipeline wrote: a pipeline cannot change the region it is graded
on. Its own mask is gated against that one instead (:func:`mask_metrics`).
``tools/measure_spread.py`` and ``tools/gate_mutations.py`` load this module
too, so the spread behind the tolerances is measured on exactly these runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ptycho_metrics import QualityReport, evaluate, scan_mask
from ptycho_metrics.data import PtychoData, fixture_path, load_fixture

#: evaluate() metrics the gate leaves out. The FRC crossings (cycles/pixel)
#: are NaN when the curve never falls below the threshold and flicker near
#: Nyquist: on phase_wrap, seed 0, the 0.5 crossing is 0.4908 with 2 threads
#: and absent with 1 (tools/measure_spread.py). A gate on them would fail on
#: a thread-count or CPU change; frc_mean follows the same curve smoothly.
UNGATED = ("frc_0p5", "frc_half_bit")

#: Gate metrics that are not evaluate()'s, with their directions: the
#: pipeline's mask against the scan geometry's. Same rule, same code
#: (ptycho_metrics._mask), so they must agree exactly.
MASK_DIRECTIONS = {
    "scan_mask_pixels": "exact",  # pixels of scan_mask(data): the region graded
    "mask_pixels": "exact",  # pixels of the mask the pipeline wrote
    "mask_iou": "exact",  # |pipeline & scan| / |pipeline | scan|
}


@dataclass(frozen=True)
class PipelineRun:
    """One ``ptycho-metrics run`` of the reference pipeline, measured."""

    fixture: str
    data: PtychoData
    run_dir: Path
    checkpoint: Path
    reconstruction: Path
    arrays: dict[str, np.ndarray]
    metadata: dict[str, Any]
    run_metrics: dict[str, Any]  # metrics.json as the run command wrote it
    scan_mask: np.ndarray
    report: QualityReport
    options: tuple[str, ...]
    stdout: str

    @property
    def metrics(self) -> dict[str, float]:
        """What the gate compares: :func:`gated_metrics` and :func:`mask_metrics`."""
        return {**gated_metrics(self.report), **mask_metrics(self.arrays["mask"], self.scan_mask)}

    @property
    def contract(self) -> dict[str, Any]:
        """What must be equal for two runs' metrics to be comparable, as the pipeline recorded it.

        Seed, epochs, learning rate and threads are the values the pipeline
        used (its defaults, since the gate passes none). Paths and versions
        are left out: paths differ per checkout, versions belong to the
        fingerprint.
        """
        meta = self.metadata
        return {
            "fixture": self.fixture,
            "fixture_sha256": self.data.sha256,
            "command": "ptycho-metrics run --data <fixture> --output-dir <dir>",
            "trained_on_this_data": meta["trained_on_this_data"],
            "seed": meta["seed"],
            "epochs": meta["epochs"],
            "lr": meta["hyperparameters"]["lr"],
            "threads": meta["threads"],
            "inference_threads": meta["inference_threads"],
            "steps": meta["steps"],
            "hyperparameters": meta["hyperparameters"],
            "stitching": meta["stitching"],
            "mask": meta["mask"],
        }


def gated_metrics(report: QualityReport) -> dict[str, float]:
    """``report.finite_metrics()`` without :data:`UNGATED`."""
    return report.finite_metrics(exclude=UNGATED)


def mask_metrics(mask: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Pixel counts of both masks and their intersection over union."""
    union = int(np.count_nonzero(mask | reference))
    overlap = int(np.count_nonzero(mask & reference))
    return {
        "scan_mask_pixels": float(np.count_nonzero(reference)),
        "mask_pixels": float(np.count_nonzero(mask)),
        "mask_iou": overlap / union if union else 0.0,
    }


def gate_directions() -> dict[str, str]:
    """``directions=`` for the gate: the mask metrics (the rest come from METRICS)."""
    return dict(MASK_DIRECTIONS)


def run_command(fixture: str, out_dir: Path, options: tuple[str, ...] = ()) -> list[str]:
    """The command line of one gate run (``options`` only for spread measurements)."""
    return [
        sys.executable, "-m", "ptycho_metrics.cli", "run",
        "--data", str(fixture_path(fixture)),
        "--output-dir", str(out_dir),
        *options,
    ]  # fmt: skip


#: The learning-curve run: the gate's command plus ``--log-quality-every 1``.
#: QualityCallback leaves training bit for bit unchanged (tests/test_lightning.py),
#: so this one run is both the determinism rerun of the default fixture
#: (test_pipeline_quality.py: bit-identical to the gate's run, passes its
#: golden) and the convergence gate's run (test_convergence.py), instead of
#: two more trainings of the same configuration.
CURVE_EVERY = 1
CURVE_OPTIONS = ("--log-quality-every", str(CURVE_EVERY))


@dataclass
class StartedRun:
    """A ``ptycho-metrics run`` started in the background (:func:`start_pipeline`)."""

    fixture: str
    out_dir: Path
    options: tuple[str, ...]
    cmd: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    def done(self) -> bool:
        """Whether the process has exited (never blocks)."""
        return self.process.poll() is not None

    def result(self) -> PipelineRun:
        """Wait for the run, then measure it (:func:`measure_run`); fails the test if it failed."""
        code = self.process.wait()
        output = self.log.read_text(encoding="utf-8", errors="replace")
        if code != 0:
            pytest.fail(f"{' '.join(self.cmd)} exited {code}:\n{output}")
        return measure_run(self.fixture, self.out_dir, options=self.options, stdout=output)


def start_pipeline(
    fixture: str,
    out_dir: Path,
    *,
    options: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> StartedRun:
    """Start ``ptycho-metrics run`` on a packaged fixture without waiting for it.

    Its stdout and stderr go to ``<out_dir>.log`` (a file, not a pipe, so a
    chatty run never blocks on a full pipe while nobody reads it).
    """
    cmd = run_command(fixture, out_dir, options)
    full_env = None if env is None else {**os.environ, **env}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    log = out_dir.with_name(out_dir.name + ".log")
    with log.open("wb") as sink:
        process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=full_env)
    return StartedRun(fixture, out_dir, tuple(options), cmd, process, log)


def run_pipeline(
    fixture: str,
    out_dir: Path,
    *,
    options: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> PipelineRun:
    """``ptycho-metrics run`` on a packaged fixture, then evaluate against its scan mask.

    ``options`` are extra command-line options (``--threads 1``) and ``env``
    extra environment variables (``ATEN_CPU_CAPABILITY=avx2``) for
    ``tools/measure_spread.py``; the gate passes neither (but for
    :data:`CURVE_OPTIONS`).
    """
    return start_pipeline(fixture, out_dir, options=options, env=env).result()


def measure_run(
    fixture: str, out_dir: Path, *, options: tuple[str, ...] = (), stdout: str = ""
) -> PipelineRun:
    """Read what a finished run wrote into ``out_dir``; evaluate it on the fixture's scan mask."""
    recon_file = out_dir / "reconstruction.npz"
    with np.load(recon_file, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    data = load_fixture(fixture)
    reference = scan_mask(data)
    return PipelineRun(
        fixture=fixture,
        data=data,
        run_dir=out_dir,
        checkpoint=out_dir / "checkpoints" / "last.ckpt",
        reconstruction=recon_file,
        arrays=arrays,
        metadata=json.loads(str(arrays["metadata"])),
        run_metrics=json.loads((out_dir / "metrics.json").read_text(encoding="utf-8")),
        scan_mask=reference,
        report=evaluate(arrays["object"], data.obj, mask=reference),
        options=tuple(options),
        stdout=stdout,
    )
