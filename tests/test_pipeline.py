"""Tests of the reference pipeline: physics, stitching, model, checkpoints, determinism.

Reference values come from independent computations: the forward model is
checked against :func:`ptycho_metrics.data.simulate_intensity` (NumPy,
complex128, written by another author), stitching against patches cut from a
known object with :func:`ptycho_metrics.data.extract_patches`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_metrics import QualityInputError
from ptycho_metrics.data import DataError, PtychoData, extract_patches, load_fixture
from ptycho_metrics.data import simulate_intensity as numpy_intensity
from ptycho_metrics.pipeline import (
    CheckpointError,
    OutputExistsError,
    PtychoPINNLightning,
    infer,
    physics,
    stitch_patches,
    train,
)
from ptycho_metrics.pipeline.infer import OUTPUT_FILES, load_model

#: Tiny training for unit tests: 2 epochs x 3 full-batch steps.
TINY = {"max_epochs": 2, "steps_per_epoch": 3, "progress": False}


@pytest.fixture(scope="module")
def scan() -> PtychoData:
    return load_fixture("default")


def _random_object(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.3 + 0.7 * rng.random(shape)) * np.exp(1j * rng.uniform(-np.pi, np.pi, shape))


# ---------------------------------------------------------------------------- physics


def test_forward_model_matches_numpy_reference(scan: PtychoData) -> None:
    obj = _random_object(scan.obj.shape, seed=1)
    expected = numpy_intensity(scan.probe, obj, scan.xcoords, scan.ycoords)
    size = scan.probe_size
    idx = physics.patch_indices(scan.xcoords, scan.ycoords, obj.shape, size)
    patches = physics.extract(torch.from_numpy(obj.reshape(-1)), idx, size)
    probe = torch.from_numpy(scan.probe.astype(np.complex128))
    got = physics.far_field_intensity(probe, patches).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * expected.max())


def test_forward_model_float32_within_single_precision(scan: PtychoData) -> None:
    obj = _random_object(scan.obj.shape, seed=2)
    expected = numpy_intensity(scan.probe, obj, scan.xcoords, scan.ycoords)
    size = scan.probe_size
    idx = physics.patch_indices(scan.xcoords, scan.ycoords, obj.shape, size)
    patches = physics.extract(torch.from_numpy(obj.astype(np.complex64).reshape(-1)), idx, size)
    got = physics.far_field_intensity(torch.from_numpy(scan.probe), patches).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * expected.max())


def test_extract_matches_reference_patches(scan: PtychoData) -> None:
    obj = _random_object(scan.obj.shape, seed=3)
    size = scan.probe_size
    idx = physics.patch_indices(scan.xcoords, scan.ycoords, obj.shape, size)
    got = physics.extract(torch.from_numpy(obj.reshape(-1)), idx, size).numpy()
    np.testing.assert_array_equal(got, extract_patches(obj, scan.xcoords, scan.ycoords, size))


def test_poisson_nll_is_smallest_at_the_counts() -> None:
    counts = torch.tensor([0.0, 1.0, 7.0, 1234.0], dtype=torch.float64)
    best = physics.poisson_nll(counts.clamp(min=1e-3), counts)
    for factor in (0.9, 0.99, 1.01, 1.1):
        assert physics.poisson_nll(counts.clamp(min=1e-3) * factor, counts) > best


def test_torch_stitch_matches_numpy_stitch(scan: PtychoData) -> None:
    rng = np.random.default_rng(4)
    shape = (scan.n_patterns, scan.probe_size, scan.probe_size)
    patches = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    expected, _ = stitch_patches(
        patches, scan.xcoords, scan.ycoords, scan.obj.shape, probe=scan.probe
    )
    probe = torch.from_numpy(scan.probe.astype(np.complex128))
    idx = physics.patch_indices(scan.xcoords, scan.ycoords, scan.obj.shape, scan.probe_size)
    weights = physics.illumination_weights(probe)
    wsum = physics.weight_sum(idx, weights, scan.obj.size)
    got = physics.stitch(torch.from_numpy(patches), idx, weights, wsum).numpy()
    np.testing.assert_allclose(got.reshape(scan.obj.shape), expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- stitching


@pytest.mark.parametrize("use_probe", [True, False])
def test_stitching_reproduces_a_known_object(scan: PtychoData, use_probe: bool) -> None:
    obj = _random_object(scan.obj.shape, seed=5)
    patches = extract_patches(obj, scan.xcoords, scan.ycoords, scan.probe_size)
    probe = scan.probe if use_probe else None
    out, mask = stitch_patches(patches, scan.xcoords, scan.ycoords, obj.shape, probe=probe)
    assert out.shape == obj.shape
    assert mask.dtype == np.bool_
    assert mask.sum() > 0.5 * mask.size
    np.testing.assert_allclose(out[mask], obj[mask], rtol=0, atol=1e-13)


def test_stitching_complex64_patches_to_float_precision(scan: PtychoData) -> None:
    obj = _random_object(scan.obj.shape, seed=6).astype(np.complex64)
    patches = extract_patches(obj, scan.xcoords, scan.ycoords, scan.probe_size)
    out, mask = stitch_patches(patches, scan.xcoords, scan.ycoords, obj.shape, probe=scan.probe)
    np.testing.assert_allclose(out[mask], obj[mask], rtol=0, atol=1e-6)


def test_mask_is_the_scanned_region(scan: PtychoData) -> None:
    patches = np.ones((scan.n_patterns, scan.probe_size, scan.probe_size), complex)
    _, mask = stitch_patches(patches, scan.xcoords, scan.ycoords, scan.obj.shape, probe=scan.probe)
    centre = scan.obj.shape[0] // 2
    assert mask[centre, centre]
    assert not mask[0, 0]  # the corner only sees the probe's dark edge
    # Uniform weights and fraction 0: the union of the patch footprints,
    # which for this raster (centres 16..112, 32 px patches) is the whole object.
    _, union = stitch_patches(patches, scan.xcoords, scan.ycoords, (128, 128), mask_fraction=0)
    assert union.all()
    _, two = stitch_patches(patches[:1], [16], [16], (64, 64), mask_fraction=0)
    assert two.sum() == 32 * 32
    assert two[:32, :32].all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patches": np.ones((2, 4, 5))}, "patches must have shape (n, N, N)"),
        ({"xcoords": [2.0]}, "xcoords must have shape (2,)"),
        ({"ycoords": [2.0, 2.5]}, "ycoords must hold finite integer-valued"),
        ({"xcoords": [2.0, 7.0]}, "patch 1 at centre (x=7, y=6) reaches outside"),
        ({"object_shape": (8,)}, "object_shape must be two positive integers"),
        ({"probe": np.ones((3, 3))}, "probe must have the patch shape (4, 4)"),
        ({"mask_fraction": 1.5}, "mask_fraction must lie in [0, 1]"),
    ],
)
def test_stitch_bad_inputs(kwargs: dict, message: str) -> None:
    args = {
        "patches": np.ones((2, 4, 4)),
        "xcoords": [2.0, 6.0],
        "ycoords": [2.0, 6.0],
        "object_shape": (8, 8),
    }
    args.update(kwargs)
    positional = [args.pop(k) for k in ("patches", "xcoords", "ycoords", "object_shape")]
    with pytest.raises(QualityInputError, match=re.escape(message)):
        stitch_patches(*positional, **args)


# ------------------------------------------------------------------------------ model


def test_untrained_model_predicts_a_flat_object(scan: PtychoData) -> None:
    model = PtychoPINNLightning.from_data(scan)
    with torch.no_grad():
        patches = model(torch.from_numpy(scan.diffraction[:5]))
    assert patches.shape == (5, scan.probe_size, scan.probe_size)
    assert patches.dtype == torch.complex64
    # Amplitude starts at the RMS transmission implied by counts and dose.
    counts = scan.diffraction.astype(np.float64) ** 2
    dose = np.sum(np.abs(scan.probe.astype(np.complex128)) ** 2)
    rms = np.sqrt(counts.sum(axis=(1, 2)).mean() / dose)
    np.testing.assert_allclose(patches.abs().numpy(), rms, rtol=1e-5)
    np.testing.assert_array_equal(patches.angle().numpy(), 0.0)


def test_loss_needs_the_whole_scan(scan: PtychoData) -> None:
    model = PtychoPINNLightning.from_data(scan)
    with pytest.raises(ValueError, match="needs the whole scan in one batch"):
        model.loss(torch.from_numpy(scan.diffraction[:10]))


def test_hyperparameters_are_json_primitives(scan: PtychoData) -> None:
    hparams = dict(PtychoPINNLightning.from_data(scan).hparams)
    assert json.loads(json.dumps(hparams)) == hparams
    assert hparams["data_sha256"] == scan.sha256


# ------------------------------------------------------------------------- training


def _globals() -> tuple:
    return (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        os.environ.get("PL_GLOBAL_SEED"),
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, scan: PtychoData) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    return train(scan, out, seed=0, threads=1, **TINY)


@pytest.mark.slow
def test_checkpoint_round_trip(tiny_run: Path) -> None:
    assert tiny_run.name == "last.ckpt"
    assert tiny_run.parent.name == "checkpoints"
    raw = torch.load(tiny_run, map_location="cpu", weights_only=True)
    assert json.loads(json.dumps(raw["hyper_parameters"])) == raw["hyper_parameters"]
    model = PtychoPINNLightning.load_from_checkpoint(tiny_run)  # no kwargs
    assert model.hparams["max_epochs"] == TINY["max_epochs"]
    for key, value in raw["state_dict"].items():
        assert torch.equal(model.state_dict()[key], value), key
    assert model.run_info["seed"] == 0
    assert model.run_info["threads"] == 1


@pytest.mark.slow
def test_training_never_reads_the_ground_truth(
    tmp_path: Path, scan: PtychoData, tiny_run: Path
) -> None:
    garbage = dataclasses.replace(scan, obj=_random_object(scan.obj.shape, 7).astype(np.complex64))
    other = train(garbage, tmp_path, seed=0, threads=1, **TINY)
    first = torch.load(tiny_run, weights_only=True)["state_dict"]
    second = torch.load(other, weights_only=True)["state_dict"]
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.mark.slow
def test_two_runs_are_bit_identical_and_leave_no_global_state(
    tmp_path: Path, scan: PtychoData
) -> None:
    before = _globals()
    rng_before = torch.get_rng_state()
    arrays = []
    for name in ("a", "b"):
        ckpt = train(scan, tmp_path / name, seed=3, threads=1, **TINY)
        npz = infer(ckpt, scan, tmp_path / name, threads=1)
        with np.load(npz) as data:
            arrays.append({k: data[k] for k in ("object", "amplitude", "phase", "mask")})
    assert _globals() == before
    assert torch.equal(torch.get_rng_state(), rng_before)
    for key in arrays[0]:
        np.testing.assert_array_equal(arrays[0][key], arrays[1][key], err_msg=key)
    assert not Path("lightning_logs").exists()


@pytest.mark.slow
def test_infer_writes_the_contract_outputs(
    tmp_path: Path, scan: PtychoData, tiny_run: Path
) -> None:
    npz = infer(tiny_run, scan, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUT_FILES)
    with np.load(npz, allow_pickle=False) as data:
        assert data["object"].dtype == np.complex64
        assert data["object"].shape == scan.obj.shape
        assert data["amplitude"].dtype == np.float32
        assert data["phase"].dtype == np.float32
        assert data["mask"].dtype == np.bool_
        np.testing.assert_array_equal(data["amplitude"], np.abs(data["object"]))
        assert np.abs(data["phase"]).max() <= np.float32(np.pi)
        meta = json.loads(str(data["metadata"]))
    assert meta["checkpoint"]["path"] == str(tiny_run)
    assert meta["data"]["sha256"] == scan.sha256
    assert meta["trained_on_this_data"] is True
    assert (meta["seed"], meta["threads"], meta["epochs"]) == (0, 1, TINY["max_epochs"])
    assert meta["versions"]["torch"] == torch.__version__
    for png in OUTPUT_FILES[1:]:
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_existing_outputs_are_never_replaced_silently(
    tmp_path: Path, scan: PtychoData, tiny_run: Path
) -> None:
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        train(scan, tiny_run.parent.parent, **TINY)
    infer(tiny_run, scan, tmp_path)
    with pytest.raises(OutputExistsError, match=re.escape("reconstruction.npz")):
        infer(tiny_run, scan, tmp_path)
    infer(tiny_run, scan, tmp_path, overwrite=True)


@pytest.mark.slow
def test_infer_refuses_data_of_another_geometry(
    tmp_path: Path, scan: PtychoData, tiny_run: Path
) -> None:
    fewer = dataclasses.replace(
        scan,
        diffraction=scan.diffraction[:-1],
        xcoords=scan.xcoords[:-1],
        ycoords=scan.ycoords[:-1],
        scan_index=scan.scan_index[:-1],
    )
    with pytest.raises(DataError, match=re.escape("(168, 32, (128, 128)) does not match")):
        infer(tiny_run, fewer, tmp_path)


def test_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.ckpt")
    text = tmp_path / "text.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_model(text)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"lr": 1.0}}, other)
    with pytest.raises(CheckpointError, match="not a PtychoPINNLightning checkpoint"):
        load_model(other)


def test_bad_training_arguments(tmp_path: Path, scan: PtychoData) -> None:
    with pytest.raises(QualityInputError, match="max_epochs must be a positive integer"):
        train(scan, tmp_path, max_epochs=0)
    with pytest.raises(QualityInputError, match="threads must be a positive integer"):
        train(scan, tmp_path, threads=0)


@pytest.mark.slow
def test_extra_callbacks_see_the_quality_evaluation_and_can_stop(
    tmp_path: Path, scan: PtychoData
) -> None:
    import lightning.pytorch as pl

    from ptycho_metrics.lightning import QualityCallback

    seen: list[int] = []

    class StopAfterFirstEpoch(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            quality = next(c for c in trainer.callbacks if isinstance(c, QualityCallback))
            seen.append(len(quality.history))  # start + this epoch: evaluated before us
            trainer.should_stop = True

    ckpt = train(
        scan, tmp_path, seed=0, threads=1, log_quality_every=1,
        callbacks=[StopAfterFirstEpoch()], **{**TINY, "max_epochs": 3},
    )  # fmt: skip
    assert seen == [2]
    assert torch.load(ckpt, weights_only=True)["global_step"] == TINY["steps_per_epoch"]
