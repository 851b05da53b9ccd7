"""Synthetic VISEM-Tracking: sperm videos with exact ground truth, in the data set's own layout.

Three layers, kept apart:

physics (:func:`simulate_video`, pure, no pixels)
    every object's exact sub-pixel head position in every frame, its grade and its true kinematics;
rendering (:func:`render_frames`, pure, streaming)
    phase-contrast-looking BGR frames drawn from the physics;
files (:func:`write_synthetic_dataset`)
    the exact VISEM-Tracking folder layout (mp4, jpg frames, ``labels``, ``labels_ftid``) plus the
    truth tables and a ``semen_analysis_data_Train.csv`` in VISEM's own CSV dialect.

Model
-----
Units: positions in um internally, px in the tables (``um_per_px`` converts); time in s; ``dt = 1/fps``.

*Field and population.* The camera sees a ``width x height`` px window of a larger torus (the window
plus a margin longer than a tail on every side). Objects are placed uniformly on the torus and move
for the whole clip; leaving the torus on one side re-enters on the other, always out of view. Uniform
motion on a torus keeps the density uniform and constant, so sperm enter and leave through the
window's borders at the steady-state rate for any speed, drift or path shape (the equivalent of a
Poisson birth process at the borders plus an initial population). The placement at frame 0 is
stratified (each grade gets its exact share of the window, rounded systematically), so a video's
mean count matches ``density`` closely. A track is one visit of a body to the window; it ends where
the head centre leaves the frame (labelling starts again only once the average path is clearly
inside, so a wobbling head does not flicker at the border). Motile cells also leave and re-enter the
focal plane (a two-state telegraph process; exit hazard ``focus_exit_per_s`` for progressive cells,
0.3x for grade c, 0.1x for grade d, mean time out ``focus_return_s``): they fade out and in over
about 0.12 s and are labelled only while in focus, so tracks also start and end inside the field
(real VISEM: 21 % of track starts and 24 % of ends are away from the border). A body that comes
back into view within ``reid_gap_s`` keeps its track id (an annotator would re-identify it): that is
the only source of gaps.

*Grades and paths (WHO 2021).* Each sperm gets a grade from the video's a/b/c/d mixture; the
mixture is the fraction of in-focus sperm in any one frame (what a technician counting a field
sees; fast cells cross the field and so make more tracks per cell than slow ones). Net progression
is the mean over all 1-s windows of the head's net displacement / 1 s, with the common drift
removed. Targets keep a margin from the thresholds (25 and 5 um/s):

- a: target progression 27.5 + Gamma(shape 1.2, scale 3) um/s (median about 30, capped at 70;
  real tracks >= 25 um/s: median 28.7, max 51), beat 10-22 Hz, ALH 1.0-2.5 um; average path
  straight 55 %, gently curved 35 %, large circle 10 %.
- b: target progression uniform 7-22 um/s (real tracks within 5-25: median 14.6, quartiles
  10.7/18.8), beat 5-14 Hz, ALH 0.5-1.5 um; straight 40 %, curved 40 %, circle 20 %.
- c: beats in place: the average path wanders at 0.2-2.2 um/s (heading diffusion 0.15 rad^2/s),
  beat 4-12 Hz, ALH 0.3-1.0 um; net progression stays below about 3 um/s.
- d: immotile, no beat: translational Brownian motion (D = 0.1 um^2/s, about 0.6 um/s net over 1 s)
  and slow rotational diffusion.

Measured over 7,300 sperm in 150 random configurations (fps 5-120, 0.3-6 s, 0.2-0.7 um/px), the true
progression of grade a lies in 27.4-57, b in 7.0-22.1, c below 2.6 and d below 1.4 um/s.

The average path of a and b cells is parametrised by arclength: heading = integral of a curvature
``kappa(s) = kappa0 + sd * OU(s)`` (correlation length 40 um; ``kappa0 = 0`` straight, 1/250-1/80
per um curved, 1/R circle). Its speed is solved (bisection) so that the mean 1-s chord of the
average path equals the target. The head oscillates about the average path along the path normal,
``A(t) sin(phi(t))`` with ``phi = 2 pi f t + jitter`` (``f`` below 0.4 fps, so it never aliases) and a
slowly modulated amplitude; the head orientation is the path heading plus a yaw in phase with the
beat; the tail is a travelling wave (amplitude 4-9 um at the tip, wavelength 45-80 um, length
45-55 um, plus a static bend) drawn behind the head along the path heading.

*Other objects.* Clusters (class 1): 2-5 heads stuck together head to head, tails radiating and
beating weakly; Brownian (0.02 um^2/s) with slow rotation; box = spread of the heads + one head box.
Pinheads (class 2): a tiny head on a shorter tail, half immotile, half slowly swimming (2-12 um/s);
box about 10 x 10 px. Expected per-frame counts are ``density * rate / (1 - cluster_rate -
pinhead_rate)`` (VISEM: 3.3 % and 3.4 % of all boxes are clusters and pinheads). Debris: unlabelled
dark dots 1.6-5.6 px wide, some with a bright rim or a reddish tint; 80 % float (drift + Brownian),
20 % are stuck to the glass and do not drift.

*Drift.* A common fluid velocity per video, ``U (1 + 0.25 OU) (cos psi, sin psi)`` with
``psi = psi0 + 0.2 OU`` rad (OU time scale 5 s), added to every cell and floating debris.

*Annotation boxes.* Centred on the exact head position. Side = video style ``N(22, 3.5)`` px
(clipped to 15-32; real per-video means 17-30) + track ``N(0, 3)`` + per-axis ``N(0, 2.5)`` (height
0.7 px smaller) + a slow per-frame variation ``OU(sd 1.3 px, 1 s)``: real boxes are 22.0 +/- 5.3 (w)
and 21.3 +/- 5.1 (h) px, w-h correlation 0.77, within-track sd 1.3 px. Sizes scale with
``0.351 / um_per_px``. A label box is clipped to the frame like an annotator's; the truth table keeps
the exact centre and the unclipped size.

Calibration against the real data (``benchmarks/synth_vs_real.py`` prints the side-by-side table)
----------------------------------------------------------------------------------------------
- density (mean sperm per frame, when ``density=None``): log-normal, median 14.8, log-sd 0.94,
  clipped to 2-65: the fit to the 20 annotated VISEM-Tracking videos (2.2-62.3, median 17).
- grade mix (``grade_mix=None``): Dirichlet with mean a/b/c/d = 7/19/33/41 % and concentration 8,
  so progressive (a+b) is 26 +/- 15 %, non-progressive 33 +/- 16 %, immotile 41 +/- 16 % per video:
  the lab values of the 16 training participants are 28 +/- 16, 32 +/- 10 and 40 +/- 19 % (WHO 2010
  categories), and in the real tracks 5 % of track-frames have 1-s progression >= 25 um/s, 23 %
  5-25 um/s and 72 % < 5 um/s (per track 16 / 39 / 45 %), which the synthetic tracks reproduce
  (per track 14-15 / 38-45 / 40-47 %, per track-frame 4-5 / 18-24 / 71-77 % in three samples of
  32-64 videos).
- drift (``drift_um_s=None``): log-normal, median 0.1 um/s, log-sd 1.4, at most 4 um/s. On the real
  videos a robust estimate (the median over tracks of the 1-s displacement, median over time) is
  0-0.3 um/s in 13 of 16 videos and 0.8 and 1.8 um/s in two; the per-frame mean displacement of all
  tracks (0-3.0 um/s, median 0.6) is dominated by the motile cells of sparse videos and reads about
  1.4 um/s on synthetic videos with no drift at all.
- look: a dark grey (BGR about 61/56/53 before the cells add light), slightly blue background with
  mild uneven illumination and a faint texture; bright saturated heads 6-9 px with a glow and a cyan,
  green, pink, lavender or white tint; thin dark tails, darkest at the midpiece and fading towards
  the tip (the physical pixel size makes a 50-um tail 140 px long, but in real phase-contrast frames
  its distal part is hardly visible); 1200 debris dots per megapixel (real frame: about 1100);
  sensor noise of 2 grey levels; 0.9 px optical blur; jpg quality 92.

Conventions: ALH is half the peak-to-peak lateral head displacement about the average path
(OpenCASA reports twice this). ``bcf_hz`` counts crossings of the exact head path over the average
path per second (about 2 x beat frequency for a sine).
"""

from __future__ import annotations

import gzip
import math
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from spermtrack.errors import InputError
from spermtrack.io.atomic import atomic_path, write_json
from spermtrack.io.visem import label_lines
from spermtrack.schema import Recording, validate_ground_truth

__all__ = [
    "GRADES", "SynthConfig", "VideoParams", "SyntheticVideo", "Trajectories", "draw_video_params", "video_seed",
    "simulate_video", "render_frames", "label_lines", "semen_analysis_table", "write_synthetic_video",
    "write_synthetic_dataset", "net_progression",
]

GRADES: tuple[str, ...] = ("a", "b", "c", "d")
GRADE_A_UM_S = 25.0      #: WHO 2021: rapidly progressive when net progression >= 25 um in 1 s
GRADE_B_UM_S = 5.0       #: WHO 2021: slowly progressive when 5 <= net progression < 25 um in 1 s

# ----------------------------------------------------------------------------- calibration constants
REFERENCE_UM_PER_PX = 0.351
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
SEMEN_COLUMNS: tuple[str, ...] = (
    "ID", "Progressive motility (%)", "Non progressive sperm motility (%)", "Immotile sperm (%)", "Grade a (%)",
    "Grade b (%)", "Grade c (%)", "Grade d (%)", "Sperm concentration (x10⁶/mL)")


# ============================================================================ configuration
def _bad(name: str, what: str, value: object) -> InputError:
    return InputError(f"SynthConfig.{name} {what}, got {value!r}")


