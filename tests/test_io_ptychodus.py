"""ptychodus products, written by the installed ptychodus (1.7.0) itself.

The object-centre convention is pinned against ptychodus' own geometry
(``ObjectGeometry.map_coordinates_probe_to_object``) and patch extraction
(``BarycentricArrayInterpolator.get_patch``): the window our record places at
each position must hold exactly the fixture's patch there.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from _io_cases import OFFSET, PIXEL, embedded, fixture, window_centres_index

from ptycho_metrics.data import extract_patches
from ptycho_metrics.io import ReaderError, read_reconstruction, to_fixture_grid

pytest.importorskip("ptychodus", reason="the interop extra is not installed")

from ptychodus.api.geometry import PixelGeometry
from ptychodus.api.interpolate import BarycentricArrayInterpolator
from ptychodus.api.io import save_product
from ptychodus.api.object import Object, ObjectCenter
from ptychodus.api.probe import ProbeSequence
from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence
from ptychodus.api.product import Product, ProductMetadata
from ptychodus.plugins.npz_product_file import NPZProductFileIO

CENTER = (3.0e-6, -1.5e-6)  # (x, y) metres: an arbitrary object centre


def make_product(obj: np.ndarray, *, center: tuple[float, float] = CENTER) -> Product:
    """A product whose probe positions put the fixture's patches at ``OFFSET``."""
    data = fixture()
    rows, cols = obj.shape[-2:]
    centres = window_centres_index(data)  # (col, row) in the embedding
    xs = center[0] + (centres[:, 0] - (cols - 1) / 2) * PIXEL
    ys = center[1] + (centres[:, 1] - (rows - 1) / 2) * PIXEL
    positions = ProbePositionSequence(
        [ProbePosition(k, float(x), float(y)) for k, (x, y) in enumerate(zip(xs, ys, strict=True))]
    )
    pixel = PixelGeometry(width_m=PIXEL, height_m=PIXEL)
    metadata = ProductMetadata(
        name="fixture-default",
        comments="",
        detector_distance_m=2.0,
        photon_energy_eV=9500.0,
        probe_photon_count=1e6,
        exposure_time_s=1.0,
        mass_attenuation_m2_per_kg=0.0,
        tomography_angle_deg=0.0,
    )
    return Product(
        metadata=metadata,
        probe_positions=positions,
        probes=ProbeSequence(
            array=data.probe.astype(np.complex64), opr_weights=None, pixel_geometry=pixel
        ),
        object_=Object(
            array=obj,
            pixel_geometry=pixel,
            center=ObjectCenter(x_m=center[0], y_m=center[1]),
            layer_spacing_m=[1e-6] * (obj.shape[0] - 1 if obj.ndim == 3 else 0),
        ),
        losses=[],
    )


@pytest.fixture(params=["h5", "npz"])
def product_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    product = make_product(embedded(fixture()))
    if request.param == "h5":
        path = tmp_path / "product.h5"
        save_product(path, product)
    else:
        path = tmp_path / "product.npz"
        NPZProductFileIO().write(path, product)
    return path


def test_known_offset_lands_exactly(product_file: Path) -> None:
    data = fixture()
    recon = read_reconstruction(product_file)
    assert recon.format == ("ptychodus-h5" if product_file.suffix == ".h5" else "ptychodus-npz")
    assert recon.pixel_size == (PIXEL, PIXEL)
    assert recon.center == CENTER
    assert recon.metadata["energy_eV"] == 9500.0
    assert recon.metadata["distance_m"] == 2.0
    placed = to_fixture_grid(recon, data, truth_pixel_size=PIXEL)
    assert placed.method == "positions"
    assert placed.offset == pytest.approx(OFFSET, abs=1e-9)
    np.testing.assert_array_equal(placed.object, data.obj.astype(np.complex128))


def test_centre_convention_is_ptychodus_own(product_file: Path) -> None:
    """Our window centres equal ptychodus' mapping, and its patch there is the fixture's."""
    from ptychodus.api.io import load_product

    data = fixture()
    recon = read_reconstruction(product_file)
    if product_file.suffix == ".h5":
        product = load_product(product_file)
    else:
        product = NPZProductFileIO().read(product_file)
    geometry = product.object_.get_geometry()
    theirs = np.array(
        [
            (p.x_px, p.y_px)
            for p in map(geometry.map_coordinates_probe_to_object, product.probe_positions)
        ]
    )
    np.testing.assert_allclose(recon.window_centres(), theirs, atol=1e-9)
    interpolator = BarycentricArrayInterpolator(product.object_.get_array()[0])
    n = data.probe.shape[0]
    expected = extract_patches(data.obj, data.xcoords, data.ycoords, n)
    for k in (0, len(theirs) // 2, len(theirs) - 1):
        patch = interpolator.get_patch(float(theirs[k, 0]), float(theirs[k, 1]), n, n)
        np.testing.assert_allclose(patch, expected[k], atol=1e-6)


def test_layers_need_a_choice(tmp_path: Path) -> None:
    big = embedded(fixture())
    path = tmp_path / "layers.h5"
    save_product(path, make_product(np.stack([big, 0.5 * big])))
    msg = (
        f"{path}: dataset 'object': the object has 2 layers, shape (2, 200, 190); choose one "
        "with layer=0..1 (never picked silently)"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)
    np.testing.assert_array_equal(
        read_reconstruction(path, layer=1).object, 0.5 * big.astype(np.complex128)
    )


def test_missing_dataset_and_attribute(tmp_path: Path) -> None:
    path = tmp_path / "product.h5"
    save_product(path, make_product(embedded(fixture())))
    with h5py.File(path, "a") as f:
        del f["probe_position_y_m"]
        del f["object"].attrs["center_x_m"]
    msg = (
        f"{path}: attribute 'center_x_m' of '/object' is missing (expected the object centre in "
        "metres)"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)
    with h5py.File(path, "a") as f:
        f["object"].attrs["center_x_m"] = 0.0
    msg = f"{path}: dataset 'probe_position_y_m' is missing (expected probe y positions in metres)"
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)


def test_pixel_size_given_must_agree(product_file: Path) -> None:
    msg = (
        f"{product_file}: the file records pixel_size (width, height) = ({PIXEL}, {PIXEL}) m, "
        "but pixel_size=(1e-08, 1e-08) was given"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(product_file, pixel_size=1e-8)
