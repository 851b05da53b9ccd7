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

import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="session")
def reference() -> Path:
    """The ``../shared/reference`` folder (skip or fail when absent, see the module docstring)."""
    if not REFERENCE.is_dir():
        message = f"the shared reference data are not beside the repository: {REFERENCE}"
        if os.environ.get("SPERMTRACK_REQUIRE_REFERENCE"):
            pytest.fail(message)
        pytest.skip(message)
    return REFERENCE
