"""Tracker configuration: one frozen, validated dataclass and named presets.

All distances are in **pixels** and all times in **frames**: speeds are px/frame,
accelerations px/frame^2. :func:`motion_from_physical` converts micrometres and
seconds to these units for a recording of known ``fps`` and ``um_per_px``.

Presets
-------
``sperm`` (default)
    Centre-distance gating a few px beyond the largest expected speed (16 px at 10
    px/frame), ByteTrack-style two-stage association, OC-SORT-style observation-centric
    re-update, and in batch mode gap closing, back-filling of tentative hits, dropping tracks that
    score low on average, undoing exchanges of ids where two heads meet, RTS smoothing and
    interpolation of missed frames.
``sperm_online``
    ``sperm`` without any offline step (what :class:`~spermtrack.tracker.Tracker`
    does frame by frame; batch :func:`~spermtrack.tracker.track` then equals streaming).
``sort``
    Classic SORT (Bewley et al. 2016): IoU cost with threshold 0.3, ``max_age = 1``,
    ``min_hits = 3``, one stage, no offline steps, and SORT's output convention: tracked rows
    report the Kalman-filtered box (``boxes="filtered"``). For ordinary (pedestrian) MOT data.
``iou_bytetrack``
    ByteTrack-like (Zhang et al. 2022) in spermtrack's own engine: IoU cost, two stages (high >= 0.5, low >= 0.1,
    second stage at IoU >= 0.5), births from detections >= 0.6, ``max_age = 30`` frames,
    ``min_hits = 2``, no offline steps.

How the ``sperm`` defaults were chosen
--------------------------------------
With ``benchmarks/tracker_tune.py`` on the real trajectories of the 16 VISEM-Tracking
training videos and on synthetic VISEM-like videos (5, 20, 60 cells per frame), each
with clean and degraded ground-truth detections (0.75 px jitter, 10 % misses, 2 false
positives per frame with scores 0.2-0.7), scored by IDF1 and HOTA. The findings:

- The filter must be *smooth* (``accel_std = 0.2`` px/frame^2 against
  ``measurement_std = 2`` px): a wobbling head then predicts along its average path,
  which keeps identities when cells cross or touch (a responsive filter, 1 px/frame^2,
  lost 2-6 IDF1 points on the synthetic videos). ``measurement_std`` therefore stands for
  localisation noise *plus* head motion the model does not describe, not for jitter alone.
- The real annotations are keyframe-interpolated and change velocity abruptly (up to
  10-20 px between frames); a 16 px gate and gap closing with a livelier model
  (``gap_accel_std = 3``) repair most of the breaks this causes.
- False positives are best kept out by the score: detections below 0.6 only continue
  tracks, at half the gate (``low_gate_scale = 0.5``); births need 0.7 online, and in batch mode
  the lower quartile of the video's scores, within 0.6-0.85 (``birth_quantile``).
- Detector output is not annotated boxes: a detector misses a cell for runs of frames and its
  false positives persist (debris, unlabelled cells). In batch mode the preset reads this from
  the scores (spread below 0.85) and keeps lost tracks 15 frames instead of 5
  (``uncertain_max_age``), and 35 frames for tracks whose mean score reaches the adapted birth score
  (``uncertain_confident_max_age``): the unannotated objects a detector follows score lower than the
  cells, and reviving them after long gaps costs more than the cells' long gaps; annotated boxes keep 5.
- Most cells in a VISEM sample are still, and a still head is found again where it was: each track's centre
  distance is weighed by its own recent innovations (``innovation_weight``), so that a still track does not take
  a passer's detection while the detector misses the still head (video 11 frames 0-1028, yolo: HOTA 0.712 ->
  0.738, IDF1 0.890 -> 0.943).
- Annotated boxes (every true box scoring the same, highest value) keep one cell's size from frame to frame; on
  them the association cost adds the squared difference of box sizes (``annotated_size_weight`` = 2), which
  keeps a still cell and a smaller one passing a few px away apart. A detector's sizes jitter, so on its scores
  the cost stays the centre distance (a size term cost 0.011-0.014 HOTA on video 11 frames 0-1028). On
  annotated boxes gap closing weighs sizes too, and tracks are linked across up to 25 missed frames
  (``annotated_long_gap``; half a second at 50 fps: a cell out of focus that briefly comes back keeps its id)
  along their average path, without interpolated rows in such a gap. On annotated boxes no missed frame gets an
  interpolated row (``annotated_max_interpolated_gap``): an annotator who drew no box saw no cell there.
- Where two heads meet, one detection often covers both for a few frames and the ids can leave the
  encounter exchanged (video 11 frames 0-1028: a still cell and a slow one 5-8 px apart, both trackers
  swapped them). In batch mode the offline step ``resolve_encounters`` compares the tracks' states
  before and after every encounter within ``encounter_radius`` = 8 px and swaps the ids back when each
  track continues the other's path better (chosen on video 11 frames 0-1028 with yolo and blob and on
  synthetic videos with real detections; requiring *each* track to fit better kept it from swapping a
  cell that turned sharply beside a still one), or when the one still cell of the two does (a passer
  that turned while merged with it; ``encounter_motile_speed``).
- A track is one object seen many times: its mean score separates cells from the objects nobody annotates
  better than one detection's score. In batch mode tracks whose detections score below 0.85 times the adapted
  birth score on average are dropped (``track_score_ratio``; cross-fitted yolo rescored by the head verifier:
  HOTA 0.656 -> 0.675, IDF1 0.859 -> 0.887; unverified, blob, annotated and synthetic boxes: unchanged or
  better).
- On real detector output a smoother filter (``measurement_std`` 3 px) moved HOTA by -0.003 to
  +0.013 depending on the detector and frames, within the noise of a few identity switches, and
  cost 0.07 HOTA points on the annotated tracks: not taken.
- Also asking a kept track to hold one confident detection (its best score at least the 0.35 quantile of the
  video's scores, as BoT-SORT asks a birth to; stop 49) moved the mean of the six crossfit instruments (video 11
  frames 0-1028; fold, spatially and un-verified yolo, splits A and B) from HOTA / IDF1 0.6414 / 0.8397 to
  0.6473 / 0.8443, and the 16 training videos with detector-like errors from 0.5569 to 0.5585 HOTA. But it cost
  blob on video 11 frames 0-1028 0.006 HOTA and 0.017 IDF1 (0.509 / 0.736 -> 0.503 / 0.719): a dim cell scores
  0.5-0.7 in every frame. At the 0.3 quantile the instruments gain only 0.001 and blob still loses 0.005 IDF1; 0.4
  and 0.5 cost blob at least as much as 0.35. Not taken.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from spermtrack._validate import Config, check_names, number, physical
from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError

COSTS: tuple[str, ...] = ("centre", "mahalanobis", "iou")
BOXES: tuple[str, ...] = ("measured", "filtered")


#: Largest frame count a tracker setting takes (``max_age``, ``max_gap``, ...): 5.5 h at 50 fps. Larger values
#: would overflow the compiled engine's 64-bit integers or the gap-closing transition tables.
MAX_FRAMES = 1_000_000

#: Largest ``size_weight``: the compiled engine's cost limit, gate^2 (1 + size_weight), must stay finite.
MAX_SIZE_WEIGHT = 1e6
#: Smallest ``innovation_floor``, px: the innovation scale, measurement_std^2 / floor^2, must stay finite.
MIN_INNOVATION_FLOOR = 1e-3

#: Slack of the confident-track test (mean score >= birth score), so that a mean of scores equal to the
#: threshold is not lost to rounding (three scores of 0.7 average to 0.6999999999999998).
CONFIDENT_SLACK = 1e-9


@dataclass(frozen=True)
class TrackerConfig(Config):
    """Every knob of the tracker, validated on construction.

    Units: px, frames, px/frame (speed), px/frame^2 (acceleration).

    Parameters
    ----------
    cost : {"centre", "mahalanobis", "iou"}
        Association cost between a track's predicted state and a detection.
        ``centre``: squared Euclidean distance of the predicted centre to the detected
        centre, px^2, gated at a distance of ``max_distance + gate_growth * missed`` px
        (``missed`` = frames the track has missed since its last detection).
        ``mahalanobis``: ``sqrt(nu' S^-1 nu)`` with innovation ``nu`` and innovation
        covariance ``S = H P H' + R``, gated at
        ``sqrt(mahalanobis_gate)``. ``iou``: ``1 - IoU`` of the predicted box with the
        detected box, gated at ``IoU >= iou_threshold``.
    max_distance : float
        Centre-distance gate in px (``cost="centre"``). Should exceed ``max_speed`` by a
        few px: a new track does not know its velocity yet.
    size_weight : float
        ``cost="centre"`` only: weight of the box-size difference in the cost, which becomes
        ``dist^2 + size_weight * ((w_t - w_d)^2 + (h_t - h_d)^2)`` px^2 (``w_t, h_t``: the track's last
        measured size; ``w_d, h_d``: the detection's). The gate stays on the centre distance; leaving a track
        and a detection unmatched then costs ``1 + size_weight`` times the largest centre cost inside a gate. 0 (the
        default): centre distance alone. In batch mode, on annotated boxes' scores, raised to
        ``annotated_size_weight``.
    innovation_weight : float
        ``cost="centre"`` only: each track's squared centre distance is scaled by its own noise,
        ``dist^2 * measurement_std^2 / q``, where ``q`` is the exponentially weighted mean squared innovation per
        axis (detected minus predicted centre) of the track's detections in consecutive frames, with this weight
        for the newest (0.1: about the last 10 frames), clipped to ``[innovation_floor^2, innovation_ceiling^2]``;
        a new track starts at ``q = measurement_std^2`` (factor 1). The gate stays that of the unscaled distance:
        the scale ranks the pairs inside it and shuts none out (the cost of leaving a track unmatched follows the
        largest scaled cost inside a gate). 0 switches it off. It is the centre cost with the measurement noise
        estimated per track from its innovations (innovation-based adaptive estimation, Mehra 1970): a still
        cell, whose detections follow its prediction to within the detector's jitter, holds on to its own
        detection and does not take a passer's; an erratic one may be matched further out. Why: on
        video 11 frames 0-1028 with the shipped yolo, most of the rows on which the ids were wrong belonged to four
        still cells (1,465 of the 2,662 rows not on their cell's best id), each taken over by a passer while the
        detector missed the still head for a few frames: the passer's detection lay nearer the still track's
        prediction than the passer's own. Measured (HOTA / IDF1, off -> on): video 11 frames 0-1028 0.712 / 0.890
        -> 0.738 / 0.943 (yolo) and 0.499 / 0.723 -> 0.506 / 0.728 (blob); 20 s of the 16 training videos with
        detector-like errors (``NOISE_PROFILES["detector"]``, seed 12) 0.5788 -> 0.5785 and annotated (with
        ``annotated_size_weight``) 0.9897 -> 0.9904; 20-s synthetic videos with detector-like errors (seeds
        305, 320, 360) 0.552 / 0.641 / 0.656 -> 0.552 / 0.634 / 0.665.
    innovation_floor, innovation_ceiling : float
        Bounds, px, of the innovation standard deviation per axis that ``innovation_weight`` uses (``0.001 <=
        innovation_floor <= innovation_ceiling``): the factor lies in ``[measurement_std^2 / innovation_ceiling^2,
        measurement_std^2 / innovation_floor^2]`` ([0.44, 4] with the defaults; a new track's factor is 1 only
        while ``measurement_std`` lies within the bounds, and the bounds are not rescaled with it or by
        :func:`get_config`'s ``fps`` / ``um_per_px``). The floor: annotated boxes of a still cell have no
        innovation at all. The ceiling: without it, erratic tracks matched far out took other
        cells' detections in dense synthetic video with detector-like errors (60 cells per frame, HOTA off / no
        ceiling / ceiling 3 px: 0.656 / 0.655 / 0.665 on seed 360, 0.643 / 0.621 / 0.637 on ``tracker_bench``'s
        seed 160), while video 11 kept its gain (yolo 0.7374 without the ceiling, 0.7375 with it).
    annotated_size_weight : float or None
        Batch only, with ``birth_quantile``: when the scores are annotated boxes', not a detector's (the
        adapted birth score reaches ``birth_score_max`` and the scores are not continuous:
        :func:`detector_scores`), ``size_weight`` is raised to at least this. An annotator's box keeps one
        cell's size from frame to frame, so size tells apart two heads a few px apart, which the centre
        distance alone does not. Most of what it repairs is a still cell and a smaller one passing 3-6 px away
        that turns (video 36 of the training set: a 22 x 25 px box against 13-16 px). Chosen on annotated boxes:
        the 16 training videos (first 20 s) read HOTA 0.9867 without it and 0.9882 / 0.9897 / 0.9904 at 1 / 2 /
        4; 20-s synthetic videos at 60 cells per frame (seed 360) 0.9920 -> 0.9951 at each, at 5 and 20 within
        0.0001. ``tracker_bench`` (30 s of each training video; synthetic seed 160) then read 0.9838 -> 0.9861
        / 0.9875 / 0.9882 on the real and 0.9810 -> 0.9864 / 0.9865 / 0.9823 on the synthetic 60-per-frame video:
        2 is the weight that gains on both. A detector's sizes jitter: on video 11 frames 0-1028 a weight of 2
        took HOTA from 0.712 to 0.701 (yolo) and 0.499 to 0.485 (blob). The IoU cost of the peers uses the size
        too, but it loses fast heads (7-10 px/frame with 11-13 px boxes) whose predicted box misses the detected
        one (synthetic 20 per frame, IoU >= 0.1: HOTA 0.998 -> 0.987). ``None``: never.
    annotated_long_gap : int or None
        Batch only, with ``birth_quantile``: on annotated boxes' scores (as ``annotated_size_weight``),
        ``long_gap`` is raised to at least this. An annotator may label a cell again, with its id, when it
        comes back into view: 62 of the 890 annotated tracks of the 16 training videos keep their id across a
        gap (1-60 frames, most under 15), and the synthetic generator keeps an id across gaps of up to 0.5 s
        (``reid_gap_s``). Chosen on 20-s synthetic videos (seeds 501-506 at 60 cells per frame, 501-503 at 20)
        and the first 20 s of the 16 training videos, clean boxes, HOTA (60 / 20 / real): off 0.9952 / 0.9962 /
        0.9914; 15 frames 0.9964 / 0.9965 / 0.9912; 20: 0.9977 / 0.9999 / 0.9912; 25: 0.9983 / 0.9999 /
        0.9917; 30: 0.9976 / 0.9999 / 0.9916; 40: 0.9940 / 0.9993 / 0.9903. A detector misses cells that are
        in view, and there long gaps are bridged online (``uncertain_confident_max_age``) and interpolated; a
        long-gap pass there (accel 0.1 px/frame^2, gate 13.3) moved HOTA by -0.0025 to +0.0028 (video 11
        frames 0-1028: -0.0002 yolo, -0.0003 blob). With today's defaults (stop 49), 50 frames on a detector's
        scores moved the mean of the six crossfit instruments 0.6414 -> 0.6437 and blob 0.509 -> 0.510, but the
        shipped yolo on frames 0-1028 0.7494 -> 0.7487 and the detector-like errors of the 16 training videos
        and of synthetic videos 0.5569 -> 0.5526 and 0.5845 -> 0.5794. ``None``: never.
    annotated_max_interpolated_gap : int or None
        Batch only, with ``birth_quantile``: on annotated boxes' scores (as ``annotated_size_weight``),
        ``max_interpolated_gap`` is lowered to at most this. A frame in which an annotator drew no box for a cell is
        one in which the cell was not seen (out of view or focus), not a miss: a row there is a position nobody
        measured, and it counts as a false positive against the annotations. Measured with interpolation on / off,
        clean boxes (``benchmarks/tracker_tune.py --noise clean --grid annotated_max_interpolated_gap=none,0``):
        the first 20 s of the 16 training videos HOTA 0.9917 / 0.9923 (IDF1 0.9899 / 0.9902), 20-s synthetic
        videos (``--data synthetic``) 0.9981 / 0.9986. A detector's missing box is usually a miss of a cell in
        view, and there the rows stay. ``None``: never lowered.
    gate_growth : float
        Extra px of centre gate per missed frame (the prediction gets worse in a gap).
    low_gate_scale : float
        Gate of the second (low-score) stage as a fraction of the first stage's, in (0, 1]
        (for ``iou``: the allowed ``1 - IoU`` is scaled). Low-score detections are more often
        false positives: ByteTrack also matches them more strictly.
    mahalanobis_gate : float
        Chi-square gate on the squared Mahalanobis distance (2 dof; 13.8 = 99.9 %).
    iou_threshold : float
        Minimum IoU of a pair (``cost="iou"``), in (0, 1).
    max_speed : float
        Largest expected speed, px/frame. Sets the prior standard deviation of a new
        track's velocity, ``max_speed / 2`` per axis.
    accel_std : float
        Standard deviation of the white-noise acceleration per axis, px/frame^2: the
        process noise of the constant-velocity Kalman filter (see
        :func:`spermtrack.tracker.kalman.constant_velocity_model`).
    measurement_std : float
        Standard deviation of the detected centre per axis, px (the measurement noise,
        including head motion the constant-velocity model does not describe).
    size_in_state : bool
        Also filter the box size: state ``[x, y, vx, vy, w, h]`` with a random walk on
        ``w, h`` (standard deviation ``size_std`` px/frame). Otherwise the last measured
        size is kept (which the IoU cost and ``size_weight`` use).
    size_std : float
        Random-walk standard deviation of ``w`` and ``h``, px/frame (``size_in_state``).
    min_hits : int
        Hits a track needs before it is confirmed and gets a ``track_id`` (>= 1).
    max_age : int
        A confirmed track is deleted after more than ``max_age`` consecutive missed frames (a confident
        one may be kept longer: ``confident_max_age``).
    confident_max_age : int or None
        A confirmed track whose mean detection score so far is at least ``birth_threshold``
        (``max(birth_score, low_score)``, to within 1e-9, so that rounded scores equal to the threshold
        count) is deleted after more than
        ``max(max_age, min(confident_max_age, hits))`` missed frames, where ``hits`` is the number of its
        detections: it is kept up to ``confident_max_age`` frames, but never longer than it has been seen (a
        track of three confident hits on a false positive would otherwise coast on and snap to another object,
        its gate grown with every miss). ``None`` (the default of every preset): ``max_age`` for every track. In
        batch mode, on a detector's scores, raised to ``uncertain_confident_max_age``.
    tentative_max_age : int
        A tentative track is deleted after more than ``tentative_max_age`` missed frames
        (0: at its first miss, as in SORT and ByteTrack).
    two_stage : bool
        ByteTrack association: detections with ``score >= high_score`` are matched to all
        live tracks first, then detections with ``low_score <= score < high_score`` to the
        confirmed tracks left over. When False, all detections with ``score >= low_score``
        are matched in one stage.
    high_score, low_score : float
        Score thresholds in [0, 1], ``low_score <= high_score``; detections below
        ``low_score`` are never used (they get ``track_id == -1``).
    birth_score : float
        Unmatched detections with ``score >= birth_score`` start a new (tentative) track. In batch
        mode with ``birth_quantile`` set, it is replaced by the threshold resolved from the scores.
    birth_quantile : float or None
        Batch only: the birth score adapts to the detections' own scores: the ``birth_quantile``
        quantile of the scores ``>= low_score``, clipped to ``[min(high_score, birth_score_max),
        birth_score_max]`` (:meth:`TrackerConfig.adapted`). ``None``: ``birth_score`` as given.
        Why: detectors differ in how their scores spread. On video 11 frames 0-1028 the shipped yolo
        gives a median calibrated score of 0.90 and scores its unlabelled objects (debris, cells cut by
        the edge) 0.7-0.85, so a fixed 0.7 births tracks of them (FP 4,452, MOTA 0.864; its lower
        quartile, 0.82, gives FP 2,648, MOTA 0.897); blob's median is 0.80 and a 0.7 birth loses real
        cells (its lower quartile, 0.65: HOTA 0.491 against 0.480, MOTA 0.597 against 0.551).
    birth_score_max : float
        Upper bound of the adapted birth score (with ``birth_quantile``); on annotated boxes, whose
        true detections score 1, this is the birth score.
    uncertain_max_age : int or None
        Batch only, with ``birth_quantile``: when the scores are a detector's, not annotated boxes' (the
        adapted birth score lies below ``birth_score_max``, or the scores are continuous:
        :func:`detector_scores`), confirmed tracks are kept through ``max(max_age, uncertain_max_age)``
        missed frames. Detectors miss a cell for runs of
        frames (video 11: median 2-3, mean 9-16 frames), annotations do not: on the 16 training videos
        with detector-like errors (:data:`~spermtrack.detectors.gt.NOISE_PROFILES` ``detector``) 15
        frames instead of 5 gave HOTA 58.1 against 52.0 and IDF1 78.9 against 68.4, while on clean
        annotated boxes it cost 0.1 HOTA. Blob on the synthetic phase-contrast look scores nearly every
        head above 0.99; treating those continuous scores as a detector's took HOTA on four 20-s
        synthetic videos from 0.901 to 0.916 and IDF1 from 0.924 to 0.946. ``None``: ``max_age`` always.
    uncertain_confident_max_age : int or None
        Batch only, with ``birth_quantile``, on a detector's scores (as ``uncertain_max_age``): the adapted
        config's ``confident_max_age`` is raised to at least this, so that a track that has scored at least the
        adapted birth score on average survives a longer run of misses than one that has not. Some of a
        detector's runs of misses are long: on video 11 frames 0-1028 the shipped yolo's 121 runs inside
        annotated tracks have a median of 2 frames, but 10 last over 15 frames (7 of them 16-35, a quarter of
        the missed frames; blob: 39 of 459 over 15, 25 of them 16-35). The persistent objects nobody annotated
        (debris, half-visible cells) score lower than the cells: on those frames the shipped yolo scores its
        tracks on annotated cells 0.75-0.98 (median of the track means 0.87) and those on unannotated objects
        0.54-0.84 (median 0.76), against an adapted birth score of 0.82. Keeping every track 35 frames revived
        the unannotated ones too (yolo: HOTA 0.712 -> 0.705, IDF1 0.889 -> 0.881); keeping only the confident
        ones kept video 11 (yolo 0.712 / 0.890, blob 0.501 / 0.713 -> 0.499 / 0.723) and took the 16 training
        videos with detector-like errors (20 s of each, ``NOISE_PROFILES["detector"]`` with seed 12) from HOTA
        0.537 to 0.579 and IDF1 0.707 to 0.788, and 20-s synthetic videos at 5, 20 and 60 cells per frame (seeds
        305, 320, 360) from 0.454 / 0.592 / 0.608 to 0.552 / 0.641 / 0.656 (25 frames: 0.579 / 0.786 on the
        training videos, yolo 0.710; 50: 0.573 / 0.779, yolo 0.710; 100: 0.554 / 0.750). ``None``: no confident
        tracks.
    class_aware : bool
        Only pair a track with detections of the class it was last seen as.
    observation_recovery : bool
        OC-SORT observation-centric re-update: when a track is found again after ``k``
        missed frames, its filter is re-run from the state at its last observation through
        ``k`` virtual observations on the straight line to the new one, instead of
        trusting the ``k`` blind predictions.
    gap_closing : bool
        Batch only: link tracklet ends to tracklet starts up to ``max_gap`` missed frames
        later, solving all links as one linear assignment problem.
    max_gap : int
        Largest number of missed frames a gap-closing link may bridge (>= 0; 0 joins
        tracklets in consecutive frames only).
    gap_gate : float
        Chi-square gate on the gap-closing cost (4 dof: position and velocity; 18.5 = 99.9 %).
    gap_penalty : float
        Cost added per missed frame of a gap-closing link (prefers short gaps).
    gap_accel_std : float or None
        Process noise (px/frame^2) of the motion model that predicts across a gap;
        ``None`` uses ``accel_std``. Larger than ``accel_std`` lets gap closing repair the
        breaks a smooth online model leaves at abrupt turns. With ``size_weight > 0`` the gap-closing
        cost (and its gate) also holds the size term of the online cost in its own units,
        ``size_weight / measurement_std^2`` times the squared difference of the mean box sizes at the two
        ends (:func:`~spermtrack.tracker.offline.end_sizes`): on clean boxes of 20-s synthetic videos at 60 and
        20 cells per frame and the 16 training videos, HOTA 0.9910 / 0.9945 / 0.9904 -> 0.9952 / 0.9962 / 0.9914.
    long_gap : int
        Batch only: after gap closing, further rounds link tracklets across gaps of up to this many missed
        frames, with the tracker's own smooth model (``accel_std``): across a long gap only a cell's average
        path can be predicted (``gap_accel_std`` over 25 frames would let a still cell jump 170 px). A gap
        these rounds link gets no interpolated rows (:func:`~spermtrack.tracker.offline.close_long_gaps`).
        Their reach after 25 missed frames: a still cell may be linked to one of its size that starts up to
        about 45 px away (70 px if that one moves at 2 px/frame). On the clean boxes of ``annotated_long_gap``'s
        data sets, 22 of the 22 synthetic long links and 4 of the 6 real ones joined one annotated cell; the
        other two joined ids 2 and 10 px apart (video 38, video 12).
        Like every frame count, it is not rescaled with ``fps``. 0 (the default; at most ``max_gap``): none.
        In batch mode, on annotated boxes' scores, raised to ``annotated_long_gap``.
    encounter_radius : float
        Batch only: two tracks closer than this (px, missed frames interpolated) meet in an *encounter*,
        where one detection often covers both heads; after it, their ids are swapped when motion
        continuity says they were exchanged (:func:`~spermtrack.tracker.encounters.resolve_encounters`).
        0 switches the step off. On video 11 frames 0-1028 with the shipped yolo this took HOTA 0.695 to
        0.712 and IDF1 0.866 to 0.889 (2 swaps; blob: no swap); on four synthetic videos with real
        detectors HOTA +0.001 (yolo) and +0.004 (blob).
    encounter_window : int
        Frames of detections on each side of an encounter that give the tracks' states there.
    encounter_max_span : int
        Encounters longer than this many frames (cells that stay together) are left alone.
    encounter_margin : float
        Chi-square margin by which the swapped pairing must beat the kept one; each of the two tracks
        must also fit the other's continuation better than its own, unless one is a still cell: then its
        own swapped pairing must beat its kept one by the margin
        (:func:`~spermtrack.tracker.encounters.exchanged`).
    encounter_motile_speed : float
        px/frame: the encounter step's continuity test holds a pairing whose slower state is below this
        speed to a tighter motion model, down to a hundredth of the acceleration variance for a still cell
        (:func:`~spermtrack.tracker.encounters.motility_scale`): a cell keeps its motility through an
        encounter (an immotile cell does not start swimming, nor a swimmer stop dead, there; where both
        happen at once the step exchanges the ids wrongly, see the module notes). A speed, rescaled with
        ``fps`` and ``um_per_px``. 0: the shared smooth model for every pairing. Measured with detectors that
        never trained on the frames they detect (``benchmarks/crossfit_bench.py``: video 11 frames 520-1028 by a
        YOLOv5n trained on frames 0-479, HOTA / IDF1 0.577 / 0.763 -> 0.582 / 0.771; frames 0-519 by one
        trained on 560-1028, unchanged at 0.612 / 0.771). On the shipped detectors' video 11 frames
        0-1028 and the detector-like, noisy and clean sets of 20-s synthetic and 16 training videos: unchanged
        or better (blob on video 11 0.506 -> 0.507, detector-like real 0.5785 -> 0.5799). A track slower than
        half this speed before an encounter is still there, and where its exchanged continuation is slower
        than this speed its own fit may decide the encounter
        (:func:`~spermtrack.tracker.encounters.still_anchor`; crossfit HOTA / IDF1 A 0.582 / 0.771 -> 0.589 /
        0.781, B 0.612 / 0.771 -> 0.626 / 0.804). 0 switches both off.
    backfill : bool
        Batch only: give the tentative hits of a track that was later confirmed its id.
    smooth : bool
        Batch only: Rauch-Tung-Striebel smoothing of each track into new columns ``x_s``,
        ``y_s`` (measured ``x``, ``y`` untouched). With the tracker's own smooth model
        (the default) ``x_s, y_s`` follow the *average path* of a wobbling head: on the
        synthetic videos they lie within 0.3-0.5 px RMS of the true average path, while the
        raw head positions are 1.8 px from it. To denoise the head position itself
        instead, use ``smooth_accel_std`` about 8 and ``smooth_measurement_std`` about the
        detector's jitter (this gains little below 1 px of jitter).
    smooth_accel_std : float or None
        Process noise (px/frame^2) of the smoother; ``None`` uses ``accel_std``.
    smooth_measurement_std : float or None
        Measurement noise (px) of the smoother; ``None`` uses ``measurement_std``.
    interpolate : bool
        Batch only: add a row for every missed frame inside a track, linearly interpolated,
        flagged ``interpolated == True``.
    max_interpolated_gap : int or None
        Batch only, with ``interpolate``: a run of more than this many missed frames gets no rows (the track keeps
        its id across it). ``None``: every run gets its rows.
    min_track_len : int
        Batch only: tracks with fewer detections than this get ``track_id == -1`` (0 = keep all).
    min_track_score : float
        Batch only: tracks whose detections score less than this on average (interpolated rows do not count)
        get ``track_id == -1`` (0 = keep all). In batch mode with ``birth_quantile`` it is raised to
        ``track_score_ratio`` times the adapted birth score.
    track_score_ratio : float or None
        Batch only, with ``birth_quantile``: ``min_track_score`` is raised to this fraction of the adapted
        birth score (:meth:`TrackerConfig.adapted`), for a detector's scores and annotated boxes' alike. A
        track is one object seen many times, so its mean score tells a cell from the objects nobody annotates
        far better than any one detection's score, on which births and the two stages decide. Why: with the
        head verifier (:mod:`spermtrack.detectors.verify`) the unannotated objects yolo follows (debris,
        tail-less round objects) score low on most frames, but a few confident detections still start tracks
        on them, and the second stage keeps them alive. Measured, HOTA / IDF1, with the ratio off / 0.8 / 0.85 /
        0.9: cross-fitted yolo detections of video 11 frames 0-1028 rescored by head verifiers that never saw them
        (``benchmarks/crossfit_bench.py --verify``, mean of two splits; adapted birth scores 0.85 and 0.78)
        0.6556 / 0.8587, 0.6740 / 0.8851, 0.6747 / 0.8873, 0.6671 / 0.8792 (0.9 drops a cell's track); the same
        unverified 0.6148 / 0.7944, 0.6169 / 0.7979, 0.6174 / 0.7974, 0.6193 / 0.7971; blob on video 11 frames
        0-1028 (birth 0.65): 0.5086 / 0.7350 off and at 0.8, 0.5090 / 0.7363 at 0.85; the 16 training videos
        (first 20 s) with detector-like errors (``NOISE_PROFILES["detector"]``) 0.5691 / 0.7751 -> 0.5698 / 0.7762
        at 0.85; clean and noisy annotated boxes and 20-s synthetic videos (5, 20, 60 cells per frame; clean,
        noisy, detector-like): unchanged. An absolute threshold does not carry across detectors: a mean score of
        0.6 lifted the verified splits to 0.6707 but cost blob 0.006 HOTA and 0.017 IDF1 (its cells score
        0.5-0.8). On the validation frames, never tuned on (video 11 frames 1029-1469, the shipped yolo with its
        verifier, ``benchmarks/real_bench.py``), it gained nothing: 0.635 / 0.867 off, 0.634 / 0.861 at 0.85
        (422 fewer false-positive rows, 525 more misses). ``None``: never.
    boxes : {"measured", "filtered"}
        Which box a tracked row reports in ``x, y, w, h``. ``measured`` (the data contract, every
        sperm preset): the detection as detected. ``filtered``: the Kalman filter's state after
        the update with that detection (SORT's convention, Bewley et al. 2016, which the pedestrian
        benchmarks were scored with); the detection's own box is then kept in ``x_det, y_det,
        w_det, h_det``. Rows outside any track keep their measured box.
    """

    cost: str = "centre"
    max_distance: float = 16.0
    size_weight: float = 0.0
    innovation_weight: float = 0.1
    innovation_floor: float = 1.0
    innovation_ceiling: float = 3.0
    gate_growth: float = 1.0
    low_gate_scale: float = 0.5
    mahalanobis_gate: float = 13.8
    iou_threshold: float = 0.3
    max_speed: float = 10.0
    accel_std: float = 0.2
    measurement_std: float = 2.0
    size_in_state: bool = False
    size_std: float = 1.0
    min_hits: int = 3
    max_age: int = 5
    confident_max_age: int | None = None
    tentative_max_age: int = 0
    two_stage: bool = True
    high_score: float = 0.6
    low_score: float = 0.1
    birth_score: float = 0.7
    birth_quantile: float | None = 0.25
    birth_score_max: float = 0.85
    uncertain_max_age: int | None = 15
    uncertain_confident_max_age: int | None = 35
    annotated_size_weight: float | None = 2.0
    annotated_long_gap: int | None = 25
    annotated_max_interpolated_gap: int | None = 0
    class_aware: bool = False
    observation_recovery: bool = True
    gap_closing: bool = True
    max_gap: int = 10
    long_gap: int = 0
    gap_gate: float = 18.5
    gap_penalty: float = 0.5
    gap_accel_std: float | None = 3.0
    encounter_radius: float = 8.0
    encounter_window: int = 20
    encounter_max_span: int = 30
    encounter_margin: float = 4.0
    encounter_motile_speed: float = 1.0
    backfill: bool = True
    smooth: bool = True
    smooth_accel_std: float | None = None
    smooth_measurement_std: float | None = None
    interpolate: bool = True
    max_interpolated_gap: int | None = None
    min_track_len: int = 0
    min_track_score: float = 0.0
    track_score_ratio: float | None = 0.85
    boxes: str = "measured"

    def __post_init__(self) -> None:
        self._choice("cost", COSTS)
        self._choice("boxes", BOXES)
        for name in ("size_in_state", "two_stage", "class_aware", "observation_recovery", "gap_closing",
                     "backfill", "smooth", "interpolate"):
            self._boolean(name)
        for name in ("max_distance", "mahalanobis_gate", "max_speed", "accel_std", "measurement_std", "size_std",
                     "gap_gate", "innovation_ceiling"):
            self._number(name, lo=0, lo_open=True)
        for name in ("gate_growth", "gap_penalty", "encounter_radius", "encounter_margin", "encounter_motile_speed"):
            self._number(name, lo=0)
        self._number("size_weight", lo=0, hi=MAX_SIZE_WEIGHT)
        self._number("innovation_floor", lo=MIN_INNOVATION_FLOOR)
        for name in ("smooth_accel_std", "smooth_measurement_std", "gap_accel_std"):
            self._optional_number(name, lo=0, lo_open=True)
        self._optional_number("annotated_size_weight", lo=0, hi=MAX_SIZE_WEIGHT)
        self._number("innovation_weight", lo=0, hi=1)
        self._number("iou_threshold", lo=0, lo_open=True, hi=1, hi_open=True)
        self._number("low_gate_scale", lo=0, lo_open=True, hi=1)
        for name in ("high_score", "low_score", "birth_score", "birth_score_max", "min_track_score"):
            self._number(name, lo=0, hi=1)
        self._optional_number("birth_quantile", lo=0, hi=1)
        self._optional_number("track_score_ratio", lo=0, hi=1)
        for name in ("confident_max_age", "uncertain_max_age", "uncertain_confident_max_age", "annotated_long_gap",
                     "annotated_max_interpolated_gap", "max_interpolated_gap"):
            self._optional_integer(name, lo=0, hi=MAX_FRAMES)
        if self.low_score > self.high_score:
            raise self._fail("low_score", f"<= high_score ({self.high_score})")
        if self.innovation_floor > self.innovation_ceiling:
            raise self._fail("innovation_floor", f"<= innovation_ceiling ({self.innovation_ceiling})")
        self._integer("min_hits", lo=1)
        for name in ("max_age", "tentative_max_age", "max_gap", "long_gap", "min_track_len", "encounter_window",
                     "encounter_max_span"):
            self._integer(name, lo=0, hi=MAX_FRAMES)

    def online_only(self) -> TrackerConfig:
        """Return a copy with every batch-only (offline) step switched off.

        With it, :func:`~spermtrack.tracker.track` equals the concatenated output of
        :meth:`Tracker.update <spermtrack.tracker.Tracker.update>` over all frames.
        """
        return replace(self, **_OFFLINE_OFF)

    def adapted(self, scores) -> TrackerConfig:
        """This config adapted to the detections' ``scores`` (``birth_quantile``, ``uncertain_max_age``,
        ``uncertain_confident_max_age``, ``annotated_size_weight``, ``annotated_long_gap``,
        ``annotated_max_interpolated_gap``, ``track_score_ratio``).

        Parameters
        ----------
        scores : array-like
            The scores of every detection to be tracked.

        Returns
        -------
        TrackerConfig
            ``birth_score`` replaced, ``min_track_score`` raised with ``track_score_ratio`` (and, for a
            detector's scores, ``max_age`` and ``confident_max_age`` raised; for annotated boxes' scores,
            ``size_weight`` and ``long_gap`` raised and ``max_interpolated_gap`` lowered) and
            ``birth_quantile = None``;
            unchanged when ``birth_quantile`` is None or no score reaches ``low_score``. Scores are a
            detector's when they spread below ``birth_score_max`` or are continuous (:func:`detector_scores`).
        """
        if self.birth_quantile is None:
            return self
        scores = np.asarray(scores, dtype=np.float64)
        usable = scores[scores >= self.low_score]
        if not len(usable):
            return self
        low = min(self.high_score, self.birth_score_max)
        birth = round(float(np.clip(np.quantile(usable, self.birth_quantile), low, self.birth_score_max)), 4)
        max_age, confident = self.max_age, self.confident_max_age
        size_weight, long_gap, max_interp = self.size_weight, self.long_gap, self.max_interpolated_gap
        if birth < self.birth_score_max or detector_scores(usable):
            if self.uncertain_max_age is not None:
                max_age = max(max_age, self.uncertain_max_age)
            if self.uncertain_confident_max_age is not None:
                confident = max(confident or 0, self.uncertain_confident_max_age)
        else:
            if self.annotated_size_weight is not None:
                size_weight = max(size_weight, self.annotated_size_weight)
            if self.annotated_long_gap is not None:
                long_gap = max(long_gap, self.annotated_long_gap)
            if self.annotated_max_interpolated_gap is not None:
                gap = self.annotated_max_interpolated_gap
                max_interp = gap if max_interp is None else min(max_interp, gap)
        min_track_score = self.min_track_score
        if self.track_score_ratio is not None:
            min_track_score = max(min_track_score, round(self.track_score_ratio * birth, 4))
        return replace(self, birth_score=birth, max_age=max_age, confident_max_age=confident, size_weight=size_weight,
                       long_gap=long_gap, max_interpolated_gap=max_interp, min_track_score=min_track_score,
                       birth_quantile=None)

    @property
    def birth_threshold(self) -> float:
        """The score a detection needs to start a track, and a track's mean score to be confident."""
        return max(self.birth_score, self.low_score)

    @property
    def longest_max_age(self) -> int:
        """The most missed frames any track survives (``max_age``, ``confident_max_age``, ``tentative_max_age``)."""
        return max(self.max_age, self.confident_max_age or 0, self.tentative_max_age)

    @property
    def has_offline_steps(self) -> bool:
        """True if any batch-only step is on."""
        return (self.gap_closing or self.backfill or self.smooth or self.interpolate or self.min_track_len > 0
                or self.min_track_score > 0 or self.encounter_radius > 0)


def detector_scores(scores: np.ndarray) -> bool:
    """True when ``scores`` look like a detector's: continuous, not one value shared by most boxes.

    Annotated boxes score 1 (with a few false positives added, still most of them score exactly the
    highest value); a detector scores each box on its own. On easy video a detector's scores can all lie
    near 1 (blob on the synthetic phase-contrast look: lower quartile 0.997), which the spread alone does
    not reveal, while the detector still misses heads for runs of frames.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return bool(len(scores)) and float(np.mean(scores == scores.max())) < 0.5


_OFFLINE_OFF = dict(gap_closing=False, backfill=False, smooth=False, interpolate=False, min_track_len=0,
                    min_track_score=0.0, encounter_radius=0.0, birth_quantile=None)

#: The tracker every command uses unless told otherwise (:mod:`spermtrack.tracker.registry` re-exports it).
DEFAULT_TRACKER = "sperm"
TRACKER_PRESETS: dict[str, dict[str, Any]] = {
    "sperm": {},
    "sperm_online": dict(_OFFLINE_OFF),
    "sort": dict(cost="iou", iou_threshold=0.3, max_age=1, min_hits=3, tentative_max_age=0, two_stage=False,
                 high_score=0.0, low_score=0.0, birth_score=0.0, observation_recovery=False, max_speed=20.0,
                 accel_std=2.0, measurement_std=2.0, size_in_state=True, boxes="filtered", **_OFFLINE_OFF),
    "iou_bytetrack": dict(cost="iou", iou_threshold=0.2, max_age=30, min_hits=2, tentative_max_age=0, two_stage=True,
                      high_score=0.5, low_score=0.1, birth_score=0.6, low_gate_scale=0.625,
                      observation_recovery=False, max_speed=20.0, accel_std=2.0, measurement_std=2.0,
                      size_in_state=True, **_OFFLINE_OFF),
}
"""Named presets: parameter overrides on top of the :class:`TrackerConfig` defaults."""


REFERENCE_FPS = 50.0
"""Frame rate (frames/s) the presets' px/frame motion parameters are stated for."""
REFERENCE_UM_PER_PX = VISEM_UM_PER_PX
"""Pixel size (um) the presets' motion parameters are stated for (VISEM-Tracking's community value)."""
SPEED_FIELDS: tuple[str, ...] = ("max_speed", "gate_growth", "encounter_motile_speed")
ACCEL_FIELDS: tuple[str, ...] = ("accel_std", "smooth_accel_std", "gap_accel_std")


def get_config(name: str | TrackerConfig = DEFAULT_TRACKER, *, fps: float | None = None, um_per_px: float | None = None,
               **overrides: Any) -> TrackerConfig:
    """Return a named preset, optionally rescaled to a recording and with parameters overridden.

    Parameters
    ----------
    name : str or TrackerConfig
        A key of :data:`TRACKER_PRESETS` (``sperm``, ``sperm_online``, ``sort``, ``iou_bytetrack``),
        or a config (taken as is: its values are already px/frame for its recording).
    fps : float, optional
        Frame rate of the recording. A preset's motion parameters are stated for
        :data:`REFERENCE_FPS` and :data:`REFERENCE_UM_PER_PX`; with ``fps`` and/or
        ``um_per_px`` the parameters not overridden are rescaled: speeds (``max_speed``,
        ``gate_growth``, ``encounter_motile_speed``) by ``k = (50 / fps) * (0.351 / um_per_px)``, accelerations
        (``accel_std``, ``smooth_accel_std``) by ``k * 50 / fps``, and ``max_distance`` keeps
        its margin over ``max_speed`` in px. Counts of frames (``max_age``, ``max_gap``,
        ``min_hits``) and px noise levels are not rescaled.
    um_per_px : float, optional
        Pixel size of the recording, um.
    **overrides
        Parameters of :class:`TrackerConfig` to change (in the recording's px/frame).

    Raises
    ------
    InputError
        Unknown preset (the message lists them), misspelt parameter (the message lists the
        valid names) or a bad value (the message names the field).
    """
    check_names("TrackerConfig", overrides, TrackerConfig.field_names())
    if isinstance(name, TrackerConfig):
        return name.replace(**overrides) if overrides else name
    if not isinstance(name, str) or name not in TRACKER_PRESETS:
        raise InputError(f"unknown tracker preset {name!r}; choose one of {', '.join(TRACKER_PRESETS)}")
    values = {**TrackerConfig().to_dict(), **TRACKER_PRESETS[name]}
    if fps is not None or um_per_px is not None:
        values = _rescale(values, fps=fps, um_per_px=um_per_px)
    return TrackerConfig(**{**values, **overrides})


def _rescale(values: dict[str, Any], *, fps: float | None, um_per_px: float | None) -> dict[str, Any]:
    for field, value in (("fps", fps), ("um_per_px", um_per_px)):
        if value is not None:
            physical("tracker", field, value)
    time_k = REFERENCE_FPS / fps if fps is not None else 1.0
    space_k = REFERENCE_UM_PER_PX / um_per_px if um_per_px is not None else 1.0
    out = dict(values)
    for name in SPEED_FIELDS:
        out[name] = values[name] * time_k * space_k
    for name in ACCEL_FIELDS:
        if values[name] is not None:
            out[name] = values[name] * time_k ** 2 * space_k
    out["max_distance"] = values["max_distance"] + (out["max_speed"] - values["max_speed"])
    return out


def motion_from_physical(*, fps: float, um_per_px: float, max_speed_um_s: float = 175.0,
                         accel_std_um_s2: float | None = None, localisation_um: float | None = None,
                         margin_px: float = 3.0) -> dict[str, float]:
    """Convert physical motion limits to the tracker's px/frame parameters.

    Parameters
    ----------
    fps : float
        Frame rate, frames/s.
    um_per_px : float
        Pixel size, um.
    max_speed_um_s : float
        Largest expected head speed, um/s (175 um/s = half a 20 px box per frame at
        0.351 um/px and 50 fps; hyperactivated cells reach VCL >= 150 um/s).
    accel_std_um_s2 : float, optional
        White-noise acceleration standard deviation, um/s^2; ``None`` keeps the default.
    localisation_um : float, optional
        Standard deviation of the detected centre, um; ``None`` keeps the default.
    margin_px : float
        px added to the largest per-frame displacement to get the centre gate.

    Returns
    -------
    dict
        ``max_speed`` = v / (s * fps) px/frame, ``max_distance`` = max_speed + margin_px,
        and when given ``accel_std`` = a / (s * fps^2) px/frame^2 and ``measurement_std``
        = sigma / s px, ready for ``get_config(name, **result)``.
    """
    for label, value in (("fps", fps), ("um_per_px", um_per_px), ("max_speed_um_s", max_speed_um_s)):
        number("motion_from_physical", label, value, lo=0, lo_open=True)
    speed = max_speed_um_s / um_per_px / fps
    out = {"max_speed": speed, "max_distance": speed + float(margin_px)}
    if accel_std_um_s2 is not None:
        out["accel_std"] = accel_std_um_s2 / um_per_px / fps ** 2
    if localisation_um is not None:
        out["measurement_std"] = localisation_um / um_per_px
    return out
