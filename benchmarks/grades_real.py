"""WHO grades from real pixels against the annotations and the lab, cell by cell (VISEM-Tracking video 11).

For each detector (the shipped ``yolo`` and ``blob``) the whole of video 11 is detected and tracked once
(cached), then for frames 0-1028 (training and tuning), 1029-1469 (validation) and the whole video:

1. every track of the pipeline and every annotated track (``labels_ftid``) is graded with each preset;
2. each graded pipeline track is matched to the annotated cell it follows: the annotated track with the
   most frames where the two centres lie within ``--gate`` px (10), if those frames are at least
   ``--min-share`` (30 %) of the pipeline track's rows;
3. the per-cell table counts matched pairs by category (pipeline track vs its annotated cell:
   progressive a+b, non-progressive c, immotile d) and gives the share that agree;
4. the sample percentages from pixels, from the annotated tracks and from the lab are printed side by
   side, with each category's 95 % Wilson interval and the number of graded tracks.

A last table gives each preset's leave-one-video-out error on the 16 training videos' annotated tracks,
as stored in the preset's provenance (``visem``) or measured here (fixed presets).

Usage::

    python benchmarks/grades_real.py [--reference-dir DIR] [--detectors yolo,blob] [--presets visem,who2021]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.kinematics import analyze_tracks, get_preset, summarize

DEFAULT_REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "visem_real"
UM_PER_PX = 0.351
RANGES = {"0-1028": (0, 1029), "1029-1469": (1029, 1470), "whole": (0, None)}
CATEGORY = {"a": "progressive", "b": "progressive", "c": "non_progressive", "d": "immotile"}
CATEGORIES = ("progressive", "non_progressive", "immotile")


def pipeline_tracks(video, detector: str, cache: Path) -> pd.DataFrame:
    """Detections and tracks of the whole video with ``detector`` and the default tracker.

    Cached by detector and :data:`~spermtrack.constants.ANALYSIS_VERSION`, so that a change of the shipped
    defaults (detector, tracker) is never read from an old cache.
    """
    from spermtrack.constants import ANALYSIS_VERSION
    from spermtrack.pipeline import PipelineConfig, detect, run_tracker

    path = cache / f"video{video.video_id}_{detector}_v{ANALYSIS_VERSION}_tracks.parquet"
    if path.is_file():
        return pd.read_parquet(path)
    config = PipelineConfig(detector=detector)
    dets, _ = detect(video, config, progress=True)
    rec = video.recording
    tracks = run_tracker(dets, config.tracker, fps=rec.fps, um_per_px=rec.um_per_px).tracks
    cache.mkdir(parents=True, exist_ok=True)
    tracks.to_parquet(path, index=False)
    return tracks


def cut(table: pd.DataFrame, frames: tuple[int, int | None]) -> pd.DataFrame:
    """Rows of ``table`` in the half-open frame range (the clip a user would have analysed)."""
    lo, hi = frames
    keep = table["frame"] >= lo
    if hi is not None:
        keep &= table["frame"] < hi
    return table[keep]


def match_cells(tracks: pd.DataFrame, truth: pd.DataFrame, *, gate: float, min_share: float) -> pd.Series:
    """For each pipeline track, the annotated track it follows (NaN when none), by the module's rule."""
    ours = tracks.loc[tracks["track_id"] >= 0, ["frame", "track_id", "x", "y"]]
    theirs = truth[["frame", "track_id", "x", "y"]].rename(columns={"track_id": "cell", "x": "gx", "y": "gy"})
    pairs = ours.merge(theirs, on="frame")
    near = pairs[np.hypot(pairs["x"] - pairs["gx"], pairs["y"] - pairs["gy"]) <= gate]
    hits = near.groupby(["track_id", "cell"]).size().rename("hits").reset_index()
    best = hits.sort_values(["track_id", "hits", "cell"], ascending=[True, False, True]).drop_duplicates("track_id")
    rows = ours.groupby("track_id").size()
    best = best.set_index("track_id")
    share = best["hits"] / rows.reindex(best.index)
    return best.loc[share >= min_share, "cell"].reindex(rows.index)


