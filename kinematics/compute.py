"""Kinematics of every track in a tracks table at once: vectorised CASA parameters and WHO grades.

The pipeline for one video (:func:`analyze_tracks`):

1. check the table (:func:`spermtrack.schema.validate_tracks`), drop rows that are not part of a confirmed
   track (``track_id == -1`` or ``confirmed == False``), sort by track and frame;
2. densify: a track's missing frames become rows with linearly bridged positions, flagged unmeasured
   like the tracker's ``interpolated`` rows; a track with a run of unmeasured frames longer than
   ``max_gap_s`` keeps only its longest stretch without one (:func:`~.arrays.trim_long_gaps`);
3. drift: estimate the common motion of all tracks and subtract its path (:mod:`.drift`), if enabled;
4. noise: estimate the video's localisation noise from the measured positions (:mod:`.noise`);
5. positions: the curvilinear path is this module's noise-adaptive smoothing of the measured ``x, y``
   (:func:`spermtrack.kinematics.noise.smooth_positions`); the smoothed positions the average path is
   built from are the tracker's RTS ``x_s, y_s`` when present, otherwise the curvilinear path
   (config ``positions``);
6. kinematics per track (definitions in :mod:`.trajectory`), the noise-corrected motion for the c/d
   proxy, and grades (:func:`spermtrack.kinematics.grades.grade_table`).

Unmeasured rows (interpolated by the tracker or bridged here) enter the average path, VSL, VAP and net
progression, but not VCL, ALH, BCF and MAD. Nothing is guessed across a longer run: the track is
measured on its longest stretch without one, from a measured row to a measured row (``first_frame`` to
``last_frame``; the rows cut off are counted in ``n_trimmed``), and is ungraded (``"gap"``) when that
stretch is shorter than ``min_duration_s``, as is a track with no measured row at all. Drift and the counts
of sperm rows use every row; the noise estimate and the class of a track use the rows kept and all its
rows respectively.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.kinematics._segments import Layout, centred_mean
from spermtrack.kinematics.arrays import TrackArrays, check_calibration, prepare_arrays, trim_long_gaps
from spermtrack.kinematics.config import KinematicsConfig
from spermtrack.kinematics.drift import drift_settings, drift_steps
from spermtrack.kinematics.grades import grade_table
from spermtrack.kinematics.noise import motion_statistic, smooth_positions, track_noise, video_noise
from spermtrack.kinematics.trajectory import ZERO_TOL

__all__ = ["KINEMATICS_COLUMNS", "EXTRA_COLUMNS", "KinematicsResult", "TrackArrays", "prepare_arrays",
           "analyze_tracks", "compute_kinematics", "check_calibration", "measured_rows"]

#: The kinematics table of the data contract, in order.
KINEMATICS_COLUMNS: tuple[str, ...] = (
    "track_id", "n_points", "duration_s", "vcl_um_s", "vsl_um_s", "vap_um_s", "lin", "str", "wob",
    "alh_mean_um", "alh_max_um", "bcf_hz", "mad_deg", "progression_um_s", "grade")
#: Further columns: class, frames, measured points, longest gap and the rows it cut off, the c/d proxy, noise and
#: smoothing, status.
EXTRA_COLUMNS: tuple[str, ...] = (
    "class_id", "first_frame", "last_frame", "n_measured", "max_gap_s", "n_trimmed", "motion_um",
    "noise_floor_um", "noise_px", "smooth_half_width", "graded", "ungraded_reason")


@dataclass(frozen=True, eq=False)
class KinematicsResult:
    """Everything :func:`analyze_tracks` found for one video.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per track: :data:`KINEMATICS_COLUMNS` then :data:`EXTRA_COLUMNS`.
    config : KinematicsConfig
    um_per_px, fps : float
        The calibration used.
    noise : dict
        ``sigma_px`` (video's localisation noise, sd per axis), ``sigma_um``, ``source`` ("estimated" or
        "config"), ``n_tracks_used``, ``method``.
    drift : dict
        ``enabled``, ``frames``, ``frames_estimated`` (fraction), ``mean_speed_um_s``, ``max_speed_um_s``,
        ``net_um`` (length of the drift path end to end).
    drift_path : pandas.DataFrame
        Per frame: the drift subtracted (see :func:`spermtrack.kinematics.drift.drift_steps`); empty when off.
    positions : str
        Which smoothed positions the average path was built from: "tracker" (RTS ``x_s, y_s``), "own"
        (this module's smoothing) or "raw" (measured, nothing smoothed).
    n_rows_dropped : int
        Input rows not in a confirmed track.
    n_sperm_rows : int
        Rows (observed or tracker-interpolated, not bridged here) of tracks of a graded class.
    n_frames : int
        Frames spanned by the tracks (first to last).
    """

    table: pd.DataFrame
    config: KinematicsConfig
    um_per_px: float
    fps: float
    noise: dict
    drift: dict
    drift_path: pd.DataFrame
    positions: str
    n_rows_dropped: int
    n_sperm_rows: int
    n_frames: int

    @property
    def mean_sperm_per_frame(self) -> float:
        """Mean number of graded-class sperm per frame over the frames spanned by the tracks."""
        return self.n_sperm_rows / self.n_frames if self.n_frames else 0.0


def _absmax(a: np.ndarray) -> float:
    return float(max(a.max(initial=0.0), -a.min(initial=0.0)))


def _resolve_positions(config: KinematicsConfig, has_tracker: bool) -> str:
    if config.positions == "auto":
        return "tracker" if has_tracker else "own"
    if config.positions == "tracker" and not has_tracker:
        raise InputError("positions='tracker' needs the tracker's smoothed columns x_s, y_s, which this tracks "
                         "table does not have; use positions='auto' or 'own'")
    return config.positions


def _per_track_kinematics(path: np.ndarray, base: np.ndarray, layout: Layout, measured: np.ndarray, *, fps: float,
                          s: float, config: KinematicsConfig, tol: float) -> dict[str, np.ndarray]:
    """The CASA parameters of every track (definitions in :mod:`.trajectory`).

    ``path`` is the curvilinear path (VCL, MAD, and the head side of the ALH/BCF risers); ``base`` the
    smoothed positions the average path is built from (VSL, VAP, net progression). Both are the same
    array unless the tracker's RTS-smoothed positions are used as ``base``.
    """
    n_tracks = layout.n_tracks
    n = len(path)
    loc, rem, tix = layout.loc, layout.rem, layout.tix
    span = (layout.lengths - 1).astype(np.float64)        # frame intervals per track
    with np.errstate(invalid="ignore", divide="ignore"):
        t_s = span / fps
        # steps i-1 -> i (aligned with row i)
        step = np.zeros((n, 2))
        if n > 1:
            step[1:] = path[1:] - path[:-1]
        step[loc == 0] = 0.0
        step_len = np.hypot(step[:, 0], step[:, 1])
        m_step = np.zeros(n, bool)
        if n > 1:
            m_step[1:] = measured[1:] & measured[:-1]
        m_step &= loc >= 1
        n_m = layout.track_sum(m_step.astype(np.int64))
        vcl = s * fps * layout.track_sum(np.where(m_step, step_len, 0.0)) / n_m
        vcl[n_m == 0] = np.nan
        chord = base[layout.ends] - base[layout.starts]
        vsl = s * np.hypot(chord[:, 0], chord[:, 1]) / t_s
        # average path and VAP
        avg = centred_mean(base, layout, (config.vap_window - 1) // 2)
        astep = np.zeros((n, 2))
        if n > 1:
            astep[1:] = avg[1:] - avg[:-1]
        astep[loc == 0] = 0.0
        vap = s * layout.track_sum(np.hypot(astep[:, 0], astep[:, 1])) / t_s
        single = layout.lengths < 2
        vsl[single] = np.nan
        vap[single] = np.nan
        lin = np.clip(vsl / vcl, 0.0, 1.0)
        str_ = np.clip(vsl / vap, 0.0, 1.0)
        wob = np.clip(vap / vcl, 0.0, 1.0)
        for r, den in ((lin, vcl), (str_, vap), (wob, vcl)):
            r[~(den > 0)] = np.nan
        # lateral offsets about the average path
        tang = np.zeros((n, 2))
        if n > 2:
            tang[1:-1] = avg[2:] - avg[:-2]
        first = (loc == 0) & (rem >= 1)
        last = (rem == 0) & (loc >= 1)
        fi, li = np.flatnonzero(first), np.flatnonzero(last)
        tang[fi] = avg[fi + 1] - avg[fi]
        tang[li] = avg[li] - avg[li - 1]
        tang[(loc == 0) & (rem == 0)] = 0.0
        norm = np.hypot(tang[:, 0], tang[:, 1])
        has_t = norm > tol
        rel = path - avg
        off = np.where(has_t, (tang[:, 0] * rel[:, 1] - tang[:, 1] * rel[:, 0]) / np.where(has_t, norm, 1.0), 0.0)
        off[np.abs(off) <= tol] = 0.0
        # crossings and half-beats over the measured rows with a nonzero offset
        keep = np.flatnonzero(measured & (off != 0))
        sign = np.sign(off[keep])
        mag = np.abs(off[keep])
        ktix = tix[keep]
        same = ktix[1:] == ktix[:-1]
        change = (sign[1:] != sign[:-1]) & same
        crossings = np.bincount(ktix[1:][change], minlength=n_tracks).astype(np.float64) if len(keep) else \
            np.zeros(n_tracks)
        bcf = crossings / t_s
        bcf[single] = np.nan
        alh_mean = np.zeros(n_tracks)
        alh_max = np.zeros(n_tracks)
        if len(keep):
            seg_start = np.ones(len(keep), bool)
            seg_start[1:] = ~same | change
            seg_first = np.flatnonzero(seg_start)
            peaks = np.maximum.reduceat(mag, seg_first)
            seg_tix = ktix[seg_first]
            seg_new_track = np.ones(len(seg_first), bool)
            seg_new_track[1:] = seg_tix[1:] != seg_tix[:-1]
            seg_last_track = np.ones(len(seg_first), bool)
            seg_last_track[:-1] = seg_tix[1:] != seg_tix[:-1]
            complete = ~seg_new_track & ~seg_last_track
            # per track (segments are sorted by track): count, sum and max of complete half-beat peaks
            tr_first = np.flatnonzero(seg_new_track)
            tr = seg_tix[tr_first]
            n_complete = np.zeros(n_tracks)
            n_complete[tr] = np.add.reduceat(complete.astype(np.float64), tr_first)
            sum_complete = np.zeros(n_tracks)
            sum_complete[tr] = np.add.reduceat(np.where(complete, peaks, 0.0), tr_first)
            max_complete = np.zeros(n_tracks)
            max_complete[tr] = np.maximum.reduceat(np.where(complete, peaks, 0.0), tr_first)
            max_all = np.zeros(n_tracks)
            max_all[tr] = np.maximum.reduceat(peaks, tr_first)
            has = n_complete > 0
            alh_mean = np.where(has, sum_complete / np.maximum(n_complete, 1), max_all)
            alh_max = np.where(has, max_complete, max_all)
        alh_mean = config.alh_factor * s * alh_mean
        alh_max = config.alh_factor * s * alh_max
        no_meas = layout.track_sum(measured.astype(np.int64)) == 0
        for a in (alh_mean, alh_max):
            a[single | no_meas] = np.nan
        # MAD: turns between consecutive measured steps of nonzero length
        valid_step = m_step & (step_len > tol)
        heading = np.arctan2(step[:, 1], step[:, 0])
        pair = np.zeros(n, bool)
        if n > 1:
            pair[1:] = valid_step[1:] & valid_step[:-1]
        pair &= loc >= 2
        turn = np.zeros(n)
        if n > 1:
            turn[1:] = np.abs((heading[1:] - heading[:-1] + np.pi) % (2 * np.pi) - np.pi)
        n_pair = layout.track_sum(pair.astype(np.int64))
        mad = np.degrees(layout.track_sum(np.where(pair, turn, 0.0)) / n_pair)
        mad[n_pair == 0] = np.nan
        # net progression over sliding windows
        w = max(1, int(round(config.progression_window_s * fps)))
        prog = np.full(n_tracks, np.nan)
        if n > w:
            # window (i, i + w) is stored at row i: contiguous slices, per-track sums by reduceat
            ok = np.zeros(n, bool)
            ok[:n - w] = rem[:n - w] >= w
            dist = np.zeros(n)
            dist[:n - w] = np.hypot(base[w:, 0] - base[:-w, 0], base[w:, 1] - base[:-w, 1])
            num = layout.track_sum(ok.astype(np.float64))
            tot = layout.track_sum(np.where(ok, dist, 0.0))
            has = num > 0
            prog[has] = s * fps / w * tot[has] / num[has]
    return {"vcl_um_s": vcl, "vsl_um_s": vsl, "vap_um_s": vap, "lin": lin, "str": str_, "wob": wob,
            "alh_mean_um": alh_mean, "alh_max_um": alh_max, "bcf_hz": bcf, "mad_deg": mad,
            "progression_um_s": prog}


def analyze_tracks(tracks: pd.DataFrame, um_per_px: float, fps: float, config: KinematicsConfig | None = None,
                   *, name: str = "tracks") -> KinematicsResult:
    """CASA kinematics, noise, drift and WHO grades of every track of one video.

    Parameters
    ----------
    tracks : pandas.DataFrame
        A tracks table of the data contract: ``frame, x, y, w, h, score, class_id, track_id`` (x, y box
        centre in px, frame 0-based), optionally ``x_s, y_s`` (the tracker's smoothed positions),
        ``interpolated`` (bool) and ``confirmed`` (bool). Rows with ``track_id == -1`` or
        ``confirmed == False`` are not part of a track and are ignored. The input is not modified.
    um_per_px : float
        Pixel size, um (VISEM-Tracking: 0.351). Required, > 0.
    fps : float
        Frame rate, frames per second. Required, > 0.
    config : KinematicsConfig, optional
        Settings; default the ``who2021`` preset.
    name : str
        What to call the table in error messages.

    Returns
    -------
    KinematicsResult
        ``.table`` has one row per track (see :data:`KINEMATICS_COLUMNS`, :data:`EXTRA_COLUMNS`).

    Raises
    ------
    InputError
        Missing/zero/negative calibration; a table that breaks the contract (missing column, NaN or
        non-numeric position, the same frame twice in one track); NaN smoothed positions.

    Notes
    -----
    Documented behaviour for awkward input: a track with one point gets NaN kinematics and is ungraded
    (``"too_short"``); a track shorter than ``min_duration_s`` keeps the kinematics it has and is ungraded
    (``"too_short"``); a track with a run of unmeasured frames longer than ``max_gap_s`` is measured on
    its longest stretch without one, and is ungraded (``"gap"``) when that stretch is shorter than
    ``min_duration_s`` or when nothing of it was measured; tracks of a class outside ``class_ids`` are ungraded
    (``"class"``). An empty table gives an empty result.
    """
    s, fps = check_calibration(um_per_px, fps)
    config = KinematicsConfig() if config is None else config
    if not isinstance(config, KinematicsConfig):
        raise InputError(f"config must be a KinematicsConfig, got {type(config).__name__}")
    whole = prepare_arrays(tracks, name=name)
    arr = trim_long_gaps(whole, config.max_gap_frames(fps))
    layout = arr.layout
    n_tracks = layout.n_tracks
    graded_class = np.isin(arr.class_id, config.class_ids)
    raw = arr.raw
    smoothed = arr.smoothed
    # 3. drift
    drift_info: dict = {"enabled": config.drift_compensation}
    if config.drift_compensation and len(raw):
        dp = drift_steps(whole.frame, whole.raw, whole.layout, whole.measured, fps=fps, um_per_px=s,
                         **drift_settings(config))
        offs = dp[["x_px", "y_px"]].to_numpy()[arr.frame - int(dp["frame"].iloc[0])]
        raw = raw - offs
        smoothed = None if smoothed is None else smoothed - offs
        speed = s * fps * np.hypot(dp["dx_px"].to_numpy(), dp["dy_px"].to_numpy())
        drift_info.update({"frames": int(len(dp)), "frames_estimated": float(dp["estimated"].mean()),
                           "mean_speed_um_s": float(speed[1:].mean()) if len(dp) > 1 else 0.0,
                           "max_speed_um_s": float(speed.max()),
                           "net_um": float(s * np.hypot(dp["x_px"].iloc[-1], dp["y_px"].iloc[-1]))})
    else:
        dp = pd.DataFrame(columns=["frame", "n_tracks", "support", "estimated", "dx_px", "dy_px", "x_px", "y_px"])
    # 4. noise
    sig_tracks, _ = track_noise(raw, layout, arr.measured)
    sig_tracks = np.where(graded_class, sig_tracks, np.nan)
    if config.noise_px is not None:
        sigma, n_used, source = float(config.noise_px), 0, "config"
    else:
        sigma, n_used = video_noise(sig_tracks, low_fraction=config.noise_low_fraction)
        source = "estimated" if n_used else "none (no track long enough; taken as 0)"
    noise = {"sigma_px": sigma, "sigma_um": sigma * s, "source": source, "n_tracks_used": n_used,
             "method": "Gasser pseudo-residuals (second differences): robust per-track estimate; video: median "
             "of the lowest per-track estimates"}
    # 5. positions: the curvilinear path (noise-adaptive smoothing of the measured positions) and the
    #    smoothed base of the average path (the tracker's RTS positions when used, else the same path)
    which = _resolve_positions(config, smoothed is not None)
    chosen = np.zeros(n_tracks, np.int64)
    if which == "raw":
        path = raw
    else:
        path, chosen = smooth_positions(raw, layout, sigma, config.smooth_half_widths)
    base = smoothed if which == "tracker" else path
    tol = ZERO_TOL * max(1.0, _absmax(path), _absmax(base))
    # 6. kinematics
    kin = _per_track_kinematics(path, base, layout, arr.measured, fps=fps, s=s, config=config, tol=tol)
    motion, floor, _ = motion_statistic(raw, layout, arr.measured, sigma, um_per_px=s,
                                        max_lag=max(1, int(round(config.motion_window_s * fps))),
                                        margin=config.noise_margin, z=config.motile_z)
    gap_s = arr.max_gap / fps
    table = pd.DataFrame({
        "track_id": arr.track_id, "n_points": arr.n_points,
        "duration_s": (layout.lengths - 1) / fps, **kin,
        "grade": pd.Series([None] * n_tracks, dtype=object),
        "class_id": arr.class_id, "first_frame": arr.frame[layout.starts] if n_tracks else np.zeros(0, np.int64),
        "last_frame": arr.frame[layout.ends] if n_tracks else np.zeros(0, np.int64),
        "n_measured": layout.track_sum(arr.measured.astype(np.int64)).astype(np.int64) if n_tracks else
        np.zeros(0, np.int64),
        "max_gap_s": gap_s, "n_trimmed": arr.n_trimmed, "motion_um": motion, "noise_floor_um": floor,
        "noise_px": sig_tracks, "smooth_half_width": chosen, "graded": np.zeros(n_tracks, bool),
        "ungraded_reason": pd.Series([""] * n_tracks, dtype=object)})
    reason = np.full(n_tracks, "", dtype=object)
    reason[~graded_class] = "class"
    table["ungraded_reason"] = reason
    table = grade_table(table, config)
    frames_spanned = int(whole.frame.max() - whole.frame.min() + 1) if len(whole.frame) else 0
    rows_graded_class = int(np.count_nonzero(whole.present & graded_class[whole.layout.tix])) if n_tracks else 0
    return KinematicsResult(table=table, config=config, um_per_px=s, fps=fps, noise=noise, drift=drift_info,
                            drift_path=dp, positions=which, n_rows_dropped=whole.n_dropped,
                            n_sperm_rows=rows_graded_class, n_frames=frames_spanned)


def compute_kinematics(tracks: pd.DataFrame, um_per_px: float, fps: float,
                       config: KinematicsConfig | None = None) -> pd.DataFrame:
    """One row per track: CASA kinematics and the WHO 2021 grade (the kinematics table of the contract).

    Columns: ``track_id, n_points, duration_s, vcl_um_s, vsl_um_s, vap_um_s, lin, str, wob, alh_mean_um,
    alh_max_um, bcf_hz, mad_deg, progression_um_s, grade`` then ``class_id, first_frame, last_frame,
    n_measured, max_gap_s, n_trimmed, motion_um, noise_floor_um, noise_px, smooth_half_width, graded,
    ungraded_reason``. ``grade`` is "a", "b", "c", "d", or None when ungraded. Definitions and
    references: :mod:`spermtrack.kinematics.trajectory`; the pipeline: :func:`analyze_tracks`, whose
    parameters and errors this shares.
    """
    return analyze_tracks(tracks, um_per_px, fps, config).table


def measured_rows(tracks: pd.DataFrame, kinematics: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``tracks`` that the kinematics measured: each track's rows from its ``first_frame`` to its
    ``last_frame`` (the whole track unless a long gap was cut off; see :func:`analyze_tracks`).

    Parameters
    ----------
    tracks : pandas.DataFrame
        A tracks table (``track_id``, ``frame``, ...).
    kinematics : pandas.DataFrame
        Its kinematics table (``track_id``, ``first_frame``, ``last_frame``).

    Returns
    -------
    pandas.DataFrame
        The rows of tracks that are in ``kinematics`` and inside their measured stretch, in the input's order.
    """
    span = kinematics.set_index("track_id")[["first_frame", "last_frame"]]
    first = tracks["track_id"].map(span["first_frame"])
    last = tracks["track_id"].map(span["last_frame"])
    return tracks[(tracks["frame"] >= first) & (tracks["frame"] <= last)]
