r"""Differentiable ptychography physics in torch: scan geometry, forward model, Poisson loss.

The conventions are those of the data contract (``docs/fixtures.md``) and of
:func:`ptycho_metrics.data.simulate_intensity`, the NumPy reference this module
is tested against:

* patch ``k`` is ``obj[y_k - N//2 : y_k + N//2, x_k - N//2 : x_k + N//2]``;
* the expected counts are
  :math:`I_k = |\mathrm{fftshift}(\mathcal{F}_{\mathrm{ortho}}[P \cdot O_k])|^2`,
  with the probe :math:`P` in sqrt(photons), so :math:`\sum |P|^2` is the dose.

Stitching is the overlap projection of ptychographic solvers (ePIE, difference
map): every object pixel is the illumination-weighted mean of the patches that
cover it,

.. math:: O(r) = \frac{\sum_k w(r - r_k)\, O_k(r - r_k)}{\sum_k w(r - r_k)},
          \qquad w = |P|^2 / \max |P|^2 ,

so a pixel is decided by the patches that actually illuminated it. Scatter-add
(``index_add_``) is deterministic on CPU, which the bit-identical reruns need.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

__all__ = [
    "extract",
    "far_field_intensity",
    "illumination_weights",
    "patch_indices",
    "poisson_nll",
    "stitch",
    "weight_sum",
]


def patch_indices(
    xcoords: npt.ArrayLike, ycoords: npt.ArrayLike, object_shape: Sequence[int], patch_size: int
) -> torch.Tensor:
    """Flat object indices of every patch pixel.

    Parameters
    ----------
    xcoords, ycoords : array_like, shape (n,)
        Integer-valued patch centres in object pixels (already validated by
        the data loader).
    object_shape : (int, int)
        ``(rows, cols)`` of the object.
    patch_size : int
        Even patch side ``N``.

    Returns
    -------
    torch.Tensor, shape (n, N * N), int64
        ``idx[k, i * N + j] = (y_k - N//2 + i) * cols + (x_k - N//2 + j)``.
    """
    cols = int(object_shape[1])
    offsets = np.arange(patch_size) - patch_size // 2
    xs = np.asarray(xcoords, dtype=np.float64).astype(np.int64)
    ys = np.asarray(ycoords, dtype=np.float64).astype(np.int64)
    rows_k = ys[:, None, None] + offsets[None, :, None]
    cols_k = xs[:, None, None] + offsets[None, None, :]
    flat = rows_k * cols + cols_k
    return torch.from_numpy(flat.reshape(xs.size, -1))


def illumination_weights(probe: torch.Tensor) -> torch.Tensor:
    """Stitching weight of every patch pixel: ``|P|^2 / max |P|^2``, flattened, real."""
    intensity = probe.real**2 + probe.imag**2
    return (intensity / intensity.max()).reshape(-1)


def weight_sum(indices: torch.Tensor, weights: torch.Tensor, n_pixels: int) -> torch.Tensor:
    """Summed stitching weight per object pixel (flat, length ``n_pixels``)."""
    tiled = weights.expand(indices.shape[0], -1).reshape(-1)
    total = torch.zeros(n_pixels, dtype=weights.dtype, device=weights.device)
    return total.index_add_(0, indices.reshape(-1), tiled)


def stitch(
    patches: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor, wsum: torch.Tensor
) -> torch.Tensor:
    """Illumination-weighted overlap average of complex patches (differentiable).

    Parameters
    ----------
    patches : torch.Tensor, shape (n, N, N), complex
    indices : torch.Tensor, shape (n, N * N), int64
        From :func:`patch_indices`.
    weights : torch.Tensor, shape (N * N,), real
        From :func:`illumination_weights`.
    wsum : torch.Tensor, shape (rows * cols,), real
        From :func:`weight_sum`.

    Returns
    -------
    torch.Tensor, shape (rows * cols,), complex
        The flat object; 0 where no patch pixel has weight.
    """
    flat_idx = indices.reshape(-1)
    weighted = (patches.reshape(indices.shape) * weights).reshape(-1)
    real = torch.zeros_like(wsum).index_add_(0, flat_idx, weighted.real)
    imag = torch.zeros_like(wsum).index_add_(0, flat_idx, weighted.imag)
    covered = wsum > 0
    # Divide only where covered: a floor on the denominator would bias every
    # pixel and break the exact reproduction of consistent patches.
    denom = torch.where(covered, wsum, torch.ones_like(wsum))
    return torch.complex(real / denom, imag / denom) * covered


def extract(obj_flat: torch.Tensor, indices: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut every patch out of a flat object: shape (n, N, N)."""
    return obj_flat[indices].reshape(indices.shape[0], patch_size, patch_size)


def far_field_intensity(probe: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    r"""Expected counts :math:`|\mathrm{fftshift}(\mathcal{F}_{\mathrm{ortho}}[P O_k])|^2`.

    Parameters
    ----------
    probe : torch.Tensor, shape (N, N), complex
    patches : torch.Tensor, shape (n, N, N), complex

    Returns
    -------
    torch.Tensor, shape (n, N, N), real
        DC at index ``(N//2, N//2)``, in photons.
    """
    far = torch.fft.fftshift(torch.fft.fft2(probe * patches, norm="ortho"), dim=(-2, -1))
    return far.real**2 + far.imag**2


def poisson_nll(
    intensity: torch.Tensor, counts: torch.Tensor, *, eps: float = 1e-6
) -> torch.Tensor:
    r"""Mean Poisson negative log-likelihood, without the data-only term.

    .. math:: \mathcal{L} = \langle I - c \log(I + \epsilon) \rangle ,

    the :math:`\log c!` term is constant in the model and dropped; ``eps``
    keeps the logarithm finite where the model predicts no photons.
    """
    return (intensity - counts * torch.log(intensity + eps)).mean()
