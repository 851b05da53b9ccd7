"""Cross-validation folds split by video: no video is ever in the training and the test part of a fold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spermtrack.errors import InputError

__all__ = ["kfold_by_video"]


def kfold_by_video(video_ids: Sequence[str], k: int, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split videos into ``k`` folds of near-equal size after a seeded shuffle.

    Parameters
    ----------
    video_ids : sequence of str
        One entry per video (distinct).
    k : int
        Number of folds, ``2 <= k <= len(video_ids)``.
    seed : int
        Shuffle seed (same seed, same folds).

    Returns
    -------
    list of (train, test)
        Index arrays into ``video_ids``; every video is in exactly one test part, never in the
        training part of its own fold.

    Raises
    ------
    InputError
        Repeated ids, or ``k`` out of range (fewer videos than folds).
    """
    ids = [str(v) for v in video_ids]
    if len(set(ids)) != len(ids):
        raise InputError("a video appears twice in the cross-validation set")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise InputError(f"folds must be an integer >= 2, got {k!r}")
    if len(ids) < k:
        raise InputError(f"{k} folds need at least {k} videos, the data set has {len(ids)}")
    order = np.random.default_rng(seed).permutation(len(ids))
    parts = np.array_split(order, int(k))
    folds = []
    for i, test in enumerate(parts):
        train = np.concatenate([p for j, p in enumerate(parts) if j != i])
        folds.append((np.sort(train), np.sort(test)))
    return folds
