"""The stage commands: ``detect``, ``track``, ``kinematics`` and ``analyze`` (all stages, one video or an archive)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spermtrack.cli.options import (EXIT_INPUT_ERROR, add_detector, add_pixel_size, add_preset, add_tracker,
                                    detector_options, fps_value, frame_size, positive_float, positive_int)


def add_detect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect sperm heads in a video: detections.csv and det_mot.txt out",
                       description="Run a frame detector on a VISEM-Tracking video folder, a video file or an "
                                   "image folder.")
    p.add_argument("input", type=Path, help="a VISEM-Tracking video folder, a video file or a folder of images")
    add_detector(p)
    add_pixel_size(p, "optional", "blob, yolo: frames are resampled to VISEM's 0.351 before "
                    "detection (default: frames as they are)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="use the frames of a video that ends before its container says (with a warning)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_detect)


def cmd_detect(args: argparse.Namespace) -> int:
    """Run ``spermtrack detect``."""
    from spermtrack.detectors import make_detector
    from spermtrack.io.atomic import output_folder, write_json
    from spermtrack.io.inputs import resolve_video
    from spermtrack.io.mot import write_mot
    from spermtrack.io.tables import write_table
    from spermtrack.provenance import provenance

    options = detector_options(args, pixel_size=True)
    with output_folder(args.out, inputs=[args.input]) as out:
        detector = make_detector(args.detector, **options)
        source = resolve_video(args.input)
        dets = detector.detect_video(source.iter_frames(allow_truncated=args.allow_truncated),
                                     progress=not args.quiet, total=source.frame_count())
        write_table(out / "detections.csv", dets)
        write_mot(out / "det_mot.txt", dets)
        write_json(out / "detections.json", provenance(detector=detector.to_dict(), input=str(args.input)))
    print(f"{len(dets)} detections in {dets['frame'].nunique() if len(dets) else 0} frames; "
          f"wrote detections.csv, det_mot.txt, detections.json to {args.out}")
    return 0


def add_track(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("track", help="track sperm heads: detections in, tracks.csv and tracks_mot.txt out",
                       description="Run a tracker on detections. INPUT is a VISEM-Tracking video folder (or a "
                                   "video file). --detections gt uses the folder's ground-truth boxes, optionally "
                                   "degraded with --det-noise; --detections FILE reads a MOTChallenge det.txt, "
                                   "and INPUT may then be omitted.")
    p.add_argument("input", type=Path, nargs="?", default=None, help="a VISEM-Tracking video folder or a video file")
    p.add_argument("--detections", default="gt", metavar="{gt,FILE}",
                   help="'gt' (ground-truth boxes of INPUT) or a MOTChallenge det.txt file (default gt)")
    p.add_argument("--det-noise", default=None, metavar="SPEC",
                   help="noise for gt detections, e.g. 'jitter=0.5,miss=0.1,fp=2,seed=0'")
    add_detector(p, default=None, help="detect on INPUT's frames with this detector instead of --detections")
    add_tracker(p)
    p.add_argument("--allow-truncated", action="store_true",
                   help="use the frames of a video that ends before its container says (with a warning)")
    p.add_argument("--fps", type=fps_value, default=None,
                   help="frame rate (default: from the video container; required for a bare det.txt)")
    add_pixel_size(p, "visem")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_track)


def cmd_track(args: argparse.Namespace) -> int:
    """Run ``spermtrack track``."""
    from spermtrack.io.atomic import output_folder, write_json
    from spermtrack.io.mot import write_mot
    from spermtrack.io.tables import write_table
    from spermtrack.pipeline import detections_to_track, run_tracker
    from spermtrack.provenance import provenance

    inputs = [args.input] + ([Path(args.detections)] if args.detections != "gt" else [])
    if args.detector is not None:
        options = detector_options(args)
    else:
        options = detector_options(args, "gt" if args.detections == "gt" else "public")
    with output_folder(args.out, inputs=inputs) as out:
        dets, rec, source = detections_to_track(args.input, detections=args.detections, detector=args.detector,
                                                detector_options=options, um_per_px=args.um_per_px, fps=args.fps,
                                                allow_truncated=args.allow_truncated)
        fps = args.fps or rec.fps
        tracks, config, note = run_tracker(dets, args.tracker, fps=fps, um_per_px=args.um_per_px)
        if note is not None:
            print(f"spermtrack track: warning: {note}", file=sys.stderr)
        write_table(out / "tracks.csv", tracks)
        write_mot(out / "tracks_mot.txt", tracks[tracks["track_id"] >= 0])
        write_json(out / "tracks.json", provenance(tracker=config, fps=fps, um_per_px=args.um_per_px,
                                                   recording=None if rec is None else rec.to_dict(), **source))
    n_tracks = tracks.loc[tracks["track_id"] >= 0, "track_id"].nunique()
    print(f"{len(dets)} detections -> {n_tracks} tracks; wrote tracks.csv, tracks_mot.txt, tracks.json to {args.out}")
    return 0


def add_kinematics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kinematics", help="CASA kinematics and WHO grades from a tracks table",
                       description="Compute VCL, VSL, VAP, LIN, STR, WOB, ALH, BCF, MAD and the WHO 2021 grade of "
                                   "every track; write kinematics.csv and summary.json (grade percentages, noise, "
                                   "config, versions).")
    p.add_argument("tracks", type=Path, help="a tracks table (contract CSV) or, with --format mot, a MOTChallenge file")
    add_pixel_size(p, "required")
    p.add_argument("--fps", type=fps_value, required=True, help="frame rate of the video")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=("csv", "mot"), default="csv", help="input format (default csv)")
    add_preset(p)
    p.add_argument("--chamber-depth-um", type=positive_float, default=None,
                   help="chamber depth in um; with --frame-size gives the concentration")
    p.add_argument("--frame-size", type=frame_size, default=None, metavar="WxH",
                   help="frame size in px (e.g. 640x480), needed for the concentration")
    p.set_defaults(func=cmd_kinematics)


def cmd_kinematics(args: argparse.Namespace) -> int:
    """Run ``spermtrack kinematics``."""
    from spermtrack.io.atomic import check_output_folder, output_folder
    from spermtrack.io.tables import write_kinematics
    from spermtrack.kinematics import analyze_tracks, get_preset, summarize
    from spermtrack.provenance import provenance

    check_output_folder(args.out, inputs=[args.tracks])
    if args.format == "mot":
        from spermtrack.io.mot import read_mot
        from spermtrack.io.tables import check_inside_frame

        tracks = read_mot(args.tracks, kind="result")
        if args.frame_size is not None:
            check_inside_frame(tracks, args.frame_size, args.tracks)
    else:
        from spermtrack.io.tables import read_tracks_csv

        tracks = read_tracks_csv(args.tracks, frame_size=args.frame_size)
    result = analyze_tracks(tracks, args.um_per_px, args.fps, get_preset(args.preset), name=str(args.tracks))
    summary = summarize(result, chamber_depth_um=args.chamber_depth_um, frame_size_px=args.frame_size,
                        extra={"tracks": str(args.tracks), "format": args.format})
    summary["provenance"] = provenance(um_per_px=args.um_per_px, fps=args.fps)
    with output_folder(args.out, inputs=[args.tracks]) as out:
        write_kinematics(out, result.table, summary)
    pct = summary["percent"]
    shown = ", ".join(f"{k} {pct[k]:.1f} %" for k in ("a", "b", "c", "d") if pct.get(k) is not None)
    print(f"{summary['counts']['graded']} graded, {summary['counts']['ungraded']} ungraded tracks"
          f"{': ' + shown if shown else ''}; wrote kinematics.csv and summary.json to {args.out}")
    return 0


def add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse a video (or a folder of videos): tracks, kinematics, grades, report",
                       description="Detect, track and grade a video file, a folder of frames or a VISEM-Tracking "
                                   "video folder, and write trajectories (CSV, Parquet, MOT), kinematics, WHO 2021 "
                                   "grades, an annotated video, plots and a self-contained report.html. A folder "
                                   "of videos is analysed video by video into OUT/<video>/, with OUT/summary.csv "
                                   "and an OUT/report.html index; a rerun skips finished videos. The exit status "
                                   "is 1 when any video failed (the others are still written).")
    p.add_argument("input", type=Path, help="a video file, a folder of frames, a VISEM-Tracking video folder, or a "
                                            "folder of any of these")
    add_pixel_size(p, "required")
    p.add_argument("--fps", type=fps_value, default=None, help="frame rate (default: from the video container)")
    add_detector(p, imgsz=False)
    add_tracker(p)
    add_preset(p)
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument("--per-sperm-model", nargs="?", const="shipped", default=None, metavar="CHECKPOINT",
                   help="also grade each sperm from a clip cut along its track (the shipped video model, or "
                        "CHECKPOINT): per-sperm columns in kinematics.csv, both distributions in the report")
    p.add_argument("--allow-truncated", action="store_true",
                   help="use the frames of a video that ends before its container says (with a warning)")
    p.add_argument("--jobs", type=positive_int, default=1, help="videos analysed in parallel (default 1)")
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="send the per-video work to a Dask distributed cluster (e.g. tcp://host:8786)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_analyze)


def _analyze_config(args: argparse.Namespace):
    from spermtrack.analysis import AnalyzeConfig
    from spermtrack.pipeline import PipelineConfig

    options = detector_options(args)
    stages = PipelineConfig(detector=args.detector, detector_options=options, tracker=args.tracker,
                            preset=args.preset, per_sperm_model=args.per_sperm_model)
    return AnalyzeConfig(um_per_px=args.um_per_px, fps=args.fps, stages=stages, annotate=not args.no_video,
                         allow_truncated=args.allow_truncated)


def cmd_analyze(args: argparse.Namespace) -> int:
    """Run ``spermtrack analyze``."""
    from spermtrack.io.atomic import check_output_folder
    from spermtrack.io.inputs import scan_inputs

    config = _analyze_config(args)
    scan = scan_inputs(args.input)
    check_output_folder(args.out, inputs=[args.input, *scan.inputs])
    if scan.single and not args.dask_scheduler:
        from spermtrack.analysis import analyze_video
        from spermtrack.io.inputs import open_video

        video = open_video(args.input, um_per_px=config.um_per_px, fps=config.fps,
                           allow_truncated=config.allow_truncated)
        analysis = analyze_video(video, config, progress=not args.quiet)
        for note in analysis.notes:
            print(f"spermtrack analyze: warning: {note}", file=sys.stderr)
        analysis.write(args.out, progress=not args.quiet)
        print(f"{analysis.one_line()}; report: {args.out / 'report.html'}")
        return 0
    from spermtrack.archive import analyze_archive

    if scan.skipped_line():
        print(f"spermtrack analyze: {scan.skipped_line()}", file=sys.stderr)
    table = analyze_archive(scan.inputs, args.out, config, jobs=args.jobs, dask_scheduler=args.dask_scheduler,
                            progress=not args.quiet, skipped=scan.skipped, sources=[args.input])
    failed = int((table["status"] == "failed").sum())
    skipped = int((table["status"] == "skipped").sum())
    print(f"{len(table)} video(s): {len(table) - failed - skipped} analysed, {skipped} already done, {failed} failed"
          f"{f', {len(scan.skipped)} non-video entries skipped' if scan.skipped else ''}; "
          f"summary: {args.out / 'summary.csv'}; report: {args.out / 'report.html'}")
    return EXIT_INPUT_ERROR if failed else 0
