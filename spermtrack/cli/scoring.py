"""Scoring commands: ``evaluate`` (one result against one truth) and ``benchmark`` (a leaderboard)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spermtrack.cli.options import add_pixel_size, add_preset, comma_list, positive_float, tracker_help


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score one tracking result against one ground truth",
                       description="MOT metrics (MOTA, IDF1, HOTA, ...) of PRED against GT. GT is a VISEM-Tracking "
                                   "video folder or a MOTChallenge gt.txt; PRED a tracks.csv or MOTChallenge file.")
    p.add_argument("gt", type=Path, help="ground truth: VISEM-Tracking video folder or MOT gt.txt")
    p.add_argument("pred", type=Path, help="result: tracks.csv or MOTChallenge result file")
    p.add_argument("--metric", choices=("centre", "iou"), default=None,
                   help="distance (default: iou for MOTChallenge files, centre distance otherwise)")
    p.add_argument("--gate", type=positive_float, default=None, help="gate: px for centre, min IoU for iou")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run ``spermtrack evaluate``."""
    from spermtrack.scoring import evaluate_pair

    table = evaluate_pair(args.gt, args.pred, metric=args.metric, gate=args.gate)
    print(table.round(3).to_string())
    return 0


def add_benchmark(sub: argparse._SubParsersAction) -> None:
    from spermtrack.scoring.grid import DEFAULT_DETECTORS, DEFAULT_TRACKERS, DETECTORS

    p = sub.add_parser("benchmark", help="score detectors x trackers on a data set; write a leaderboard",
                       description="Run every detector x tracker on every video of a VISEM-Tracking root (real or "
                                   "synthetic; real: the official val videos by default), a MOTChallenge root or a "
                                   "real-trajectory table, and write leaderboard.csv/.md/.png plus kinematic and "
                                   "grade error.")
    p.add_argument("dataset", type=Path, help="VISEM-Tracking root, MOTChallenge root, or a trajectory .csv.gz")
    p.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS), type=comma_list(DETECTORS, "detector"),
                   help=f"comma list of {', '.join(DETECTORS)} (default %(default)s)")
    p.add_argument("--trackers", default=",".join(DEFAULT_TRACKERS), type=comma_list(None, "tracker"),
                   help=f"comma list of tracker names: {tracker_help()} (default %(default)s)")
    p.add_argument("--videos", default=None, help="comma list of video ids (default: val videos or all)")
    p.add_argument("--det-noise", default=None, metavar="SPEC", help="noise for gt detections, e.g. jitter=0.5,miss=0.1")
    p.add_argument("--clinical", type=Path, default=None, help="clinical CSV (VISEM format) for grade error vs lab")
    p.add_argument("--gate", type=positive_float, default=10.0, help="centre-distance gate in px (default 10)")
    add_pixel_size(p, "visem", "for the kinematic and grade errors")
    add_preset(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_benchmark)


def cmd_benchmark(args: argparse.Namespace) -> int:
    """Run ``spermtrack benchmark``."""
    from spermtrack.scoring import run_benchmark

    videos = None if args.videos is None else [v.strip() for v in args.videos.split(",") if v.strip()]
    board = run_benchmark(args.dataset, detectors=args.detectors, trackers=args.trackers, out_dir=args.out,
                          videos=videos, det_noise=args.det_noise, clinical_csv=args.clinical, gate=args.gate,
                          um_per_px=args.um_per_px, preset=args.preset,
                          progress=not args.quiet)
    overall = board[board["video"] == "OVERALL"]
    cols = [c for c in ("detector", "tracker", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN",
                        "tracker_fps") if c in overall.columns]
    print(overall[cols].sort_values("HOTA", ascending=False).round(2).to_string(index=False))
    print(f"wrote leaderboard.csv, leaderboard.md, leaderboard.png to {args.out}")
    return 0
