"""Photometric augmentation for detector training: what real microscope videos vary in.

Geometric augmentation (flips, scale, mosaic) is ultralytics' own; this module adds the image
changes that separate one microscope, stain-free preparation or recording from another and
that ultralytics' colour jitter does not cover:

=============  ===========================================================================
polarity       ``I -> 255 - I``: phase-contrast bright heads on a dark background become dark
               heads on a light background, as in bright field (and the reverse)
gray           colour cameras vs monochrome ones (VISEM's UEye camera is colour)
contrast       ``I -> 255 * ((a (I - m) + m + b) / 255) ** g`` with gain ``a``, shift ``b``,
               gamma ``g`` about the frame mean ``m``: exposure and condenser settings
blur           Gaussian of sigma ``s`` px: focus and optics
noise          additive Gaussian sensor noise of sd ``n`` grey levels
jpeg           JPEG re-compression at quality ``q``: compressed recordings
=============  ===========================================================================

Each step runs with its own probability, in the order of the table, so one image may get
several. :func:`augment_photometric` is a pure function of the image, the settings and a numpy
generator; :class:`PhotometricAugment` wraps it as an ultralytics transform (it changes
``labels["img"]`` only: boxes are untouched).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from spermtrack._validate import Config

__all__ = ["PhotometricConfig", "PhotometricAugment", "augment_photometric"]


@dataclass(frozen=True)
class PhotometricConfig(Config):
    """Probabilities and ranges of the photometric augmentation; validated on construction.

    Parameters
    ----------
    p_invert : float
        Probability of inverting the polarity (phase contrast <-> bright-field look).
    p_gray : float
        Probability of converting to grayscale (kept as 3 equal channels).
    p_contrast : float
        Probability of a contrast / brightness / gamma change.
    gain : tuple of float
        Range of the contrast gain ``a``.
    shift : tuple of float
        Range of the brightness shift ``b``, grey levels.
    gamma : tuple of float
        Range of the gamma ``g``.
    p_blur : float
        Probability of a Gaussian blur.
    blur_sigma : tuple of float
        Range of its sigma, px.
    p_noise : float
        Probability of additive Gaussian noise.
    noise_sd : tuple of float
        Range of its standard deviation, grey levels.
    p_jpeg : float
        Probability of JPEG re-compression.
    jpeg_quality : tuple of int
        Range of the JPEG quality (1-100).
    """

    p_invert: float = 0.15
    p_gray: float = 0.25
    p_contrast: float = 0.6
    gain: tuple[float, float] = (0.6, 1.5)
    shift: tuple[float, float] = (-30.0, 30.0)
    gamma: tuple[float, float] = (0.7, 1.4)
    p_blur: float = 0.3
    blur_sigma: tuple[float, float] = (0.4, 1.5)
    p_noise: float = 0.3
    noise_sd: tuple[float, float] = (2.0, 10.0)
    p_jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (25, 90)

    def __post_init__(self) -> None:
        for name in ("p_invert", "p_gray", "p_contrast", "p_blur", "p_noise", "p_jpeg"):
            self._number(name, lo=0, hi=1)
        self._pair("gain", lo=0.01, hi=100)
        self._pair("shift", lo=-255, hi=255)
        self._pair("gamma", lo=0.01, hi=100)
        self._pair("blur_sigma", lo=0, hi=50)
        self._pair("noise_sd", lo=0, hi=255)
        self._pair("jpeg_quality", as_int=True, lo=1, hi=100)


def augment_photometric(image: np.ndarray, rng: np.random.Generator, config: PhotometricConfig) -> np.ndarray:
    """Apply a random photometric change to one BGR ``uint8`` image.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8`` ``(H, W, 3)`` BGR image (not modified).
    rng : numpy.random.Generator
        Source of randomness (the same generator state gives the same output).
    config : PhotometricConfig
        Probabilities and ranges (see the module docstring for the formulas).

    Returns
    -------
    numpy.ndarray
        A new ``uint8`` ``(H, W, 3)`` image.
    """
    import cv2

    out = image.astype(np.float32)
    if rng.random() < config.p_invert:
        out = 255.0 - out
    if rng.random() < config.p_gray:
        gray = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
        out = np.repeat(gray[:, :, None], 3, axis=2)
    if rng.random() < config.p_contrast:
        a, b, g = (rng.uniform(*config.gain), rng.uniform(*config.shift), rng.uniform(*config.gamma))
        mean = float(out.mean())
        out = np.clip(a * (out - mean) + mean + b, 0.0, 255.0)
        out = 255.0 * (out / 255.0) ** g
    if rng.random() < config.p_blur:
        sigma = rng.uniform(*config.blur_sigma)
        if sigma > 0:
            out = cv2.GaussianBlur(out, (0, 0), sigma)
    if rng.random() < config.p_noise:
        out = out + rng.normal(0.0, rng.uniform(*config.noise_sd), size=out.shape).astype(np.float32)
    result = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if rng.random() < config.p_jpeg:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        ok, buffer = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            result = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    return result


class PhotometricAugment:
    """:func:`augment_photometric` as an ultralytics transform (``labels -> labels``).

    Each call draws a fresh generator from Python's ``random`` module, which ultralytics seeds
    per data-loader worker, so training stays reproducible for a given seed.
    """

    def __init__(self, config: PhotometricConfig | None = None) -> None:
        self.config = config or PhotometricConfig()

    def __call__(self, labels: dict) -> dict:
        image = labels.get("img")
        if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
            labels["img"] = augment_photometric(image, np.random.default_rng(random.getrandbits(64)), self.config)
        return labels
