"""WHO motility from the real VISEM-Tracking trajectories against the lab's manual semen analysis.

Data (VISEM, Haugen et al. 2019; VISEM-Tracking, Thambawita et al. 2023; CC BY 4.0):
``train_tracks.csv.gz`` holds every sperm box of the 16 official training videos (keyframe-interpolated
annotations) and ``semen_analysis_data_Train.csv`` the lab's progressive / non-progressive / immotile %
(WHO 2010 categories, by eye, on the whole original video). Calibration: 0.351 um/px, each video's fps =
its frames / 30 s.

For every rule below the kinematics of each video are computed once (spermtrack.kinematics), the grades
turned into percentages per video, and compared with the lab per category: MAE (points), Pearson r,
Bland-Altman bias and 95 % limits of agreement. Rules with fitted thresholds are evaluated
leave-one-video-out: the thresholds used for video k are fitted on the other 15 videos only (grid
search minimising the MAE of progressive %; the c/d threshold keeps its default).

``--write-preset`` fits the same thresholds on all 16 videos and writes them, with their provenance
(data, date, method, leave-one-out MAE), to ``spermtrack/data/visem_preset.json`` (the ``visem`` preset).

Usage::

    python benchmarks/kinematics_real.py [--reference-dir DIR] [--write-preset]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.extras import file_sha256
from spermtrack.kinematics import KinematicsConfig, analyze_tracks, get_preset
from spermtrack.kinematics.calibrate import CATEGORIES, Fit, agreement, fit_config, leave_one_out, predict_percentages

DEFAULT_REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "visem_real"
PRESET_PATH = Path(__file__).resolve().parents[1] / "spermtrack" / "data" / "visem_preset.json"
UM_PER_PX = 0.351
SECONDS = 30.0
#: Grids of the fitted thresholds: speed in steps of 0.5 um/s, the straightness gate in steps of 0.05.
#: Only the progressive rule is fitted; the c/d threshold (motile_min_um) keeps its physical default,
#: because fitting it to the lab's immotile % did worse out of sample (the keyframe-interpolated
#: annotations do not show a head beating in place; see the closing note of issue 5).
B_GRID = np.round(np.arange(2.0, 40.01, 0.5), 2)
STR_GRID = np.round(np.arange(0.0, 0.951, 0.05), 2)
FITS_WHO = (Fit.product("progressive", b_threshold_um_s=B_GRID),)
FITS_CASA = (Fit.product("progressive", b_threshold_um_s=B_GRID, str_min=STR_GRID),)


# ----------------------------------------------------------------------------- loading
def load_tracks(path: Path) -> dict[str, tuple[float, pd.DataFrame]]:
    """Per video: (fps, tracks table). Uses spermtrack.io.visem when present, else a small local reader."""
    try:
        from spermtrack.io.train_tracks import read_train_tracks
    except ImportError:
        read_train_tracks = None
    if read_train_tracks is not None:
        return {vid: (rec.fps, gt) for vid, (rec, gt) in read_train_tracks(path, um_per_px=UM_PER_PX).items()}
    raw = pd.read_csv(path)
    out = {}
    for vid, g in raw.groupby("video", sort=True):
        ids = {s: i + 1 for i, s in enumerate(pd.unique(g.sort_values("frame", kind="stable")["track_id"]))}
        table = pd.DataFrame({"frame": g["frame"].to_numpy(), "x": g["cx"].to_numpy() * 640,
                              "y": g["cy"].to_numpy() * 480, "w": g["w"].to_numpy() * 640,
                              "h": g["h"].to_numpy() * 480, "score": 1.0, "class_id": g["class_id"].to_numpy(),
                              "track_id": g["track_id"].map(ids).to_numpy()})
        out[str(vid)] = ((int(g["frame"].max()) + 1) / SECONDS, table)
    return out


def load_lab(path: Path) -> pd.DataFrame:
    """The lab's progressive / non_progressive / immotile % per video id (str)."""
    try:
        from spermtrack.io.clinical import motility_columns, read_clinical_csv
        lab = motility_columns(read_clinical_csv(path))
    except ImportError:
        text = path.read_text(encoding="utf-8-sig")
        from io import StringIO
        table = pd.read_csv(StringIO(text), sep=";", decimal=",").set_index("ID")
        lab = pd.DataFrame({"progressive": table["Progressive motility (%)"],
                            "non_progressive": table["Non progressive sperm motility (%)"],
                            "immotile": table["Immotile sperm (%)"]})
    lab.index = lab.index.astype(str)
    return lab[list(CATEGORIES)].astype(float)


# ----------------------------------------------------------------------------- evaluation
def kinematics_tables(videos: dict[str, tuple[float, pd.DataFrame]], config: KinematicsConfig) -> dict:
    return {vid: analyze_tracks(table, UM_PER_PX, fps, config).table for vid, (fps, table) in videos.items()}


