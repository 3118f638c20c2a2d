r"""Put a third-party reconstruction on a fixture's object grid: :func:`to_fixture_grid`.

A pipeline's object has its own size, padding and origin. Comparing it with a
fixture's ground truth needs the offset of the fixture's object inside it, a
crop to the fixture's shape, and the fixture's scan mask.

*Placement from the file's geometry.* When the record has positions, a
centre and a pixel size (cdtools, ptychodus, PtyPy), each probe window's
centre on the reconstruction (:meth:`Reconstruction.window_centres`, index
units) is matched to the fixture's patch centre
``(xcoords - N//2 + (N - 1)/2, ycoords - N//2 + (N - 1)/2)`` (the fixture's
patch covers ``[y - N/2, y + N/2)``), in scan order. The offset is their
median difference; the reconstruction's pixel ``(i, j)`` is the fixture's
``(i - offset_row, j - offset_col)``. Differences spread by more than
:data:`POSITION_TOLERANCE_PX` (refined positions, another scan) or a
different number of positions fall back to registration, with a note.

*Placement by registration.* Otherwise the fixture's amplitude (its phase
for a flat amplitude) inside the scan mask is located in the
reconstruction's by masked normalised cross-correlation
(:func:`skimage.registration.phase_cross_correlation` with masks, which
handles different shapes); integer pixels, with a note. The sub-pixel rest
is left to :func:`ptycho_metrics.evaluate`'s alignment in both cases.

*Pixel size.* A reconstruction whose pixel differs from the fixture's by more
than ``pixel_tolerance`` (relative, default :data:`DEFAULT_PIXEL_TOLERANCE`:
0.13 px of misplacement across a 128-px fixture) is refused unless
``resample=True``, which resamples it (cubic, about the array centre) to
the fixture's pixel.

*Mask.* Always the fixture's: :func:`ptycho_metrics.scan_mask` of the
fixture, less any pixels the reconstruction's array does not cover.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from .._mask import scan_mask
from ._record import ReaderError, Reconstruction, check_pixel_size

if TYPE_CHECKING:
    from ..data import PtychoData

__all__ = [
    "DEFAULT_PIXEL_TOLERANCE",
    "POSITION_TOLERANCE_PX",
    "GridPlacement",
    "PlacementError",
    "to_fixture_grid",
]

#: Relative pixel-size difference accepted without resampling.
DEFAULT_PIXEL_TOLERANCE = 1e-3

#: Largest spread (px) of per-position offsets still taken as one rigid placement.
POSITION_TOLERANCE_PX = 1.0

#: A sub-pixel remainder above this (px) is mentioned in the notes.
_SUBPIXEL_NOTE_PX = 0.01


class PlacementError(ReaderError):
    """A reconstruction cannot be put on the fixture's grid as asked."""


