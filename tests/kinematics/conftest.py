"""Helpers for the kinematics tests: tiny hand-made tracks tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _make_tracks(paths: dict[int, np.ndarray], *, first_frame: dict[int, int] | None = None,
                class_id: int = 0, **extra_columns) -> pd.DataFrame:
    """A tracks table from ``{track_id: (n, 2) positions}`` at consecutive frames."""
    parts = []
    for tid, xy in paths.items():
        xy = np.asarray(xy, dtype=float)
        f0 = (first_frame or {}).get(tid, 0)
        parts.append(pd.DataFrame({"frame": np.arange(f0, f0 + len(xy)), "x": xy[:, 0], "y": xy[:, 1], "w": 17.0,
                                   "h": 17.0, "score": 0.9, "class_id": class_id, "track_id": tid}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {c: [] for c in ("frame", "x", "y", "w", "h", "score", "class_id", "track_id")})
    for k, v in extra_columns.items():
        out[k] = v
    return out


def _line(n: int, *, speed_px: float = 2.0, angle: float = 0.3, start=(100.0, 100.0)) -> np.ndarray:
    """Straight line at constant speed (px/frame)."""
    k = np.arange(n)[:, None]
    return np.asarray(start) + speed_px * k * np.array([np.cos(angle), np.sin(angle)])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def make_tracks():
    """``make_tracks({track_id: positions}, first_frame=..., **extra_columns)`` -> tracks table."""
    return _make_tracks


@pytest.fixture
def line():
    """``line(n, speed_px=2, angle=0.3, start=(100, 100))`` -> (n, 2) straight path."""
    return _line