def agreement_rows(name: str, pred: pd.DataFrame, lab: pd.DataFrame) -> list[dict]:
    rows = []
    for c in CATEGORIES:
        a = agreement(pred.loc[lab.index, c].to_numpy(float), lab[c].to_numpy(float))
        rows.append({"rule": name, "category": c, **a})
    return rows


RULES = {
    # name: (config, fits or None for fixed thresholds)
    "WHO 2021, no drift compensation": (get_preset("who2021", drift_compensation=False), None),
    "WHO 2021 (who2021 preset)": (get_preset("who2021"), None),
    "WHO 2021, progression threshold fitted": (get_preset("who2021").replace(name="visem"), FITS_WHO),
    "CASA VAP>=25 & STR>=0.8 (casa preset)": (get_preset("casa"), None),
    # positions="own": the average path of every track is this module's own smoothing of the measured
    # positions, never the tracker's RTS positions; the annotations have none, so pipeline tracks are graded
    # on the same geometry as the tracks the thresholds were fitted on (benchmarks/grades_real.py)
    "CASA-style, VAP and STR thresholds fitted": (get_preset("casa").replace(name="visem", positions="own"),
                                                  FITS_CASA),
}
PRESET_RULE = "CASA-style, VAP and STR thresholds fitted"


def nested_choice(tables_by_rule: dict, lab: pd.DataFrame, candidates: list[str]) -> pd.DataFrame:
    """Outer leave-one-out where the rule itself is chosen per fold by an inner leave-one-out on the other 15."""
    ids = list(lab.index)
    rows = {}
    for vid in ids:
        train = [v for v in ids if v != vid]
        best, best_mae = None, np.inf
        for name in candidates:
            cfg, fits = RULES[name]
            inner = leave_one_out({v: tables_by_rule[name][v] for v in train}, lab.loc[train], cfg, fits)
            mae = float(np.abs(inner["progressive"] - inner["ref_progressive"]).mean())
            if mae < best_mae:
                best, best_mae = name, mae
        cfg, fits = RULES[best]
        fitted = fit_config({v: tables_by_rule[best][v] for v in train}, lab.loc[train], cfg, fits)
        pred = predict_percentages({vid: tables_by_rule[best][vid]}, fitted).iloc[0]
        rows[vid] = {"rule": best, **{c: float(pred[c]) for c in CATEGORIES}}
    return pd.DataFrame.from_dict(rows, orient="index")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference-dir", type=Path, default=DEFAULT_REF)
    p.add_argument("--write-preset", action="store_true", help="fit on all 16 videos and write the visem preset")
    p.add_argument("--per-video", action="store_true", help="print the per-video leave-one-out table")
    args = p.parse_args(argv)
    tracks_path = args.reference_dir / "train_tracks.csv.gz"
    lab_path = args.reference_dir / "semen_analysis_data_Train.csv"
    t0 = time.perf_counter()
    videos = load_tracks(tracks_path)
    lab = load_lab(lab_path).loc[[v for v in videos]]
    n_points = sum(len(t) for _, t in videos.values())

    rows, loo_tables, tables_by_rule = [], {}, {}
    for name, (cfg, fits) in RULES.items():
        tables = kinematics_tables(videos, cfg)
        tables_by_rule[name] = tables
        if fits is None:
            pred = predict_percentages(tables, cfg)
            rows += agreement_rows(name, pred, lab)
        else:
            loo = leave_one_out(tables, lab, cfg, fits)
            loo_tables[name] = loo
            rows += agreement_rows(name + " (leave-one-video-out)", loo[list(CATEGORIES)], lab)
    nested = nested_choice(tables_by_rule, lab, [n for n, (_, f) in RULES.items() if f is not None])
    rows += agreement_rows("rule AND thresholds chosen per fold (nested leave-one-out)", nested[list(CATEGORIES)], lab)
    zero = pd.DataFrame({c: [float(lab[c].drop(v).mean()) for v in lab.index] for c in CATEGORIES}, index=lab.index)
    rows += agreement_rows("baseline: mean of the other 15 videos (ZeroR)", zero, lab)
    res = pd.DataFrame(rows)
    elapsed = time.perf_counter() - t0

    print(f"VISEM-Tracking training videos: {len(videos)} videos, {n_points:,} boxes, 0.351 um/px, fps = frames/30 s; "
          f"lab = manual WHO 2010 categories. Agreement per category in percentage points; bias and limits of "
          f"agreement (LoA) are predicted - lab.")
    table = res.pivot_table(index="rule", columns="category", values=["mae", "pearson_r", "bias"], sort=False)
    table = table.reindex(columns=[(m, c) for c in CATEGORIES for m in ("mae", "pearson_r", "bias")])
    table["mean MAE", "3 cat."] = res.groupby("rule", sort=False)["mae"].mean()
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 70,
                           "display.float_format", "{:.2f}".format):
        print(table.to_string())
        print("\nBland-Altman 95 % limits of agreement (progressive %):")
        prog = res[res["category"] == "progressive"].set_index("rule")[["bias", "loa_low", "loa_high"]]
        print(prog.to_string())
    for name, loo in loo_tables.items():
        fitted = {p: f"{loo[p].min():g}-{loo[p].max():g}" for p in loo.columns if not p.startswith("ref_")
                  and p not in CATEGORIES}
        print(f"fitted across folds, {name}: {fitted}")
    print(f"nested choice picked: {nested['rule'].value_counts().to_dict()}")
    if args.per_video:
        with pd.option_context("display.width", 250, "display.float_format", "{:.1f}".format):
            print(loo_tables[PRESET_RULE].to_string())
    print(f"({elapsed:.1f} s)")

    if args.write_preset:
        cfg, fits = RULES[PRESET_RULE]
        tables = tables_by_rule[PRESET_RULE]
        fitted = fit_config(tables, lab, cfg, fits)
        full = predict_percentages(tables, fitted)
        loo = loo_tables[PRESET_RULE]
        in_sample = {c: agreement(full.loc[lab.index, c], lab[c]) for c in CATEGORIES}
        loo_stats = {c: agreement(loo[c], loo[f"ref_{c}"]) for c in CATEGORIES}
        nested_stats = {c: agreement(nested[c], lab[c]) for c in CATEGORIES}
        record = {
            "config": fitted.to_dict(),
            "provenance": {
                "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "script": "python benchmarks/kinematics_real.py --write-preset",
                "data": {
                    "tracks": {"file": "train_tracks.csv.gz", "sha256": file_sha256(tracks_path),
                               "videos": sorted(videos, key=int), "boxes": n_points},
                    "lab": {"file": "semen_analysis_data_Train.csv", "sha256": file_sha256(lab_path),
                            "columns": ["Progressive motility (%)", "Non progressive sperm motility (%)",
                                        "Immotile sperm (%)"]},
                    "citation": "VISEM (Haugen et al. 2019) and VISEM-Tracking (Thambawita et al. 2023), CC BY 4.0",
                    "calibration": {"um_per_px": UM_PER_PX, "fps": "frames / 30 s per video"},
                },
                "method": (f"rule '{PRESET_RULE}': kinematics with the casa preset's settings (drift "
                           "compensated, VAP graded, STR gate); grid search on all 16 training videos of the "
                           "VAP threshold for progressive (b; a stays 25 um/s) and the STR gate jointly, "
                           "minimising the MAE of progressive % (VAP 2-40 um/s step 0.5, STR 0-0.95 step 0.05; "
                           "among tied candidates the median one in grid order); the c/d threshold keeps the "
                           "default motile_min_um. The rule was chosen over the fitted WHO progression rule by "
                           "leave-one-video-out MAE on the same 16 videos; the nested figures choose rule and "
                           "thresholds inside each fold. Sensitivity: with STR steps of 0.025 the "
                           "leave-one-out MAE of progressive % is 10-11 instead of 8.2-9.1. positions='own': "
                           "the average path (VAP, STR) is built from spermtrack's own smoothing of the "
                           "measured positions for every source, as for the annotations the rule was fitted "
                           "on; the tracker's RTS positions made pixel tracks straighter than the annotated "
                           "path of the same cell (STR 0.54-0.87 against 0.32-0.50 on video 11)."),
                "fits": [f.to_dict() for f in fits],
                "fitted": {p: getattr(fitted, p) for f in fits for p in f.parameters},
                "leave_one_video_out": {c: {k: _r(v) for k, v in s.items()} for c, s in loo_stats.items()},
                "nested_leave_one_video_out": {c: {k: _r(v) for k, v in s.items()} for c, s in nested_stats.items()},
                "in_sample_all_16": {c: {k: _r(v) for k, v in s.items()} for c, s in in_sample.items()},
                "who_wording": ("WHO 2021 grades a/b by net progression (>= 25, 5-25 um in 1 s); the lab used WHO "
                                "2010 categories, where progressive means 'moving actively, either linearly or in a "
                                "large circle, regardless of speed' - hence a straightness gate"),
                "note": ("The lab graded by eye on the whole original video; the annotations are "
                         "keyframe-interpolated, so VCL/ALH/BCF from them understate head motion while net "
                         "displacement is reliable. Fitted on 16 videos only: for VISEM-like data."),
            },
        }
        PRESET_PATH.parent.mkdir(parents=True, exist_ok=True)
        tmp = PRESET_PATH.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        tmp.replace(PRESET_PATH)
        print(f"wrote {PRESET_PATH}: " + ", ".join(f"{k}={v:g}" for k, v in record["provenance"]["fitted"].items()))
    return 0


def _r(v):
    """Round floats for the JSON record; NaN becomes None."""
    if isinstance(v, float):
        return round(v, 3) if np.isfinite(v) else None
    return v


if __name__ == "__main__":
    sys.exit(main())
