"""Training commands: ``train-detector``, ``self-train``, ``regress`` (train, predict) and ``crosscheck``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spermtrack.cli.options import (add_detector, add_pixel_size, add_preset, add_tracker, folds, fps_value, margin,
                                    non_negative_int, positive_int, regressor_list, score_threshold)
from spermtrack.crosscheck.run import CROSSCHECK_MODELS
from spermtrack.detectors import YOLO_MODELS
from spermtrack.errors import UsageError
from spermtrack.regressors import PER_SPERM, PER_SPERM_SUMMARY, REGRESSOR_SUMMARIES


def add_train_detector(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-detector", help="train a YOLOv5-family detector on a VISEM-Tracking layout (CPU, offline)",
                       description="Convert a VISEM-Tracking data set to an ultralytics data set with a video-level "
                                   "split (val videos 52, 54, 60, 82 when present, else a seeded split), train on "
                                   "CPU with no downloads, and report mAP50, mAP50-95, precision and recall on the "
                                   "val videos.")
    p.add_argument("dataset", type=Path, help="a VISEM-Tracking root (real or synthetic)")
    p.add_argument("--model", default=YOLO_MODELS[0],
                   help=f"{', '.join(YOLO_MODELS)} (built from its yaml) or an ultralytics .yaml or .pt file to "
                        "start from (default %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=30, help="training epochs (default 30)")
    p.add_argument("--imgsz", type=positive_int, default=640, help="training image size (default 640)")
    p.add_argument("--batch", type=positive_int, default=16, help="batch size (default 16)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the split and training (default 0)")
    p.add_argument("--frame-step", type=positive_int, default=1, help="use every Nth frame (default 1)")
    p.add_argument("--out", type=Path, required=True, help="output folder (weights, metrics, data set)")
    p.set_defaults(func=cmd_train_detector)


def cmd_train_detector(args: argparse.Namespace) -> int:
    """Run ``spermtrack train-detector``."""
    from spermtrack.training import train_detector

    metrics = train_detector(args.dataset, out_dir=args.out, model=args.model, epochs=args.epochs,
                             imgsz=args.imgsz, batch=args.batch, seed=args.seed, frame_step=args.frame_step)
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
    for key, value in shown.items():
        print(f"{key}: {value}")
    return 0


def add_self_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("self-train", help="adapt a YOLO checkpoint to your microscope from unlabelled video",
                       description="Pseudo-label a video with a YOLO checkpoint (detections with score >= --conf), "
                                   "fine-tune the checkpoint on those frames (CPU, offline) and write "
                                   "OUT/detector.pt. No annotation is needed.")
    p.add_argument("video", type=Path, help="a video file or a VISEM-Tracking video folder")
    p.add_argument("--weights", default=None, help="starting checkpoint (default: the shipped one)")
    p.add_argument("--conf", type=score_threshold, default=0.25,
                   help="pseudo-label score threshold, above 0 and at most 1 (default 0.25)")
    p.add_argument("--epochs", type=positive_int, default=10, help="fine-tuning epochs (default 10)")
    p.add_argument("--frame-step", type=positive_int, default=4, help="use every Nth frame (default 4)")
    p.add_argument("--start", type=non_negative_int, default=0, help="first frame (default 0)")
    p.add_argument("--stop", type=positive_int, default=None, help="stop before this frame (default: the end)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_self_train)


def cmd_self_train(args: argparse.Namespace) -> int:
    """Run ``spermtrack self-train``."""
    from spermtrack.training.selftrain import SelfTrainConfig, self_train

    if args.stop is not None and args.stop <= args.start:
        raise UsageError(f"--stop ({args.stop}) must be greater than --start ({args.start})")
    config = SelfTrainConfig(conf=args.conf, epochs=args.epochs, step=args.frame_step, start=args.start,
                             stop=args.stop)
    result = self_train(args.video, weights=args.weights, out_dir=args.out, config=config)
    print(f"{result['pseudo_boxes']} pseudo-labelled boxes; wrote {result['detector']} "
          f"(use it with --detector yolo --weights {result['detector']})")
    return 0


REGRESSOR_NAMES = tuple(REGRESSOR_SUMMARIES)


REGRESSOR_HELP = ", ".join(f"{name} ({text})" for name, text in REGRESSOR_SUMMARIES.items())


def add_regress_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", type=Path, help="a VISEM-Tracking-layout folder with a semen-analysis CSV")
    p.add_argument("--folds", type=folds, default=5, help="cross-validation folds, split by video (default 5)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the folds and the models (default 0)")
    p.add_argument("--clinical", type=Path, default=None,
                   help="the semen-analysis CSV (default: semen_analysis_data_Train.csv at the data set's root)")
    add_pixel_size(p, "visem")
    p.add_argument("--cache", type=Path, default=None,
                   help="cache of decoded inputs (default ~/.cache/spermtrack/regressors)")
    p.add_argument("--quick", action="store_true", help="small inputs and one epoch: a fast check, not a result")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_regress(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("regress", help="train or apply a CNN motility regressor (WHO proportions from pixels)",
                       description="Motility regressors predict a video's WHO proportions directly, as a "
                                   "cross-check of the tracking path.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    t = actions.add_parser("train", help="cross-validate a regressor by video, then fit it on every video",
                           description="Cross-validate a regressor on a data set (folds split by video) and fit it "
                                       "on every video; writes model.pt, cv_predictions.csv, metrics.csv, "
                                       "agreement.png and regress.json. With --model persperm the per-sperm video "
                                       "model learns each sperm's exact grade from a data set with per-sperm truth "
                                       "(spermtrack synth writes one); its model.pt goes to analyze "
                                       "--per-sperm-model.")
    t.add_argument("--model", required=True, choices=(*REGRESSOR_NAMES, PER_SPERM),
                   help=f"{REGRESSOR_HELP}, {PER_SPERM} ({PER_SPERM_SUMMARY})")
    add_regress_data_options(t)
    t.set_defaults(func=cmd_regress_train)
    q = actions.add_parser("predict", help="predict the WHO proportions of a video with a trained regressor",
                           description="Predict progressive / non-progressive / immotile %% (and a-d when the "
                                       "model has them) of a video file, VISEM-Tracking video folder or frame folder.")
    q.add_argument("video", type=Path, help="a video file, a VISEM-Tracking video folder or a folder of frames")
    q.add_argument("--model", required=True, metavar="NAME|PATH",
                   help="a model name for its shipped checkpoint (flow2d, r3d18, aefeat, trackfeat), or model.pt, or "
                        "the folder 'regress train' wrote")
    add_pixel_size(q, "optional", "default: the one the model was trained with")
    q.add_argument("--fps", type=fps_value, default=None, help="frame rate (default: from the video container)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_regress_predict)


def cmd_regress_train(args: argparse.Namespace) -> int:
    """Run ``spermtrack regress train``."""
    import pandas as pd

    if args.model == PER_SPERM:
        return _train_per_sperm(args)
    from spermtrack.crosscheck.train import train_regressor

    record = train_regressor(args.dataset, args.out, model=args.model, folds=args.folds, seed=args.seed,
                             quick=args.quick, clinical_csv=args.clinical, um_per_px=args.um_per_px,
                             cache_dir=args.cache, progress=not args.quiet)
    for note in record["notes"]:
        print(f"spermtrack regress train: note: {note}", file=sys.stderr)
    metrics = pd.DataFrame(record["metrics"]).set_index("category")
    print(f"{args.model}, {args.folds}-fold cross-validation by video on {len(record['videos'])} videos "
          "(percentage points):")
    print(metrics[["n", "mae", "rmse", "pearson_r", "pearson_p", "bias", "loa_low", "loa_high"]].round(3).to_string())
    print(f"model: {args.out / 'model.pt'}; details: {args.out / 'metrics.csv'}")
    return 0


def _train_per_sperm(args: argparse.Namespace) -> int:
    """``spermtrack regress train --model persperm``: the per-sperm video model on per-sperm truth."""
    from spermtrack.training.per_sperm_dataset import train_per_sperm

    foreign = [flag for flag, value in (("--clinical", args.clinical), ("--cache", args.cache)) if value is not None]
    if foreign:
        raise UsageError(f"{' and '.join(foreign)} apply to the sample-level regressors only (the per-sperm model "
                         "learns from each sperm's truth, not the lab's percentages)")
    record = train_per_sperm(args.dataset, args.out, folds=args.folds, seed=args.seed, quick=args.quick,
                             um_per_px=args.um_per_px, progress=not args.quiet)
    m = record["metrics"]
    errors = ", ".join(f"{g} {v:.2f}" for g, v in m["sample_error_points"].items())
    print(f"{PER_SPERM} ({record['arch']}), {record['folds']}-fold cross-validation by video on "
          f"{len(record['videos'])} videos, {record['cells']} sperm: balanced accuracy {m['balanced_accuracy']:.3f}, "
          f"c-vs-d accuracy {m['c_vs_d_accuracy']:.3f}, MSE {m['mse']:.4f}, JS {m['js']:.4f}; sample-level error "
          f"(points) {errors}")
    print(f"model: {args.out / 'model.pt'} (use it with analyze --per-sperm-model); "
          f"details: {args.out / 'metrics.csv'}")
    return 0


def cmd_regress_predict(args: argparse.Namespace) -> int:
    """Run ``spermtrack regress predict``."""
    from spermtrack.crosscheck.train import predict_video

    name, pct, notes = predict_video(args.video, args.model, um_per_px=args.um_per_px, fps=args.fps,
                                     progress=not args.quiet)
    for note in notes:
        print(f"spermtrack regress predict: warning: {note}", file=sys.stderr)
    grades = ", ".join(f"{g} {pct[g]:.1f} %" for g in "abcd" if g in pct)
    print(f"{args.video}: progressive {pct['progressive']:.1f} %, non-progressive {pct['non_progressive']:.1f} %, "
          f"immotile {pct['immotile']:.1f} %" + (f" (grades {grades})" if grades else "") + f" [model {name}]"
          + (" [UNRELIABLE: see the warning]" if notes else ""))
    return 0


def add_crosscheck(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crosscheck", help="tracking-derived WHO grades beside every motility regressor",
                       description="Per video: the tracking path's WHO percentages (detector + tracker + kinematics), "
                                   "each regressor's prediction (its shipped checkpoint; with --train, cross-validated "
                                   "on the data set) and the truth; MAE of every source; videos where tracking and a "
                                   "regressor disagree by more than their combined uncertainty. Writes crosscheck.md, a "
                                   "self-contained crosscheck.html, CSV tables and plots.")
    add_regress_data_options(p)
    p.add_argument("--models", type=regressor_list, default=",".join(CROSSCHECK_MODELS),
                   help=f"regressors, comma-separated (default all but cnnmean, whose members are there): "
                        f"{REGRESSOR_HELP}")
    p.add_argument("--train", action="store_true",
                   help="cross-validate every regressor on the data set (--folds) instead of its shipped checkpoint")
    p.add_argument("--margin", type=margin, default=None,
                   help="list videos where tracking and a regressor differ by more points than this (default: by more "
                        "than their combined 95 %% uncertainty)")
    add_detector(p, options=False, help="tracking path: detector")
    add_tracker(p, what="tracking path: ")
    add_preset(p, what="tracking path: ")
    p.set_defaults(func=cmd_crosscheck)


def cmd_crosscheck(args: argparse.Namespace) -> int:
    """Run ``spermtrack crosscheck``."""
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.crosscheck.run import run_crosscheck
    from spermtrack.pipeline import PipelineConfig

    models = list(args.models)
    base = InputSettings.quick() if args.quick else InputSettings()
    settings = base.replace(stages=PipelineConfig(detector=args.detector, tracker=args.tracker, preset=args.preset))
    result = run_crosscheck(args.dataset, args.out, models=models, folds=args.folds, margin=args.margin,
                            train=args.train,
                            seed=args.seed, quick=args.quick, clinical_csv=args.clinical, um_per_px=args.um_per_px,
                            cache_dir=args.cache, settings=settings, progress=not args.quiet)
    for note in result.record["notes"]:
        print(f"spermtrack crosscheck: note: {note}", file=sys.stderr)
    mae = result.errors.pivot_table(index="source", columns="category", values="mae", sort=False)
    mae = mae.reindex(columns=["progressive", "non_progressive", "immotile", "all"])
    mae["seconds"] = result.errors.groupby("source", sort=False)["seconds"].first()
    how = f"{args.folds}-fold by video" if args.train else "shipped checkpoints"
    print(f"MAE against the truth, percentage points ({len(result.table)} videos, {how}):")
    print(mae.round(2).to_string())
    print(f"{len(result.disagreements)} disagreement(s) above {result.record['threshold_text']}; "
          f"report: {args.out / 'crosscheck.html'}")
    return 0
