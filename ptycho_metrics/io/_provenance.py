"""Was a reconstruction made from the truth's data? :func:`check_same_data`.

A reconstruction compared with the wrong fixture scores nonsense (amplitude
SSIM 0.029 for one) and nothing says why. Files that record the sha256 of the
scan data they were made from (our ``reconstruction.npz``) are checked against
the truth's file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._record import ReaderError, Reconstruction

if TYPE_CHECKING:
    from ..data import PtychoData

__all__ = ["OtherDataError", "check_same_data", "truth_hashes"]


class OtherDataError(ReaderError):
    """The reconstruction records a data sha256 that is not the truth's."""


def check_same_data(
    recon: Reconstruction, truth_sha256: str | Iterable[str], *, allow_other_data: bool = False
) -> str | None:
    """Refuse a reconstruction whose recorded data hash is none of ``truth_sha256``.

    Parameters
    ----------
    recon : Reconstruction
    truth_sha256 : str or iterable of str
        The truth's data file hash, or the hashes of all files holding the same
        scan (a fixture's ``.npz`` and its ``.cxi``).
    allow_other_data : bool
        Return a note instead of raising.

    Returns
    -------
    str or None
        A note when the hash is not recorded or differs and that was allowed.

    Raises
    ------
    OtherDataError
        The recorded hash differs and ``allow_other_data`` is False.
    """
    known = {truth_sha256} if isinstance(truth_sha256, str) else set(truth_sha256)
    recorded = recon.data_sha256
    if recorded is None:
        return f"{recon.path} records no data sha256: not checked against the truth's"
    if recorded in known:
        return None
    made_from = recon.metadata.get("data_path") or "another file"
    msg = (
        f"{recon.path}: made from data with sha256 {recorded[:12]}... ({made_from}), but the "
        f"truth's data has sha256 {', '.join(sorted(k[:12] + '...' for k in known))}; compare it "
        f"with the fixture it was made from (or pass --allow-other-data / allow_other_data=True)"
    )
    if not allow_other_data:
        raise OtherDataError(msg)
    return f"allowed other data: {msg}"


def truth_hashes(scan: PtychoData) -> set[str]:
    """sha256 of every file holding the truth's scan: the file and, for a fixture whose
    manifest entry matches it, the fixture's ``.cxi`` (manifest ``cxi.sha256``)."""
    hashes = {scan.sha256}
    entry = _manifest_entries(scan.path.parent).get(scan.path.name)
    if not isinstance(entry, dict) or entry.get("sha256") != scan.sha256:
        return hashes  # not a fixture listed in its folder's manifest
    cxi = entry.get("cxi")
    if isinstance(cxi, dict) and "sha256" in cxi:
        hashes.add(str(cxi["sha256"]))
    return hashes


def _manifest_entries(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}
