"""to_fixture_grid: placement conventions, pixel-size policy, mask from the fixture side."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from _io_cases import OFFSET, PIXEL, embedded, fixture, window_centres_index

from ptycho_metrics import scan_mask
from ptycho_metrics.io import PlacementError, Reconstruction, to_fixture_grid


def record(
    obj: np.ndarray, *, positions: bool = True, pixel: float = PIXEL, **kw: object
) -> Reconstruction:
    data = fixture()
    rows, cols = obj.shape
    centres = window_centres_index(data)
    center = (1e-6, 2e-6)
    pos = None
    if positions:
        pos = np.stack(
            [
                center[0] + (centres[:, 0] - (cols - 1) / 2) * pixel,
                center[1] + (centres[:, 1] - (rows - 1) / 2) * pixel,
            ],
            axis=1,
        )
    return Reconstruction(
        object=obj, pixel_size=(pixel, pixel), path=Path("test.h5"), format="test",
        center=center, positions=pos, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_positions_place_exactly_and_mask_is_the_fixtures() -> None:
    data = fixture()
    assert data.geometry is not None
    assert data.geometry.pixel_size_m == PIXEL
    placed = to_fixture_grid(record(embedded(data)), data)  # the fixture's own geometry
    assert placed.method == "positions"
    obj, mask = placed
    np.testing.assert_array_equal(obj, data.obj.astype(np.complex128))
    np.testing.assert_array_equal(mask, scan_mask(data))
    assert placed.as_dict()["offset_px"] == pytest.approx(list(OFFSET))


def test_subpixel_positions_leave_the_rest_to_evaluate() -> None:
    data = fixture()
    rec = record(embedded(data))
    assert rec.positions is not None
    moved = dataclasses.replace(rec, positions=rec.positions + np.array([0.3, -0.2]) * PIXEL)
    placed = to_fixture_grid(moved, data, truth_pixel_size=PIXEL)
    assert placed.offset == pytest.approx((OFFSET[0] - 0.2, OFFSET[1] + 0.3), abs=1e-9)
    assert any("sub-pixel remainder (row, col) = (-0.200, +0.300) px" in n for n in placed.notes)


def test_inconsistent_positions_fall_back_to_registration() -> None:
    data = fixture()
    rec = record(embedded(data))
    assert rec.positions is not None
    jitter = np.random.default_rng(1).normal(0, 3 * PIXEL, rec.positions.shape)
    placed = to_fixture_grid(
        dataclasses.replace(rec, positions=rec.positions + jitter), data, truth_pixel_size=PIXEL
    )
    assert placed.method == "registration"
    assert any("refined positions or another scan" in n for n in placed.notes)
    assert placed.offset == pytest.approx(OFFSET)
    with pytest.raises(PlacementError, match=re.escape("cannot place from positions")):
        to_fixture_grid(
            dataclasses.replace(rec, positions=rec.positions + jitter),
            data,
            truth_pixel_size=PIXEL,
            method="positions",
        )


def test_pixel_size_mismatch_is_refused() -> None:
    data = fixture()
    rec = record(embedded(data), pixel=1.01 * PIXEL)
    msg = (
        f"test.h5: object pixel (width, height) ({1.01 * PIXEL}, {1.01 * PIXEL}) m differs from "
        f"the fixture's ({PIXEL}, {PIXEL}) m by 0.01 (relative; tolerance 0.001); reconstruct "
        "at the fixture's pixel size, or pass resample=True"
    )
    with pytest.raises(PlacementError, match=re.escape(msg)):
        to_fixture_grid(rec, data, truth_pixel_size=PIXEL)


def test_within_tolerance_is_accepted() -> None:
    data = fixture()
    rec = record(embedded(data), pixel=PIXEL * (1 + 1e-7))  # a float32 round trip
    assert to_fixture_grid(rec, data, truth_pixel_size=PIXEL).method == "positions"


def test_resample_a_finer_reconstruction() -> None:
    data = fixture()
    from scipy import ndimage

    big = embedded(data).astype(np.complex128)
    # The same object sampled twice as finely (cubic), about the array centre.
    fine = ndimage.zoom(
        big.real, 2, order=3, grid_mode=True, mode="grid-constant"
    ) + 1j * ndimage.zoom(big.imag, 2, order=3, grid_mode=True, mode="grid-constant")
    rec = record(big)
    assert rec.positions is not None
    rows, cols = big.shape
    frows, fcols = fine.shape
    # Same physical frame: centre unchanged, pixel halved.
    finer = dataclasses.replace(rec, object=fine, pixel_size=(PIXEL / 2, PIXEL / 2))
    placed = to_fixture_grid(finer, data, truth_pixel_size=PIXEL, resample=True)
    assert any(n.startswith("resampled from pixel") for n in placed.notes)
    assert placed.offset == pytest.approx(OFFSET, abs=0.3)
    inner = placed.mask
    err = np.abs(placed.object[inner] - data.obj[inner]).mean() / np.abs(data.obj[inner]).mean()
    assert err < 0.05, err  # interpolation twice (zoom, then back): not exact
    assert (frows, fcols) == (2 * rows, 2 * cols)


def test_uncovered_pixels_leave_the_mask() -> None:
    data = fixture()
    big = embedded(data, offset=(0, 5), shape=(128, 150))[10:]  # the top 10 rows are cut off
    rec = record(big, positions=False)
    placed = to_fixture_grid(rec, data, truth_pixel_size=PIXEL)
    assert placed.offset == pytest.approx((-10, 5))
    assert not placed.mask[:10].any()
    lost = int(scan_mask(data)[:10].sum())
    assert any(f"{lost} scanned pixels lie outside" in n for n in placed.notes)


def test_no_pixel_size_anywhere() -> None:
    data = fixture()
    rec = dataclasses.replace(record(embedded(data)), pixel_size=None)
    with pytest.raises(
        PlacementError,
        match=re.escape("test.h5: the reconstruction has no pixel size; pass pixel_size="),
    ):
        to_fixture_grid(rec, data, truth_pixel_size=PIXEL)


def test_bad_method() -> None:
    data = fixture()
    with pytest.raises(
        PlacementError,
        match=re.escape("method must be one of 'auto', 'positions', 'registration'; got 'x'"),
    ):
        to_fixture_grid(record(embedded(data)), data, truth_pixel_size=PIXEL, method="x")
