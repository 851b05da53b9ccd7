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
from dataclasses import asdict, dataclass, fields, replace
from importlib import resources
from typing import Any

from spermtrack.errors import InputError

__all__ = ["KinematicsConfig", "PRESETS", "get_preset", "load_visem_preset"]

_POSITIONS = ("auto", "tracker", "own", "raw")
_GRADE_METRICS = ("progression", "vap")
_WEIGHTINGS = ("track", "time")


@dataclass(frozen=True)
class KinematicsConfig:
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
        VSL and progression only). A track with a longer run is ungraded (reason ``"gap"``) and its
        kinematics are NaN: nothing is guessed across a long gap.
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
    a_threshold_um_s: float = 25.0
    b_threshold_um_s: float = 5.0
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
        def bad(field: str, what: str) -> InputError:
            return InputError(f"KinematicsConfig.{field} {what}, got {getattr(self, field)!r}")

        def number(field: str, *, low: float = 0.0, strict: bool = False, high: float | None = None) -> None:
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad(field, "must be a finite number")
            if value < low or (strict and value == low) or (high is not None and value > high):
                rng = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
                raise bad(field, f"must be {rng}")
            object.__setattr__(self, field, float(value))

        def integer(field: str, *, low: int) -> None:
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(field, f"must be an integer >= {low}")

        if not isinstance(self.name, str) or not self.name:
            raise bad("name", "must be a non-empty string")
        integer("vap_window", low=1)
        if self.vap_window % 2 == 0:
            raise bad("vap_window", "must be odd (a centred running average)")
        if self.alh_factor not in (1, 2) or isinstance(self.alh_factor, bool):
            raise bad("alh_factor", "must be 1 (amplitude) or 2 (peak-to-peak)")
        object.__setattr__(self, "alh_factor", float(self.alh_factor))
        number("progression_window_s", strict=True)
        number("min_duration_s")
        if self.min_duration_s < self.progression_window_s:
            raise bad("min_duration_s", f"must be >= progression_window_s ({self.progression_window_s})")
        number("max_gap_s")
        if self.grade_metric not in _GRADE_METRICS:
            raise bad("grade_metric", f"must be one of {_GRADE_METRICS}")
        number("a_threshold_um_s")
        number("b_threshold_um_s")
        if self.b_threshold_um_s > self.a_threshold_um_s:
            raise bad("b_threshold_um_s", f"must be <= a_threshold_um_s ({self.a_threshold_um_s})")
        number("str_min", high=1.0)
        number("lin_min", high=1.0)
        number("motile_min_um")
        number("motion_window_s", strict=True)
        number("motile_z")
        number("noise_margin")
        if self.positions not in _POSITIONS:
            raise bad("positions", f"must be one of {_POSITIONS}")
        widths = self.smooth_half_widths
        if isinstance(widths, list):
            widths = tuple(widths)
        if (not isinstance(widths, tuple) or not widths
                or any(isinstance(w, bool) or not isinstance(w, int) or w < 2 for w in widths)):
            raise bad("smooth_half_widths", "must be a non-empty tuple of integers >= 2")
        object.__setattr__(self, "smooth_half_widths", tuple(sorted(set(widths))))
        if self.noise_px is not None:
            number("noise_px")
        number("noise_low_fraction", strict=True, high=1.0)
        if not isinstance(self.drift_compensation, bool):
            raise bad("drift_compensation", "must be True or False")
        integer("drift_min_tracks", low=1)
        number("drift_min_fraction", high=1.0)
        number("drift_window_s")
        number("drift_lag_s", strict=True)
        number("drift_radius_um_s", strict=True)
        ids = self.class_ids
        if isinstance(ids, list):
            ids = tuple(ids)
        if (not isinstance(ids, tuple) or not ids
                or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in ids)):
            raise bad("class_ids", "must be a non-empty tuple of non-negative integers")
        object.__setattr__(self, "class_ids", tuple(sorted(set(ids))))
        if self.weighting not in _WEIGHTINGS:
            raise bad("weighting", f"must be one of {_WEIGHTINGS}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-ready), the inverse of :meth:`from_dict`."""
        out = asdict(self)
        out["smooth_half_widths"] = list(self.smooth_half_widths)
        out["class_ids"] = list(self.class_ids)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KinematicsConfig:
        """Build a config from a dict; an unknown (e.g. misspelt) key is an :class:`InputError`."""
        if not isinstance(data, dict):
            raise InputError(f"a kinematics config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown kinematics setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        kwargs = dict(data)
        for key in ("smooth_half_widths", "class_ids"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)

    def replace(self, **changes: Any) -> KinematicsConfig:
        """Return a validated copy with some settings changed (unknown names are an InputError)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InputError(f"unknown kinematics setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **changes)


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


PRESETS: tuple[str, ...] = ("who2021", "casa", "visem")


def get_preset(name: str = "who2021", **overrides: Any) -> KinematicsConfig:
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
        raise InputError(f"unknown kinematics preset {name!r}; choose one of {', '.join(PRESETS)}")
    return config.replace(**overrides) if overrides else config