def _number(name: str, value: object, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(name, "must be a number", value)
    if integer and not float(value).is_integer():
        raise _bad(name, "must be an integer", value)
    v = float(value)
    if not math.isfinite(v):
        raise _bad(name, "must be finite", value)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise _bad(name, f"must be {'>' if lo_open else '>='} {lo:g}", value)
    if hi is not None and v > hi:
        raise _bad(name, f"must be <= {hi:g}", value)
    return v


@dataclass(frozen=True)
class SynthConfig:
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
    um_per_px: float = 0.351
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
        _number("seconds", self.seconds, lo=0, lo_open=True, hi=3600)
        _number("fps", self.fps, lo=0, lo_open=True, hi=1000)
        for name in ("width", "height"):
            value = _number(name, getattr(self, name), lo=16, hi=8192, integer=True)
            object.__setattr__(self, name, int(value))
        _number("um_per_px", self.um_per_px, lo=0, lo_open=True, hi=100)
        if self.density is not None:
            _number("density", self.density, lo=0, hi=2000)
        if self.drift_um_s is not None:
            _number("drift_um_s", self.drift_um_s, lo=0, hi=1000)
        if self.box_px is not None:
            _number("box_px", self.box_px, lo=1, hi=500)
        cr = _number("cluster_rate", self.cluster_rate, lo=0, hi=0.5)
        pr = _number("pinhead_rate", self.pinhead_rate, lo=0, hi=0.5)
        if cr + pr >= 0.9:
            raise _bad("cluster_rate", "plus pinhead_rate must be < 0.9", (cr, pr))
        _number("debris_per_mpx", self.debris_per_mpx, lo=0, hi=1e5)
        _number("focus_exit_per_s", self.focus_exit_per_s, lo=0, hi=100)
        _number("focus_return_s", self.focus_return_s, lo=0, lo_open=True, hi=1e4)
        _number("reid_gap_s", self.reid_gap_s, lo=0, hi=1e4)
        _number("noise_sd", self.noise_sd, lo=0, hi=100)
        _number("blur_px", self.blur_px, lo=0, hi=20)
        _number("illumination", self.illumination, lo=0, hi=0.9)
        object.__setattr__(self, "jpeg_quality", int(_number("jpeg_quality", self.jpeg_quality, lo=1, hi=100,
                                                             integer=True)))
        if self.polarity not in ("phase", "bright"):
            raise _bad("polarity", "must be 'phase' or 'bright'", self.polarity)
        if not isinstance(self.write_images, (bool, np.bool_)):
            raise _bad("write_images", "must be True or False", self.write_images)
        if self.grade_mix is not None:
            mix = self.grade_mix
            if isinstance(mix, (str, bytes)) or not isinstance(mix, Sequence) or len(mix) != 4:
                raise _bad("grade_mix", "must be 4 fractions (a, b, c, d)", mix)
            vals = [_number(f"grade_mix[{i}]", v, lo=0, hi=1) for i, v in enumerate(mix)]
            if abs(sum(vals) - 1.0) > 1e-3:
                raise _bad("grade_mix", f"must sum to 1 (sums to {sum(vals):.4g})", mix)
            total = sum(vals)
            object.__setattr__(self, "grade_mix", tuple(v / total for v in vals))
        if self.n_frames < 1:
            raise _bad("seconds", f"times fps must give at least one frame (fps={self.fps!r})", self.seconds)

    @property
    def n_frames(self) -> int:
        """Number of frames, ``round(seconds * fps)``."""
        return int(round(self.seconds * self.fps))

    def to_dict(self) -> dict:
        """Plain-dict form, for JSON provenance."""
        out = asdict(self)
        out["grade_mix"] = None if self.grade_mix is None else list(self.grade_mix)
        return out


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


# ============================================================================ results
@dataclass(frozen=True)
class Trajectories:
    """Full simulated state of every body, including frames where it is out of view (for rendering).

    Sim index ``k`` is frame ``k - pad``; ``pad`` frames before frame 0 and after the last frame let
    the kinematics of tracks shorter than 2 s be computed over 2 s. Positions are unwrapped px in image axes
    (wrap onto the torus with :meth:`wrap`). Per-body arrays have shape ``(n_bodies, n_sim)``.

    Attributes
    ----------
    pad, window : int
        Padding frames and 1-s window length ``max(1, round(fps))`` in frames.
    margin_px : float
        Torus margin around the frame, px.
    pos_px, avg_px : ndarray (n, n_sim, 2)
        Exact head position and average-path position (observed, i.e. with drift), px.
    own_um : ndarray (n, n_sim, 2)
        Exact head displacement from its start without the drift (the cell's own motion), um.
    lateral_um : ndarray (n, n_sim)
        Signed lateral head offset from the average path, um.
    axis, head_angle, phase : ndarray (n, n_sim)
        Tail axis angle, head orientation (rad, image axes) and beat phase (rad).
    alpha : ndarray (n, n_sim)
        Focus (1 in focus, 0 out); labelled only when >= 0.5.
    box_w, box_h : ndarray (n, n_sim)
        Annotation box size, px.
    drift_px : ndarray (n_sim, 2)
        Common drift displacement since frame 0, px.
    static : dict of ndarray
        Per-body constants (kind, grade, path, tail and head geometry, beat, ...).
    members : list of dict
        Per cluster: ``offset`` (m, 2) px of its heads in the cluster frame, ``angle`` (m,) head directions,
        ``beat_hz`` (m,) and ``phase0`` (m,) of their tails.
    debris_px : ndarray (k, n_sim, 2)
        Debris positions (float32, unwrapped px); ``debris`` holds their radius, depth, tint and rim.
    """

    pad: int
    window: int
    margin_px: float
    pos_px: np.ndarray
    avg_px: np.ndarray
    own_um: np.ndarray
    lateral_um: np.ndarray
    axis: np.ndarray
    head_angle: np.ndarray
    phase: np.ndarray
    alpha: np.ndarray
    box_w: np.ndarray
    box_h: np.ndarray
    drift_px: np.ndarray
    static: dict
    members: list
    debris_px: np.ndarray
    debris: dict

    def wrap(self, xy: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map unwrapped px positions onto the torus ``[-margin, size + margin)`` around the frame."""
        m = self.margin_px
        size = np.array([width + 2 * m, height + 2 * m])
        return np.mod(xy + m, size) - m


@dataclass(frozen=True)
class SyntheticVideo:
    """One simulated video: the truth tables and what is needed to render it.

    Attributes
    ----------
    video_id : str
    recording : Recording
        ``source="synthetic"``.
    truth : pandas.DataFrame
        One row per object per frame it is labelled in: ``frame, track_id, gt_id, class_id, x, y, w, h,
        score, x_um, y_um, interpolated`` plus ``x_avg, y_avg`` (average path, px) and ``angle`` (head
        orientation, rad). ``x, y`` are the exact head centre (px, with drift); ``w, h`` the unclipped
        annotation box; ``score`` 1.0; ``interpolated`` False.
    objects : pandas.DataFrame
        One row per track: ``track_id, gt_id, class_id, grade, path, first_frame, last_frame, n_frames,
        n_gaps, progression_um_s, progression_obs_um_s, vcl_um_s, vsl_um_s, vap_um_s, beat_hz, bcf_hz,
        alh_um, radius_um, body``; see :func:`simulate_video`.
    config : SynthConfig
    seed : int
    params : VideoParams
        The per-video draws.
    paths : Trajectories
        Full state for :func:`render_frames`.
    """

    video_id: str
    recording: Recording
    truth: pd.DataFrame
    objects: pd.DataFrame
    config: SynthConfig
    seed: int
    params: VideoParams | None = None
    paths: Trajectories | None = field(default=None, repr=False, compare=False)


# ============================================================================ physics helpers
def _ou(rng: np.random.Generator, n: int, steps: int, *, dt: float, tau: float, sd: float | np.ndarray = 1.0
        ) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck series, exact discretisation: ``x' = e x + sd sqrt(1 - e^2) N(0, 1)``.

    Returns an ``(n, steps)`` array with marginal sd ``sd`` (scalar or per-row) and correlation
    ``exp(-lag dt / tau)``.
    """
    w = rng.standard_normal((n, steps))
    if n == 0 or steps == 0:
        return w
    e = math.exp(-dt / tau)
    x0 = w[:, 0]
    if steps == 1:
        out = x0[:, None].copy()
    else:
        y, _ = lfilter([math.sqrt(1 - e * e)], [1.0, -e], w[:, 1:], axis=1, zi=(e * x0)[:, None])
        out = np.concatenate([x0[:, None], y], axis=1)
    return out * np.asarray(sd, dtype=np.float64).reshape(-1, 1) if np.ndim(sd) else out * sd


def _brownian(rng: np.random.Generator, n: int, steps: int, *, dt: float, d: float, dims: int = 2) -> np.ndarray:
    """Brownian displacement from 0, ``(n, steps, dims)``; per-axis step sd ``sqrt(2 D dt)``."""
    steps_ = rng.standard_normal((n, steps, dims)) * math.sqrt(2 * d * dt)
    steps_[:, 0] = 0.0
    return np.cumsum(steps_, axis=1)


def _rotational(rng: np.random.Generator, n: int, steps: int, *, dt: float, d: float) -> np.ndarray:
    """Angle random walk from 0, ``(n, steps)``; step sd ``sqrt(2 D_r dt)``."""
    return _brownian(rng, n, steps, dt=dt, d=d, dims=1)[..., 0]


def _window_frames(fps: float) -> int:
    return max(1, int(round(fps)))


def net_progression(xy_um: np.ndarray, window: int, fps: float) -> np.ndarray:
    """Mean net progression over all sliding 1-s windows, um/s.

    ``P = mean_i |p_{i+W} - p_i| / (W / fps)`` with ``W = window`` frames (``round(fps)``).

    Parameters
    ----------
    xy_um : ndarray (..., n, 2)
        Positions in um at consecutive frames (needs ``n > window``).
    window : int
        Window length in frames.
    fps : float

    Returns
    -------
    ndarray (...)
        NaN where there is no full window.
    """
    xy = np.asarray(xy_um, dtype=np.float64)
    if xy.shape[-2] <= window:
        return np.full(xy.shape[:-2], np.nan)
    d = np.linalg.norm(xy[..., window:, :] - xy[..., :-window, :], axis=-1)
    return d.mean(axis=-1) / (window / fps)


def _arc_paths(rng: np.random.Generator, kappa0: np.ndarray, kappa_sd: np.ndarray, length_um: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth planar curves parametrised by arclength on a grid of ``_ARC_DS_UM``.

    Curvature ``kappa(s) = kappa0 + kappa_sd * OU(s; corr 40 um)``; heading ``theta(s) = theta0 +
    int kappa ds`` (theta0 uniform); position by the midpoint rule, starting at 0.

    Returns
    -------
    x, y, theta : ndarray (n, S)
    """
    n = len(kappa0)
    steps = int(math.ceil(length_um / _ARC_DS_UM)) + 2
    kappa = kappa0[:, None] + _ou(rng, n, steps, dt=_ARC_DS_UM, tau=_KAPPA_CORR_UM, sd=kappa_sd)
    theta0 = rng.uniform(-math.pi, math.pi, n)
    theta = theta0[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(kappa[:, 1:], axis=1) * _ARC_DS_UM],
                                             axis=1)
    mid = 0.5 * (theta[:, 1:] + theta[:, :-1])
    x = np.concatenate([np.zeros((n, 1)), np.cumsum(np.cos(mid), axis=1) * _ARC_DS_UM], axis=1)
    y = np.concatenate([np.zeros((n, 1)), np.cumsum(np.sin(mid), axis=1) * _ARC_DS_UM], axis=1)
    return x, y, theta


def _sample_arc(curves: tuple[np.ndarray, ...], s: np.ndarray) -> list[np.ndarray]:
    """Linear interpolation of per-row curves (n, S) at arclengths ``s`` (n, m)."""
    size = curves[0].shape[1]
    f = s / _ARC_DS_UM
    i0 = np.clip(np.floor(f).astype(np.int64), 0, size - 2)
    a = f - i0
    out = []
    for c in curves:
        c0 = np.take_along_axis(c, i0, axis=1)
        c1 = np.take_along_axis(c, i0 + 1, axis=1)
        out.append(c0 + a * (c1 - c0))
    return out


def _progressive_paths(rng: np.random.Generator, target: np.ndarray, path: np.ndarray, t: np.ndarray,
                       window: int, fps: float) -> dict:
    """Average paths whose mean 1-s chord equals ``target`` (um/s), by bisection on the speed.

    Parameters
    ----------
    target : ndarray (n,)
        Target net progression of the average path, um/s.
    path : ndarray (n,) of {'straight', 'curved', 'circle'}
    t : ndarray (n_sim,)
        Sim times, s.

    Returns
    -------
    dict
        ``avg`` (n, n_sim, 2) um from 0, ``heading`` (n, n_sim), ``speed`` (n,) um/s,
        ``radius`` (n,) um (NaN unless a circle).
    """
    n = len(target)
    n_sim = len(t)
    if n == 0:
        return {"avg": np.zeros((0, n_sim, 2)), "heading": np.zeros((0, n_sim)), "speed": np.zeros(0),
                "radius": np.zeros(0)}
    sign = rng.choice([-1.0, 1.0], n)
    kappa0 = np.zeros(n)
    kappa_sd = np.full(n, 0.003)
    radius = np.full(n, np.nan)
    curved = path == "curved"
    kappa0[curved] = rng.uniform(*_CURVED_KAPPA, curved.sum())
    circle = path == "circle"
    r_lo = np.maximum(target[circle] / 1.6, np.where(target[circle] >= GRADE_A_UM_S, 20.0, 8.0))
    radius[circle] = r_lo + rng.uniform(0.0, 30.0, circle.sum())
    kappa0[circle] = 1.0 / radius[circle]
    kappa_sd[circle] = 0.0005
    kappa0 *= sign
    lo = 0.5 * target
    hi = np.where(circle, np.minimum(3 * target, 0.95 * math.pi * np.nan_to_num(radius, nan=1e9)), 3 * target)
    hi = np.maximum(hi, lo + 1e-9)
    duration = float(t[-1] - t[0])
    curves = _arc_paths(rng, kappa0, kappa_sd, float(hi.max()) * duration + 4 * _ARC_DS_UM)
    tt = (t - t[0])[None, :]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        x, y = _sample_arc(curves[:2], mid[:, None] * tt)
        chord = net_progression(np.stack([x, y], axis=-1), window, fps)
        slow = chord < target
        lo = np.where(slow, mid, lo)
        hi = np.where(slow, hi, mid)
    speed = 0.5 * (lo + hi)
    x, y, th = _sample_arc(curves, speed[:, None] * tt)
    return {"avg": np.stack([x, y], axis=-1), "heading": th, "speed": speed, "radius": radius}


def _wander_paths(rng: np.random.Generator, speed: np.ndarray, t: np.ndarray, *, d_rot: float) -> dict:
    """Slow wandering average paths (grade c): constant speed, heading random walk ``D_r``."""
    n, n_sim = len(speed), len(t)
    dt = float(t[1] - t[0]) if n_sim > 1 else 1.0
    heading = rng.uniform(-math.pi, math.pi, n)[:, None] + _rotational(rng, n, n_sim, dt=dt, d=d_rot)
    v = speed[:, None] * dt
    steps = np.stack([v * np.cos(heading), v * np.sin(heading)], axis=-1)
    steps[:, 0] = 0.0
    return {"avg": np.cumsum(steps, axis=1), "heading": heading}


def _beat(rng: np.random.Generator, n: int, t: np.ndarray, fps: float, *, hz: tuple[float, float],
          alh: tuple[float, float], yaw: tuple[float, float]) -> dict:
    """Beat frequency (< 0.4 fps), phase with jitter, ALH (half peak-to-peak, um) with slow modulation."""
    n_sim = len(t)
    dt = 1.0 / fps
    f_max = 0.4 * fps
    f = np.minimum(rng.uniform(*hz, n), f_max)
    amp = rng.uniform(*alh, n)
    yaw_amp = rng.uniform(*yaw, n)
    phase = (2 * math.pi * f[:, None] * t[None, :] + rng.uniform(0, 2 * math.pi, n)[:, None]
             + _ou(rng, n, n_sim, dt=dt, tau=0.2, sd=0.2))
    amp_t = amp[:, None] * np.clip(1 + _ou(rng, n, n_sim, dt=dt, tau=0.5, sd=0.15), 0.3, None)
    return {"beat_hz": f, "alh_um": amp, "phase": phase, "lateral": amp_t * np.sin(phase),
            "yaw": yaw_amp[:, None] * np.cos(phase)}


def _tail_params(rng: np.random.Generator, n: int, *, length: tuple[float, float], wave: tuple[float, float],
                 bend_sd: float, gain: tuple[float, float]) -> dict:
    return {"tail_len_um": rng.uniform(*length, n), "wave_amp_um": rng.uniform(*wave, n),
            "wavelength_um": rng.uniform(45.0, 80.0, n), "bend_um": rng.normal(0.0, bend_sd, n),
            "tail_gain": rng.uniform(*gain, n)}


def _head_params(rng: np.random.Generator, n: int, *, length: tuple[float, float], width: tuple[float, float],
                 gain: tuple[float, float]) -> dict:
    tint = _TINTS_BGR[rng.integers(0, len(_TINTS_BGR), n)]
    return {"head_len_um": rng.uniform(*length, n), "head_wid_um": rng.uniform(*width, n),
            "head_gain": rng.uniform(*gain, n), "tint": tint}


def _sperm_group(rng: np.random.Generator, counts: dict[str, int], t: np.ndarray, fps: float, window: int) -> dict:
    """All class-0 bodies: grades, own motion (um, from 0), angles, beat and look parameters."""
    n_sim = len(t)
    dt = 1.0 / fps
    grade = np.concatenate([np.full(counts[g], g) for g in GRADES]).astype("<U1")
    n = len(grade)
    avg = np.zeros((n, n_sim, 2))
    lateral = np.zeros((n, n_sim))
    axis = np.zeros((n, n_sim))
    head = np.zeros((n, n_sim))
    phase = np.zeros((n, n_sim))
    path = np.full(n, "still", dtype="<U8")
    beat = np.zeros(n)
    alh = np.zeros(n)
    speed = np.zeros(n)
    radius = np.full(n, np.nan)
    # a and b: progressive average paths
    prog = np.flatnonzero((grade == "a") | (grade == "b"))
    if len(prog):
        ga = grade[prog] == "a"
        target = np.where(ga, 27.5 + np.minimum(rng.gamma(1.2, 3.0, len(prog)), 42.5),
                          rng.uniform(7.0, 22.0, len(prog)))
        u = rng.random(len(prog))
        kinds = np.empty(len(prog), dtype="<U8")
        for g in ("a", "b"):
            sel = grade[prog] == g
            cum = np.cumsum(_PATH_PROBS[g])
            kinds[sel] = np.array(_PATHS)[np.searchsorted(cum, u[sel] * cum[-1], side="right").clip(0, 2)]
        res = _progressive_paths(rng, target, kinds, t, window, fps)
        avg[prog] = res["avg"]
        axis[prog] = res["heading"]
        path[prog] = kinds
        speed[prog] = res["speed"]
        radius[prog] = res["radius"]
        for g in ("a", "b"):
            sel = prog[grade[prog] == g]
            if len(sel):
                b = _beat(rng, len(sel), t, fps, hz=_BEAT_HZ[g], alh=_ALH_UM[g], yaw=_YAW_RAD[g])
                lateral[sel], phase[sel], beat[sel], alh[sel] = b["lateral"], b["phase"], b["beat_hz"], b["alh_um"]
                head[sel] = axis[sel] + b["yaw"]
    # c: beats in place
    c = np.flatnonzero(grade == "c")
    if len(c):
        vc = rng.uniform(0.2, 2.2, len(c))
        res = _wander_paths(rng, vc, t, d_rot=_D_ROT_RAD2_S["c"])
        avg[c], axis[c], speed[c] = res["avg"], res["heading"], vc
        b = _beat(rng, len(c), t, fps, hz=_BEAT_HZ["c"], alh=_ALH_UM["c"], yaw=_YAW_RAD["c"])
        lateral[c], phase[c], beat[c], alh[c] = b["lateral"], b["phase"], b["beat_hz"], b["alh_um"]
        head[c] = axis[c] + b["yaw"]
    # d: immotile
    d = np.flatnonzero(grade == "d")
    if len(d):
        avg[d] = _brownian(rng, len(d), n_sim, dt=dt, d=_D_TRANS_UM2_S["d"])
        axis[d] = rng.uniform(-math.pi, math.pi, len(d))[:, None] + _rotational(rng, len(d), n_sim, dt=dt,
                                                                                 d=_D_ROT_RAD2_S["d"])
        head[d] = axis[d]
    normal = np.stack([-np.sin(axis), np.cos(axis)], axis=-1)
    own = avg + lateral[..., None] * normal
    tails = _tail_params(rng, n, length=(45.0, 55.0), wave=(5.0, 11.0), bend_sd=20.0, gain=(0.6, 1.0))
    tails["wave_amp_um"][grade == "d"] = 0.0
    tails["bend_um"][grade == "d"] *= 1.5
    heads = _head_params(rng, n, length=(2.0, 2.8), width=(1.4, 2.0), gain=(0.85, 1.0))
    return {"n": n, "kind": np.full(n, _KIND_SPERM), "grade": grade, "path": path, "own": own, "avg": avg,
            "lateral": lateral, "axis": axis, "head": head, "phase": phase, "beat_hz": beat, "alh_um": alh,
            "speed_um_s": speed, "radius_um": radius, **tails, **heads}


def _pinhead_group(rng: np.random.Generator, n: int, t: np.ndarray, fps: float, window: int) -> dict:
    """Class-2 bodies: tiny heads on shorter tails; half immotile, half swimming slowly (2-12 um/s)."""
    n_sim = len(t)
    dt = 1.0 / fps
    motile = rng.random(n) < 0.5
    avg = np.zeros((n, n_sim, 2))
    lateral = np.zeros((n, n_sim))
    axis = np.zeros((n, n_sim))
    head = np.zeros((n, n_sim))
    phase = np.zeros((n, n_sim))
    path = np.full(n, "still", dtype="<U8")
    beat = np.zeros(n)
    alh = np.zeros(n)
    speed = np.zeros(n)
    m = np.flatnonzero(motile)
    if len(m):
        kinds = np.where(rng.random(len(m)) < 0.5, "straight", "curved")
        res = _progressive_paths(rng, rng.uniform(2.0, 12.0, len(m)), kinds, t, window, fps)
        avg[m], axis[m], speed[m], path[m] = res["avg"], res["heading"], res["speed"], kinds
        b = _beat(rng, len(m), t, fps, hz=_BEAT_HZ["pin"], alh=_ALH_UM["pin"], yaw=_YAW_RAD["pin"])
        lateral[m], phase[m], beat[m], alh[m] = b["lateral"], b["phase"], b["beat_hz"], b["alh_um"]
        head[m] = axis[m] + b["yaw"]
    s = np.flatnonzero(~motile)
    if len(s):
        avg[s] = _brownian(rng, len(s), n_sim, dt=dt, d=_D_TRANS_UM2_S["d"])
        axis[s] = rng.uniform(-math.pi, math.pi, len(s))[:, None] + _rotational(rng, len(s), n_sim, dt=dt,
                                                                                 d=_D_ROT_RAD2_S["d"])
        head[s] = axis[s]
    normal = np.stack([-np.sin(axis), np.cos(axis)], axis=-1)
    own = avg + lateral[..., None] * normal
    tails = _tail_params(rng, n, length=(30.0, 45.0), wave=(2.0, 4.0), bend_sd=6.0, gain=(0.4, 0.8))
    tails["wave_amp_um"][~motile] = 0.0
    heads = _head_params(rng, n, length=(1.0, 1.4), width=(0.9, 1.2), gain=(0.6, 0.9))
    return {"n": n, "kind": np.full(n, _KIND_PINHEAD), "grade": np.full(n, "", dtype="<U1"), "path": path,
            "own": own, "avg": avg, "lateral": lateral, "axis": axis, "head": head, "phase": phase,
            "beat_hz": beat, "alh_um": alh, "speed_um_s": speed, "radius_um": np.full(n, np.nan),
            "motile": motile, **tails, **heads}


def _cluster_group(rng: np.random.Generator, n: int, t: np.ndarray, fps: float, um_per_px: float) -> dict:
    """Class-1 bodies: 2-5 heads stuck head to head, Brownian, slowly rotating; tails beat weakly."""
    n_sim = len(t)
    dt = 1.0 / fps
    own = _brownian(rng, n, n_sim, dt=dt, d=_D_TRANS_UM2_S["cluster"])
    omega = _ou(rng, n, n_sim, dt=dt, tau=2.0, sd=0.1)
    axis = rng.uniform(-math.pi, math.pi, n)[:, None] + np.cumsum(omega, axis=1) * dt
    members = []
    spread = np.zeros(n)
    for _ in range(n):
        k = int(min(2 + rng.poisson(1.0), 5))
        r = rng.uniform(0.6, 1.2 + 0.35 * k, k) / um_per_px
        ang = rng.uniform(-math.pi, math.pi, k)
        off = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=-1)
        off -= off.mean(axis=0)
        # heads point inwards (towards the centre), tails radiate outwards
        face = ang + math.pi + rng.normal(0, 0.3, k)
        members.append({"offset": off, "angle": face, "beat_hz": np.minimum(rng.uniform(3.0, 10.0, k), 0.4 * fps),
                        "phase0": rng.uniform(0, 2 * math.pi, k)})
        spread[len(members) - 1] = 2 * float(np.linalg.norm(off, axis=1).max())
    tails = _tail_params(rng, n, length=(45.0, 55.0), wave=(1.0, 3.0), bend_sd=8.0, gain=(0.5, 0.9))
    heads = _head_params(rng, n, length=(2.0, 2.8), width=(1.4, 2.0), gain=(0.8, 1.0))
    zeros = np.zeros((n, n_sim))
    return {"n": n, "kind": np.full(n, _KIND_CLUSTER), "grade": np.full(n, "", dtype="<U1"),
            "path": np.full(n, "still", dtype="<U8"), "own": own, "avg": own.copy(), "lateral": zeros,
            "axis": axis, "head": axis.copy(), "phase": zeros.copy(), "beat_hz": np.zeros(n), "alh_um": np.zeros(n),
            "speed_um_s": np.zeros(n), "radius_um": np.full(n, np.nan), "members": members, "spread_px": spread,
            **tails, **heads}


def _drift(rng: np.random.Generator, params: VideoParams, t: np.ndarray, fps: float, pad: int) -> np.ndarray:
    """Common drift displacement (n_sim, 2) in um, zero at frame 0.

    Velocity ``U (1 + 0.25 OU) (cos psi, sin psi)``, ``psi = psi0 + 0.2 OU`` (OU time scale 5 s).
    """
    n_sim = len(t)
    dt = 1.0 / fps
    ou = _ou(rng, 2, n_sim, dt=dt, tau=5.0)
    speed = params.drift_um_s * np.clip(1 + 0.25 * ou[0], 0, None)
    psi = params.drift_angle_rad + 0.2 * ou[1]
    vel = np.stack([speed * np.cos(psi), speed * np.sin(psi)], axis=-1) * dt
    disp = np.concatenate([np.zeros((1, 2)), np.cumsum(vel[:-1], axis=0)], axis=0)
    return disp - disp[pad]


def _focus(rng: np.random.Generator, exit_rate: np.ndarray, return_s: float, n_sim: int, fps: float
           ) -> np.ndarray:
    """Focus factor alpha (n, n_sim) in [0, 1] from a stationary two-state telegraph process.

    In-focus dwell ~ Exp(1/exit_rate), out-of-focus dwell ~ Exp(return_s); the 0/1 state is smoothed by
    a centred moving average of about ``_FADE_S`` so cells fade in and out.
    """
    n = len(exit_rate)
    state = np.ones((n, n_sim), dtype=np.float64)
    duration = n_sim / fps
    for i in range(n):
        rate = float(exit_rate[i])
        if rate <= 0:
            continue
        p_in = 1.0 / (1.0 + rate * return_s)
        inside = bool(rng.random() < p_in)
        now = 0.0
        while now < duration:
            dwell = rng.exponential(1.0 / rate if inside else return_s)
            if not inside:
                a, b = int(math.ceil(now * fps)), int(math.ceil(min(now + dwell, duration) * fps))
                state[i, a:b] = 0.0
            now += dwell
            inside = not inside
    r = max(1, int(round(_FADE_S * fps)) | 1)
    if r > 1 and n:
        padded = np.pad(state, ((0, 0), (r // 2, r // 2)), mode="edge")
        csum = np.concatenate([np.zeros((n, 1)), np.cumsum(padded, axis=1)], axis=1)
        state = (csum[:, r:] - csum[:, :-r]) / r
    return state


def _debris(rng: np.random.Generator, config: SynthConfig, world: tuple[float, float], margin: float,
            drift_px: np.ndarray, fps: float) -> tuple[np.ndarray, dict]:
    """Unlabelled debris: uniform on the torus; 80 % float (drift + Brownian), 20 % stuck to the glass."""
    area = world[0] * world[1]
    k = int(rng.poisson(config.debris_per_mpx * area / 1e6))
    n_sim = len(drift_px)
    start = np.stack([rng.uniform(-margin, world[0] - margin, k), rng.uniform(-margin, world[1] - margin, k)], -1)
    floating = rng.random(k) < 0.8
    brown = _brownian(rng, k, n_sim, dt=1.0 / fps, d=_D_TRANS_UM2_S["debris"]) / config.um_per_px
    pos = start[:, None, :] + floating[:, None, None] * (brown + drift_px[None])
    radius = np.exp(rng.uniform(math.log(0.8), math.log(2.8), k))
    depth = rng.uniform(15.0, 45.0, k) * np.clip(radius / 1.5, 0.6, 1.2)
    reddish = rng.random(k) < 0.2
    tint = np.where(reddish[:, None], np.array([1.15, 1.1, 0.6]), np.array([1.0, 1.0, 0.95]))
    rim = (rng.random(k) < 0.35) * rng.uniform(6.0, 18.0, k)
    return pos.astype(np.float32), {"radius": radius, "depth": depth, "tint": tint, "rim": rim}


def _systematic_round(expected: np.ndarray, u: float) -> np.ndarray:
    """Integers with the given expectations whose total is within 1 of the expected total.

    ``k_i = floor(C_i + u) - floor(C_{i-1} + u)`` with ``C`` the cumulative sum and one uniform ``u``
    (systematic sampling): each ``k_i`` is ``floor`` or ``ceil`` of its expectation.
    """
    c = np.concatenate([[0.0], np.cumsum(expected)])
    return np.diff(np.floor(c + u)).astype(np.int64)


def _place(rng: np.random.Generator, label: np.ndarray, width: int, height: int, margin: float) -> np.ndarray:
    """Uniform positions on the torus at frame 0, stratified so that the frame gets its exact share.

    Within each stratum (bodies with the same ``label``), ``n * A_frame / A_torus`` (rounded
    systematically across strata) bodies are placed uniformly in the frame and the rest uniformly in the margin ring. The
    marginal distribution is still uniform on the torus; only the count in view is no longer binomial,
    so a video's mean count matches the requested density closely.

    Returns
    -------
    ndarray (n, 2)
        Positions in px.
    """
    n = len(label)
    out = np.zeros((n, 2))
    world = (width + 2 * margin, height + 2 * margin)
    share = width * height / (world[0] * world[1])
    values = np.unique(label)
    sizes = np.array([np.count_nonzero(label == v) for v in values], dtype=np.float64)
    k_in = _systematic_round(sizes * share, rng.random())
    for value, k in zip(values, k_in):
        idx = np.flatnonzero(label == value)
        idx = idx[rng.permutation(len(idx))]
        k = int(k)
        inner, outer = idx[:k], idx[k:]
        out[inner] = np.stack([rng.uniform(0, width, k), rng.uniform(0, height, k)], axis=-1)
        todo = outer
        while len(todo):
            cand = np.stack([rng.uniform(-margin, world[0] - margin, len(todo)),
                             rng.uniform(-margin, world[1] - margin, len(todo))], axis=-1)
            ring = (cand[:, 0] < 0) | (cand[:, 0] >= width) | (cand[:, 1] < 0) | (cand[:, 1] >= height)
            out[todo[ring]] = cand[ring]
            todo = todo[~ring]
    return out


def _cuid(rng: np.random.Generator, n: int) -> list[str]:
    """LabelBox-like ids: ``'c'`` + 24 lowercase alphanumerics."""
    alphabet = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))
    chars = alphabet[rng.integers(0, 36, (n, 24))]
    return ["c" + "".join(row) for row in chars]


def _segments(visible: np.ndarray, epoch: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Split one body's visible frames into tracks: runs merge across gaps <= max_gap within one torus epoch.

    Returns
    -------
    list of (first_frame, last_frame)
    """
    idx = np.flatnonzero(visible)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero((np.diff(idx) > max_gap + 1) | (epoch[idx[1:]] != epoch[idx[:-1]]))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(idx) - 1]])
    return [(int(idx[s]), int(idx[e])) for s, e in zip(starts, ends)]


