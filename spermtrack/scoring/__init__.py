"""Scoring detectors and trackers against the truth (``spermtrack benchmark``, ``spermtrack evaluate``).

The grid runs every detector x every tracker on every video and writes one leaderboard.

:func:`run_benchmark` runs the grid and writes, atomically, into ``out_dir``:

``leaderboard.csv``
    One row per video and detector x tracker, plus an ``OVERALL`` row per detector x tracker:
    :data:`LEADERBOARD_COLUMNS`. Ratios (HOTA, DetA, AssA, LocA, MOTA, IDF1, IDP, IDR) are in percent,
    like the published anchors; counts are counts; ``MOTP`` is the mean centre distance of matches in px
    (``1 - IoU`` on MOTChallenge data). ``OVERALL`` pools the videos (summed counts, TrackEval's HOTA
    combination), it is not a mean of the rows (:func:`spermtrack.eval.mot.evaluate_sequences`).
    ``tracker_fps = frames / seconds spent in the tracker alone`` (detection excluded; the
    detections of one video and detector are computed once and reused by every tracker).
``kinematics_error.csv``
    Per video and ``OVERALL`` (pairs pooled): how close the CASA kinematics of the predicted tracks are
    to the reference (:mod:`spermtrack.eval.kinematic`): matched %, median absolute / signed
    percentage errors of VCL, VSL, VAP, net progression, ALH, BCF, median errors of LIN, STR, WOB and
    the WHO grade accuracy of matched pairs.
``grade_error.csv``
    Per video: predicted vs reference progressive / non-progressive / immotile %; per reference and
    category an ``OVERALL`` row with n, MAE, RMSE, Pearson r, Bland-Altman bias, sd and 95 % limits
    (:mod:`spermtrack.eval.agreement`).
``leaderboard.md``
    The ``OVERALL`` rows sorted by HOTA, HOTA per video, the kinematic and grade summaries, the
    published VISEM-Tracking anchors for context, and notes (what was skipped and why).
``leaderboard.png``, ``bland_altman.png``
    HOTA / MOTA / IDF1 and tracker speed per detector x tracker; the Bland-Altman plot of the
    best combination (highest overall HOTA) against the first reference.
``benchmark.json``
    Provenance: command, versions, data set, videos, detectors and trackers with their settings,
    noise, gate, kinematics preset, notes, files.

Data sets (:func:`open_dataset`)
--------------------------------
VISEM-Tracking layout (a root of video folders, real or written by ``spermtrack synth``)
    Scored on ``labels_ftid`` identities with the centre gate (default 10 px). A root that holds any of
    the official validation videos 52, 54, 60, 82 is scored on those by default, otherwise on all its
    videos. A synthetic video (``<id>_truth.csv.gz`` + ``<id>_objects.csv``) is compared with its exact
    truth: true kinematics and true grades (reference ``truth``). A real video is compared with the
    kinematics and grades of its ground-truth tracks under the same kinematics preset (reference
    ``gt_tracks``) and, when a semen-analysis CSV is given or found at the root
    (``semen_analysis_data_Train.csv``), with the lab's percentages (reference ``lab``).
MOTChallenge layout (``<seq>/gt/gt.txt``, ``<seq>/det/det.txt``, ``<seq>/seqinfo.ini``)
    Scored with IoU >= 0.5; trackers run on the public detections (detector ``public``) and, when asked
    for, on the ground-truth boxes (``gt``); frame detectors are replaced by ``public``. Ground-truth rows
    of MOT16/17 distractor classes (2, 7, 8, 12) become "don't care" rows (``consider = 0``), other
    non-pedestrian classes are dropped. No kinematics.
A real-trajectory table (``.csv``/``.csv.gz`` like ``train_tracks.csv.gz``: ``video, frame, track_id,
class_id, cx, cy, w, h``)
    Only ``gt`` detections (optionally noisy), so trackers and grading meet real sperm motion. Reference
    ``gt_tracks`` and, with ``clinical_csv`` (or a ``semen_analysis_data_Train.csv`` beside the table),
    ``lab``.

Detectors and trackers
----------------------
Names are those of the stage registries, the same in every command:
:func:`spermtrack.detectors.make_detector` (``gt``, ``blob``, ``yolo``, ``trackpy``) plus ``public``
(a MOTChallenge sequence's ``det/det.txt``), and :func:`spermtrack.tracker.make_tracker` (``sperm``,
spermtrack's tracker and the default; ``sort``; peers such as ``bytetrack``, ``ocsort``, ``botsort``,
``trackpy``; a peer whose package is missing is skipped with a note). A tracker that raises on some video is
dropped from the whole leaderboard with a note, so ``OVERALL`` rows always cover the same videos.

Documented behaviour for awkward input: a video without identities (``labels/`` only) or without any
ground-truth object is skipped with a note (it cannot score a tracker; it would make MOTA undefined);
no scorable video at all is an :class:`~spermtrack.errors.InputError`. Predicted rows in frames outside
the video are an error (:func:`~spermtrack.eval.mot.evaluate_sequences` with ``n_frames``).
"""

from spermtrack.scoring.data import BenchmarkData, BenchmarkSequence, open_dataset
from spermtrack.scoring.evaluate import evaluate_pair
from spermtrack.scoring.grid import DETECTORS, run_benchmark
from spermtrack.scoring.leaderboard import (ANCHORS, LEADERBOARD_COLUMNS, PERCENT_METRICS, leaderboard_markdown,
                                              plot_leaderboard)

__all__ = ["ANCHORS", "BenchmarkData", "BenchmarkSequence", "DETECTORS", "LEADERBOARD_COLUMNS", "PERCENT_METRICS",
           "evaluate_pair", "leaderboard_markdown", "open_dataset", "plot_leaderboard", "run_benchmark"]
