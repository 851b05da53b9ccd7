"""Per-sperm video model benchmark: held-out synthetic cells and real video 11's held-out frames.

Prints two tables; every number is measured in this run.

1. Held-out synthetic (seeds and densities the recipe never used; both looks): per sperm, the
   4-class balanced accuracy, c-vs-d accuracy, MSE and Jensen-Shannon divergence against the soft
   targets, for the model(s) given, for the kinematic grade of the true track (``who2021``) as the
   reference a head track reaches, and for the combined grade ``analyze --per-sperm-model`` reports
   (kinematic a/b, the video model's c or d). These three are compared on the cells the kinematics can
   grade, as ``analyze`` grades; the video model also on every cell with a clip. Per video (random grade
   mixes), the sample-level error of each grade in points (mean absolute over videos).
2. Real VISEM-Tracking video 11, frames 1029-1469 (never trained or tuned on): the shipped yolo, the
   ``sperm`` tracker and the ``visem`` kinematics preset; progressive / non-progressive / immotile from
   kinematics alone, from the video model's mean distribution and combined (kinematic a/b, video c vs d),
   against the lab (11 / 17 / 72 %). The lab graded the whole sample, not these 9 s.

Usage::

    python benchmarks/persperm_bench.py [--model shipped|PATH ...] [--videos 12] [--reference DIR] [--no-real]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.constants import GRADES

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "visem_real"
LAB_11 = {"progressive": 11.0, "non_progressive": 17.0, "immotile": 72.0}


def held_out_videos(n: int, seed: int = 9000):
    """Synthetic videos with random grade mixes (Dirichlet), alternating looks, 2 s, 20-60 cells per frame."""
    from spermtrack.synth import SynthConfig, simulate_video

    rng = np.random.default_rng(seed)
    for k in range(n):
        mix = tuple(float(v) for v in rng.dirichlet(np.ones(4)))
        config = SynthConfig(seconds=2.0, fps=50.0, density=float(rng.uniform(20, 60)), grade_mix=mix,
                             polarity=("phase", "bright")[k % 2], write_images=False)
        yield simulate_video(config, seed=seed + k, video_id=f"h{k}")


def synthetic_rows(models: dict, n_videos: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-sperm metrics and per-video sample errors on held-out synthetic videos.

    Two populations: the cells whose true track kinematics can grade (at least the preset's minimum
    duration in view, as ``analyze`` grades), where the kinematic grade, the video model and the combined
    grade are compared on the same cells; and every cell with a clip, for the video model alone.
    """
    from spermtrack.kinematics import analyze_tracks, get_preset
    from spermtrack.regressors.clips import clip_plan, cut_clips
    from spermtrack.regressors.per_sperm import combine_grades
    from spermtrack.synth import render_frames
    from spermtrack.training.per_sperm import cell_metrics, soft_targets

    cells, videos = [], []
    for video in held_out_videos(n_videos):
        rec = video.recording
        truth = video.truth[video.truth["class_id"] == 0]
        clips, ids = cut_clips(enumerate(render_frames(video)), clip_plan(truth, fps=rec.fps), um_per_px=rec.um_per_px)
        objects = video.objects.set_index("track_id").loc[ids]
        grades = objects["grade"].to_numpy()
        targets = soft_targets(grades, objects["progression_um_s"].to_numpy())
        kin = analyze_tracks(truth.assign(score=1.0), rec.um_per_px, rec.fps, get_preset("who2021")).table
        kin_grade = kin.set_index("track_id").reindex(ids)["grade"].to_numpy(dtype=object)
        graded = np.array([isinstance(g, str) for g in kin_grade])
        onehot = lambda g: np.eye(4)[[GRADES.index(v) for v in g]]  # noqa: E731
        probs = {}
        for name, model in models.items():
            p = model.predict_proba(clips)
            probs[f"{name}, all cells with a clip"] = (p, np.ones(len(ids), bool))
            probs[f"{name}, graded cells"] = (p, graded)
            probs[f"{name} combined (kinematic a/b, video c/d), graded cells"] = (
                onehot(combine_grades(kin_grade[graded], p[graded])), graded)
        probs["kinematics (true track), graded cells"] = (onehot(kin_grade[graded]), graded)
        for name, (p, keep) in probs.items():
            p = p if len(p) == keep.sum() else p[keep]
            true = np.array([GRADES.index(g) for g in grades[keep]])
            truth_pct = 100 * np.bincount(true, minlength=4) / max(1, len(true))
            cells.append(pd.DataFrame({"model": name, "true": true, **{f"p{k}": p[:, k] for k in range(4)},
                                       **{f"t{k}": targets[keep][:, k] for k in range(4)}}))
            videos.append({"model": name, "video": video.video_id, "look": video.config.polarity,
                           **{g: 100 * p[:, k].mean() - truth_pct[k] for k, g in enumerate(GRADES)}})
    cells = pd.concat(cells, ignore_index=True)
    rows = []
    for name, c in cells.groupby("model", sort=False):
        p = c[[f"p{k}" for k in range(4)]].to_numpy()
        t = c[[f"t{k}" for k in range(4)]].to_numpy()
        m = cell_metrics(p, t, c["true"].to_numpy())
        rows.append({"model": name, "cells": len(c), "balanced acc": m["balanced_accuracy"],
                     "c vs d acc": m["c_vs_d_accuracy"], "MSE": m["mse"], "JS": m["js"]})
    errors = pd.DataFrame(videos).groupby("model", sort=False)[list(GRADES)].agg(lambda s: s.abs().mean())
    errors["worst"] = errors[list(GRADES)].max(axis=1)
    return pd.DataFrame(rows), errors.reset_index()