@dataclass(frozen=True)
class GridPlacement:
    """Result of :func:`to_fixture_grid`; unpacks as ``obj, mask = to_fixture_grid(...)``.

    Attributes
    ----------
    object : ndarray of complex128
        The reconstruction on the fixture's grid (the truth's shape); 0 where
        its array does not reach.
    mask : ndarray of bool
        The fixture's scan mask, less pixels the reconstruction does not cover.
    offset : tuple of float
        ``(row, col)`` index, in the (resampled) reconstruction, of the
        fixture's pixel (0, 0).
    method : {"same grid", "positions", "registration"}
    notes : tuple of str
        How the placement was made, and anything a reader should know.
    """

    object: np.ndarray
    mask: np.ndarray
    offset: tuple[float, float]
    method: str
    notes: tuple[str, ...]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.object, self.mask))

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (no arrays)."""
        return {
            "offset_px": list(self.offset),
            "method": self.method,
            "notes": list(self.notes),
            "n_masked": int(self.mask.sum()),
        }


def _fixture_pixel_size(
    truth_data: PtychoData, given: float | tuple[float, float] | None
) -> tuple[float, float] | None:
    if given is not None:
        return check_pixel_size(given, "truth_pixel_size")
    geometry = getattr(truth_data, "geometry", None)
    if geometry is None:
        return None
    return check_pixel_size(geometry.pixel_size_m, f"{truth_data.path}: geometry.pixel_size_m")


def _resample(recon: Reconstruction, target: tuple[float, float]) -> Reconstruction:
    """``recon`` on a grid of pixel ``target`` about the same centre (cubic, real and imag)."""
    assert recon.pixel_size is not None  # checked by the caller
    rows, cols = recon.shape
    ratio = np.array(recon.pixel_size) / np.array(target)  # (x, y)
    new_cols, new_rows = (max(1, round(n * r)) for n, r in zip((cols, rows), ratio, strict=True))
    jj = (np.arange(new_cols) - (new_cols - 1) / 2) / ratio[0] + (cols - 1) / 2
    ii = (np.arange(new_rows) - (new_rows - 1) / 2) / ratio[1] + (rows - 1) / 2
    grid = np.meshgrid(ii, jj, indexing="ij")
    parts = [
        ndimage.map_coordinates(part, grid, order=3, mode="constant", cval=0.0)
        for part in (recon.object.real, recon.object.imag)
    ]
    obj = parts[0] + 1j * parts[1]
    return dataclasses.replace(recon, object=obj, pixel_size=target)


def _offset_from_positions(
    recon: Reconstruction, truth_data: PtychoData
) -> tuple[np.ndarray | None, str]:
    """Median (row, col) offset from matched windows, or None and why not."""
    centres = recon.window_centres()
    if centres is None:
        return None, "the file records no positions, centre or pixel size"
    n = truth_data.probe.shape[0]
    shift = -(n // 2) + (n - 1) / 2.0
    fixture = np.stack([truth_data.xcoords + shift, truth_data.ycoords + shift], axis=1)
    if centres.shape != fixture.shape:
        return None, (
            f"the file has {centres.shape[0]} positions and the fixture {fixture.shape[0]}"
        )
    diff = centres - fixture  # (col, row)
    median = np.median(diff, axis=0)
    spread = float(np.abs(diff - median).max())
    if spread > POSITION_TOLERANCE_PX:
        return None, (
            f"its positions differ from the fixture's by a spread of {spread:.3g} px "
            f"(> {POSITION_TOLERANCE_PX} px: refined positions or another scan)"
        )
    return median[::-1].copy(), f"positions (per-position spread {spread:.2g} px)"


def _offset_by_registration(recon: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(row, col) of the truth's pixel (0, 0) in ``recon``, by masked NCC (integer pixels).

    Both images are padded at the bottom/right to one canvas: skimage's masked
    registration of two different shapes returned wrong shifts here (measured:
    (1, -10) for a true (37, 21)); on one canvas it is exact.
    """
    from skimage.registration import phase_cross_correlation

    amp_t = np.abs(truth)
    inside = amp_t[mask]
    flat = inside.std() < 1e-6 * max(float(inside.mean()), 1e-300)
    # A pure phase object: register the phase (NCC ignores its offset).
    ref, mov = (np.angle(recon), np.angle(truth)) if flat else (np.abs(recon), amp_t)
    canvas = tuple(max(a, b) for a, b in zip(recon.shape, truth.shape, strict=True))

    def padded(image: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros(canvas)
        keep = np.zeros(canvas, dtype=bool)
        out[: image.shape[0], : image.shape[1]] = image
        keep[: image.shape[0], : image.shape[1]] = valid
        return out, keep

    ref_c, ref_m = padded(ref, np.abs(recon) > 0)
    mov_c, mov_m = padded(mov, mask)
    shift = phase_cross_correlation(ref_c, mov_c, reference_mask=ref_m, moving_mask=mov_m)
    # The shift that moves the truth onto the reconstruction: where its origin lands.
    return np.asarray(shift[0], dtype=np.float64)


def _crop(
    recon: np.ndarray, offset: tuple[int, int], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``recon[i + r0, j + c0]`` on ``shape``, 0 outside, and the covered pixels."""
    out = np.zeros(shape, dtype=np.complex128)
    covered = np.zeros(shape, dtype=bool)
    r0, c0 = offset
    rows, cols = recon.shape
    top, left = max(0, -r0), max(0, -c0)
    bottom, right = min(shape[0], rows - r0), min(shape[1], cols - c0)
    if bottom > top and right > left:
        out[top:bottom, left:right] = recon[top + r0 : bottom + r0, left + c0 : right + c0]
        covered[top:bottom, left:right] = True
    return out, covered


def to_fixture_grid(
    recon: Reconstruction,
    truth_data: PtychoData,
    *,
    resample: bool = False,
    pixel_tolerance: float = DEFAULT_PIXEL_TOLERANCE,
    truth_pixel_size: float | tuple[float, float] | None = None,
    method: str = "auto",
) -> GridPlacement:
    """Place a reconstruction on the fixture's object grid, with the fixture's scan mask.

    Parameters
    ----------
    recon : Reconstruction
        From :func:`read_reconstruction`.
    truth_data : PtychoData
        The fixture (or scan file) the reconstruction was made from.
    resample : bool
        Resample a reconstruction whose pixel size differs from the fixture's
        by more than ``pixel_tolerance`` instead of refusing it.
    pixel_tolerance : float
        Relative pixel-size difference accepted as equal (default 1e-3).
    truth_pixel_size : float or (float, float), optional
        The fixture's object pixel in metres; default: the fixture's geometry.
    method : {"auto", "positions", "registration"}
        ``"auto"``: the file's geometry when it has one, else registration.

    Returns
    -------
    GridPlacement
        Unpacks as ``(object, mask)``; ``notes`` says how it was placed.

    Raises
    ------
    PlacementError
        Pixel sizes differ beyond the tolerance (without ``resample``), a pixel
        size is unknown on either side, ``method="positions"`` without usable
        positions, or the reconstruction does not cover the scanned region.
    """
    where = str(recon.path)
    if method not in ("auto", "positions", "registration"):
        msg = f"method must be one of 'auto', 'positions', 'registration'; got {method!r}"
        raise PlacementError(msg)
    if not (isinstance(pixel_tolerance, (int, float)) and 0 <= pixel_tolerance < 1):
        msg = f"pixel_tolerance must be a relative difference in [0, 1), got {pixel_tolerance!r}"
        raise PlacementError(msg)
    notes: list[str] = []
    truth = np.asarray(truth_data.obj)
    fixture_mask = scan_mask(truth_data)
    fixture_px = _fixture_pixel_size(truth_data, truth_pixel_size)
    same_pixels = recon.pixel_size is None and recon.metadata.get("grid") == "input"
    if not same_pixels:
        if recon.pixel_size is None:
            msg = (
                f"{where}: the reconstruction has no pixel size; pass pixel_size=(width, height) "
                f"in metres to read_reconstruction"
                + (f" (the fixture's is {fixture_px})" if fixture_px else "")
            )
            raise PlacementError(msg)
        if fixture_px is None:
            msg = (
                f"{truth_data.path}: the fixture records no object pixel size to compare "
                f"{where}'s {recon.pixel_size} m with; pass truth_pixel_size="
            )
            raise PlacementError(msg)
        rel = max(abs(r / f - 1.0) for r, f in zip(recon.pixel_size, fixture_px, strict=True))
        if rel > pixel_tolerance:
            if not resample:
                msg = (
                    f"{where}: object pixel (width, height) {recon.pixel_size} m differs from the "
                    f"fixture's {fixture_px} m by {rel:.3g} (relative; tolerance "
                    f"{pixel_tolerance:g}); reconstruct at the fixture's pixel size, or pass "
                    f"resample=True"
                )
                raise PlacementError(msg)
            notes.append(
                f"resampled from pixel {recon.pixel_size} m to the fixture's {fixture_px} m "
                f"(cubic; relative difference {rel:.3g})"
            )
            recon = _resample(recon, fixture_px)
    offset: np.ndarray | None = None
    how = "registration"
    if method != "registration":
        if same_pixels and recon.shape == truth.shape and recon.window_centres() is None:
            offset, how = np.zeros(2), "same grid"
            notes.append("placed as is: the object is on the input's own grid, the fixture's shape")
        else:
            offset, why = _offset_from_positions(recon, truth_data)
            if offset is not None:
                how = "positions"
                notes.append(f"placed from the file's {why}")
            elif method == "positions":
                msg = f"{where}: cannot place from positions: {why}"
                raise PlacementError(msg)
            else:
                notes.append(f"placed by registration: {why}")
    if offset is None:
        offset = _offset_by_registration(recon.object, truth, fixture_mask)
        if method == "registration":
            notes.append("placed by registration (asked for)")
        notes.append(
            "registration: masked normalised cross-correlation, integer pixels; check the "
            "offset if the object has little contrast"
        )
    whole = np.round(offset).astype(np.int64)
    rest = offset - whole
    if np.abs(rest).max() > _SUBPIXEL_NOTE_PX:
        notes.append(
            f"sub-pixel remainder (row, col) = ({rest[0]:+.3f}, {rest[1]:+.3f}) px is left to "
            f"evaluate()'s registration"
        )
    obj, covered = _crop(recon.object, (int(whole[0]), int(whole[1])), truth.shape)
    mask = fixture_mask & covered
    lost = int(fixture_mask.sum() - mask.sum())
    if not mask.any():
        msg = (
            f"{where}: the reconstruction's array does not cover the fixture's scanned region "
            f"at offset (row, col) {tuple(int(v) for v in whole)}"
        )
        raise PlacementError(msg)
    if lost:
        notes.append(f"{lost} scanned pixels lie outside the reconstruction's array: not compared")
    offset_t = (float(offset[0]), float(offset[1]))
    if not all(math.isfinite(v) for v in offset_t):
        msg = f"{where}: placement produced a non-finite offset {offset_t}"
        raise PlacementError(msg)
    return GridPlacement(obj, mask, offset_t, how, tuple(notes))
