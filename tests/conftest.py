"""Fixtures shared by every test folder: where the shared reference data live.

The reference data (real VISEM-Tracking frames, annotations and lab values, MOT detections) sit in
``../shared/reference`` beside the repository. When that folder is missing, tests that need it are
skipped with a visible reason, except in CI (``SPERMTRACK_REQUIRE_REFERENCE=1``, set by ``.ci/run``),
where a missing reference is a failure. A reference file missing from a present folder is always a
failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="module")
def fault_clip(tmp_path_factory) -> Path:
    """The fault tests' data set: one 1.2-s synthetic video (160 x 120, 25 fps, seed 3), made per module."""
    from spermtrack.cli import main

    root = tmp_path_factory.mktemp("faults") / "data"
    assert main(["synth", str(root), "--videos", "1", "--seconds", "1.2", "--fps", "25", "--seed", "3", "--density",
                 "8", "--width", "160", "--height", "120", "--quiet"]) == 0
    return root


@pytest.fixture(scope="session")
def reference() -> Path:
    """The ``../shared/reference`` folder (skip or fail when absent, see the module docstring)."""
    if not REFERENCE.is_dir():
        message = f"the shared reference data are not beside the repository: {REFERENCE}"
        if os.environ.get("SPERMTRACK_REQUIRE_REFERENCE"):
            pytest.fail(message)
        pytest.skip(message)
    return REFERENCE


@pytest.fixture
def agreement_tables():
    """Predicted percentages of three videos (one graded nothing) and references of four (one unpredicted)."""
    from spermtrack.eval.agreement import percentages_table

    pred = percentages_table({
        "52": {"progressive": 30.0, "non_progressive": 20.0, "immotile": 50.0},
        "54": {"progressive": 10.0, "non_progressive": 40.0, "immotile": 50.0},
        "60": {"progressive": None, "non_progressive": None, "immotile": None},  # nothing graded
    })
    ref = pd.DataFrame({"progressive": [25.0, 15.0, 40.0, 99.0], "non_progressive": [25.0, 35.0, 30.0, 0.0],
                        "immotile": [50.0, 50.0, 30.0, 1.0]}, index=[52, 54, 60, 82])
    return pred, ref
