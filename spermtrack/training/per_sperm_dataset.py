"""Train the per-sperm video model on a data set with per-sperm truth (``spermtrack regress train --model persperm``).

The data set is a VISEM-Tracking-layout folder written by ``spermtrack synth`` (or any folder whose videos
carry the same per-sperm truth files: ``<id>_truth.csv.gz`` and ``<id>_objects.csv``). Each sperm's clip
is cut along its true track (:mod:`spermtrack.regressors.clips`) from the video's own frames and labelled
with its exact grade (:func:`spermtrack.training.per_sperm.soft_targets`).

The model is cross-validated by video (each video's sperm are predicted by a model that never saw that
video), then fitted on every video. Written into the output folder, as a unit:

``model.pt``            the checkpoint, usable with ``analyze --per-sperm-model OUT/model.pt``
``cv_predictions.csv``  per sperm: video, track_id, true grade, the cross-validated ``p_a .. p_d``
``metrics.csv``         RoSTFine's per-sperm metrics (balanced accuracy, c-vs-d accuracy, MSE, JS) and the
                        sample-level error of every grade (points, mean absolute over videos)
``regress.json``        settings, videos, folds, metrics, versions
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from spermtrack.constants import GRADES
from spermtrack.errors import InputError

__all__ = ["dataset_clips", "train_per_sperm"]


def dataset_clips(dataset: str | os.PathLike, *, um_per_px: float, progress: bool = False) -> dict[str, tuple]:
    """Clips, soft targets and true grades of the sperm of every video of ``dataset``.

    Returns
    -------
    dict
        Per video id: ``(clips, targets, grades, track_ids)``.

    Raises
    ------
    InputError
        The data set has no video, or a video has no per-sperm truth files.
    """
    from tqdm import tqdm

    from spermtrack.io.synth_truth import read_synthetic_truth
    from spermtrack.io.visem import list_videos, read_visem_video
    from spermtrack.regressors.clips import clip_plan, cut_clips
    from spermtrack.training.per_sperm import soft_targets

    out = {}
    for folder in tqdm(list_videos(dataset), desc="per-sperm clips", unit="video", disable=not progress):
        truth = read_synthetic_truth(folder)
        if truth is None:
            raise InputError(f"has no per-sperm truth ({folder.name}_truth.csv.gz and {folder.name}_objects.csv, "
                             "as spermtrack synth writes): the per-sperm model learns each sperm's exact grade",
                             folder)
        rows, objects = truth
        video = read_visem_video(folder, um_per_px=um_per_px)
        sperm = rows[rows["class_id"] == 0]
        clips, ids = cut_clips(video.iter_frames(), clip_plan(sperm, fps=video.recording.fps),
                               um_per_px=um_per_px)
        cells = objects.set_index("track_id").loc[ids]
        grades = cells["grade"].to_numpy()
        out[video.video_id] = (clips, soft_targets(grades, cells["progression_um_s"].to_numpy()), grades,
                               np.asarray(ids))
    if not sum(len(v[0]) for v in out.values()):
        raise InputError("holds no sperm with a clip (a track of at least 1 s): nothing to train on", dataset)
    return out


def train_per_sperm(dataset: str | os.PathLike, out_dir: str | os.PathLike, *, folds: int = 5, seed: int = 0,
                    quick: bool = False, um_per_px: float, arch: str = "cnn3d", progress: bool = True) -> dict:
    """Cross-validate the per-sperm model by video, fit it on every video and write the outputs (module notes).

    Parameters
    ----------
    dataset : str or PathLike
        A VISEM-Tracking-layout folder whose videos carry per-sperm truth.
    out_dir : str or PathLike
        Output folder (checked before any work).
    folds : int
        Cross-validation folds, split by video.
    seed : int
        Seed of the split and of the models.
    quick : bool
        One epoch: a fast check, not a result.
    um_per_px : float
        Pixel size of the videos (clips span 16.8 um whatever it is).
    arch : str
        ``cnn3d`` (the shipped model's) or ``transformer``.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        The ``regress.json`` record (with ``metrics``).
    """
    from spermtrack.extras import require

    require("torch", purpose="the per-sperm video model")
    from spermtrack.io.atomic import check_output_folder, output_folder, write_csv, write_json
    from spermtrack.provenance import provenance
    from spermtrack.regressors import kfold_by_video
    from spermtrack.regressors.per_sperm import PerSpermModel
    from spermtrack.training.per_sperm import RECIPE

    from spermtrack.io.visem import list_videos

    check_output_folder(out_dir, inputs=[dataset])
    kfold_by_video([f.name for f in list_videos(dataset)], folds, seed=seed)  # fewer videos than folds: refused
    data = dataset_clips(dataset, um_per_px=um_per_px, progress=progress)
    videos = list(data)
    splits = kfold_by_video(videos, folds, seed=seed)
    fit = {"epochs": 1 if quick else RECIPE["epochs"], "batch_size": RECIPE["batch_size"], "lr": RECIPE["lr"]}

    def stack(names):
        return (np.concatenate([data[v][0] for v in names]), np.concatenate([data[v][1] for v in names]))

    start = time.perf_counter()
    proba = {}
    for train, test in splits:
        model = PerSpermModel(arch, seed=seed)
        model.fit(*stack([videos[i] for i in train]), progress=progress, **fit)
        proba.update({videos[i]: model.predict_proba(data[videos[i]][0]) for i in test})
    cv_s = time.perf_counter() - start
    table = pd.concat([pd.DataFrame({"video": v, "track_id": data[v][3], "grade": data[v][2],
                                     **{f"p_{g}": proba[v][:, k] for k, g in enumerate(GRADES)}}) for v in videos],
                      ignore_index=True)
    metrics = _metrics(table, np.concatenate([data[v][1] for v in videos]))
    start = time.perf_counter()
    final = PerSpermModel(arch, seed=seed)
    final.fit(*stack(videos), progress=progress, **fit)
    record = {"model": "persperm", "arch": arch, "dataset": str(dataset), "videos": videos, "folds": len(splits),
              "seed": seed, "quick": quick, "um_per_px": um_per_px, "fit": fit, "cells": int(len(table)),
              "seconds": {"cross_validation": round(cv_s, 2), "final_fit": round(time.perf_counter() - start, 2)},
              "metrics": metrics}
    final.info = {"val": metrics, "command": f"spermtrack regress train {dataset} --model persperm",
                  "trained_on": {k: record[k] for k in ("dataset", "videos", "folds", "seed", "um_per_px")}}
    with output_folder(out_dir, inputs=[dataset]) as out:
        final.save(out / "model.pt")
        write_csv(out / "cv_predictions.csv", table)
        write_csv(out / "metrics.csv", pd.DataFrame([_flat(metrics)]))
        write_json(out / "regress.json", provenance(regress=record))
    return record


def _metrics(table: pd.DataFrame, targets: np.ndarray) -> dict:
    """Per-sperm metrics of the cross-validated predictions and the sample-level error per grade."""
    from spermtrack.training.per_sperm import cell_metrics

    proba = table[[f"p_{g}" for g in GRADES]].to_numpy()
    true = table["grade"].map(GRADES.index).to_numpy()
    errors = []
    for _, cells in table.groupby("video", sort=False):
        truth = np.bincount(cells["grade"].map(GRADES.index), minlength=4) / len(cells)
        errors.append(np.abs(100 * (cells[[f"p_{g}" for g in GRADES]].to_numpy().mean(axis=0) - truth)))
    return {**cell_metrics(proba, targets, true),
            "sample_error_points": dict(zip(GRADES, np.round(np.mean(errors, axis=0), 2).tolist()))}


def _flat(metrics: dict) -> dict:
    out = {k: v for k, v in metrics.items() if k != "sample_error_points"}
    out.update({f"sample_error_{g}": v for g, v in metrics["sample_error_points"].items()})
    return out
