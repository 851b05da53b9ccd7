"""Score one tracking result against one ground truth: what ``spermtrack evaluate`` prints."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from spermtrack.scoring.leaderboard import percent_metrics
from spermtrack.errors import InputError

__all__ = ["evaluate_pair"]


def evaluate_pair(gt_path: str | os.PathLike, pred_path: str | os.PathLike, *, metric: str | None = "centre",
                  gate: float | None = None, percent: bool = True) -> pd.DataFrame:
    """Score one result against one ground truth: the table ``spermtrack evaluate`` prints.

    Parameters
    ----------
    gt_path : str or PathLike
        A VISEM-Tracking video folder or root (``labels_ftid`` identities), a MOTChallenge ``gt.txt``,
        sequence folder or root, a real-trajectory table (``train_tracks.csv.gz`` layout) or a tracks CSV.
    pred_path : str or PathLike
        One result file (MOTChallenge ``.txt`` or a tracks ``.csv``) when the ground truth holds one
        sequence, else a folder with one result per sequence: ``<name>.txt`` / ``<name>.csv`` or
        ``<name>/tracks_mot.txt`` / ``<name>/tracks.csv``.
    metric : {"centre", "iou"} or None
        How boxes pair (see :func:`spermtrack.eval.mot.mot_metrics`); ``None`` chooses from the ground
        truth: IoU for MOTChallenge files, centre distance otherwise.
    gate : float, optional
        Centre gate in px (default 10) or minimum IoU (default 0.5).
    percent : bool
        Report ratio metrics (:data:`PERCENT_METRICS`) in percent (default) rather than as fractions.

    Returns
    -------
    pandas.DataFrame
        One row per sequence (index = name) and ``OVERALL`` (pooled; see
        :func:`spermtrack.eval.mot.evaluate_sequences`): CLEAR MOT, identity and HOTA metrics.

    Raises
    ------
    InputError
        Unreadable or malformed files (named with the line), duplicate ``(frame, id)`` rows or negative ids
        in a result file, frames outside a video whose length is known (VISEM folder, ``seqinfo.ini``),
        result files for sequences the ground truth does not hold, sequences without a result, or a
        ground truth without any object (nothing to score: MOTA, recall and IDF1 would be undefined).
        A single sequence without objects among others is scored and its undefined metrics are NaN.
    """
    from spermtrack.eval.mot import evaluate_sequences

    from spermtrack.io.results import read_results, read_truth

    truth, implied = read_truth(Path(gt_path))
    if not truth:
        raise InputError("holds no sequence to score", gt_path)
    if all(len(gt) == 0 for gt, _ in truth.values()):
        raise InputError("the ground truth has no object: there is nothing to score (MOTA, recall and IDF1 are "
                         "undefined without ground-truth boxes)", gt_path)
    names = list(truth)
    preds = read_results(Path(pred_path), names)
    pairs = {n: (truth[n][0], preds[n]) for n in names}
    n_frames = {n: truth[n][1] for n in names if truth[n][1] is not None}
    table = evaluate_sequences(pairs, metric=metric or implied, gate=gate, n_frames=n_frames)
    return percent_metrics(table) if percent else table
