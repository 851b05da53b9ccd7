"""Fixtures for the detector tests: hand-drawn heads with known centres, a synthetic clip."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest



def draw_heads(centres, *, width: int = 160, height: int = 120, background: float = 60.0, amplitude: float = 180.0,
               sigma: tuple[float, float] = (3.0, 2.0), angle: float = 0.3, noise_sd: float = 2.0,
               seed: int = 0, colour: bool = True) -> np.ndarray:
    """A phase-contrast-like frame: elliptical Gaussian heads at exact sub-pixel ``centres`` on a dark background.

    Returns a BGR uint8 frame (or gray when ``colour`` is False).
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.full((height, width), float(background))
    c, s = np.cos(angle), np.sin(angle)
    for x0, y0 in centres:
        u = (xx - x0) * c + (yy - y0) * s
        v = -(xx - x0) * s + (yy - y0) * c
        img += amplitude * np.exp(-0.5 * ((u / sigma[0]) ** 2 + (v / sigma[1]) ** 2))
    img += np.random.default_rng(seed).normal(0, noise_sd, img.shape)
    gray = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if not colour:
        return gray
    return np.dstack([gray, gray, gray])


def centres_table(centres) -> pd.DataFrame:
    arr = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"frame": 0, "x": arr[:, 0], "y": arr[:, 1], "w": 22.0, "h": 22.0, "score": 1.0,
                         "class_id": 0})


@pytest.fixture(scope="session")
def heads():
    """:func:`draw_heads`: a frame with elliptical Gaussian heads at exact centres."""
    return draw_heads


@pytest.fixture(scope="session")
def as_table():
    """:func:`centres_table`: centres as a one-frame detections table."""
    return centres_table


@pytest.fixture(scope="session")
def synth_clip():
    """A 5-frame synthetic phase-contrast clip (density 25) with its exact truth."""
    from spermtrack.synth import SynthConfig, render_frames, simulate_video

    video = simulate_video(SynthConfig(seconds=0.1, fps=50, density=25, write_images=False), seed=7)
    return video.truth, list(render_frames(video))
