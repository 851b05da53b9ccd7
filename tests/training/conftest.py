"""Fixtures for the training tests: a tiny synthetic data set in the VISEM-Tracking layout."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """Three synthetic videos of 4 frames, 320 x 240, in the exact VISEM-Tracking layout."""
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    root = tmp_path_factory.mktemp("tiny_visem")
    config = SynthConfig(seconds=0.08, fps=50, width=320, height=240, density=8)
    write_synthetic_dataset(root, n_videos=3, config=config, seed=11, progress=False)
    return root