def _in_view(head: np.ndarray, avg: np.ndarray, lateral_px: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which bodies an annotator labels in which frame, ``(n, n_frames)`` bool, before the focus test.

    A body is labelled while its head centre is inside the frame. To stop a head that oscillates
    about its path from flickering in and out at the border, labelling (re)starts only once the
    average path is at least ``lateral_px + 1`` px inside (so the head is surely inside), except in
    frame 0 where everything inside is labelled.
    """
    inside = (head[..., 0] >= 0) & (head[..., 0] < width) & (head[..., 1] >= 0) & (head[..., 1] < height)
    edge = np.minimum(np.minimum(avg[..., 0], width - avg[..., 0]), np.minimum(avg[..., 1], height - avg[..., 1]))
    deep = edge >= lateral_px[:, None] + 1.0
    state = np.zeros_like(inside)
    if inside.shape[1]:
        state[:, 0] = inside[:, 0]
    for k in range(1, inside.shape[1]):
        state[:, k] = inside[:, k] & (state[:, k - 1] | deep[:, k])
    return state


def _kinematics(paths: Trajectories, body: int, first: int, last: int, fps: float, um_per_px: float) -> dict:
    """True kinematics of one track from exact positions (see :func:`simulate_video` for the formulas)."""
    w = paths.window
    a, b = first + paths.pad, last + paths.pad
    if b - a < 2 * w:     # shorter than 2 s: the 2-s span centred on the track, from the simulated path around it
        mid = (a + b) // 2
        a = max(0, mid - w)
        b = min(paths.pos_px.shape[1] - 1, a + 2 * w)
        a = max(0, b - 2 * w)
    own = paths.own_um[body, a:b + 1]
    obs = paths.pos_px[body, a:b + 1] * um_per_px
    avg = paths.avg_px[body, a:b + 1] * um_per_px - paths.drift_px[a:b + 1] * um_per_px
    span = (b - a) / fps
    step = np.linalg.norm(np.diff(own, axis=0), axis=1)
    lat = paths.lateral_um[body, a:b + 1]
    crossings = int(np.count_nonzero(np.signbit(lat[1:]) != np.signbit(lat[:-1]))) if np.any(lat) else 0
    return {
        "progression_um_s": float(net_progression(own, w, fps)),
        "progression_obs_um_s": float(net_progression(obs, w, fps)),
        "vcl_um_s": float(step.sum() / span),
        "vsl_um_s": float(np.linalg.norm(own[-1] - own[0]) / span),
        "vap_um_s": float(np.linalg.norm(np.diff(avg, axis=0), axis=1).sum() / span),
        "bcf_hz": crossings / span,
    }


# ============================================================================ simulation
def simulate_video(config: SynthConfig, *, seed: int, video_id: str = "1") -> SyntheticVideo:
    """Simulate one video: exact positions, grades and true kinematics of every object (no pixels, no I/O).

    Parameters
    ----------
    config : SynthConfig
    seed : int
        Non-negative; the same seed gives the same tables bit for bit.
    video_id : str
        Folder name and file prefix (VISEM uses numeric participant ids).

    Returns
    -------
    SyntheticVideo
        ``truth`` (validated with :func:`spermtrack.schema.validate_ground_truth`) and ``objects``,
        one row per track, with the true kinematics computed from the exact head positions over the
        track's span ``[first_frame, last_frame]`` (for a track shorter than 2 s: over the 2-s span
        centred on it, from the simulated path around it, so that at least W + 1 windows average the
        beat out; W = round(fps) frames, ``T`` the span in s):

        - ``progression_um_s``: mean over all W-frame windows of the net head displacement / (W/fps),
          the cell's own motion (common drift removed): the WHO 2021 grading quantity;
        - ``progression_obs_um_s``: the same with the drift, as a camera sees it;
        - ``vcl_um_s``: sum of frame-to-frame head steps / T (drift removed);
        - ``vsl_um_s``: first-to-last head distance / T (drift removed);
        - ``vap_um_s``: VCL of the average (smooth) path (drift removed);
        - ``beat_hz``: flagellar beat frequency (0 for immotile cells and clusters);
        - ``bcf_hz``: crossings of the head path over the average path per second (about 2 x beat_hz);
        - ``alh_um``: amplitude of lateral head displacement, half peak-to-peak (x2 for OpenCASA's convention);
        - ``grade``: a/b/c/d for sperm, '' for clusters and pinheads; ``path``: straight, curved, circle
          or still; ``radius_um``: circle radius (NaN otherwise); ``n_frames`` labelled frames;
          ``n_gaps``: unlabelled stretches inside the track; ``body``: index of the simulated body
          (a body that leaves and comes back later is a new track).

    Raises
    ------
    InputError
        Bad seed or video id.
    """
    if not isinstance(config, SynthConfig):
        raise InputError(f"config must be a SynthConfig, got {type(config).__name__}")
    seed = _check_seed(seed)
    if not isinstance(video_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", video_id):
        raise InputError(f"video_id must be a non-empty string of letters, digits, '_' or '-', got {video_id!r}")
    fps, um = float(config.fps), float(config.um_per_px)
    n_frames = config.n_frames
    window = _window_frames(fps)
    pad = window + 2
    n_sim = n_frames + 2 * pad
    t = (np.arange(n_sim) - pad) / fps
    params = draw_video_params(config, _rng(seed, "params"))
    width, height = config.width, config.height
    margin = math.ceil(55.0 / um + 0.75 * max(params.box_px, 12.0) + 8.0)
    world = (width + 2.0 * margin, height + 2.0 * margin)
    area_ratio = world[0] * world[1] / (width * height)

    # --- how many bodies of each kind live on the torus
    expected = [params.density * frac * area_ratio
                / (1.0 / (1.0 + config.focus_exit_per_s * _FOCUS_EXIT_FACTOR[g] * config.focus_return_s))
                for g, frac in zip(GRADES, params.grade_mix)]
    rng_counts = _rng(seed, "counts")
    counts = dict(zip(GRADES, _systematic_round(np.array(expected), rng_counts.random()).tolist()))
    others = params.density / (1.0 - config.cluster_rate - config.pinhead_rate)
    n_clusters = int(rng_counts.poisson(others * config.cluster_rate * area_ratio))
    p_in_pin = 1.0 / (1.0 + config.focus_exit_per_s * 0.55 * config.focus_return_s)   # half motile, half still
    n_pin = int(rng_counts.poisson(others * config.pinhead_rate * area_ratio / p_in_pin))

    groups = [
        _sperm_group(_rng(seed, "sperm"), counts, t, fps, window),
        _cluster_group(_rng(seed, "clusters"), n_clusters, t, fps, um),
        _pinhead_group(_rng(seed, "pinheads"), n_pin, t, fps, window),
    ]
    n = sum(g["n"] for g in groups)

    def cat(key: str, shape: tuple = ()) -> np.ndarray:
        parts = [np.asarray(g[key]) for g in groups if g["n"]]
        return np.concatenate(parts) if parts else np.zeros((0, *shape))

    kind = cat("kind").astype(np.int64)
    grade = cat("grade").astype("<U1") if n else np.zeros(0, dtype="<U1")
    own = cat("own", (n_sim, 2))
    avg = cat("avg", (n_sim, 2))

    # --- placement on the torus, drift, focus, boxes
    rng_place = _rng(seed, "drift")
    drift_um = _drift(rng_place, params, t, fps, pad)
    start = _place(rng_place, kind * 10 + np.searchsorted(GRADES, grade), width, height, margin) * um
    origin = own[:, pad:pad + 1].copy()      # own displacement is zero at frame 0
    own = own - origin
    avg = avg - origin
    pos_px = (start[:, None, :] + own + drift_um[None]) / um
    avg_px = (start[:, None, :] + avg + drift_um[None]) / um
    exit_rate = np.zeros(n)
    for g in GRADES:
        exit_rate[(kind == _KIND_SPERM) & (grade == g)] = config.focus_exit_per_s * _FOCUS_EXIT_FACTOR[g]
    if n_pin:
        motile = groups[2]["motile"]
        exit_rate[kind == _KIND_PINHEAD] = config.focus_exit_per_s * np.where(motile, 1.0, 0.1)
    alpha = _focus(_rng(seed, "focus"), exit_rate, config.focus_return_s, n_sim, fps)

    rng_box = _rng(seed, "boxes")
    scale = params.box_px / BOX_MEAN_PX
    base = params.box_px + rng_box.normal(0, BOX_TRACK_SD_PX * scale, n)
    base_w = base + rng_box.normal(0, BOX_AXIS_SD_PX * scale, n)
    base_h = base + rng_box.normal(-BOX_H_OFFSET_PX * scale, BOX_AXIS_SD_PX * scale, n)
    pin = kind == _KIND_PINHEAD
    pin_base = PINHEAD_BOX_PX * scale
    base_w[pin] = pin_base + rng_box.normal(0, 1.0 * scale, pin.sum())
    base_h[pin] = pin_base + rng_box.normal(0, 1.0 * scale, pin.sum())
    clu = np.flatnonzero(kind == _KIND_CLUSTER)
    if len(clu):
        spread = groups[1]["spread_px"]
        base_w[clu] = spread + params.box_px * rng_box.uniform(0.85, 1.15, len(clu))
        base_h[clu] = spread + params.box_px * rng_box.uniform(0.85, 1.15, len(clu))
    wiggle = _ou(rng_box, 2 * n, n_sim, dt=1 / fps, tau=1.0, sd=BOX_FRAME_SD_PX * scale)
    min_box = 4.0 * scale
    box_w = np.maximum(base_w[:, None] + wiggle[:n], min_box)
    box_h = np.maximum(base_h[:, None] + wiggle[n:], min_box)

    static_keys = ("kind", "grade", "path", "beat_hz", "alh_um", "speed_um_s", "radius_um", "tail_len_um",
                   "wave_amp_um", "wavelength_um", "bend_um", "tail_gain", "head_len_um", "head_wid_um",
                   "head_gain")
    static = {k: cat(k) for k in static_keys}
    static["tint"] = cat("tint", (3,))
    static["kind"] = kind
    members = groups[1]["members"] if n_clusters else []
    debris_px, debris = _debris(_rng(seed, "debris"), config, world, margin, drift_um / um, fps)
    paths = Trajectories(
        pad=pad, window=window, margin_px=float(margin), pos_px=pos_px, avg_px=avg_px, own_um=own,
        lateral_um=cat("lateral", (n_sim,)), axis=cat("axis", (n_sim,)), head_angle=cat("head", (n_sim,)),
        phase=cat("phase", (n_sim,)), alpha=alpha, box_w=box_w, box_h=box_h, drift_px=drift_um / um,
        static=static, members=members, debris_px=debris_px, debris=debris)

    truth, objects = _tables(paths, config, seed)
    recording = Recording(fps=fps, um_per_px=um, width=width, height=height, n_frames=n_frames,
                          source="synthetic")
    return SyntheticVideo(video_id=video_id, recording=recording, truth=truth, objects=objects, config=config,
                          seed=seed, params=params, paths=paths)


def _tables(paths: Trajectories, config: SynthConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut bodies into tracks (visible runs) and build the truth and objects tables."""
    fps, um = float(config.fps), float(config.um_per_px)
    width, height = config.width, config.height
    n_frames = config.n_frames
    pad = paths.pad
    sl = slice(pad, pad + n_frames)
    pos = paths.pos_px[:, sl]
    m = paths.margin_px
    wrapped = paths.wrap(pos, width, height)
    avg = paths.avg_px[:, sl] + (wrapped - pos)
    visible = _in_view(wrapped, avg, np.abs(paths.lateral_um).max(axis=1, initial=0.0) / um,
                       width, height) & (paths.alpha[:, sl] >= 0.5)
    ex = np.floor((pos[..., 0] + m) / (width + 2 * m)).astype(np.int64)
    ey = np.floor((pos[..., 1] + m) / (height + 2 * m)).astype(np.int64)
    epoch = ex * 100003 + ey
    max_gap = int(round(config.reid_gap_s * fps))
    tracks = []
    for body in range(pos.shape[0]):
        for first, last in _segments(visible[body], epoch[body], max_gap):
            tracks.append((first, body, last))
    tracks.sort()
    ids = _cuid(_rng(seed, "ids"), len(tracks))
    st = paths.static
    truth_parts, obj_rows = [], []
    for k, (first, body, last) in enumerate(tracks):
        frames = np.arange(first, last + 1)
        frames = frames[visible[body, first:last + 1]]
        xy = wrapped[body, frames]
        shift = xy - pos[body, frames]          # the torus shift of this epoch (constant within a track)
        avg_xy = paths.avg_px[body, frames + pad] + shift
        truth_parts.append(pd.DataFrame({
            "frame": frames, "track_id": k + 1, "gt_id": ids[k], "class_id": int(st["kind"][body]),
            "x": xy[:, 0], "y": xy[:, 1], "w": paths.box_w[body, frames + pad].astype(np.float64),
            "h": paths.box_h[body, frames + pad].astype(np.float64), "score": 1.0,
            "x_um": xy[:, 0] * um, "y_um": xy[:, 1] * um, "interpolated": False,
            "x_avg": avg_xy[:, 0], "y_avg": avg_xy[:, 1],
            "angle": np.angle(np.exp(1j * paths.head_angle[body, frames + pad]))}))
        kin = _kinematics(paths, body, first, last, fps, um)
        obj_rows.append({
            "track_id": k + 1, "gt_id": ids[k], "class_id": int(st["kind"][body]), "grade": str(st["grade"][body]),
            "path": str(st["path"][body]), "first_frame": first, "last_frame": last, "n_frames": len(frames),
            "n_gaps": int(np.count_nonzero(np.diff(frames) > 1)), **kin,
            "beat_hz": float(st["beat_hz"][body]), "alh_um": float(st["alh_um"][body]),
            "radius_um": float(st["radius_um"][body]), "body": body})
    truth_cols = ["frame", "track_id", "gt_id", "class_id", "x", "y", "w", "h", "score", "x_um", "y_um",
                  "interpolated", "x_avg", "y_avg", "angle"]
    if truth_parts:
        truth = pd.concat(truth_parts, ignore_index=True).sort_values(["frame", "track_id"], kind="stable")
        truth = truth.reset_index(drop=True)[truth_cols]
    else:
        truth = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in truth_cols})
        truth["gt_id"] = truth["gt_id"].astype(object)
        truth["interpolated"] = truth["interpolated"].astype(bool)
    truth = validate_ground_truth(truth, name="synthetic truth")
    truth["interpolated"] = truth["interpolated"].astype(bool)
    obj_cols = ["track_id", "gt_id", "class_id", "grade", "path", "first_frame", "last_frame", "n_frames", "n_gaps",
                "progression_um_s", "progression_obs_um_s", "vcl_um_s", "vsl_um_s", "vap_um_s", "beat_hz", "bcf_hz",
                "alh_um", "radius_um", "body"]
    objects = pd.DataFrame(obj_rows, columns=obj_cols)
    for c in ("track_id", "class_id", "first_frame", "last_frame", "n_frames", "n_gaps", "body"):
        objects[c] = objects[c].astype(np.int64)
    return truth, objects


