"""Settings of the synthetic generator, the per-video draws, and the model constants calibrated on real data.

See :mod:`spermtrack.synth` for the model; the constants here are fitted to the real VISEM-Tracking
trajectories (``benchmarks/synth_vs_real.py`` prints the comparison).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spermtrack._validate import Config, number
from spermtrack.constants import GRADES, VISEM_UM_PER_PX, WHO_A_UM_S, WHO_B_UM_S
from spermtrack.errors import InputError

__all__ = ["GRADES", "SynthConfig", "VideoParams", "draw_video_params", "video_seed"]

# WHO 2021 thresholds the generated grades respect (true progression keeps a margin from both)
GRADE_A_UM_S = WHO_A_UM_S
GRADE_B_UM_S = WHO_B_UM_S


# ----------------------------------------------------------------------------- calibration constants
REFERENCE_UM_PER_PX = VISEM_UM_PER_PX  # box sizes and the like below are stated at this pixel size
DENSITY_LOG_MEAN = 2.693          # log of mean sperm per frame; fit to the 20 VISEM-Tracking videos
DENSITY_LOG_SD = 0.94
DENSITY_RANGE = (2.0, 65.0)
GRADE_MIX_MEAN = (0.07, 0.19, 0.33, 0.41)
GRADE_MIX_CONCENTRATION = 8.0
DRIFT_MEDIAN_UM_S = 0.1
DRIFT_LOG_SD = 1.4
DRIFT_MAX_UM_S = 4.0
BOX_MEAN_PX = 22.0                # at 0.351 um/px
BOX_VIDEO_SD_PX = 3.5
BOX_VIDEO_RANGE_PX = (15.0, 32.0)
BOX_TRACK_SD_PX = 3.0
BOX_AXIS_SD_PX = 2.5
BOX_FRAME_SD_PX = 1.3
BOX_H_OFFSET_PX = 0.7              # real boxes are 0.7 px less high than wide
PINHEAD_BOX_PX = 10.0

_PATH_PROBS = {"a": (0.55, 0.35, 0.10), "b": (0.40, 0.40, 0.20)}     # straight, curved, circle
_BEAT_HZ = {"a": (10.0, 22.0), "b": (5.0, 14.0), "c": (4.0, 12.0), "pin": (5.0, 15.0)}
_ALH_UM = {"a": (1.0, 2.5), "b": (0.5, 1.5), "c": (0.3, 1.0), "pin": (0.4, 1.0)}
_YAW_RAD = {"a": (0.15, 0.35), "b": (0.15, 0.35), "c": (0.2, 0.5), "pin": (0.15, 0.35)}
_FOCUS_EXIT_FACTOR = {"a": 1.0, "b": 1.0, "c": 0.3, "d": 0.1}
_D_TRANS_UM2_S = {"d": 0.1, "cluster": 0.02, "debris": 0.05}
_D_ROT_RAD2_S = {"d": 0.003, "c": 0.15}
_CURVED_KAPPA = (1 / 250, 1 / 80)        # 1/um
_KAPPA_CORR_UM = 40.0
_ARC_DS_UM = 1.0
_FADE_S = 0.12
_TINTS_BGR = np.array([[240, 255, 215], [230, 255, 200], [255, 225, 240], [250, 250, 235], [255, 240, 215],
                       [255, 215, 225]], dtype=np.float64)
_STREAMS = {"params": 0, "sperm": 1, "clusters": 2, "pinheads": 3, "debris": 4, "ids": 5, "boxes": 6,
            "focus": 7, "drift": 8, "render": 9, "look": 10, "counts": 11}
_KIND_SPERM, _KIND_CLUSTER, _KIND_PINHEAD = 0, 1, 2
_PATHS = ("straight", "curved", "circle")
@dataclass(frozen=True)
class SynthConfig(Config):
    """Settings of the synthetic generator; validated on construction.

    Parameters
    ----------
    seconds : float
        Clip length in s (> 0). ``n_frames = round(seconds * fps)`` must be >= 1.
    fps : float
        Frame rate in Hz (VISEM-Tracking: 43-50); also the mp4 container rate.
    width, height : int
        Frame size in px (>= 16).
    um_per_px : float
        Pixel size in um (VISEM community value 0.351). Physical sizes (heads, tails, boxes) scale with it.
    density : float or None
        Expected number of labelled sperm (class 0) per frame; ``None`` draws it per video from the real
        VISEM-Tracking range (log-normal, median 14.8, 2-65).
    grade_mix : tuple of 4 floats or None
        Fractions of grades a, b, c, d among the sperm in focus in a frame (a snapshot, as counted
        in the lab); must sum to 1. ``None`` draws a mixture per video (Dirichlet, mean 7/19/33/41 %).
    drift_um_s : float or None
        Speed of the common fluid drift in um/s; ``None`` draws it per video (median 0.1, <= 4).
    cluster_rate, pinhead_rate : float
        Expected fraction of all labelled boxes that are clusters (class 1) / pinheads (class 2).
    debris_per_mpx : float
        Unlabelled debris dots per megapixel of field (real VISEM frame: about 1100 dark dots).
    focus_exit_per_s : float
        Hazard (1/s) of a progressive sperm leaving the focal plane (c: 0.3x, d: 0.1x); 0 disables.
    focus_return_s : float
        Mean time (s) a cell stays out of focus.
    reid_gap_s : float
        A body that re-appears within this many seconds keeps its track id (a gap); later it is a new track.
    box_px : float or None
        Mean annotation box side in px; ``None`` draws an annotator style per video (N(22, 3.5) px at
        0.351 um/px, scaled by ``0.351 / um_per_px``).
    noise_sd : float
        Sensor noise, grey levels (sd per channel).
    blur_px : float
        Optical blur, Gaussian sigma in px (0 = none).
    illumination : float
        Relative amplitude of the smooth uneven illumination (0 = flat).
    polarity : {'phase', 'bright'}
        ``'phase'``: phase contrast like VISEM (bright heads, dark tails, dark background);
        ``'bright'``: bright field (dark cells on a light background).
    jpeg_quality : int
        Quality of the written jpg frames (1-100).
    write_images : bool
        Write ``images/<id>_frame_<n>.jpg`` beside the mp4.
    """

    seconds: float = 10.0
    fps: float = 50.0
    width: int = 640
    height: int = 480
    um_per_px: float = VISEM_UM_PER_PX
    density: float | None = None
    grade_mix: tuple[float, float, float, float] | None = None
    drift_um_s: float | None = None
    cluster_rate: float = 0.033
    pinhead_rate: float = 0.034
    debris_per_mpx: float = 1200.0
    focus_exit_per_s: float = 0.04
    focus_return_s: float = 2.0
    reid_gap_s: float = 0.5
    box_px: float | None = None
    noise_sd: float = 2.0
    blur_px: float = 0.9
    illumination: float = 0.07
    polarity: str = "phase"
    jpeg_quality: int = 92
    write_images: bool = True

    def __post_init__(self) -> None:
        self._number("seconds", lo=0, lo_open=True, hi=3600)
        self._number("fps", lo=0, lo_open=True, hi=1000)
        self._integer("width", lo=16, hi=8192)
        self._integer("height", lo=16, hi=8192)
        self._number("um_per_px", lo=0, lo_open=True, hi=100)
        self._optional_number("density", lo=0, hi=2000)
        self._optional_number("drift_um_s", lo=0, hi=1000)
        self._optional_number("box_px", lo=1, hi=500)
        if self._number("cluster_rate", lo=0, hi=0.5) + self._number("pinhead_rate", lo=0, hi=0.5) >= 0.9:
            raise self._fail("cluster_rate", f"< 0.9 - pinhead_rate ({self.pinhead_rate})")
        self._number("debris_per_mpx", lo=0, hi=1e5)
        self._number("focus_exit_per_s", lo=0, hi=100)
        self._number("focus_return_s", lo=0, lo_open=True, hi=1e4)
        self._number("reid_gap_s", lo=0, hi=1e4)
        self._number("noise_sd", lo=0, hi=100)
        self._number("blur_px", lo=0, hi=20)
        self._number("illumination", lo=0, hi=0.9)
        self._integer("jpeg_quality", lo=1, hi=100)
        self._choice("polarity", ("phase", "bright"))
        self._boolean("write_images")
        if self.grade_mix is not None:
            mix = self.grade_mix
            if isinstance(mix, (str, bytes)) or not isinstance(mix, Sequence) or len(mix) != 4:
                raise self._fail("grade_mix", "4 fractions (a, b, c, d)")
            vals = [number("SynthConfig", "grade_mix", v, lo=0, hi=1) for v in mix]
            if abs(sum(vals) - 1.0) > 1e-3:
                raise self._fail("grade_mix", f"fractions that sum to 1 (they sum to {sum(vals):.4g})")
            self._set("grade_mix", tuple(v / sum(vals) for v in vals))
        if self.n_frames < 1:
            raise self._fail("seconds", f"long enough for one frame at {self.fps:g} fps")

    @property
    def n_frames(self) -> int:
        """Number of frames, ``round(seconds * fps)``."""
        return int(round(self.seconds * self.fps))



@dataclass(frozen=True)
class VideoParams:
    """Per-video draws (or the config's fixed values).

    Attributes
    ----------
    density : float
        Expected labelled sperm per frame.
    grade_mix : tuple of 4 floats
        a, b, c, d fractions of in-focus sperm in a frame.
    drift_um_s : float
        Mean speed of the common drift, um/s.
    drift_angle_rad : float
        Mean drift direction (image axes: x right, y down), rad.
    box_px : float
        Mean annotation box side of this video's "annotator", px.
    """

    density: float
    grade_mix: tuple[float, float, float, float]
    drift_um_s: float
    drift_angle_rad: float
    box_px: float


def draw_video_params(config: SynthConfig, rng: np.random.Generator) -> VideoParams:
    """Draw the per-video parameters that the config leaves open (``None``), from the real data's ranges.

    Parameters
    ----------
    config : SynthConfig
    rng : numpy.random.Generator

    Returns
    -------
    VideoParams
        ``density``: log-normal(DENSITY_LOG_MEAN, DENSITY_LOG_SD) clipped to DENSITY_RANGE;
        ``grade_mix``: Dirichlet(GRADE_MIX_CONCENTRATION * GRADE_MIX_MEAN);
        ``drift_um_s``: log-normal(log DRIFT_MEDIAN_UM_S, DRIFT_LOG_SD) clipped to <= DRIFT_MAX_UM_S;
        ``box_px``: N(BOX_MEAN_PX, BOX_VIDEO_SD_PX) clipped to BOX_VIDEO_RANGE_PX, times 0.351/um_per_px.
        Every draw is made whether or not it is used, so fixing one knob does not change the others.
    """
    density = float(np.clip(np.exp(rng.normal(DENSITY_LOG_MEAN, DENSITY_LOG_SD)), *DENSITY_RANGE))
    mix = rng.dirichlet(GRADE_MIX_CONCENTRATION * np.asarray(GRADE_MIX_MEAN))
    drift = float(min(np.exp(rng.normal(math.log(DRIFT_MEDIAN_UM_S), DRIFT_LOG_SD)), DRIFT_MAX_UM_S))
    angle = float(rng.uniform(-math.pi, math.pi))
    box = float(np.clip(rng.normal(BOX_MEAN_PX, BOX_VIDEO_SD_PX), *BOX_VIDEO_RANGE_PX))
    box *= REFERENCE_UM_PER_PX / config.um_per_px
    return VideoParams(
        density=float(config.density) if config.density is not None else density,
        grade_mix=tuple(float(v) for v in (config.grade_mix if config.grade_mix is not None else mix)),
        drift_um_s=float(config.drift_um_s) if config.drift_um_s is not None else drift,
        drift_angle_rad=angle,
        box_px=float(config.box_px) if config.box_px is not None else box,
    )


def video_seed(seed: int, index: int) -> int:
    """Seed of video ``index`` (0-based) of a data set generated with ``seed``.

    ``write_synthetic_dataset(..., seed=s)`` writes, as video ``i + 1``,
    ``simulate_video(config, seed=video_seed(s, i), video_id=str(i + 1))``.
    """
    _check_seed(seed)
    return int(np.random.SeedSequence(seed, spawn_key=(1000 + int(index),)).generate_state(1)[0])


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS[stream],)))

