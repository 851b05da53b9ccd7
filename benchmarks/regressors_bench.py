"""Motility regressors benchmark: the shipped checkpoints beside the tracking path, on videos none of them saw.

Prints tables; it is a script, not a timed test. Every number is measured in this run.

Usage::

    python benchmarks/regressors_bench.py [--work DIR] [--real]
    python benchmarks/regressors_bench.py --cv [--videos 20] [--seconds 6] [--folds 5] [--work DIR]

Default: the held-out synthetic test set of the regressors' recipe
(:data:`spermtrack.training.regressors.RECIPE` ``test``: 40 videos of 6 s at 45 fps, seeds never used for
training or model choice, grade mixtures from the generator's VISEM-like prior, both looks), made once under
``--work``. Each shipped checkpoint (``regressors/weights/<name>.pt``) predicts every video; the tracking
path (blob + sperm + who2021, what the regressors' inputs were prepared with) grades the same videos.
Printed: MAE per lab category in percentage points, MAE over the three, Pearson r on progressive, and the
issue-24 targets (every CNN <= 8, the best <= 5, r >= 0.8; trackfeat <= 5).

``--real`` adds one real data point per model (reported, not a target): VISEM-Tracking video 11, whole,
against its lab values, and the SVIA clips S_0001-S_0003 (no lab values: the predictions beside the
tracking path's), all at 0.351 um/px.

``--cv`` is the earlier benchmark (issue 13): ``spermtrack crosscheck --train`` on ``--videos`` synthetic
videos (seed 9400), every model cross-validated by video.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED = 9400
CNNS = ("flow2d", "r3d18", "aefeat", "cnnmean", "trails")
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
CATEGORIES = ("progressive", "non_progressive", "immotile")


def held_out(work: Path) -> None:
    """The table on the held-out synthetic test set."""
    import pandas as pd

    from spermtrack.regressors import load_regressor, shipped_checkpoint, shipped_names, three_from_four
    from spermtrack.training.regressors import RECIPE, load_set, make_set

    start = time.perf_counter()
    make_set(work, "test")
    test = load_set(work, "test")
    made_s = time.perf_counter() - start
    truth = 100.0 * three_from_four(np.stack([v.targets for v in test]))
    rows = {}
    tracking = np.array([[v.tracking_percent[c] for c in CATEGORIES] for v in test], dtype=float)
    rows["tracking"] = (tracking, 0.0)
    for name in shipped_names():
        model, _ = load_regressor(shipped_checkpoint(name), expect=name)
        start = time.perf_counter()
        pred = 100.0 * three_from_four(model.predict([v.inputs for v in test]))
        rows[name] = (pred, time.perf_counter() - start)
    table = []
    for source, (pred, seconds) in rows.items():
        ok = np.isfinite(pred).all(axis=1)
        err = np.abs(pred[ok] - truth[ok]).mean(axis=0)
        r = np.corrcoef(pred[ok, 0], truth[ok, 0])[0, 1] if np.std(pred[ok, 0]) > 0 else 0.0
        table.append({"source": source, **dict(zip(CATEGORIES, err)), "all": err.mean(), "pearson r (progressive)": r,
                      "videos": int(ok.sum()), "predict s": seconds})
    table = pd.DataFrame(table).set_index("source")
    spec = RECIPE["test"]
    pd.set_option("display.width", 200)
    print(f"\nheld-out synthetic test set: {len(test)} videos of {spec['seconds']:g} s at {spec['fps']:g} fps (seed "
          f"{spec['seed']}, VISEM-like grade mixtures, both looks; made or read in {made_s / 60:.1f} min); "
          f"{os.cpu_count()} CPU(s)")
    print("MAE against the true percentages, percentage points (tracking: a video without a graded track is left "
          "out, see 'videos'):")
    print(table.round(3).to_string())
    cnns = [m for m in CNNS if m in table.index]
    if cnns:
        worst, best = table.loc[cnns, "all"].max(), table.loc[cnns, "all"].idxmin()
        mae, r = table.loc[best, "all"], table.loc[best, "pearson r (progressive)"]
        print(f"targets: every CNN <= 8: {'met' if worst <= 8 else 'missed'} (worst {worst:.2f}); best <= 5: "
              f"{'met' if mae <= 5 else 'missed'} ({best} {mae:.2f}); Pearson r >= 0.8 on progressive (the best "
              f"CNN, {best}): {'met' if r >= 0.8 else 'missed'} ({r:.3f})")
    if "trackfeat" in table.index:
        v = table.loc["trackfeat", "all"]
        print(f"trackfeat <= 5: {'met' if v <= 5 else 'missed'} ({v:.2f})")


def real(work: Path) -> None:
    """Video 11 (whole) against its lab values, and the SVIA clips, for every shipped model."""
    import pandas as pd

    from spermtrack.crosscheck.train import predict_video
    from spermtrack.errors import InputError
    from spermtrack.io.clinical import motility_columns, read_clinical_csv
    from spermtrack.io.inputs import open_video
    from spermtrack.pipeline import run_pipeline
    from spermtrack.regressors import shipped_names

    lab = motility_columns(read_clinical_csv(REFERENCE / "visem_real" / "semen_analysis_data_Train.csv"))
    lab.index = lab.index.astype(str)
    clips = {"VISEM 11 (lab)": REFERENCE / "visem_real" / "11" / "11.mp4",
             **{f"SVIA {c}": REFERENCE / "svia" / f"{c}.mp4" for c in ("S_0001", "S_0002", "S_0003")}}
    rows = []
    for label, path in clips.items():
        if label.startswith("VISEM"):
            rows.append({"video": label, "source": "lab", **{c: float(lab.loc["11", c]) for c in CATEGORIES}})
        result = run_pipeline(open_video(path, um_per_px=0.351))
        rows.append({"video": label, "source": "tracking", **{c: result.summary["percent"][c] for c in CATEGORIES}})
        for name in shipped_names():
            try:
                _, pct, notes = predict_video(path, name, um_per_px=0.351)
            except InputError as exc:  # e.g. a clip shorter than the model's input
                rows.append({"video": label, "source": name, "note": str(exc).split(": ", 1)[-1]})
                continue
            rows.append({"video": label, "source": name, **{c: pct[c] for c in CATEGORIES},
                         "note": "; ".join(notes)})
    table = pd.DataFrame(rows)
    print("\nreal videos, percent (one data point each; reported, not a target):")
    print(table.round(1).astype(object).where(table.notna(), "").to_string(index=False))


def cross_validated(args) -> None:
    """The earlier benchmark: every model cross-validated by video on synthetic videos (crosscheck --train)."""
    import pandas as pd

    from spermtrack.crosscheck.run import CROSSCHECK_MODELS, run_crosscheck
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    work = args.work
    data = work / "data"
    if not (data / "synth_config.json").is_file():
        config = SynthConfig(seconds=args.seconds, fps=50.0, write_images=False)
        write_synthetic_dataset(data, n_videos=args.videos, config=config, seed=SEED, progress=True)
    cache = work / f"cache-{os.getpid()}"
    start = time.perf_counter()
    result = run_crosscheck(data, work / "crosscheck", models=CROSSCHECK_MODELS, folds=args.folds, seed=0,
                            cache_dir=cache, train=True, progress=True)
    run_s = time.perf_counter() - start
    mae = result.errors.pivot_table(index="source", columns="category", values="mae", sort=False)
    mae = mae.reindex(columns=["progressive", "non_progressive", "immotile", "all"])
    mae["pearson r (progressive)"] = result.errors[result.errors["category"] == "progressive"].set_index(
        "source")["pearson_r"]
    pd.set_option("display.width", 200)
    print(f"\n{args.videos} synthetic videos of {args.seconds:g} s (seed {SEED}), {args.folds}-fold cross-validation "
          f"by video; {os.cpu_count()} CPU(s), python {sys.version.split()[0]}; {run_s / 60:.1f} min")
    print(mae.round(2).to_string())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--real", action="store_true", help="also video 11 and the SVIA clips")
    parser.add_argument("--cv", action="store_true", help="the earlier cross-validation benchmark instead")
    parser.add_argument("--videos", type=int, default=20, help="--cv: synthetic videos")
    parser.add_argument("--seconds", type=float, default=6.0, help="--cv: their length, s")
    parser.add_argument("--folds", type=int, default=5, help="--cv: folds")
    args = parser.parse_args(argv)
    args.work = args.work or Path(tempfile.mkdtemp(prefix="spermtrack-regressors-bench-"))
    if args.cv:
        cross_validated(args)
        return 0
    held_out(args.work)
    if args.real:
        real(args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
