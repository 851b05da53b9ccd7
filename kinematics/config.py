"""Settings of the kinematics stage: one frozen, validated dataclass and named presets.

Three presets ship with spermtrack:

``who2021`` (default)
    WHO laboratory manual, 6th edition (2021), section 2.4.5: grade a if the head covers at least 25 um
    from start to end point in one second, b if 5 to < 25 um, c if it moves less than 5 um but is motile,
    d if immotile. Net progression is measured over sliding 1-s windows (``progression_um_s``). There are
    no VAP or STR gates.
``casa``
    A commercial-CASA style rule (Hamilton-Thorne/IVOS-like, see Mortimer 2000): the speed that is
    thresholded is VAP instead of net progression, and a progressive cell must also be straight,
    STR >= 0.80. Thresholds 25 and 5 um/s as in WHO.
``visem``
    The ``casa`` rule shape with its VAP threshold for progressive and its STR gate fitted to the lab's
    manual progressive motility of the 16 VISEM-Tracking training videos (drift compensated), stored with
    their provenance (data hashes, date, method, leave-one-video-out errors) in
    ``spermtrack/data/visem_preset.json`` and made by ``benchmarks/kinematics_real.py --write-preset``.
    The lab used the WHO 2010 wording, where progressive means "moving actively, either linearly or in a
    large circle, regardless of speed", hence a straightness gate; the fitted rule (progressive if
    VAP >= 14 um/s and STR >= 0.5) is NOT the WHO 2021 grade b threshold. Use it for VISEM-like data
    (0.351 um/px, 45-50 fps, annotations or tracks of similar quality).

References
----------
World Health Organization. WHO laboratory manual for the examination and processing of human semen,
6th ed. Geneva: WHO; 2021.
Mortimer ST. CASA - practical aspects. J Androl. 2000;21(4):515-524.
Alquezar-Baeta C, et al. OpenCASA: a new open-source and scalable tool for sperm quality analysis.
PLoS Comput Biol. 2019;15(1):e1006691.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from spermtrack._validate import Config, integer
from spermtrack.constants import WHO_A_UM_S, WHO_B_UM_S
from spermtrack.errors import InputError

__all__ = ["DEFAULT_PRESET", "KinematicsConfig", "KINEMATICS_PRESETS", "PRESET_SUMMARIES", "get_preset", "load_visem_preset"]

_POSITIONS = ("auto", "tracker", "own", "raw")
_GRADE_METRICS = ("progression", "vap")
_WEIGHTINGS = ("track", "time")


@dataclass(frozen=True)
class KinematicsConfig(Config):
    """Every knob of the kinematics stage; validated on construction, saved beside every output.

    Parameters
    ----------
    name : str
        Name of the preset this config came from (provenance only).
    vap_window : int
        Points in the running average that defines the average path (odd, >= 1; 1 = no averaging).
        OpenCASA uses 4-5; 5 is the common choice. The window shrinks symmetrically at the ends, so the
        average path starts and ends on the track and a straight line stays straight.
    alh_factor : float
        1 reports ALH as the amplitude of the lateral head displacement (largest riser); 2 reports it
        peak-to-peak (twice the riser), the convention of OpenCASA and commercial CASA and of the
        hyperactivation criterion ALH >= 7 um. Only 1 and 2 are allowed.
    progression_window_s : float
        Length of the sliding windows of net progression (WHO: 1 s).
    min_duration_s : float
        Tracks spanning less than this are ungraded (reason ``"too_short"``). Must be >=
        ``progression_window_s`` so that every graded track has at least one full window.
    max_gap_s : float
        Longest run of missing or interpolated frames that is bridged (linearly, for the average path,
        VSL and progression only). Nothing is guessed across a longer run: such a track is measured on
        its longest stretch without one (the rest counted in ``n_trimmed``), and ungraded (reason
        ``"gap"``) when that stretch is shorter than ``min_duration_s``, as is a track never measured.
    grade_metric : {"progression", "vap"}
        The speed compared with the a/b thresholds: mean 1-s net progression (WHO) or VAP (commercial CASA).
    a_threshold_um_s, b_threshold_um_s : float
        Grade a if speed >= a, b if b <= speed < a (and the gates pass); WHO 2021: 25 and 5 um/s.
    str_min, lin_min : float
        Gates of the progressive rule (0 = no gate): a progressive cell must also have STR >= str_min and
        LIN >= lin_min. Commercial CASA commonly requires STR >= 0.80.
    motile_min_um : float
        A non-progressive cell is motile (c rather than d) only if its head motion ``motion_um`` (RMS head
        displacement over lags up to ``motion_window_s``, noise removed) is at least this AND above the
        track's noise floor. The default 0.25 um lies between a dead cell's Brownian jiggle (about
        0.15 um at D = 0.1 um^2/s over 0.1 s) and the head excursion of a cell beating in place with an
        ALH of 0.3 um (about 0.4 um).
    motion_window_s : float
        Longest lag of ``motion_um`` (default 0.1 s, about half a slow beat).
    motile_z : float
        The noise floor is ``noise_margin`` times the noise term plus ``motile_z`` standard errors of a
        noise-only track of the same length (see :func:`spermtrack.kinematics.noise.motion_statistic`).
    noise_margin : float
        Fraction of the noise term ``4 sigma^2`` the excess must also exceed; absorbs the error of the
        video's noise estimate.
    positions : {"auto", "tracker", "own", "raw"}
        Which positions make the two paths. The CURVILINEAR path (VCL, MAD, the head side of ALH/BCF) is
        always the measured ``x, y`` after this module's noise-adaptive smoothing (``raw``: unsmoothed).
        The SMOOTHED positions that the average path is built from (VSL, VAP, STR, net progression, the
        grades) are, with ``auto``, the tracker's RTS-smoothed ``x_s, y_s`` when the table has them and
        the curvilinear path otherwise; ``tracker`` requires ``x_s, y_s``; ``own`` ignores them; ``raw``
        uses the measured positions throughout (no noise handling of positions). The tracker's RTS
        positions are not used for the curvilinear path because a constant-velocity smoother removes
        the head's lateral beat along with the jitter (on synthetic data it lowers VCL by about 40 %).
    smooth_half_widths : tuple of int
        Candidate half-widths of the module's own local-quadratic smoother; each track takes the one with
        the lowest estimated risk (Mallows' Cp). 0 (no smoothing) is always a candidate.
    noise_px : float or None
        Localisation noise (sd per axis, px) if known; None estimates it from the video.
    noise_low_fraction : float
        The video's noise is the median of this lowest fraction of the per-track estimates (at least 3
        tracks): moving heads inflate a track's estimate, still heads do not.
    drift_compensation : bool
        Subtract the common drift of all tracks (flow in the chamber) before any kinematics. On in
        ``who2021``: WHO grades describe motion relative to the fluid (the manual says to wait until the
        preparation stops drifting), and uncompensated drift turns immotile cells into progressive ones.
    drift_min_tracks, drift_min_fraction : int, float
        A frame's drift estimate (the mode of the tracks' velocities) needs at least this many tracks,
        and this fraction of the frame's tracks, within ``drift_radius_um_s`` of it; frames without
        support take the drift interpolated from supported frames, and with none at all the drift is 0,
        so a video of a few swimmers is not "compensated" by their own motion.
    drift_window_s : float
        The per-frame drift velocity is averaged over this time window.
    drift_lag_s : float
        Each track's velocity is its displacement from ``f - lag`` to ``f + lag`` over ``2 lag``.
    drift_radius_um_s : float
        Radius of the mean-shift kernel that finds the mode (the velocity of the fluid).
    class_ids : tuple of int
        Classes whose tracks are graded (0 sperm, 2 pinhead); others (1, cluster) are reported as
        ungraded with reason ``"class"``.
    weighting : {"track", "time"}
        How the sample percentages count sperm: each graded track once, or each in proportion to the time
        it is seen (the share of sperm in view, as a person counting fields sees it).
    """

    name: str = "who2021"
    vap_window: int = 5
    alh_factor: float = 2.0
    progression_window_s: float = 1.0
    min_duration_s: float = 1.0
    max_gap_s: float = 0.2
    grade_metric: str = "progression"
    a_threshold_um_s: float = WHO_A_UM_S
    b_threshold_um_s: float = WHO_B_UM_S
    str_min: float = 0.0
    lin_min: float = 0.0
    motile_min_um: float = 0.25
    motion_window_s: float = 0.1
    motile_z: float = 3.0
    noise_margin: float = 0.15
    positions: str = "auto"
    smooth_half_widths: tuple[int, ...] = (2, 3, 4, 6, 8)
    noise_px: float | None = None
    noise_low_fraction: float = 0.1
    drift_compensation: bool = True
    drift_min_tracks: int = 5
    drift_min_fraction: float = 0.1
    drift_window_s: float = 1.0
    drift_lag_s: float = 0.25
    drift_radius_um_s: float = 3.0
    class_ids: tuple[int, ...] = (0, 2)
    weighting: str = "track"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise self._fail("name", "a non-empty string")
        if self._integer("vap_window", lo=1) % 2 == 0:
            raise self._fail("vap_window", "odd (a centred running average)")
        if self._number("alh_factor") not in (1.0, 2.0):
            raise self._fail("alh_factor", "1 (amplitude) or 2 (peak-to-peak)")
        self._number("progression_window_s", lo=0, lo_open=True)
        if self._number("min_duration_s", lo=0) < self.progression_window_s:
            raise self._fail("min_duration_s", f">= progression_window_s ({self.progression_window_s})")
        self._number("max_gap_s", lo=0)
        self._choice("grade_metric", _GRADE_METRICS)
        self._number("a_threshold_um_s", lo=0)
        if self._number("b_threshold_um_s", lo=0) > self.a_threshold_um_s:
            raise self._fail("b_threshold_um_s", f"<= a_threshold_um_s ({self.a_threshold_um_s})")
        self._number("str_min", lo=0, hi=1)
        self._number("lin_min", lo=0, hi=1)
        self._number("motile_min_um", lo=0)
        self._number("motion_window_s", lo=0, lo_open=True)
        self._number("motile_z", lo=0)
        self._number("noise_margin", lo=0)
        self._choice("positions", _POSITIONS)
        self._set("smooth_half_widths", self._int_tuple("smooth_half_widths", lo=2))
        self._optional_number("noise_px", lo=0)
        self._number("noise_low_fraction", lo=0, lo_open=True, hi=1)
        self._boolean("drift_compensation")
        self._integer("drift_min_tracks", lo=1)
        self._number("drift_min_fraction", lo=0, hi=1)
        self._number("drift_window_s", lo=0)
        self._number("drift_lag_s", lo=0, lo_open=True)
        self._number("drift_radius_um_s", lo=0, lo_open=True)
        self._set("class_ids", self._int_tuple("class_ids", lo=0))
        self._choice("weighting", _WEIGHTINGS)

    def max_gap_frames(self, fps: float) -> int:
        """The longest run of unmeasured frames that is bridged at ``fps``: ``max_gap_s`` in whole frames."""
        return int(math.floor(fps * (self.max_gap_s + 1e-12)))

    def _int_tuple(self, field: str, *, lo: int) -> tuple[int, ...]:
        """A non-empty list or tuple of integers >= lo, as a sorted tuple without duplicates."""
        values = getattr(self, field)
        if not isinstance(values, (tuple, list)) or not values:
            raise self._fail(field, f"a non-empty tuple of integers >= {lo}")
        return tuple(sorted({integer(type(self).__name__, field, v, lo=lo) for v in values}))


def load_visem_preset() -> tuple[KinematicsConfig, dict[str, Any]]:
    """Load the ``visem`` preset and its provenance from ``spermtrack/data/visem_preset.json``.

    Returns
    -------
    config : KinematicsConfig
        The fitted settings.
    provenance : dict
        How they were fitted: data, date, method, leave-one-video-out errors.

    Raises
    ------
    InputError
        The file is missing (a broken installation) or malformed.
    """
    try:
        text = resources.files("spermtrack").joinpath("data", "visem_preset.json").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise InputError("the 'visem' preset file spermtrack/data/visem_preset.json is missing; reinstall "
                         "spermtrack or regenerate it with benchmarks/kinematics_real.py --write-preset") from exc
    try:
        data = json.loads(text)
        return KinematicsConfig.from_dict(data["config"]), data.get("provenance", {})
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"spermtrack/data/visem_preset.json is malformed: {exc}") from exc


def _casa() -> KinematicsConfig:
    return KinematicsConfig(name="casa", grade_metric="vap", str_min=0.80)


#: One line per preset, for help texts (the module docstring says more); its keys are the preset names.
PRESET_SUMMARIES: dict[str, str] = {
    "who2021": "WHO 2021: net progression over 1 s, >= 25 um/s a, >= 5 um/s b",
    "casa": "commercial-CASA style: VAP >= 25 / 5 um/s and STR >= 0.80 for progressive",
    "visem": "VAP and STR gates fitted to the VISEM-Tracking lab values (VISEM-like data only)",
}
#: Names accepted by :func:`get_preset`.
KINEMATICS_PRESETS: tuple[str, ...] = tuple(PRESET_SUMMARIES)
#: The preset every command and API grades with unless told otherwise.
DEFAULT_PRESET = "who2021"


def get_preset(name: str = DEFAULT_PRESET, **overrides: Any) -> KinematicsConfig:
    """Return a named preset, optionally with some settings changed.

    Parameters
    ----------
    name : {"who2021", "casa", "visem"}
        The preset (see the module docstring).
    **overrides
        Settings to change, e.g. ``drift_compensation=False``; validated like the preset itself.

    Raises
    ------
    InputError
        Unknown preset or setting, or an invalid value.
    """
    if name == "who2021":
        config = KinematicsConfig()
    elif name == "casa":
        config = _casa()
    elif name == "visem":
        config = load_visem_preset()[0]
    else:
        raise InputError(f"unknown kinematics preset {name!r}; choose one of {', '.join(KINEMATICS_PRESETS)}")
    return config.replace(**overrides) if overrides else config
