"""``blob``: the default detector, classical image processing with no weights.

Pipeline (one frame: about 4 ms at 640 x 480 on a 2-core machine, no batching needed)
-------------------------------------------------------------------------------------
1. **Gray and polarity.** BGR frames become luma (OpenCV ``BGR2GRAY``). Phase contrast (VISEM)
   shows bright heads: ``polarity='bright'``; bright field shows dark heads: ``'dark'``;
   ``'auto'`` (the default) picks per video from the first frame (:func:`polarity_evidence`: the
   stronger of the brightest and darkest head-scale responses), and the decision with its evidence is
   reported (``to_dict()["look"]``, then summary.json and the report).
2. **Band-pass (background model).** ``bp = G_sigma * I - box_B * I`` (for dark heads the sign is
   flipped): a Gaussian of ``sigma_px`` removes pixel noise, a ``background_px`` box mean is the
   local background (uneven illumination, halos), so heads become positive peaks on a zero
   background, a difference-of-Gaussians-like band-pass tuned to 6-10 px heads.
3. **Adaptive threshold.** ``T = max(threshold_sd * sd, min_contrast)``, with ``sd`` the robust
   noise level ``1.4826 * MAD(bp)`` of the frame; pixels with ``bp > T`` are foreground.
4. **Connected components** (8-connected) of the foreground, with area, bounding box and peak.
   Components smaller than ``min_area_px`` or larger than ``max_area_px`` are dropped.
5. **Touching heads.** Local maxima of ``bp`` closer than ``min_separation_px`` to a stronger one
   are merged; a component with 2 peaks (or more, below the cluster rule) is split between its
   peaks (each pixel goes to the nearest peak).
6. **Sub-pixel centres.** Each head's centre is the centroid of its pixels weighted by
   ``bp - T`` (the part above the threshold).
7. **Classes.** A component with at least ``cluster_min_peaks`` peaks, with two peaks closer than
   ``cluster_pair_px`` (heads stuck head to head; crossing sperm are usually farther apart), or
   with one peak and an area of at least ``cluster_area_px``, is one *cluster* (class 1) at its
   weighted centroid; a
   single head whose area is at most ``pinhead_max_area_px`` is a *pinhead* (class 2); the rest
   are sperm (class 0). The area thresholds and ``min_contrast`` default per polarity
   (:data:`POLARITY_DEFAULTS`): in bright field, pinheads look like debris and are not labelled.
8. **Boxes and scores.** Box size convention (``box_mode``): ``'fixed'`` gives every sperm a
   ``box_px`` square (VISEM-Tracking label boxes are 22 +/- 6 px, larger than the head itself),
   pinheads ``pinhead_box_px`` and clusters their component's extent minus one head plus ``box_px``;
   ``'extent'`` gives the component's bounding box scaled by ``extent_scale``. Box-based metrics
   (mAP) depend on this convention; centre-based ones (F1 at 10 px, centre error) do not.
   Detections whose centre lies within ``border_px`` of the frame edge are dropped (a head whose
   centre has left the frame still shows half a blob; annotators do not label it).
9. **Scores** (``score_model``). ``'fitted'`` (default): the probability that the object is a
   labelled one, ``score = sigmoid(b + sum_k w_k f_k)`` over five features (:func:`blob_features`):
   the signal-to-noise ratio ``log(peak / sd)``, the size ``log(area)``, the *dark core*
   ``dark / peak`` (the strongest opposite-polarity response within ``dark_radius_px``: the halo of
   a dark debris particle or round cell is a bright ring around a dark centre, a head is not), the
   number of peaks of the component ``log(n_peaks)`` and the closeness to the frame edge
   ``exp(-d / 6 px)`` (annotators skip objects cut by the edge). The weights are fitted by logistic
   regression per polarity (:data:`SCORE_MODELS_FILE`; bright: real VISEM-Tracking video 11, frames
   0-1028; dark: the real SVIA clips S_0001-S_0002, their impurities and unlabelled debris as
   negatives; see ``python -m spermtrack.training.recipes blob``). The dark model takes ``log_area``
   relative to the video's own reference (the 90th percentile of its first frame's object log areas,
   :func:`area_reference`): bright-field microscopes differ in how many px a head covers, and absolute
   SVIA areas rejected nearly every head of the synthetic bright field (F1 0.03-0.09; now 0.98). A
   fitted score reads as a calibrated probability. ``'contrast'``: ``tanh(peak / (4 T))``, the
   uncalibrated contrast score of earlier versions.

The pixel settings (``sigma_px``, ``background_px``, areas, separations, boxes) and the fitted score
models are for VISEM-Tracking's scale: 640 x 480, 400x phase contrast, 0.351 um/px, heads 6-10 px.
Given ``um_per_px``, each frame is resampled to that scale first and the detections are mapped back
(:func:`~spermtrack.detectors.base.pixel_scale`), so the settings hold at any pixel size.

Steps 1-7 are pure functions in :mod:`spermtrack.detectors.blob_segment` (re-exported here); this module
holds the settings, the score model (steps 8-9) and the detector.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from spermtrack._validate import Config, choice, number
from spermtrack.detectors.base import FrameDetector, detections_table, pixel_scale, resample, to_gray, unscale
from spermtrack.detectors.blob_segment import (Blobs, _neighbourhood_max, band_pass, estimate_polarity, find_blobs,
                                               noise_sd, polarity_evidence)
from spermtrack.errors import InputError

__all__ = ["BLOB_FEATURES", "BlobConfig", "BlobDetector", "BlobScoreModel", "Blobs", "area_reference", "band_pass",
           "blob_features", "estimate_polarity", "polarity_evidence", "find_blobs", "load_score_models", "noise_sd"]

POLARITIES = ("bright", "dark", "auto")
BOX_MODES = ("fixed", "extent")
SCORE_MODELS = ("fitted", "contrast")
#: Features of the fitted score model, in order (see :func:`blob_features`).
BLOB_FEATURES: tuple[str, ...] = ("snr", "log_area", "dark_ratio", "log_peaks", "border")
_LOG_AREA = BLOB_FEATURES.index("log_area")
#: Package file with the fitted score models per polarity (written by ``python -m spermtrack.training.recipes blob``).
SCORE_MODELS_FILE = "blob_scores.json"
_BORDER_SCALE_PX = 6.0
_OWNER = "BlobConfig"
#: Defaults of the ``None`` fields of :class:`BlobConfig` per polarity, measured on synthetic
#: phase-contrast and bright-field frames and on the real VISEM frame (see ``benchmarks/detector_bench.py``).
POLARITY_DEFAULTS: dict[str, dict] = {
    "bright": {"min_contrast": 20.0, "cluster_area_px": 160, "pinhead_max_area_px": 35},
    # dark heads (bright field): the cluster size covers the heads of the real SVIA clips S_0001-S_0002
    # (99th percentile of matched head areas 124-136 px, largest 204)
    "dark": {"min_contrast": 25.0, "cluster_area_px": 160, "pinhead_max_area_px": 0},
}
_HEAD_EXTENT_PX = 11.0  # typical foreground extent of one head at the default settings (VISEM scale)


@dataclass(frozen=True)
class BlobConfig(Config):
    """Settings of the ``blob`` detector; validated on construction.

    Parameters
    ----------
    polarity : {'bright', 'dark', 'auto'}
        Bright heads on a darker background (phase contrast, VISEM), dark heads (bright field),
        or decided per video from the first frame (default; :func:`polarity_evidence`).
    sigma_px : float
        Gaussian sigma of the noise filter, px.
    background_px : int
        Side of the box filter that estimates the local background, px (odd, >= 3).
    threshold_sd : float
        Foreground threshold in robust noise standard deviations of the band-passed frame.
    min_contrast : float or None
        Lower bound of the threshold in grey levels (0-255 scale): heads must stand out at least this
        much. ``None``: the polarity's default (:data:`POLARITY_DEFAULTS`).
    min_area_px, max_area_px : int
        Components with fewer or more foreground pixels are dropped.
    min_separation_px : float
        Two intensity peaks closer than this are one head.
    cluster_area_px : int or None
        A single-peak component at least this large is one cluster (class 1). ``None``: the polarity's
        default.
    cluster_min_peaks : int
        A component with at least this many peaks is one cluster.
    cluster_pair_px : float
        A component with two peaks closer than this is one cluster (0 disables). On synthetic
        frames the two heads of a 2-cell cluster lie 6.1-7.6 px apart (10th-90th percentile), two
        touching sperm heads 6.6-11.3 px: 7.8 px splits 4 % of those clusters and merges 37 % of
        those sperm pairs (a transient loss for the tracker, where a split cluster would add two
        persistent immotile cells).
    pinhead_max_area_px : int or None
        A single head with at most this many foreground pixels is a pinhead (class 2); 0 disables.
        ``None``: the polarity's default (bright field: 0, as pinheads look like debris there).
    border_px : float
        Detections whose centre is closer than this to the frame edge are dropped.
    box_mode : {'fixed', 'extent'}
        Box size convention (see the module docstring).
    box_px, pinhead_box_px : float
        Box side of sperm / pinheads in ``'fixed'`` mode, px.
    extent_scale : float
        Factor on the component's bounding box in ``'extent'`` mode.
    min_score : float or None
        Detections with a lower score are dropped. ``None``: the threshold fitted with the score
        model (the F1-optimal one on its training frames; 0 for ``score_model='contrast'``).
    score_model : {'fitted', 'contrast'}
        How scores are computed (see the module docstring, step 9).
    dark_radius_px : float
        Radius of the dark-core feature, px.
    with_features : bool
        Add the score model's features as extra columns ``f_snr, f_log_area, ...`` (for fitting
        and inspection).
    um_per_px : float or None
        The recording's pixel size, um: frames are resampled to VISEM's 0.351 um/px before detection
        (every px setting above is at that scale). ``None``: frames are taken as they are.
    """

    polarity: str = "auto"
    sigma_px: float = 1.5
    background_px: int = 25
    threshold_sd: float = 6.0
    min_contrast: float | None = None
    min_area_px: int = 12
    max_area_px: int = 1500
    min_separation_px: float = 8.0
    cluster_area_px: int | None = None
    cluster_min_peaks: int = 4
    cluster_pair_px: float = 7.8
    pinhead_max_area_px: int | None = None
    border_px: float = 1.5
    box_mode: str = "fixed"
    box_px: float = 22.0
    pinhead_box_px: float = 10.0
    extent_scale: float = 1.5
    min_score: float | None = None
    score_model: str = "fitted"
    dark_radius_px: float = 6.0
    with_features: bool = False
    um_per_px: float | None = None

    def __post_init__(self) -> None:
        self._choice("polarity", POLARITIES)
        self._choice("box_mode", BOX_MODES)
        self._choice("score_model", SCORE_MODELS)
        self._number("sigma_px", lo=0.3, hi=50)
        if self._integer("background_px", lo=3, hi=1001) % 2 == 0:
            raise self._fail("background_px", "odd")
        self._number("threshold_sd", lo=0, lo_open=True, hi=1000)
        self._optional_number("min_contrast", lo=0, hi=255)
        if self._integer("max_area_px", lo=1) < self._integer("min_area_px", lo=1):
            raise self._fail("max_area_px", f">= min_area_px ({self.min_area_px})")
        self._number("min_separation_px", lo=0, hi=1000)
        self._optional_integer("cluster_area_px", lo=1)
        self._integer("cluster_min_peaks", lo=2)
        self._number("cluster_pair_px", lo=0, hi=1000)
        self._optional_integer("pinhead_max_area_px", lo=0)
        self._number("border_px", lo=0, hi=1000)
        self._number("box_px", lo=0, lo_open=True, hi=10000)
        self._number("pinhead_box_px", lo=0, lo_open=True, hi=10000)
        self._number("extent_scale", lo=0, lo_open=True, hi=100)
        self._optional_number("min_score", lo=0, hi=1)
        self._number("dark_radius_px", lo=1, hi=100)
        self._boolean("with_features")
        self._optional_number("um_per_px", lo=0, lo_open=True, hi=1000)

    def resolved(self, polarity: str) -> BlobConfig:
        """This config with ``polarity`` ('bright' or 'dark') and its defaults filled in for ``None`` fields."""
        choice(_OWNER, "polarity", polarity, ("bright", "dark"))
        fill = {k: v for k, v in POLARITY_DEFAULTS[polarity].items() if getattr(self, k) is None}
        return replace(self, polarity=polarity, **fill)



# ----------------------------------------------------------------------------------------------- scores
def _disk_offsets(radius_px: float) -> np.ndarray:
    """``(dy, dx)`` of OpenCV's elliptic structuring element of radius ``round(radius_px)``."""
    import cv2

    r = int(round(radius_px))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return np.argwhere(disk > 0) - r