# ============================================================================ rendering
_TAIL_SEGMENTS = ((0.0, 0.08, 1.3), (0.08, 0.3, 1.05), (0.3, 0.5, 0.65), (0.5, 0.7, 0.3), (0.7, 1.0, 0.08))
_TAIL_POINTS = 24
_SHIFT = 4                     # cv2 drawing: fixed-point sub-pixel coordinates, 1/16 px
_ONE = 1 << _SHIFT


class _Renderer:
    """Draws one frame at a time from a :class:`Trajectories`; holds only frame-sized buffers."""

    def __init__(self, config: SynthConfig, paths: Trajectories, seed: int):
        import cv2

        self.cv2 = cv2
        self.config = config
        self.paths = paths
        self.um = float(config.um_per_px)
        self.w, self.h = config.width, config.height
        self.phase_contrast = config.polarity == "phase"
        look = _rng(seed, "look")
        self.rng = _rng(seed, "render")
        self.bg = self._background(look)
        self.noise_pos, self.noise_neg = self._noise_bank(self.rng)
        st = paths.static
        self.kind = st["kind"]
        self.tail_px = st["tail_len_um"] / self.um
        self.reach_px = self.tail_px + 30.0          # tail plus head, box and cluster spread
        self.members = paths.members
        self.cluster_index = {int(b): i for i, b in enumerate(np.flatnonzero(self.kind == _KIND_CLUSTER))}
        if self.phase_contrast:
            self.tail_dark, self.core_value, self.rim_value, self.halo_gain = 32.0, 190.0, 150.0, 1.5
        else:
            self.tail_dark, self.core_value, self.rim_value, self.halo_gain = 30.0, 70.0, 45.0, 0.0

    # -- static layers
    def _background(self, rng: np.random.Generator) -> np.ndarray:
        cv2 = self.cv2
        w, h = self.w, self.h
        if self.phase_contrast:
            base = np.array([61.0, 56.0, 53.0]) * rng.uniform(0.92, 1.08) + rng.normal(0, 1.0, 3)
        else:
            base = np.array([182.0, 178.0, 172.0]) * rng.uniform(0.95, 1.05) + rng.normal(0, 1.5, 3)
        coarse = rng.standard_normal((4, 5)).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        smooth = smooth / max(float(np.abs(smooth).max()), 1e-6)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
        vignette = -(((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2)
        gain = 1.0 + self.config.illumination * (0.6 * smooth + 1.6 * (vignette - vignette.mean()))
        texture = np.zeros((h, w), np.float32)
        for sigma, amp in ((2.0, 1.0), (10.0, 1.5)):
            noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
            texture += amp * noise / max(float(noise.std()), 1e-6)
        bg = base[None, None, :] * gain[..., None] + texture[..., None]
        return np.clip(np.rint(bg), 0, 255).astype(np.uint8)

    def _noise_bank(self, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
        cv2 = self.cv2
        pos, neg = [], []
        sd = float(self.config.noise_sd)
        for _ in range(4):
            n = rng.standard_normal((self.h + 32, self.w + 32, 3)).astype(np.float32)
            n = cv2.GaussianBlur(n, (0, 0), 0.5)
            n *= sd / max(float(n.std()), 1e-6)
            q = np.rint(n)
            pos.append(np.clip(q, 0, 255).astype(np.uint8))
            neg.append(np.clip(-q, 0, 255).astype(np.uint8))
        return pos, neg

    # -- one frame
    def frame(self, k: int) -> np.ndarray:
        cv2 = self.cv2
        p = self.paths
        s = k + p.pad
        dark = np.zeros((self.h, self.w, 3), np.uint8)
        bright = np.zeros((self.h, self.w, 3), np.uint8)
        self._draw_debris(dark, bright, s)
        xy = p.wrap(p.pos_px[:, s], self.w, self.h)
        alpha = p.alpha[:, s]
        reach = self.reach_px
        near = ((xy[:, 0] > -reach) & (xy[:, 0] < self.w + reach) & (xy[:, 1] > -reach) & (xy[:, 1] < self.h + reach)
                & (alpha > 0.02))
        tails, heads = self._collect(np.flatnonzero(near), xy, alpha, s, k)
        self._draw_tails(dark, tails)
        if self.phase_contrast:
            self._draw_heads(bright, heads, rim=True)
        else:
            self._draw_heads(dark, heads, rim=False)
        img = self.bg.copy()
        blur = float(self.config.blur_px)
        if self.phase_contrast:
            core = cv2.GaussianBlur(bright, (0, 0), blur) if blur > 0 else bright
            small = cv2.resize(bright, (max(1, self.w // 4), max(1, self.h // 4)), interpolation=cv2.INTER_AREA)
            halo = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (self.w, self.h), interpolation=cv2.INTER_LINEAR)
            img = cv2.add(img, core)
            img = cv2.addWeighted(img, 1.0, halo, self.halo_gain, 0.0)
        else:
            img = cv2.add(img, cv2.GaussianBlur(bright, (0, 0), blur) if blur > 0 else bright)
        img = cv2.subtract(img, cv2.GaussianBlur(dark, (0, 0), blur) if blur > 0 else dark)
        if self.config.noise_sd > 0:
            i = int(self.rng.integers(0, len(self.noise_pos)))
            oy, ox = (int(v) for v in self.rng.integers(0, 32, 2))
            img = cv2.add(img, self.noise_pos[i][oy:oy + self.h, ox:ox + self.w])
            img = cv2.subtract(img, self.noise_neg[i][oy:oy + self.h, ox:ox + self.w])
        return img

    def _draw_debris(self, dark: np.ndarray, bright: np.ndarray, s: int) -> None:
        cv2 = self.cv2
        p = self.paths
        if len(p.debris_px) == 0:
            return
        xy = p.wrap(p.debris_px[:, s].astype(np.float64), self.w, self.h)
        d = p.debris
        r = d["radius"]
        vis = (xy[:, 0] > -6) & (xy[:, 0] < self.w + 6) & (xy[:, 1] > -6) & (xy[:, 1] < self.h + 6)
        sign = 1.0 if self.phase_contrast else 0.8
        for i in np.flatnonzero(vis):
            c = (int(round(xy[i, 0] * _ONE)), int(round(xy[i, 1] * _ONE)))
            if d["rim"][i] > 0 and self.phase_contrast:
                v = float(d["rim"][i])
                cv2.circle(bright, c, int(round((r[i] + 1.2) * _ONE)), (v, v, v), 1, cv2.LINE_AA, _SHIFT)
            col = tuple(float(v) for v in d["depth"][i] * sign * d["tint"][i])
            cv2.circle(dark, c, max(1, int(round(r[i] * _ONE))), col, -1, cv2.LINE_AA, _SHIFT)

    def _collect(self, idx: np.ndarray, xy: np.ndarray, alpha: np.ndarray, s: int, k: int) -> tuple[dict, dict]:
        """Gather the tails and heads to draw (cluster members expanded) as flat arrays in px."""
        p = self.paths
        st = p.static
        um = self.um
        t = k / self.config.fps
        cols: dict[str, list] = {key: [] for key in ("x", "y", "axis", "head", "phase", "len", "amp", "lam", "bend",
                                                      "tgain", "hlen", "hwid", "hgain", "tint", "alpha")}

        def add(x, y, axis, head, phase, body, alpha_):
            n = np.size(x)
            cols["x"].append(np.broadcast_to(x, n)); cols["y"].append(np.broadcast_to(y, n))
            cols["axis"].append(np.broadcast_to(axis, n)); cols["head"].append(np.broadcast_to(head, n))
            cols["phase"].append(np.broadcast_to(phase, n))
            for key, src, scale in (("len", "tail_len_um", 1 / um), ("amp", "wave_amp_um", 1 / um),
                                    ("lam", "wavelength_um", 1 / um), ("bend", "bend_um", 1 / um),
                                    ("tgain", "tail_gain", 1.0), ("hlen", "head_len_um", 1 / um),
                                    ("hwid", "head_wid_um", 1 / um), ("hgain", "head_gain", 1.0)):
                cols[key].append(np.broadcast_to(st[src][body] * scale, n))
            cols["tint"].append(np.broadcast_to(st["tint"][body], (n, 3)))
            cols["alpha"].append(np.broadcast_to(alpha_, n))

        single = idx[self.kind[idx] != _KIND_CLUSTER]
        if len(single):
            add(xy[single, 0], xy[single, 1], p.axis[single, s], p.head_angle[single, s], p.phase[single, s], single,
                alpha[single])
        for body in idx[self.kind[idx] == _KIND_CLUSTER]:
            mem = self.members[self.cluster_index[int(body)]]
            rot = p.axis[body, s]
            c, sn = math.cos(rot), math.sin(rot)
            off = mem["offset"] @ np.array([[c, sn], [-sn, c]])
            face = mem["angle"] + rot
            phase = 2 * math.pi * mem["beat_hz"] * t + mem["phase0"]
            wob = 0.15 * np.sin(phase)
            for j in range(len(face)):
                add(xy[body, 0] + off[j, 0], xy[body, 1] + off[j, 1], face[j] + wob[j], face[j] + 0.5 * wob[j],
                    phase[j], body, alpha[body])
        if not cols["x"]:
            return {}, {}
        flat = {key: np.concatenate(v) for key, v in cols.items()}
        return flat, flat

    def _draw_tails(self, canvas: np.ndarray, tl: dict) -> None:
        if not tl:
            return
        cv2 = self.cv2
        u = np.linspace(0.0, 1.0, _TAIL_POINTS)[None, :]
        length = tl["len"][:, None]
        along = u * length
        lam = np.maximum(tl["lam"][:, None], 1.0)
        lateral = (tl["amp"][:, None] * u ** 0.7 * np.sin(2 * math.pi * along / lam - tl["phase"][:, None])
                   + tl["bend"][:, None] * u ** 1.5)
        head = tl["head"]
        bx = tl["x"] - 0.5 * tl["hlen"] * np.cos(head)
        by = tl["y"] - 0.5 * tl["hlen"] * np.sin(head)
        ca, sa = np.cos(tl["axis"])[:, None], np.sin(tl["axis"])[:, None]
        px = bx[:, None] - along * ca - lateral * sa
        py = by[:, None] - along * sa + lateral * ca
        pts = np.rint(np.stack([px, py], axis=-1) * _ONE).astype(np.int32)
        strength = tl["tgain"] * tl["alpha"]
        for lo, hi, factor in _TAIL_SEGMENTS:
            a, b = int(round(lo * (_TAIL_POINTS - 1))), int(round(hi * (_TAIL_POINTS - 1))) + 1
            value = np.rint(self.tail_dark * factor * strength).astype(np.int64)
            thick = 2 if lo == 0.0 else 1
            for v in np.unique(value):
                if v <= 0:
                    continue
                sel = np.flatnonzero(value == v)
                cv2.polylines(canvas, [pts[i, a:b] for i in sel], False, (float(v),) * 3, thick, cv2.LINE_AA, _SHIFT)

    def _draw_heads(self, canvas: np.ndarray, hd: dict, *, rim: bool) -> None:
        if not hd:
            return
        cv2 = self.cv2
        order = np.argsort(hd["alpha"], kind="stable")     # faint (out of focus) ones first
        for i in order:
            c = (int(round(hd["x"][i] * _ONE)), int(round(hd["y"][i] * _ONE)))
            ang = math.degrees(hd["head"][i])
            a, b = 0.5 * hd["hlen"][i], 0.5 * hd["hwid"][i]
            g = hd["hgain"][i] * hd["alpha"][i]
            if rim:
                col = tuple(float(v) for v in hd["tint"][i] * (self.rim_value / 255.0) * g)
                cv2.ellipse(canvas, c, (int((a + 0.6) * _ONE), int((b + 0.5) * _ONE)), ang, 0, 360, col, -1,
                            cv2.LINE_AA, _SHIFT)
                v = tuple(float(ch) for ch in hd["tint"][i] * (self.core_value / 255.0) * g)
                fx, fy = math.cos(hd["head"][i]) * 0.3 * a, math.sin(hd["head"][i]) * 0.3 * a
                cc = (int(round((hd["x"][i] + fx) * _ONE)), int(round((hd["y"][i] + fy) * _ONE)))
                cv2.ellipse(canvas, cc, (max(1, int(0.55 * a * _ONE)), max(1, int(0.55 * b * _ONE))), ang, 0, 360,
                            v, -1, cv2.LINE_AA, _SHIFT)
            else:
                v = self.core_value * g
                cv2.ellipse(canvas, c, (int(a * _ONE), int(b * _ONE)), ang, 0, 360, (v, v, v), -1, cv2.LINE_AA,
                            _SHIFT)


def render_frames(video: SyntheticVideo) -> Iterator[np.ndarray]:
    """Yield the video's frames one at a time: BGR ``uint8`` arrays of shape ``(height, width, 3)``.

    Deterministic given ``video.seed`` (the same pixels every time); memory does not grow with the
    clip length (one frame's buffers plus a static background and a small noise bank).

    Look (phase contrast): background BGR about (64, 59, 56) times a smooth illumination field
    ``1 + illumination * (...)`` plus a faint static texture; heads are anti-aliased ellipses (a tinted
    rim and a saturating white core) with a glow (the head layer blurred at 1/4 resolution); tails are
    anti-aliased polylines of a travelling wave, darkest at the midpiece and fading towards the tip;
    debris are dark dots, some with a bright rim; everything is blurred by ``blur_px`` and sensor
    noise (sd ``noise_sd``, slightly correlated like a demosaiced colour sensor) is added.
    Bodies out of focus fade with their focus factor.

    Parameters
    ----------
    video : SyntheticVideo
        From :func:`simulate_video`.

    Yields
    ------
    numpy.ndarray
        One frame, in order, ``video.recording.n_frames`` in all.
    """
    paths = video.paths
    if paths is None:
        paths = simulate_video(video.config, seed=video.seed, video_id=video.video_id).paths
    renderer = _Renderer(video.config, paths, video.seed)
    for k in range(video.recording.n_frames):
        yield renderer.frame(k)


# ============================================================================ files
def semen_analysis_table(videos: Sequence[SyntheticVideo], *, chamber_depth_um: float = 20.0) -> pd.DataFrame:
    """The true semen-analysis values of synthetic videos, in VISEM's ``semen_analysis_data_Train.csv`` columns.

    Percentages are over the graded sperm (class-0 tracks) of each video: grade a, b, c, d;
    progressive = a + b, non-progressive = c, immotile = d (NaN when a video has no sperm track).
    Concentration (x10^6/mL) = mean labelled sperm per frame / (field area * ``chamber_depth_um``):
    ``n / (W H s^2 * depth um^3) * 1e12 um^3/mL / 1e6`` (depth 20 um reproduces the median ratio
    of lab concentration to per-frame count on the real training videos, about 1.3).

    Returns
    -------
    pandas.DataFrame
        Columns ``SEMEN_COLUMNS``; ``ID`` is the video id as an int when it is numeric.
    """
    rows = []
    for v in videos:
        sperm = v.objects[v.objects["class_id"] == 0]
        n = len(sperm)
        pct = {g: (100.0 * float((sperm["grade"] == g).sum()) / n if n else float("nan")) for g in GRADES}
        rec = v.recording
        per_frame = float((v.truth["class_id"] == 0).sum()) / rec.n_frames
        volume_ml = rec.width * rec.height * rec.um_per_px ** 2 * chamber_depth_um * 1e-12
        rows.append({
            "ID": int(v.video_id) if v.video_id.isdigit() else v.video_id,
            SEMEN_COLUMNS[1]: pct["a"] + pct["b"], SEMEN_COLUMNS[2]: pct["c"], SEMEN_COLUMNS[3]: pct["d"],
            SEMEN_COLUMNS[4]: pct["a"], SEMEN_COLUMNS[5]: pct["b"], SEMEN_COLUMNS[6]: pct["c"],
            SEMEN_COLUMNS[7]: pct["d"], SEMEN_COLUMNS[8]: per_frame / volume_ml / 1e6})
    return pd.DataFrame(rows, columns=list(SEMEN_COLUMNS))


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


_FRAME_FILE = re.compile(r"^(?P<id>.+)_frame_(?P<n>\d+)(_with_ftid)?\.(jpg|txt)$")


def _remove_stale(folder: Path, video_id: str, n_frames: int, *, images: bool) -> None:
    """Delete this generator's own per-frame files left by an earlier, longer (or image-writing) run."""
    for sub, always in (("images", not images), ("labels", False), ("labels_ftid", False)):
        d = folder / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            m = _FRAME_FILE.match(f.name)
            if m and m.group("id") == video_id and (always or int(m.group("n")) >= n_frames):
                f.unlink()


def write_synthetic_video(video: SyntheticVideo, out: str | Path, *, progress_bar=None) -> Path:
    """Render and write one simulated video into ``out/<id>/`` in the VISEM-Tracking layout.

    Writes ``<id>.mp4`` (container fps = config fps), ``images/<id>_frame_<n>.jpg`` (if
    ``config.write_images``), ``labels/<id>_frame_<n>.txt``, ``labels_ftid/<id>_frame_<n>_with_ftid.txt``
    (an empty file for a frame without boxes), ``<id>_truth.csv.gz`` and ``<id>_objects.csv``. Every
    file is written atomically; the gzip header carries no name or time, so the same seed gives the
    same bytes. Per-frame files of this video id left by an earlier run beyond the new length are removed.

    Parameters
    ----------
    video : SyntheticVideo
    out : str or Path
        Data-set root; the video folder is created inside it.
    progress_bar : tqdm or None
        Updated once per frame.

    Returns
    -------
    Path
        The video folder.
    """
    import cv2

    from spermtrack.io.video import write_video

    cfg = video.config
    vid = video.video_id
    folder = Path(out) / vid
    for sub in ("labels", "labels_ftid") + (("images",) if cfg.write_images else ()):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    n_frames = video.recording.n_frames
    _remove_stale(folder, vid, n_frames, images=cfg.write_images)
    truth = video.truth
    frames = truth["frame"].to_numpy()
    bounds = np.searchsorted(frames, np.arange(n_frames + 1))

    def stream() -> Iterator[np.ndarray]:
        for k, img in enumerate(render_frames(video)):
            rows = truth.iloc[bounds[k]:bounds[k + 1]]
            yolo, ftid = label_lines(rows, width=cfg.width, height=cfg.height)
            _write_bytes(folder / "labels" / f"{vid}_frame_{k}.txt", yolo.encode())
            _write_bytes(folder / "labels_ftid" / f"{vid}_frame_{k}_with_ftid.txt", ftid.encode())
            if cfg.write_images:
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                if not ok:
                    raise InputError("OpenCV could not encode a jpg frame", folder / "images")
                _write_bytes(folder / "images" / f"{vid}_frame_{k}.jpg", buf.tobytes())
            if progress_bar is not None:
                progress_bar.update(1)
            yield img

    write_video(folder / f"{vid}.mp4", stream(), cfg.fps)
    text = truth.to_csv(index=False, lineterminator="\n")
    _write_bytes(folder / f"{vid}_truth.csv.gz", gzip.compress(text.encode(), compresslevel=6, mtime=0))
    _write_bytes(folder / f"{vid}_objects.csv", video.objects.to_csv(index=False, lineterminator="\n").encode())
    return folder


def write_synthetic_dataset(out: str | Path, *, n_videos: int, config: SynthConfig, seed: int,
                            progress: bool = True) -> list[Path]:
    """Simulate, render and write ``n_videos`` videos in the exact VISEM-Tracking layout.

    Video ``i`` (1-based id ``str(i)``) is ``simulate_video(config, seed=video_seed(seed, i - 1))``,
    written by :func:`write_synthetic_video`. Then ``semen_analysis_data_Train.csv`` (VISEM's dialect:
    UTF-8 with BOM, ``;`` separator, ``,`` decimal mark; the true percentages, see
    :func:`semen_analysis_table`) and ``synth_config.json`` (config, seed, per-video draws and versions)
    are written at the root, last, so their presence marks a finished data set.

    Parameters
    ----------
    out : str or Path
        Data-set root (created if needed).
    n_videos : int
        Number of videos (>= 1).
    config : SynthConfig
    seed : int
        Non-negative; the same seed gives byte-identical labels, truth and CSV files.
    progress : bool
        Show a tqdm progress bar over frames on stderr.

    Returns
    -------
    list of Path
        The video folders, in id order.

    Raises
    ------
    InputError
        Bad arguments, or ``out`` is an existing file.
    """
    import cv2
    from tqdm import tqdm

    import spermtrack

    if not isinstance(config, SynthConfig):
        raise InputError(f"config must be a SynthConfig, got {type(config).__name__}")
    seed = _check_seed(seed)
    if isinstance(n_videos, bool) or not isinstance(n_videos, (int, np.integer)) or n_videos < 1:
        raise InputError(f"n_videos must be a positive integer, got {n_videos!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a folder", out)
    out.mkdir(parents=True, exist_ok=True)
    folders, videos, records = [], [], []
    with tqdm(total=int(n_videos) * config.n_frames, disable=not progress, file=sys.stderr, unit="frame",
              desc="synth", dynamic_ncols=True) as bar:
        for i in range(int(n_videos)):
            vs = video_seed(seed, i)
            video = simulate_video(config, seed=vs, video_id=str(i + 1))
            bar.set_postfix_str(f"video {i + 1}/{n_videos}")
            folders.append(write_synthetic_video(video, out, progress_bar=bar))
            sperm = video.objects[video.objects["class_id"] == 0]
            records.append({
                "id": video.video_id, "seed": vs, "density": video.params.density,
                "grade_mix": list(video.params.grade_mix), "drift_um_s": video.params.drift_um_s,
                "drift_angle_deg": math.degrees(video.params.drift_angle_rad), "box_px": video.params.box_px,
                "n_frames": video.recording.n_frames, "n_tracks": int(len(video.objects)),
                "n_sperm_tracks": int(len(sperm)),
                "labelled_sperm_per_frame": float((video.truth["class_id"] == 0).sum()) / video.recording.n_frames})
            videos.append(_Summary(video.video_id, video.recording, video.objects, video.truth))
    table = semen_analysis_table(videos)
    with atomic_path(out / "semen_analysis_data_Train.csv") as tmp:
        table.to_csv(tmp, sep=";", decimal=",", float_format="%.2f", index=False, encoding="utf-8-sig",
                     lineterminator="\n")
    write_json(out / "synth_config.json", {
        "generator": "spermtrack.synth", "seed": seed, "n_videos": int(n_videos), "config": config.to_dict(),
        "videos": records,
        "versions": {"spermtrack": spermtrack.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                     "opencv": cv2.__version__},
    })
    return folders


@dataclass(frozen=True)
class _Summary:
    """The parts of a SyntheticVideo that :func:`semen_analysis_table` needs (lets the full state be freed)."""

    video_id: str
    recording: Recording
    objects: pd.DataFrame
    truth: pd.DataFrame