def real_rows(models: dict, reference: Path) -> pd.DataFrame:
    """Video 11 frames 1029-1469: kinematics, video model and combined categories against the lab."""
    from spermtrack.detectors import make_detector
    from spermtrack.io.visem import read_visem_video
    from spermtrack.kinematics import analyze_tracks, get_preset, summarize
    from spermtrack.pipeline import per_sperm_grades, run_tracker

    video = read_visem_video(reference / "11", um_per_px=VISEM_UM_PER_PX)
    rec = video.recording
    dets = make_detector("yolo").detect_video(video.iter_frames(start=1029))
    tracks, _, _ = run_tracker(dets, "sperm", fps=rec.fps, um_per_px=rec.um_per_px)
    sperm = tracks[(tracks["track_id"] >= 0) & (tracks["class_id"] == 0)]
    result = analyze_tracks(sperm, rec.um_per_px, rec.fps, get_preset("visem"))
    pct = summarize(result)["percent"]
    rows = [{"grades from": "kinematics", **{k: pct.get(k) for k in LAB_11}}]
    for name, model in models.items():
        _, block = per_sperm_grades(video, sperm, result.table, model)
        rows.append({"grades from": f"{name}: video model", **{k: block["percent_video"][k] for k in LAB_11}})
        rows.append({"grades from": f"{name}: combined", **{k: block["percent_combined"][k] for k in LAB_11}})
    rows.append({"grades from": "lab (whole sample)", **LAB_11})
    table = pd.DataFrame(rows)
    table["abs error vs lab (c + d)"] = (table["non_progressive"] - LAB_11["non_progressive"]).abs() + \
        (table["immotile"] - LAB_11["immotile"]).abs()
    return table


def main(argv: list[str] | None = None) -> int:
    from spermtrack.pipeline import load_per_sperm_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=None, help="'shipped' or a checkpoint (repeatable)")
    parser.add_argument("--videos", type=int, default=12, help="held-out synthetic videos")
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--no-real", action="store_true", help="skip video 11")
    args = parser.parse_args(argv)
    models = {spec if spec == "shipped" else Path(spec).name: load_per_sperm_model(spec)
              for spec in (args.model or ["shipped"])}
    cells, errors = synthetic_rows(models, args.videos)
    print(f"\nHeld-out synthetic ({args.videos} videos, both looks): per sperm")
    print(cells.round(4).to_string(index=False))
    print("\nSample-level error per grade, points (mean |predicted - true| over videos)")
    print(errors.round(2).to_string(index=False))
    if not args.no_real:
        print("\nReal video 11 frames 1029-1469 (yolo -> sperm -> visem preset), percent")
        print(real_rows(models, args.reference).round(1).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
