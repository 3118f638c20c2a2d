"""PtyPy .ptyr reader, on files built by hand from PtyPy's documented layout.

PtyPy is not installable here, so these files follow its source
(github:ptycho/ptypy at 1681bec: ``Ptycho.save_run(kind="minimal")``,
``io.h5write``, ``Storage._to_dict``, ``View`` geometry); see the reader's docstring.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from _io_cases import OFFSET, PIXEL, embedded, fixture, window_centres_index

from ptycho_metrics.io import ReaderError, read_reconstruction, to_fixture_grid


def _string(group: h5py.Group, name: str, text: str) -> None:
    dset = group.create_dataset(name, data=np.asarray(text.encode()), dtype=h5py.string_dtype())
    dset.attrs["type"] = "string"


def write_ptyr(
    path: Path,
    obj: np.ndarray,
    *,
    storage_ids: tuple[str, ...] = ("Sscan00G00",),
    psize: tuple[float, float] = (PIXEL, PIXEL),
    use_center: bool = False,
) -> Path:
    """A minimal .ptyr as PtyPy writes it; ``obj`` is (modes, H, W)."""
    data = fixture()
    ps = np.asarray(psize)
    center_px = np.array(obj.shape[-2:]) // 2  # PtyPy's default: shape // 2
    origin = -center_px * ps
    # A view's centre pixel dcoord = round((coord - origin) / psize) covers
    # [dcoord - N//2, dcoord + (N+1)//2): the fixture's patch starts at y - N/2.
    dcoord = np.stack([data.ycoords + OFFSET[0], data.xcoords + OFFSET[1]], axis=1)
    coords = origin + dcoord * ps
    with h5py.File(path, "w") as f:
        f.attrs["h5rw_version"] = "0.1"
        header = f.create_group("header")
        header.attrs["type"] = "dict"
        _string(header, "kind", "minimal")
        content = f.create_group("content")
        for container in ("obj", "probe", "positions"):
            content.create_group(container).attrs["type"] = "dict"
        for sid in storage_ids:
            g = content["obj"].create_group(sid)
            g.attrs["type"] = "dict"
            g.create_dataset("data", data=obj).attrs["type"] = "array"
            g.create_dataset("_psize", data=ps).attrs["type"] = "array"
            if use_center:
                g.create_dataset("_center", data=center_px.astype(float)).attrs["type"] = "array"
            else:
                g.create_dataset("_origin", data=origin).attrs["type"] = "array"
            p = content["probe"].create_group(sid)
            p.create_dataset("data", data=data.probe[None]).attrs["type"] = "array"
            p.create_dataset("_psize", data=ps).attrs["type"] = "array"
            content["positions"].create_dataset(sid, data=coords).attrs["type"] = "array"
        scan = content.create_group("pars/scans/scan00/data")
        scan.create_dataset("energy", data=9.5).attrs["type"] = "scalar"  # keV
        scan.create_dataset("distance", data=2.0).attrs["type"] = "scalar"  # m
    return path


def test_known_offset_lands_exactly(tmp_path: Path) -> None:
    data = fixture()
    path = write_ptyr(tmp_path / "run.ptyr", embedded(data)[None])
    recon = read_reconstruction(path)
    assert recon.format == "ptyr"
    assert recon.metadata["storage_id"] == "Sscan00G00"  # discovered, not assumed
    assert recon.metadata["energy_eV"] == pytest.approx(9500.0)  # keV -> eV
    assert recon.metadata["distance_m"] == 2.0
    assert recon.pixel_size == (PIXEL, PIXEL)
    np.testing.assert_allclose(recon.window_centres(), window_centres_index(data), atol=1e-9)
    placed = to_fixture_grid(recon, data, truth_pixel_size=PIXEL)
    assert placed.method == "positions"
    assert placed.offset == pytest.approx(OFFSET, abs=1e-9)
    obj, mask = placed
    np.testing.assert_array_equal(obj, data.obj.astype(np.complex128))
    assert mask.sum() > 0


def test_center_instead_of_origin(tmp_path: Path) -> None:
    data = fixture()
    path = write_ptyr(tmp_path / "run.ptyr", embedded(data)[None], use_center=True)
    placed = to_fixture_grid(read_reconstruction(path), data, truth_pixel_size=PIXEL)
    assert placed.offset == pytest.approx(OFFSET, abs=1e-9)


def test_storage_id_other_name_and_several(tmp_path: Path) -> None:
    data = fixture()
    obj = embedded(data)[None]
    one = write_ptyr(tmp_path / "one.ptyr", obj, storage_ids=("S00G00",))
    assert read_reconstruction(one).metadata["storage_id"] == "S00G00"
    two = write_ptyr(tmp_path / "two.ptyr", obj, storage_ids=("S00G00", "S01G00"))
    msg = (
        f"{two}: '/content/obj' holds 2 object storages (S00G00, S01G00); choose one with "
        "key=<storage ID>"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(two)
    assert read_reconstruction(two, key="S01G00").metadata["storage_id"] == "S01G00"
    with pytest.raises(ReaderError, match=re.escape("no object storage '/content/obj/S9'")):
        read_reconstruction(two, key="S9")


def test_modes_need_a_choice(tmp_path: Path) -> None:
    data = fixture()
    big = embedded(data)
    path = write_ptyr(tmp_path / "modes.ptyr", np.stack([big, 0.5 * big]))
    msg = (
        f"{path}: dataset '/content/obj/Sscan00G00/data': the object has 2 modes, shape (2, "
        "200, 190); choose one with mode=0..1"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)
    second = read_reconstruction(path, mode=1)
    np.testing.assert_array_equal(second.object, 0.5 * big.astype(np.complex128))
    with pytest.raises(ReaderError, match=re.escape("choose with mode=, not layer=")):
        read_reconstruction(path, layer=0)


def test_rectangular_pixels_keep_their_axes(tmp_path: Path) -> None:
    data = fixture()
    path = write_ptyr(tmp_path / "rect.ptyr", embedded(data)[None], psize=(2 * PIXEL, PIXEL))
    recon = read_reconstruction(path)
    assert recon.pixel_size == (PIXEL, 2 * PIXEL)  # (width, height) from PtyPy's (row, col)


def test_missing_dataset_names_the_path(tmp_path: Path) -> None:
    data = fixture()
    path = write_ptyr(tmp_path / "run.ptyr", embedded(data)[None])
    with h5py.File(path, "a") as f:
        del f["content/obj/Sscan00G00/_psize"]
    msg = (
        f"{path}: dataset 'content/obj/Sscan00G00/_psize' is missing (expected the (row, col) "
        "pixel size in metres)"
    )
    with pytest.raises(ReaderError, match=re.escape(msg)):
        read_reconstruction(path)
