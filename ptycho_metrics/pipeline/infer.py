"""Reload a checkpoint, predict every patch, stitch, and write the reconstruction.

Command line::

    python -m ptycho_metrics.pipeline.infer --checkpoint FILE --data FILE \\
        --output-dir DIR [--threads 1] [--overwrite]

Writes ``DIR/reconstruction.npz`` (keys ``object``, ``amplitude``, ``phase``,
``mask``, ``metadata``; see the data contract), ``DIR/reconstructed_amplitude.png``
and ``DIR/reconstructed_phase.png``. Existing outputs are never replaced
unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch

from .. import __version__
from .._checks import QualityInputError
from ..data import DataError, PtychoData, sha256_file
from .model import PtychoPINNLightning
from .stitch import DEFAULT_MASK_FRACTION, stitch_patches
from .train import (
    DEFAULT_THREADS,
    as_data,
    check_threads,
    deterministic_torch,
    refuse_existing,
    run_cli,
)

__all__ = [
    "OUTPUT_FILES",
    "CheckpointError",
    "infer",
    "load_model",
    "main",
    "reconstruct",
    "render_pngs",
]

#: Files written into the output directory, in this order.
OUTPUT_FILES = ("reconstruction.npz", "reconstructed_amplitude.png", "reconstructed_phase.png")
_AMP_LABEL = "|O| (transmission, dimensionless)"
_REQUIRED_HPARAMS = ("probe_size", "object_shape", "n_positions", "n_components", "hidden")
_REQUIRED_BUFFERS = ("probe", "indices", "projection", "amplitude_max")


class CheckpointError(QualityInputError):
    """A file is not a readable :class:`PtychoPINNLightning` checkpoint."""


def load_model(checkpoint: str | os.PathLike[str]) -> PtychoPINNLightning:
    """Reload a checkpoint with ``load_from_checkpoint`` (no keyword arguments).

    The file is first opened with ``torch.load(weights_only=True)`` so that
    a foreign or damaged file gets a :class:`CheckpointError` naming it
    rather than an error from deep inside Lightning.
    """
    path = Path(checkpoint)
    if not path.is_file():
        msg = f"checkpoint {path} does not exist (train one with ptycho_metrics.pipeline.train)"
        raise FileNotFoundError(msg)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many unrelated types for a non-checkpoint file
        msg = f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})"
        raise CheckpointError(msg) from None
    hparams = raw.get("hyper_parameters") if isinstance(raw, dict) else None
    state = raw.get("state_dict") if isinstance(raw, dict) else None
    if not isinstance(hparams, dict) or not isinstance(state, dict):
        msg = f"{path}: not a Lightning checkpoint (no hyper_parameters/state_dict)"
        raise CheckpointError(msg)
    missing = [k for k in _REQUIRED_HPARAMS if k not in hparams]
    missing += [k for k in _REQUIRED_BUFFERS if k not in state]
    if missing:
        msg = f"{path}: not a PtychoPINNLightning checkpoint (missing {', '.join(missing)})"
        raise CheckpointError(msg)
    return PtychoPINNLightning.load_from_checkpoint(path, map_location="cpu")


def check_compatible(model: PtychoPINNLightning, scan: PtychoData, source: str) -> None:
    """Raise :class:`DataError` unless ``scan`` has the geometry ``model`` (from ``source``) has."""
    hp = model.hparams
    want = (hp["n_positions"], hp["probe_size"], tuple(hp["object_shape"]))
    got = (scan.n_patterns, scan.probe_size, tuple(scan.obj.shape))
    if want != got:
        msg = (
            f"{scan.path}: (positions, probe size, object shape) = {got} does not match the "
            f"{source}, trained on {want}"
        )
        raise DataError(msg)


def predict_fields(model: PtychoPINNLightning, diffraction: np.ndarray) -> np.ndarray:
    """Amplitude + 1j * unwrapped phase patches (n, N, N), as the model stitches them."""
    model.eval()
    with torch.no_grad():
        amplitude, phase = model.fields(torch.from_numpy(diffraction).to(model.device))
        return torch.complex(amplitude, phase).cpu().numpy()


def reconstruct(model: PtychoPINNLightning, scan: PtychoData) -> tuple[np.ndarray, np.ndarray]:
    """The stitched object (complex64) and the scan mask, exactly as :func:`infer` writes them.

    Predicts every patch of ``scan`` and stitches amplitude and unwrapped
    phase separately (the model's own rule). Leaves ``model`` in eval mode;
    consumes no random numbers. Also what
    :class:`ptycho_metrics.lightning.QualityCallback` evaluates during training.

    Raises
    ------
    DataError
        ``scan``'s positions, probe size or object shape differ from the model's.
    """
    check_compatible(model, scan, "model")
    fields = predict_fields(model, scan.diffraction)
    packed, mask = stitch_patches(
        fields, scan.xcoords, scan.ycoords, scan.obj.shape, probe=scan.probe
    )
    obj = packed.real * np.exp(1j * packed.imag)
    return obj.astype(np.complex64), mask


def _metadata(checkpoint: Path, scan: PtychoData, model: PtychoPINNLightning, threads: int) -> str:
    run = dict(model.run_info)
    info = {
        "seed": run.get("seed"),
        "threads": run.get("threads"),
        "epochs": model.hparams["max_epochs"],
        "steps": model.hparams["max_epochs"] * model.hparams["steps_per_epoch"],
        "checkpoint": {"path": str(checkpoint), "sha256": sha256_file(checkpoint)},
        "data": {"path": str(scan.path), "sha256": scan.sha256},
        "trained_on_this_data": run.get("data_sha256") == scan.sha256,
        "training_run": run,
        "hyperparameters": dict(model.hparams),
        "inference_threads": threads,
        "stitching": (
            "illumination-weighted overlap average of amplitude and of unwrapped phase, "
            "w = |probe|^2 / max"
        ),
        "mask": f"summed weight >= {DEFAULT_MASK_FRACTION} * max (pixels the scan covered)",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "lightning": lightning.__version__,
            "ptycho_metrics": __version__,
        },
    }
    return json.dumps(info, sort_keys=True)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    partial = path.with_suffix(".npz.partial")
    partial.write_bytes(buffer.getvalue())
    partial.replace(path)


def _colour_range(values: np.ndarray, *, is_phase: bool) -> tuple[float, float, str]:
    """Colour limits and map from the scanned pixels (the rest is unconstrained)."""
    lo, hi = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    if is_phase and hi - lo > 0.9 * 2.0 * np.pi:
        return -np.pi, np.pi, "twilight"  # wrapped phase needs a cyclic map
    return lo, hi, "viridis" if is_phase else "gray"


def _plot(path: Path, image: np.ndarray, mask: np.ndarray, *, title: str, label: str) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global figure state, Agg canvas

    vmin, vmax, cmap = _colour_range(image[mask], is_phase=label.endswith("(rad)"))
    fig = Figure(figsize=(6.0, 5.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    shown = ax.imshow(
        np.where(mask, image, np.nan), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    ax.contour(mask, levels=[0.5], colors="tab:red", linewidths=1.0, linestyles="dashed")
    ax.set_title(f"{title}\nscanned region only (dashed outline)", fontsize=11)
    ax.set_xlabel("x (object pixels)")
    ax.set_ylabel("y (object pixels)")
    fig.colorbar(shown, ax=ax).set_label(label)
    fig.savefig(path)


def infer(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str] | PtychoData,
    output_dir: str | os.PathLike[str],
    *,
    threads: int = DEFAULT_THREADS,
    overwrite: bool = False,
) -> Path:
    """Reconstruct the object of ``data`` with a trained checkpoint.

    Parameters
    ----------
    checkpoint : path
        ``last.ckpt`` written by :func:`ptycho_metrics.pipeline.train`.
    data : path or PtychoData
        The scan to reconstruct; its positions, probe size and object shape
        must match the checkpoint's.
    output_dir : path
        Receives :data:`OUTPUT_FILES`.
    threads : int
        ``torch.set_num_threads`` during prediction; restored afterwards.
    overwrite : bool
        Replace existing outputs instead of refusing.

    Returns
    -------
    Path
        ``output_dir/reconstruction.npz``.

    Raises
    ------
    FileNotFoundError
        The checkpoint does not exist.
    CheckpointError
        The file is not a PtychoPINNLightning checkpoint.
    DataError
        The data file breaks the contract or does not match the checkpoint.
    OutputExistsError
        An output exists and ``overwrite`` is False.
    """
    n_threads = check_threads(threads)
    out = Path(output_dir)
    targets = [out / name for name in OUTPUT_FILES]
    refuse_existing(targets, overwrite=overwrite)
    ckpt = Path(checkpoint)
    scan = as_data(data)
    with deterministic_torch(n_threads):
        model = load_model(ckpt)
        check_compatible(model, scan, f"checkpoint {ckpt}")
        # Same stitching as training: amplitude and unwrapped phase averaged separately.
        obj64, mask = reconstruct(model, scan)
    amplitude = np.abs(obj64).astype(np.float32)
    phase = np.angle(obj64).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "object": obj64,
        "amplitude": amplitude,
        "phase": phase,
        "mask": mask,
        "metadata": np.array(_metadata(ckpt, scan, model, n_threads)),
    }
    _save_npz(targets[0], arrays)
    render_pngs(out, amplitude, phase, mask)
    return targets[0]


def render_pngs(
    output_dir: str | os.PathLike[str], amplitude: np.ndarray, phase: np.ndarray, mask: np.ndarray
) -> tuple[Path, Path]:
    """Write ``reconstructed_amplitude.png`` and ``reconstructed_phase.png`` into ``output_dir``.

    The one renderer of the two images: :func:`infer` calls it, and the
    quality gate re-renders ``reconstruction.npz``'s arrays with it to check
    that the PNGs show exactly those arrays.
    """
    out = Path(output_dir)
    amp_png, phase_png = (out / name for name in OUTPUT_FILES[1:])
    _plot(amp_png, amplitude, mask, title="Reconstructed amplitude |O|", label=_AMP_LABEL)
    _plot(phase_png, phase, mask, title="Reconstructed phase arg O", label="arg O, wrapped (rad)")
    return amp_png, phase_png


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ptycho_metrics.pipeline.infer",
        description="Reconstruct a scan with a trained PtychoPINNLightning checkpoint.",
    )
    parser.add_argument("--checkpoint", required=True, help="last.ckpt written by train")
    parser.add_argument("--data", required=True, help="scan .npz following the data contract")
    parser.add_argument("--output-dir", required=True, help="receives the npz and the PNGs")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ptycho_metrics.pipeline.infer``."""
    args = _parser().parse_args(argv)

    def action() -> None:
        npz = infer(
            args.checkpoint,
            args.data,
            args.output_dir,
            threads=args.threads,
            overwrite=args.overwrite,
        )
        for path in [npz, *(npz.parent / name for name in OUTPUT_FILES[1:])]:
            print(f"wrote: {path}")

    return run_cli(action)


if __name__ == "__main__":
    sys.exit(main())