def dark_response(bp: np.ndarray, radius_px: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The strongest opposite-polarity response within ``radius_px`` of the pixels ``(xs, ys)`` (grey levels).

    ``max over the disk of (-bp)``: large next to a dark particle (for bright heads), near zero or
    negative inside a head. Computed at the given pixels only (a whole-frame dilation would cost
    more than the rest of the detector).
    """
    return _neighbourhood_max(-bp, np.asarray(xs, np.intp), np.asarray(ys, np.intp), _disk_offsets(radius_px))


def blob_features(blobs: Blobs, *, noise: float, bp: np.ndarray, dark_radius_px: float, width: int,
                  height: int) -> np.ndarray:
    """The score model's features (:data:`BLOB_FEATURES`), one row per object.

    Parameters
    ----------
    blobs : Blobs
        Objects of one frame.
    noise : float
        Robust noise level of the band-passed frame (:func:`noise_sd`).
    bp : numpy.ndarray
        The band-passed frame (for :func:`dark_response` at each object's centre pixel).
    dark_radius_px : float
        Radius of :func:`dark_response`.
    width, height : int
        Frame size, px.

    Returns
    -------
    numpy.ndarray, shape (n, 5)
        ``snr = log(peak / noise)``, ``log_area = log(area)``, ``dark_ratio = dark / peak`` (clipped
        to [-2, 4]), ``log_peaks = log(n_peaks)`` (at least 1 peak) and ``border = exp(-d / 6)``
        with ``d`` the distance of the centre to the nearest frame edge, px.
    """
    n = len(blobs)
    if n == 0:
        return np.empty((0, len(BLOB_FEATURES)))
    peak = np.maximum(blobs.peak, 1e-6)
    xi = np.clip(np.rint(blobs.x).astype(np.intp), 0, width - 1)
    yi = np.clip(np.rint(blobs.y).astype(np.intp), 0, height - 1)
    edge = np.minimum.reduce([blobs.x, blobs.y, width - 1 - blobs.x, height - 1 - blobs.y])
    return np.column_stack([
        np.log(peak / max(noise, 1e-6)),
        np.log(np.maximum(blobs.area, 1)),
        np.clip(dark_response(bp, dark_radius_px, xi, yi) / peak, -2.0, 4.0),
        np.log(np.maximum(blobs.n_peaks, 1)),
        np.exp(-np.maximum(edge, 0.0) / _BORDER_SCALE_PX),
    ])


@dataclass(frozen=True)
class BlobScoreModel(Config):
    """A fitted score model: ``score = sigmoid(intercept + sum_k weights_k * feature_k)``.

    Parameters
    ----------
    features : tuple of str
        Feature names; must equal :data:`BLOB_FEATURES`.
    weights : tuple of float
        One weight per feature.
    intercept : float
    min_score : float
        The threshold that maximised F1 on the training frames (the detector's default).
    source : str
        What the model was fitted on.
    area_percentile : float or None
        ``None``: ``log_area`` is absolute. Otherwise ``log_area`` is relative to the video's own
        reference, this percentile of the log areas of its first frame's objects
        (:func:`area_reference`): the size of a head in px depends on the microscope, and a model
        fitted on one bright-field microscope would otherwise reject every head of another size.
    area_reference : float or None
        The reference used when a video's first frame has too few objects to measure its own (the
        mean over the training clips); required with ``area_percentile``.
    """

    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    min_score: float
    source: str = ""
    area_percentile: float | None = None
    area_reference: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        if self.features != BLOB_FEATURES or len(self.weights) != len(BLOB_FEATURES):
            raise InputError(f"a blob score model needs the features {', '.join(BLOB_FEATURES)} with one weight "
                             f"each, got {self.features} with {len(self.weights)} weights")
        for w in self.weights:
            number("BlobScoreModel", "weights", w)
        self._number("intercept")
        self._number("min_score", lo=0, hi=1)
        if self._optional_number("area_percentile", lo=0, hi=100) is not None:
            self._number("area_reference", lo=-10, hi=20)

    def score(self, features: np.ndarray, area_reference: float | None = None) -> np.ndarray:
        """Scores in (0, 1) for a feature matrix from :func:`blob_features`.

        Parameters
        ----------
        features : numpy.ndarray, shape (n, 5)
        area_reference : float, optional
            The video's reference log area (:func:`area_reference`) when the model is relative
            (``area_percentile`` set); ``None`` takes the model's training mean. Ignored otherwise.
        """
        values = np.asarray(features, np.float64)
        if self.area_percentile is not None:
            values = values.copy()
            values[:, _LOG_AREA] -= self.area_reference if area_reference is None else area_reference
        z = values @ np.asarray(self.weights) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


#: Fewest objects in a first frame to measure a video's own reference area.
MIN_REFERENCE_OBJECTS = 5


def area_reference(log_area: np.ndarray, percentile: float) -> float | None:
    """A video's reference log area: ``percentile`` of its first frame's object log areas.

    Parameters
    ----------
    log_area : numpy.ndarray
        ``log(area)`` of the objects found in the video's first frame (inside the border).
    percentile : float
        In 0-100; a high one (the shipped dark model: 90) follows the heads, the largest common
        objects, rather than the mix of heads and debris.

    Returns
    -------
    float or None
        ``None`` when there are fewer than :data:`MIN_REFERENCE_OBJECTS` objects.
    """
    values = np.asarray(log_area, np.float64)
    if len(values) < MIN_REFERENCE_OBJECTS:
        return None
    return float(np.percentile(values, percentile))


def load_score_models() -> dict[str, BlobScoreModel]:
    """The fitted score models shipped in the package, per polarity (``'bright'``, ``'dark'``).

    Raises
    ------
    InputError
        The file is missing or malformed (reinstall spermtrack).
    """
    import importlib.resources
    import json

    resource = importlib.resources.files("spermtrack.detectors").joinpath("weights", SCORE_MODELS_FILE)
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        return {polarity: BlobScoreModel.from_dict(data[polarity]) for polarity in ("bright", "dark")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the blob score models ({SCORE_MODELS_FILE}) are missing or malformed in this "
                         f"installation ({type(exc).__name__}: {exc}); reinstall spermtrack or use "
                         "score_model='contrast'") from None


# ----------------------------------------------------------------------------------------------- detector
class BlobDetector(FrameDetector):
    """The ``blob`` detector (see the module docstring for the method).

    Parameters
    ----------
    config : BlobConfig, optional
        Settings; the defaults suit VISEM-Tracking.
    **overrides
        Fields of :class:`BlobConfig` to change, e.g. ``BlobDetector(polarity="dark")``.

    Examples
    --------
    >>> det = BlobDetector()
    >>> table = det.detect_video(iter_frames("11/11.mp4"))        # doctest: +SKIP
    """

    name = "blob"
    batch_size = 1
    thread_safe = True  # frames are independent; _detect_one only reads the video's resolved settings

    def __init__(self, config: BlobConfig | None = None, **overrides) -> None:
        base = config if config is not None else BlobConfig()
        if not isinstance(base, BlobConfig):
            raise InputError(f"config must be a BlobConfig, got {type(base).__name__}")
        self.config = base.replace(**overrides) if overrides else base
        self._active: BlobConfig | None = None
        self._look: dict | None = None
        self._area_reference: float | None = None
        self._models = load_score_models() if self.config.score_model == "fitted" else None

    def to_dict(self) -> dict:
        """``{"detector": "blob", **config}``, plus ``resolved``: the settings used for the last video."""
        out = {"detector": self.name, **self.config.to_dict()}
        if self._look is not None:
            out["look"] = dict(self._look)
        if self._active is not None:
            out["resolved"] = self._active.to_dict()
            if self._models is not None:
                out["score_model_fitted"] = self._models[self._active.polarity].to_dict()
        return out

    def _start_video(self, first: np.ndarray) -> None:
        cfg = self.config
        polarity = cfg.polarity
        if polarity == "auto":
            evidence = polarity_evidence(resample(to_gray(first), pixel_scale(cfg.um_per_px)), sigma_px=cfg.sigma_px, background_px=cfg.background_px)
            polarity = evidence["polarity"]
            self._look = {"polarity": polarity, "source": "auto", "evidence": {
                k: v for k, v in evidence.items() if k != "polarity"}}
        else:
            self._look = {"polarity": polarity, "source": "given"}
        active = cfg.resolved(polarity)
        model = None if self._models is None else self._models[polarity]
        if active.min_score is None:
            active = replace(active, min_score=0.0 if model is None else model.min_score)
        self._active = active
        self._area_reference = None
        if model is not None and model.area_percentile is not None:
            _, _, features = self._candidates(first)
            self._area_reference = area_reference(features[:, _LOG_AREA], model.area_percentile)
            self._look["area_reference"] = ("model default" if self._area_reference is None
                                            else round(self._area_reference, 4))

    @property
    def polarity(self) -> str | None:
        """Polarity used for the current (last) video: ``'bright'`` or ``'dark'`` (None before any frame)."""
        return None if self._active is None else self._active.polarity

    def _detect_batch(self, frames: list[np.ndarray], indices: list[int]) -> list[pd.DataFrame]:
        return [self._detect_one(f, i) for f, i in zip(frames, indices)]

    def _candidates(self, frame: np.ndarray) -> tuple[Blobs, float, np.ndarray]:
        """Steps 1-7 on one frame at VISEM scale: the objects inside the border, the threshold and the
        features (an empty matrix when neither a model nor features are wanted)."""
        cfg = self._active
        gray = resample(to_gray(frame), pixel_scale(cfg.um_per_px))
        bp = band_pass(gray, sigma_px=cfg.sigma_px, background_px=cfg.background_px, bright=cfg.polarity == "bright")
        noise = noise_sd(bp)
        threshold = max(cfg.threshold_sd * noise, cfg.min_contrast, 1e-6)
        blobs = find_blobs(bp, threshold, min_area_px=cfg.min_area_px, max_area_px=cfg.max_area_px,
                           min_separation_px=cfg.min_separation_px, cluster_area_px=cfg.cluster_area_px,
                           cluster_min_peaks=cfg.cluster_min_peaks, cluster_pair_px=cfg.cluster_pair_px)
        height, width = gray.shape
        b = cfg.border_px
        blobs = blobs.select((blobs.x >= b) & (blobs.x <= width - 1 - b) & (blobs.y >= b) & (blobs.y <= height - 1 - b))
        features = np.empty((0, len(BLOB_FEATURES)))
        if self._models is not None or cfg.with_features:
            features = blob_features(blobs, noise=noise, bp=bp, dark_radius_px=cfg.dark_radius_px, width=width,
                                     height=height)
        return blobs, threshold, features

    def _detect_one(self, frame: np.ndarray, index: int) -> pd.DataFrame:
        cfg = self._active
        factor = pixel_scale(cfg.um_per_px)
        blobs, threshold, features = self._candidates(frame)
        if self._models is None:
            score = np.tanh(blobs.peak / (4.0 * threshold))
        else:
            score = self._models[cfg.polarity].score(features, self._area_reference)
        keep = score >= cfg.min_score
        blobs, score = blobs.select(keep), score[keep]
        pinhead = ~blobs.cluster & (blobs.area <= cfg.pinhead_max_area_px)
        class_id = np.where(blobs.cluster, 1, np.where(pinhead, 2, 0))
        if cfg.box_mode == "extent":
            w, h = blobs.bw * cfg.extent_scale, blobs.bh * cfg.extent_scale
        else:
            side = np.where(pinhead, cfg.pinhead_box_px, cfg.box_px)
            # a cluster's box spans its heads plus one head box (as VISEM's cluster labels do)
            w = np.where(blobs.cluster, np.maximum(blobs.bw - _HEAD_EXTENT_PX, 0) + cfg.box_px, side)
            h = np.where(blobs.cluster, np.maximum(blobs.bh - _HEAD_EXTENT_PX, 0) + cfg.box_px, side)
        order = np.lexsort((blobs.x, blobs.y))
        table = detections_table(index, blobs.x[order], blobs.y[order], w[order], h[order], score[order],
                                 class_id[order])
        if cfg.with_features:
            kept = features[keep][order]
            for k, name in enumerate(BLOB_FEATURES):
                table[f"f_{name}"] = kept[:, k] if len(table) else np.empty(0)
        return unscale(table, factor)
