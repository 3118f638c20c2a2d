"""``ptycho-metrics fixtures``: list the embedded fixtures, export one as CXI or PtychoPINN npz."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..fixtures_export import PTYCHOPINN_PATCH_SIZES, describe_fixtures, export_fixture

__all__ = ["register"]


def _format_one(record: dict[str, Any]) -> str:
    g = record["geometry"]
    rows, cols = record["object_px"]
    lines = [
        f"{record['name']}: {record['description']}",
        f"  data      {record['n_patterns']} patterns of {record['pattern_px']}x"
        f"{record['pattern_px']} px, object {rows}x{cols} px, layout {record['layout']}",
        f"  scan      {record['scan']}, step {record['scan_step_px']} px"
        + (", starting probe probe_initial" if record["probe_initial"] else ""),
        f"  dose      {record['dose']:.3g} counts/pattern for a unit object "
        f"(mean {record['mean_counts_per_pattern']:.3g} measured)",
    ]
    if g is not None:
        lines.append(
            f"  geometry  {g['energy_eV'] / 1000:.4f} keV (wavelength {g['wavelength_m']:.6g} m), "
            f"distance {g['distance_m']:g} m, detector pixel {g['det_pixel_m']:.6g} m, "
            f"object pixel {g['pixel_size_m']:.6g} m"
        )
    lines.append(f"  for       {'; '.join(record['pipelines'])}")
    sizes = f"  files     {record['name']}.npz {record['npz_bytes'] / 2**20:.2f} MiB"
    if record["cxi_bytes"] is not None:
        sizes += f", {record['name']}.cxi {record['cxi_bytes'] / 2**20:.2f} MiB"
    lines.append(sizes)
    return "\n".join(lines)


def _cmd_list(args: argparse.Namespace) -> None:
    print("\n\n".join(_format_one(r) for r in describe_fixtures()))


def _cmd_export(args: argparse.Namespace) -> None:
    path = export_fixture(
        args.name, format=args.format, output=args.output, overwrite=args.overwrite
    )
    print(f"wrote {path} ({path.stat().st_size} bytes, {args.format})")
    if args.format == "npz":
        n = next(r["pattern_px"] for r in describe_fixtures() if r["name"] == args.name)
        if n not in PTYCHOPINN_PATCH_SIZES:
            sizes = ", ".join(str(s) for s in PTYCHOPINN_PATCH_SIZES)
            print(
                f"note: PtychoPINN's models need N in {{{sizes}}}; {args.name} has N = {n} "
                "(the pinn64 fixture has N = 64)",
                file=sys.stderr,
            )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fixtures`` subcommand (``list``, ``export``)."""
    fx = sub.add_parser(
        "fixtures",
        help="list the embedded fixtures or export one as CXI / PtychoPINN npz",
        description="The embedded ground-truth fixtures, in formats other codes read.",
    )
    actions = fx.add_subparsers(dest="fixtures_command", required=True)
    ls = actions.add_parser(
        "list", help="each fixture with geometry, dose, scan and intended pipelines"
    )
    ls.set_defaults(action=_cmd_list)
    ex = actions.add_parser(
        "export",
        help="write a fixture as CXI or PtychoPINN npz",
        description="Write fixture NAME to FILE. cxi: the shipped cxidb 1.6 file (counts, "
        "translations in m, energy in J, probe, mask). npz: PtychoPINN's layout.",
    )
    ex.add_argument(
        "name", metavar="NAME", help="fixture name (see `ptycho-metrics fixtures list`)"
    )
    ex.add_argument("--format", required=True, choices=("cxi", "npz"), help="output format")
    ex.add_argument("--output", required=True, metavar="FILE", help="file to write")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    ex.set_defaults(action=_cmd_export)
