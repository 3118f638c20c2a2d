"""Blocks of rows: how full-size maps are streamed through small temporaries.

A pass over a 2-D map that builds its products one block of rows at a time
keeps the temporaries in the CPU cache and off the peak memory (an
evaluate() of a 2048x2048 complex128 pair makes about thirty such passes;
each full-size temporary is 64 MiB). Every blockwise loop of the package
takes its blocks from here, so they all have the same size.
"""

from __future__ import annotations

from collections.abc import Iterator

#: Elements of one block (1 MiB of complex128): small enough for the L2 cache.
BLOCK_ELEMENTS = 2**16


def flat_chunks(n: int, elements: int = BLOCK_ELEMENTS) -> Iterator[slice]:
    """Consecutive slices of ``elements`` covering ``range(n)``: blockwise sums of flat vectors."""
    for start in range(0, n, elements):
        yield slice(start, min(start + elements, n))


def row_blocks(shape: tuple[int, ...], elements: int = BLOCK_ELEMENTS) -> Iterator[slice]:
    """Consecutive row slices of about ``elements`` elements covering ``shape[0]`` rows.

    At least 16 blocks when the map has that many rows, so that a block is
    never a large fraction of the map.
    """
    n_rows, n_cols = shape[0], shape[1] if len(shape) > 1 else 1
    step = max(min(elements // max(n_cols, 1), n_rows // 16), 1)
    for r0 in range(0, n_rows, step):
        yield slice(r0, min(r0 + step, n_rows))
