"""The sample summary: WHO 2021 motility of one video, with the noise, drift and config.

Package versions and the command are stamped by whoever writes the summary (``spermtrack.provenance``).

Percentages are over graded tracks (ungraded tracks are counted but never guessed into a category):
progressive = a + b, non-progressive = c, immotile = d, motile = a + b + c. WHO 2021 lower reference
limits (5th centile): progressive motility 30 %, total motility 42 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from spermtrack.constants import GRADES, MIN_GRADED_TRACKS, WHO_MIN_ASSESSED, WHO_REFERENCE_LIMITS
from spermtrack.errors import InputError
from spermtrack.kinematics.compute import KinematicsResult
from spermtrack.kinematics.config import KinematicsConfig

__all__ = ["summarize", "motility_percentages", "concentration_1e6_per_ml", "intervals_95", "reference_verdict",
           "wilson_interval", "WHO_REFERENCE_LIMITS"]
_MEAN_COLUMNS = ("vcl_um_s", "vsl_um_s", "vap_um_s", "lin", "str", "wob", "alh_mean_um", "alh_max_um", "bcf_hz",
                 "mad_deg", "progression_um_s")


def motility_percentages(table: pd.DataFrame, *, weighting: str = "track") -> dict[str, Any]:
    """Counts and percentages of the grades in a kinematics table.

    Parameters
    ----------
    table : pandas.DataFrame
        A kinematics table with ``grade`` (a-d or None) and, for time weighting, ``n_points``.
    weighting : {"track", "time"}
        Each graded track counts once, or in proportion to its number of points (time in view).

    Returns
    -------
    dict
        ``counts`` (a, b, c, d, graded, ungraded), ``percent`` (a, b, c, d, progressive, non_progressive,
        immotile, motile; None when nothing is graded).
    """
    if weighting not in ("track", "time"):
        raise InputError(f"weighting must be 'track' or 'time', got {weighting!r}")
    grade = table["grade"].to_numpy(dtype=object) if len(table) else np.zeros(0, object)
    graded = np.array([g in GRADES for g in grade], bool)
    w = np.ones(len(table)) if weighting == "track" else table["n_points"].to_numpy(np.float64)
    counts = {g: int(np.count_nonzero(grade == g)) for g in GRADES}
    counts["graded"] = int(graded.sum())
    counts["ungraded"] = int(len(table) - graded.sum())
    total = float(w[graded].sum())
    pct: dict[str, float | None] = {}
    for g in GRADES:
        pct[g] = 100.0 * float(w[grade == g].sum()) / total if total > 0 else None
    if total > 0:
        pct["progressive"] = pct["a"] + pct["b"]
        pct["non_progressive"] = pct["c"]
        pct["immotile"] = pct["d"]
        pct["motile"] = pct["a"] + pct["b"] + pct["c"]
    else:
        pct.update(progressive=None, non_progressive=None, immotile=None, motile=None)
    return {"counts": counts, "percent": pct}


#: Two-sided 95 % standard normal quantile.
Z_95 = 1.959963984540054


def wilson_interval(k: float, n: float, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion ``k / n``, in percent (None when ``n`` is 0).

    ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = k / n``; unlike the normal
    approximation it stays inside [0, 100] and is sensible for small ``n`` and for ``k`` near 0 or ``n``
    (Wilson EB. J Am Stat Assoc 1927;22:209-212; Brown, Cai, DasGupta. Stat Sci 2001;16:101-133).
    """
    if not n > 0:
        return None
    p = min(max(k / n, 0.0), 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def intervals_95(percent: dict[str, float | None], n_graded: int) -> dict[str, list[float] | None]:
    """A 95 % Wilson interval for every percentage of :func:`motility_percentages`.

    Each graded track is one observation (with time weighting the percentages are weighted, and
    ``n_graded`` still counts tracks: the interval is then approximate).
    """
    out: dict[str, list[float] | None] = {}
    for key, value in percent.items():
        ci = None if value is None else wilson_interval(value / 100.0 * n_graded, n_graded)
        out[key] = None if ci is None else [ci[0], ci[1]]
    return out


def reference_verdict(value: float | None, interval: Sequence[float] | None, limit: float,
                      n_graded: int | None = None) -> str | None:
    """``"met"``, ``"not met"`` or ``"uncertain"``; None without data.

    Uncertain when the 95 % interval straddles the limit, or when fewer than
    :data:`spermtrack.constants.MIN_GRADED_TRACKS` tracks were graded (too few to judge a sample by,
    whatever the interval says).
    """
    if value is None:
        return None
    if n_graded is not None and n_graded < MIN_GRADED_TRACKS:
        return "uncertain"
    if interval is not None and interval[0] < limit <= interval[1]:
        return "uncertain"
    return "met" if value >= limit else "not met"


def concentration_1e6_per_ml(mean_sperm_per_frame: float, *, chamber_depth_um: float, frame_size_px: tuple[int, int],
                             um_per_px: float) -> float:
    """Sperm concentration, 10^6 per mL, from the mean number of sperm in view.

    ``C = N / (W H s^2 d) * 1e12 um^3/mL / 1e6`` with N the mean sperm per frame, W x H the frame in px,
    s um/px and d the chamber depth in um (e.g. 20 um for a Leja slide). Assumes every sperm in the
    imaged volume is tracked; missed detections bias it low.
    """
    for label, v in (("chamber_depth_um", chamber_depth_um), ("um_per_px", um_per_px)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise InputError(f"{label} must be a positive number, got {v!r}")
    try:
        w, h = (int(v) for v in frame_size_px)
    except (TypeError, ValueError):
        raise InputError(f"frame_size_px must be (width, height), got {frame_size_px!r}") from None
    if w <= 0 or h <= 0:
        raise InputError(f"frame_size_px must be positive, got {frame_size_px!r}")
    volume_um3 = w * h * um_per_px * um_per_px * chamber_depth_um
    return float(mean_sperm_per_frame) / volume_um3 * 1e12 / 1e6


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def summarize(result: KinematicsResult, *, chamber_depth_um: float | None = None,
              frame_size_px: tuple[int, int] | None = None, n_frames: int | None = None,
              config: KinematicsConfig | None = None, extra: dict | None = None) -> dict[str, Any]:
    """The sample summary of one analysed video (JSON-ready: NaN becomes None).

    Parameters
    ----------
    result : KinematicsResult
        From :func:`spermtrack.kinematics.analyze_tracks`.
    chamber_depth_um : float, optional
        Depth of the counting chamber; with ``frame_size_px`` gives the concentration.
    frame_size_px : (int, int), optional
        Frame width and height, px (from the Recording).
    n_frames : int, optional
        Frames of the video (from the Recording); default the frames spanned by the tracks. The mean
        number of sperm per frame, and so the concentration, is over these frames.
    config : KinematicsConfig, optional
        Regrade under this config first (thresholds only); default the result's own.
    extra : dict, optional
        Added under ``"inputs"`` (e.g. the tracks file name).

    Returns
    -------
    dict
        ``counts`` and ``percent`` (a, b, c, d, progressive, non_progressive, immotile, motile), ``n_tracks``,
        ``interval_95`` (a 95 % Wilson interval per percentage, [low, high] in %), ``who_min_assessed``,
        ``ungraded_reasons``, ``motile_means`` (mean kinematics of graded motile tracks, a+b+c),
        ``who_reference_limits`` and whether they are met (``"met"``, ``"not met"``, or ``"uncertain"`` when
        the interval straddles the limit), ``noise``, ``drift``, ``calibration``,
        ``positions``, ``concentration_1e6_per_ml`` (None without chamber depth), ``config``.

    Raises
    ------
    InputError
        A chamber depth without a frame size, or invalid values.
    """
    from spermtrack.kinematics.grades import grade_table

    cfg = config if config is not None else result.config
    table = result.table if config is None else grade_table(result.table, cfg)
    pm = motility_percentages(table, weighting=cfg.weighting)
    reasons = table.loc[~table["graded"].astype(bool), "ungraded_reason"].value_counts().to_dict() \
        if len(table) else {}
    motile = table["grade"].isin(["a", "b", "c"]).to_numpy() if len(table) else np.zeros(0, bool)
    means = {c: (float(table.loc[motile, c].mean()) if motile.any() else None) for c in _MEAN_COLUMNS}
    frames = result.n_frames
    if n_frames is not None:
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
            raise InputError(f"n_frames must be a positive integer, got {n_frames!r}")
        frames = int(n_frames)
    per_frame = result.n_sperm_rows / frames if frames else 0.0
    conc = None
    if chamber_depth_um is not None:
        if frame_size_px is None:
            raise InputError("a concentration needs the frame size (frame_size_px) as well as the chamber depth")
        conc = concentration_1e6_per_ml(per_frame, chamber_depth_um=chamber_depth_um,
                                        frame_size_px=frame_size_px, um_per_px=result.um_per_px)
    pct = pm["percent"]
    intervals = intervals_95(pct, pm["counts"]["graded"])
    limits = dict(WHO_REFERENCE_LIMITS)
    meets = None if pct["progressive"] is None else {
        key: reference_verdict(pct[key], intervals[key], limits[f"{key}_pct"], pm["counts"]["graded"])
        for key in ("progressive", "motile")}
    out = {
        "counts": pm["counts"],
        "percent": pct,
        "interval_95": intervals,
        "interval_method": ("Wilson score interval of each percentage, 95 %, each graded track one observation; "
                            f"WHO 2021 asks for at least {WHO_MIN_ASSESSED} spermatozoa to be assessed"),
        "who_min_assessed": WHO_MIN_ASSESSED,
        "weighting": cfg.weighting,
        "n_tracks": int(len(table)),
        "ungraded_reasons": {str(k): int(v) for k, v in reasons.items()},
        "motile_means": means,
        "who_reference_limits": limits,
        "meets_who_reference_limits": meets,
        "noise": result.noise,
        "drift": result.drift,
        "positions": result.positions,
        "calibration": {"um_per_px": result.um_per_px, "fps": result.fps},
        "n_frames": frames,
        "mean_sperm_per_frame": per_frame,
        "chamber_depth_um": chamber_depth_um,
        "concentration_1e6_per_ml": conc,
        "n_rows_dropped_unconfirmed": result.n_rows_dropped,
        "c_vs_d_note": ("c versus d is a head-only proxy (head motion above the measured noise floor); WHO "
                        "defines it by tail movement, which a head tracker cannot see"),
        "config": cfg.to_dict(),
    }
    if extra:
        out["inputs"] = extra
    return _clean(out)
