"""Simulate one synthetic video: every object's exact path, grade, kinematics and label box (no pixels)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.schema import Recording, validate_ground_truth
from spermtrack.synth.config import (
    _FOCUS_EXIT_FACTOR,
    _KIND_CLUSTER,
    _KIND_PINHEAD,
    _KIND_SPERM,
    BOX_AXIS_SD_PX,
    BOX_FRAME_SD_PX,
    BOX_H_OFFSET_PX,
    BOX_MEAN_PX,
    BOX_TRACK_SD_PX,
    GRADES,
    PINHEAD_BOX_PX,
    SynthConfig,
    VideoParams,
    _check_seed,
    _rng,
    draw_video_params,
)
from spermtrack.synth.labels import _cuid, _in_view, _kinematics, _segments
from spermtrack.synth.motion import (
    Trajectories,
    _cluster_group,
    _debris,
    _drift,
    _focus,
    _ou,
    _pinhead_group,
    _place,
    _sperm_group,
    _systematic_round,
    _window_frames,
)


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

