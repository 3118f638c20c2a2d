"""Session-scoped runs of the reference pipeline for the quality gate (see pipeline_runs.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .pipeline_runs import PipelineRun, run_pipeline


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., PipelineRun]:
    """``pipeline(fixture, *, tag="main")``: a cached :class:`PipelineRun` with the defaults.

    Distinct ``tag`` values force separate runs of the same command (for the
    determinism check).
    """
    # Loaded in this process so the golden's fingerprint records torch's CPU
    # capability, which decides the pipeline's float rounding.
    import torch  # noqa: F401

    cache: dict[tuple[str, str], PipelineRun] = {}

    def get(fixture: str, *, tag: str = "main") -> PipelineRun:
        key = (fixture, tag)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"{fixture}-{tag}")
            cache[key] = run_pipeline(fixture, out / "run")
        return cache[key]

    return get
