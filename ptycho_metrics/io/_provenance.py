"""Was a reconstruction made from the truth's data? :func:`check_same_data`.

A reconstruction compared with the wrong fixture scores nonsense (amplitude
SSIM 0.029 for one) and nothing says why. Files that record the sha256 of the
scan data they were made from (our ``reconstruction.npz``) are checked against
the truth's file.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._record import ReaderError, Reconstruction

__all__ = ["OtherDataError", "check_same_data"]


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
