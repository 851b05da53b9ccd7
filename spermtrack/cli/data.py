"""Commands about data: ``synth`` (write a synthetic data set), ``info`` (summarise one), ``demo``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spermtrack.cli.options import (add_detector, add_pixel_size, add_tracker, fps_value, non_negative_int,
                                    positive_float, positive_int)
from spermtrack.demo import DEMO_DIR


def add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write a synthetic data set in the exact VISEM-Tracking layout",
                       description="Generate synthetic sperm videos with exact ground truth, written in the "
                                   "VISEM-Tracking layout (mp4, jpg frames, labels, labels_ftid) plus a "
                                   "semen-analysis CSV with the true grade percentages.")
    p.add_argument("out", type=Path, help="output folder (one sub-folder per video)")
    p.add_argument("--videos", type=positive_int, default=2, help="number of videos (default 2)")
    p.add_argument("--seconds", type=positive_float, default=10.0, help="length of each video in s (default 10)")
    p.add_argument("--fps", type=fps_value, default=50.0, help="frame rate (default 50)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed; same seed, same bytes (default 0)")
    p.add_argument("--density", type=positive_float, default=None,
                   help="mean sperm per frame (default: drawn per video from VISEM's real range)")
    add_pixel_size(p, "visem")
    p.add_argument("--width", type=positive_int, default=640, help="frame width in px (default 640)")
    p.add_argument("--height", type=positive_int, default=480, help="frame height in px (default 480)")
    p.add_argument("--no-images", action="store_true", help="write the mp4 but not the per-frame jpg files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    """Run ``spermtrack synth``."""
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    config = SynthConfig(seconds=args.seconds, fps=args.fps, width=args.width, height=args.height,
                         um_per_px=args.um_per_px, density=args.density, write_images=not args.no_images)
    folders = write_synthetic_dataset(args.out, n_videos=args.videos, config=config, seed=args.seed,
                                      progress=not args.quiet)
    print(f"wrote {len(folders)} synthetic video(s) to {args.out}")
    return 0


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summarise a VISEM-Tracking data set (or one video folder)",
                       description="Per video: frames, fps, frame size, boxes per class and number of tracks.")
    p.add_argument("dataset", type=Path, help="a data set root (one folder per video) or one video folder")
    p.add_argument("--fps", type=fps_value, default=None,
                   help="frame rate to use when a folder has no video file to read it from")
    add_pixel_size(p, "visem")
    p.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    """Run ``spermtrack info``."""
    from spermtrack.io.inputs import dataset_info

    table = dataset_info(args.dataset, um_per_px=args.um_per_px, fps=args.fps)
    print(table.to_string(index=False))
    return 0


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the embedded synthetic sample, analyse it and score it",
                       description="Write a synthetic VISEM-Tracking sample with exact ground truth, analyse it as "
                                   "'spermtrack analyze' would (tracks, kinematics, grades, annotated video, "
                                   "report.html), and score the result against the truth: MOT metrics, kinematic "
                                   "error and grade error.")
    p.add_argument("--out", type=Path, default=Path(DEMO_DIR), help=f"output folder (default ./{DEMO_DIR})")
    p.add_argument("--seconds", type=positive_float, default=10.0, help="length of the clip in s (default 10)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    add_detector(p, options=False)
    add_tracker(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run ``spermtrack demo``."""
    from spermtrack.demo import run_demo

    result = run_demo(args.out, seconds=args.seconds, seed=args.seed, detector=args.detector, tracker=args.tracker,
                      progress=not args.quiet, say=lambda line: print(line, flush=True))
    for note in result.analysis.notes:
        print(f"spermtrack demo: warning: {note}", file=sys.stderr)
    print(result.comparison.to_string(index=False))
    mot, kin = result.score["tracking"], result.score["kinematics"]
    print(f"tracking: HOTA {mot['HOTA']:.3f}, MOTA {mot['MOTA']:.3f}, IDF1 {mot['IDF1']:.3f}; kinematics of "
          f"{kin['matched_pct']:.0f} % of true sperm matched, VSL error (median) {kin['vsl_mdape']:.1f} %")
    print(f"report: {result.results / 'report.html'}")
    return 0