def wilson_text(summary: dict, key: str) -> str:
    value = summary["percent"].get(key)
    ci = (summary.get("interval_95") or {}).get(key)
    if value is None:
        return "n/a"
    return f"{value:.1f}" + (f" [{ci[0]:.0f}-{ci[1]:.0f}]" if ci else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference-dir", type=Path, default=DEFAULT_REF)
    p.add_argument("--detectors", default="yolo,blob")
    p.add_argument("--presets", default="visem,who2021")
    p.add_argument("--gate", type=float, default=10.0, help="centre distance of a matched frame, px (10)")
    p.add_argument("--min-share", type=float, default=0.3, help="share of a track's rows that must match (0.3)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "spermtrack" / "grades_real")
    args = p.parse_args(argv)

    from spermtrack.io.clinical import motility_columns, read_clinical_csv
    from spermtrack.io.visem import read_visem_video

    started = time.perf_counter()
    video = read_visem_video(args.reference_dir / "11", um_per_px=UM_PER_PX)
    fps = video.recording.fps
    truth_all = video.ground_truth
    lab = motility_columns(read_clinical_csv(args.reference_dir / "semen_analysis_data_Train.csv"))
    lab.index = lab.index.astype(str)
    lab11 = lab.loc["11"]
    print(f"VISEM-Tracking video 11: {video.recording.n_frames} frames at {fps:.2f} fps, {UM_PER_PX} um/px; "
          f"lab: progressive {lab11['progressive']:g} %, non-progressive {lab11['non_progressive']:g} %, immotile "
          f"{lab11['immotile']:g} %")
    print(f"matching rule: a pipeline track follows the annotated track with the most frames where the centres lie "
          f"within {args.gate:g} px, if those frames are >= {args.min_share:.0%} of its rows; categories "
          "progressive (a+b), non-progressive (c), immotile (d)")
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    tracks_by_detector = {d: pipeline_tracks(video, d, args.cache) for d in detectors}

    sample_rows, agree_rows = [], []
    for preset in presets:
        for name, frames in RANGES.items():
            truth = cut(truth_all, frames)
            cells_result = analyze_tracks(truth, UM_PER_PX, fps, get_preset(preset))
            cells_summary = summarize(cells_result)
            cell_grade = cells_result.table.set_index("track_id")["grade"]
            sample_rows.append({"preset": preset, "frames": name, "source": "annotated tracks",
                                **{k: wilson_text(cells_summary, k) for k in CATEGORIES},
                                "graded": cells_summary["counts"]["graded"]})
            for det in detectors:
                tracks = cut(tracks_by_detector[det], frames)
                result = analyze_tracks(tracks, UM_PER_PX, fps, get_preset(preset))
                summary = summarize(result)
                sample_rows.append({"preset": preset, "frames": name, "source": f"{det} + sperm",
                                    **{k: wilson_text(summary, k) for k in CATEGORIES},
                                    "graded": summary["counts"]["graded"]})
                table = result.table.set_index("track_id")
                graded = table[table["grade"].notna()]
                cell = match_cells(tracks, truth, gate=args.gate, min_share=args.min_share).reindex(graded.index)
                theirs = cell.map(cell_grade)
                both = graded.assign(cell=cell, cell_grade=theirs).dropna(subset=["cell", "cell_grade"])
                confusion = pd.crosstab(both["grade"].map(CATEGORY).rename("pipeline"),
                                        both["cell_grade"].map(CATEGORY).rename("annotated cell"))
                confusion = confusion.reindex(index=CATEGORIES, columns=CATEGORIES, fill_value=0)
                same = int(np.trace(confusion.to_numpy()))
                agree_rows.append({"preset": preset, "frames": name, "detector": det, "graded": len(graded),
                                   "matched": len(both), "unmatched": int(cell.isna().sum()),
                                   "cell ungraded": int(cell.notna().sum() - len(both)),
                                   "same category": f"{same}/{len(both)} = {same / max(len(both), 1):.0%}"})
                if name == "1029-1469" or name == "whole":
                    print(f"\n[{preset}] frames {name}, {det}: pipeline category (rows) vs annotated cell (columns)")
                    print(confusion.to_string())
        sample_rows.append({"preset": preset, "frames": "whole", "source": "lab (manual, whole original video)",
                            **{k: f"{lab11[k]:g}" for k in CATEGORIES}, "graded": None})

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\nSample percentages (95 % Wilson interval) and graded tracks")
        print(pd.DataFrame(sample_rows).to_string(index=False))
        print("\nPer-cell agreement of graded pipeline tracks with the annotated cell they follow")
        print(pd.DataFrame(agree_rows).to_string(index=False))
    print_lovo(args.reference_dir, presets)
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


def print_lovo(reference_dir: Path, presets: list[str]) -> None:
    """Each preset's error on the 16 training videos' annotated tracks against the lab (progressive MAE)."""
    from spermtrack.io.clinical import motility_columns, read_clinical_csv
    from spermtrack.io.train_tracks import read_train_tracks
    from spermtrack.kinematics import load_visem_preset
    from spermtrack.kinematics.calibrate import predict_percentages

    videos = read_train_tracks(reference_dir / "train_tracks.csv.gz", um_per_px=UM_PER_PX)
    lab = motility_columns(read_clinical_csv(reference_dir / "semen_analysis_data_Train.csv"))
    lab.index = lab.index.astype(str)
    rows = []
    for preset in presets:
        config = get_preset(preset)
        tables = {vid: analyze_tracks(gt, UM_PER_PX, rec.fps, config).table for vid, (rec, gt) in videos.items()}
        pred = predict_percentages(tables, config)
        errors = {c: float((pred[c] - lab.loc[pred.index, c]).abs().mean()) for c in CATEGORIES}
        row = {"preset": preset, **{f"{c} MAE": round(v, 2) for c, v in errors.items()}}
        if preset == "visem":
            loo = load_visem_preset()[1].get("leave_one_video_out", {})
            row["note"] = ("in sample; leave-one-video-out (preset provenance): " +
                           ", ".join(f"{c} {loo[c]['mae']:.2f}" for c in CATEGORIES if c in loo))
        else:
            row["note"] = "fixed thresholds (no fit)"
        rows.append(row)
    print("\nAnnotated tracks of the 16 training videos against the lab (MAE, points)")
    with pd.option_context("display.width", 250, "display.max_colwidth", 120):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
