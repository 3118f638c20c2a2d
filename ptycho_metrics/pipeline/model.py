r"""The physics-informed network: diffraction amplitudes in, complex object patches out.

Architecture (see ``docs/pipeline.md`` for the measurements behind it):

1. *Whitening encoder (fixed, fitted to the scan).* ``log1p`` of the
   measured amplitudes, standardised per detector pixel over the scan, then
   projected on the principal axes of the scan and divided by their singular
   values (PCA whitening), giving ``n_components`` features with unit
   variance that are uncorrelated across the scan positions.
2. *Learned MLP.* ``Linear(n_components, hidden)``, one residual block
   ``LayerNorm -> Linear -> GELU -> Linear``, ``Linear(hidden, 2 N^2)``.
3. *Physical output.* Amplitude ``a_max * sigmoid(u)`` (bounded, relative
   to the dose scale of the probe) and unbounded phase ``v``:
   ``O_k = a_max sigmoid(u) exp(i v)``.

Training is self-supervised on the measured data only: all ``n`` patches
are predicted at once, stitched into one object by the illumination-weighted
overlap average, cut out again, pushed through the forward model
``|fftshift(fft2(P O_k, ortho))|^2`` and scored with the Poisson negative
log-likelihood of the measured counts. Because a pixel is shared by all the
patches covering it, the loss only reaches its minimum when the patches
agree on their overlaps -- the ptychographic constraint that a single
diffraction pattern lacks.

Why whitening: a network fitted to one scan must produce ``n`` distinct
patches from ``n`` inputs that are nearly identical (every pattern is
dominated by the same central disc). Raw inputs make full-batch Adam move
all patches together, and a conv encoder-decoder on 32x32 patterns was both
slow on CPU and stuck far from the solution (docs/pipeline.md). With
whitened inputs the positions are decoupled and training converges in a few
hundred full-batch steps.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import nn

from ..data import PtychoData
from . import physics

__all__ = ["PtychoPINNLightning"]

#: Key under which training provenance is stored in the checkpoint.
RUN_INFO_KEY = "ptycho_metrics_run"


class _ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        first, last = nn.Linear(width, width), nn.Linear(width, width)
        # Start as the identity so the untrained network is a linear map.
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(nn.LayerNorm(width), first, nn.GELU(), last)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.body(h)


class PtychoPINNLightning(pl.LightningModule):
    """Self-supervised physics-informed network for one ptychographic scan.

    Build it from data with :meth:`from_data`; reload it with
    ``PtychoPINNLightning.load_from_checkpoint(path)`` (no arguments needed:
    every hyperparameter is a JSON primitive and the scan geometry, probe and
    whitening live in buffers of the state dict).

    Parameters
    ----------
    probe_size : int
        Side ``N`` of the probe and diffraction patterns.
    object_shape : list of int
        ``[rows, cols]`` of the object.
    n_positions : int
        Number of scan positions ``n``.
    n_components : int
        Whitened input features (at most ``min(n - 1, N^2)``).
    hidden : int
        Width of the MLP.
    lr : float
        Peak learning rate of the one-cycle schedule (Adam).
    warmup_fraction : float
        Fraction of the steps spent warming up (``pct_start`` of
        :class:`torch.optim.lr_scheduler.OneCycleLR`).
    steps_per_epoch : int
        Full-batch optimiser steps per epoch.
    max_epochs : int
        Epochs the model is (or was) trained for; the one-cycle schedule
        spans ``max_epochs * steps_per_epoch`` steps.
    amplitude_factor : float
        ``a_max`` is this factor times the RMS object transmission implied by
        the measured counts and the dose, ``sqrt(mean_k sum I_k / sum |P|^2)``.
    data_sha256 : str
        sha256 of the file the model was fitted to ("" when unknown).
    """

    # Buffers (registered in __init__), annotated for type checkers.
    probe: torch.Tensor
    indices: torch.Tensor
    weights: torch.Tensor
    wsum: torch.Tensor
    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    projection: torch.Tensor
    amplitude_max: torch.Tensor

    def __init__(
        self,
        *,
        probe_size: int = 32,
        object_shape: list[int] | None = None,
        n_positions: int = 169,
        n_components: int = 168,
        hidden: int = 256,
        lr: float = 1e-2,
        warmup_fraction: float = 0.1,
        steps_per_epoch: int = 25,
        max_epochs: int = 24,
        amplitude_factor: float = 2.0,
        data_sha256: str = "",
    ) -> None:
        super().__init__()
        shape = [128, 128] if object_shape is None else [int(s) for s in object_shape]
        self.save_hyperparameters(
            {
                "probe_size": int(probe_size),
                "object_shape": shape,
                "n_positions": int(n_positions),
                "n_components": int(n_components),
                "hidden": int(hidden),
                "lr": float(lr),
                "warmup_fraction": float(warmup_fraction),
                "steps_per_epoch": int(steps_per_epoch),
                "max_epochs": int(max_epochs),
                "amplitude_factor": float(amplitude_factor),
                "data_sha256": str(data_sha256),
            }
        )
        n_pix = probe_size * probe_size
        # Filled by from_data() or by the checkpoint's state dict.
        self.register_buffer("probe", torch.zeros(probe_size, probe_size, dtype=torch.complex64))
        self.register_buffer("indices", torch.zeros(n_positions, n_pix, dtype=torch.int64))
        self.register_buffer("weights", torch.zeros(n_pix))
        self.register_buffer("wsum", torch.zeros(shape[0] * shape[1]))
        self.register_buffer("feature_mean", torch.zeros(n_pix))
        self.register_buffer("feature_std", torch.ones(n_pix))
        self.register_buffer("projection", torch.zeros(n_pix, n_components))
        self.register_buffer("amplitude_max", torch.tensor(1.0))
        layers = [nn.Linear(n_components, hidden), _ResidualBlock(hidden)]
        head = nn.Linear(hidden, 2 * n_pix)
        # Zero output layer: training starts from a flat object of amplitude
        # a_max / 2 (the RMS transmission) and phase 0.
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        self.net = nn.Sequential(*layers, head)
        self.run_info: dict[str, Any] = {}

    # ----------------------------------------------------------------- building

    @classmethod
    def from_data(cls, data: PtychoData, **hparams: Any) -> PtychoPINNLightning:
        """Build a model whose geometry, probe and whitening are fitted to ``data``.

        ``hparams`` are the keyword arguments of the class (``hidden``,
        ``lr``, ...); the data-derived ones are filled in here.
        """
        n, size = data.n_patterns, data.probe_size
        rows, cols = (int(s) for s in data.obj.shape)
        features = np.log1p(data.diffraction.astype(np.float64)).reshape(n, -1)
        mean = features.mean(axis=0)
        std = features.std(axis=0) + 1e-3  # dark detector pixels would divide by ~0
        _, sing, vt = np.linalg.svd((features - mean) / std, full_matrices=False)
        keep = int(np.count_nonzero(sing > sing[0] * 1e-6))
        keep = min(keep, n - 1, hparams.pop("n_components", keep))
        # Whitened features have unit variance across the scan: z = x V / s * sqrt(n).
        projection = vt[:keep].T / sing[:keep] * np.sqrt(n)
        counts = data.diffraction.astype(np.float64) ** 2
        dose = float(np.sum(np.abs(data.probe.astype(np.complex128)) ** 2))
        rms_transmission = float(np.sqrt(counts.sum(axis=(1, 2)).mean() / dose))
        model = cls(
            probe_size=size,
            object_shape=[rows, cols],
            n_positions=n,
            n_components=keep,
            data_sha256=data.sha256,
            **hparams,
        )
        probe = torch.from_numpy(data.probe.astype(np.complex64))
        indices = physics.patch_indices(data.xcoords, data.ycoords, (rows, cols), size)
        weights = physics.illumination_weights(probe)
        with torch.no_grad():
            model.probe.copy_(probe)
            model.indices.copy_(indices)
            model.weights.copy_(weights)
            model.wsum.copy_(physics.weight_sum(indices, weights, rows * cols))
            model.feature_mean.copy_(torch.from_numpy(mean))
            model.feature_std.copy_(torch.from_numpy(std))
            model.projection.copy_(torch.from_numpy(projection))
            model.amplitude_max.fill_(model.hparams["amplitude_factor"] * rms_transmission)
        return model

    # ------------------------------------------------------------------ network

    def fields(self, diffraction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Amplitude and unwrapped phase patches, each (b, N, N) real, from amplitudes (b, N, N)."""
        size = self.hparams["probe_size"]
        x = torch.log1p(diffraction.reshape(diffraction.shape[0], -1))
        z = ((x - self.feature_mean) / self.feature_std) @ self.projection
        out = self.net(z).reshape(-1, 2, size, size)
        return self.amplitude_max * torch.sigmoid(out[:, 0]), out[:, 1]

    def forward(self, diffraction: torch.Tensor) -> torch.Tensor:
        """Complex patches, shape (b, N, N), from measured amplitudes (b, N, N)."""
        return torch.polar(*self.fields(diffraction))

    def _stitched_flat(self, diffraction: torch.Tensor) -> torch.Tensor:
        # Amplitude and unwrapped phase are stitched as two real fields (packed
        # as real and imaginary part; the weighted mean is linear), and only
        # then combined: obj = A exp(i Phi) with a single-valued phase Phi.
        # Averaging complex patches instead lets disagreeing patches cancel to
        # zero amplitude, which creates phase vortices; a vortex pair formed in
        # the high-learning-rate phase is a local minimum that training never
        # leaves (phase_wrap, seeds 3, 4, 6).
        amplitude, phase = self.fields(diffraction)
        packed = torch.complex(amplitude, phase)
        flat = physics.stitch(packed, self.indices, self.weights, self.wsum)
        return torch.polar(flat.real, flat.imag)

    def stitched_object(self, diffraction: torch.Tensor) -> torch.Tensor:
        """The object (rows, cols) stitched from the patches of the whole scan."""
        return self._stitched_flat(diffraction).reshape(*self.hparams["object_shape"])

    def loss(self, diffraction: torch.Tensor) -> torch.Tensor:
        """Poisson NLL of the measured counts given the overlap-consistent object."""
        n = self.hparams["n_positions"]
        if diffraction.shape[0] != n:
            msg = (
                f"training needs the whole scan in one batch ({n} patterns in scan order), "
                f"got a batch of {diffraction.shape[0]}"
            )
            raise ValueError(msg)
        obj = self._stitched_flat(diffraction)
        patches = physics.extract(obj, self.indices, self.hparams["probe_size"])
        intensity = physics.far_field_intensity(self.probe, patches)
        return physics.poisson_nll(intensity, diffraction.square())

    # ---------------------------------------------------------------- Lightning

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=1)
        return loss

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        opt = torch.optim.Adam(self.net.parameters(), lr=self.hparams["lr"])
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=self.hparams["lr"],
            total_steps=int(self.trainer.estimated_stepping_batches),
            pct_start=self.hparams["warmup_fraction"],
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[RUN_INFO_KEY] = dict(self.run_info)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.run_info = dict(checkpoint.get(RUN_INFO_KEY, {}))
