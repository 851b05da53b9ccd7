"""Tiny hand-made scenes for the tracker tests (fixtures return builder functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

COLUMNS = ["frame", "x", "y", "w", "h", "score", "class_id"]


def _table(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=float) for c in COLUMNS + ["gt"]})
    return pd.DataFrame(rows)[COLUMNS + ["gt"] + [c for c in rows[0] if c not in COLUMNS + ["gt"]]]


def _walkers(specs, n_frames: int, *, size: float = 18.0, score: float = 0.9, skip=(), noise: float = 0.0,
             seed: int = 0) -> pd.DataFrame:
    """Straight walkers ``(x0, y0, vx, vy[, first_frame])``; ``skip`` holds ``(gt, frame)`` to leave out."""
    rng = np.random.default_rng(seed)
    rows = []
    for gt, spec in enumerate(specs):
        x0, y0, vx, vy = spec[:4]
        start = spec[4] if len(spec) > 4 else 0
        for f in range(start, n_frames):
            if (gt, f) in skip:
                continue
            t = f - start
            rows.append({"frame": f, "x": x0 + vx * t + rng.normal(0, noise) if noise else x0 + vx * t,
                         "y": y0 + vy * t + rng.normal(0, noise) if noise else y0 + vy * t,
                         "w": size, "h": size, "score": score, "class_id": 0, "gt": gt})
    return _table(rows)


@pytest.fixture
def walkers():
    """Builder: ``walkers(specs, n_frames, ...)`` -> detections with a ``gt`` column."""
    return _walkers


@pytest.fixture
def crossing():
    """Two sperm heads crossing in an X between frames 20 and 21 (1 px apart at frame 20), 6.7 px/frame."""
    def make(n_frames: int = 40, **kw) -> pd.DataFrame:
        return _walkers([(100.0, 100.0, 6.0, 3.0), (100.0, 221.0, 6.0, -3.0)], n_frames, **kw)
    return make


def ids_per_gt(out: pd.DataFrame) -> pd.Series:
    """Number of distinct track ids per ground-truth object (confirmed rows only)."""
    return out[out["track_id"] >= 0].groupby("gt")["track_id"].nunique()


@pytest.fixture
def id_count():
    return ids_per_gt
