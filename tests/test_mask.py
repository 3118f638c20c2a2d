"""scan_mask: the one scan-mask rule, shared with the reference pipeline's stitching."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from ptycho_metrics import QualityInputError, scan_mask
from ptycho_metrics.data import extract_patches, load_fixture
from ptycho_metrics.pipeline.stitch import stitch_patches


@pytest.mark.parametrize("fixture", ["default", "phase_wrap"])
def test_same_rule_as_the_pipeline_stitching(fixture: str) -> None:
    data = load_fixture(fixture)
    patches = extract_patches(data.obj, data.xcoords, data.ycoords, data.probe_size)
    _, stitched_mask = stitch_patches(
        patches, data.xcoords, data.ycoords, data.obj.shape, probe=data.probe
    )
    np.testing.assert_array_equal(scan_mask(data), stitched_mask)


def test_explicit_geometry_equals_data() -> None:
    data = load_fixture("default")
    explicit = scan_mask(
        xcoords=data.xcoords, ycoords=data.ycoords, probe=data.probe, object_shape=data.obj.shape
    )
    np.testing.assert_array_equal(explicit, scan_mask(data))


def test_threshold_by_hand() -> None:
    probe = np.zeros((4, 4), complex)
    probe[1:3, 1:3] = 1.0  # weight 1 on the central 2x2 of each patch
    mask = scan_mask(xcoords=[2, 4], ycoords=[2, 2], probe=probe, object_shape=(4, 8), fraction=0.5)
    expected = np.zeros((4, 8), bool)
    expected[1:3, 1:3] = expected[1:3, 3:5] = True
    np.testing.assert_array_equal(mask, expected)


def test_fraction_zero_is_the_illuminated_union_and_one_the_maximum() -> None:
    data = load_fixture("default")
    loose, strict = scan_mask(data, fraction=0.0), scan_mask(data, fraction=1.0)
    assert loose.sum() > scan_mask(data).sum() > strict.sum() > 0


def test_mask_does_not_import_torch() -> None:
    code = "import ptycho_metrics as pm, sys; pm.scan_mask; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fraction": 1.5}, "fraction must be a real finite number in [0, 1], got 1.5"),
        ({"fraction": True}, "fraction must be a real finite number in [0, 1], got True (bool)"),
        ({"xcoords": [1.0]}, "pass either data or xcoords/ycoords/probe/object_shape, not both"),
    ],
)
def test_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(QualityInputError, match=re.escape(message)):
        scan_mask(load_fixture("default"), **kwargs)


def test_needs_geometry() -> None:
    with pytest.raises(QualityInputError, match=re.escape("scan_mask needs data, or all of")):
        scan_mask(xcoords=[1.0], ycoords=[1.0])
