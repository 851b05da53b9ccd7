"""The ``spermtrack`` command line: one entry point, one subcommand per job.

User errors (a missing file, a malformed label line, a bad option value) are
printed as one line naming the file and line, with exit status 1 and no
traceback. Usage errors exit with status 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.detectors import DEFAULT_DETECTOR, FRAME_DETECTORS
from spermtrack.errors import InputError, Interrupted, UsageError, terminate_as_interrupt
from spermtrack.kinematics.config import KINEMATICS_PRESETS
from spermtrack.regressors import REGRESSOR_SUMMARIES
from spermtrack.tracker.registry import DEFAULT_TRACKER

EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

DEMO_DIR = "spermtrack-demo"
#: Detectors that read frames (``gt`` is chosen with ``--detections gt``).
_TRACKER_HELP = ("spermtrack's tracker 'sperm' (default), its variants 'sperm_online', 'sort', 'iou_bytetrack', or a "
                 "peer: bytetrack, ocsort, botsort, sort-rf (roboflow trackers), ul-bytetrack, ul-botsort "
                 "(ultralytics), trackpy")


def _parse(kind: type, text: str, what: str):
    """``kind(text)`` (float or int), or an argparse usage error that says what was expected."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _positive_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _physical(field: str, option: str, what: str):
    """An argparse type: a number within the physical range of ``field`` (:func:`spermtrack._validate.physical`)."""

    def parse(text: str) -> float:
        from spermtrack._validate import physical

        value = _positive_float(text)
        try:
            physical(option, field, value)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{option}.{field} ")) from None
        return value

    parse.__doc__ = what
    return parse


_fps = _physical("fps", "--fps", "A frame rate within the physical range of :data:`spermtrack.constants.FPS_RANGE`.")
_um_per_px = _physical("um_per_px", "--um-per-px",
                       "A pixel size within :data:`spermtrack.constants.UM_PER_PX_RANGE`.")
#: The three pixel-size policies of the commands: the one place that words them.
_PIXEL_SIZE = {
    "required": dict(required=True, help=f"pixel size in um (required: never guessed; VISEM-Tracking: {VISEM_UM_PER_PX})"),
    "visem": dict(default=VISEM_UM_PER_PX, help="pixel size in um (default: VISEM-Tracking's %(default)s)"),
    "optional": dict(default=None, help="pixel size in um"),
}


def _add_pixel_size(p: argparse.ArgumentParser, policy: str, why: str = "") -> None:
    """Add ``--um-per-px`` under one of the :data:`_PIXEL_SIZE` policies, with ``why`` after the standard help."""
    options = dict(_PIXEL_SIZE[policy])
    options["help"] += f"; {why}" if why else ""
    p.add_argument("--um-per-px", type=_um_per_px, **options)


def _positive_int(text: str) -> int:
    value = _parse(int, text, "an integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _parse(int, text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _tracker_name(text: str) -> str:
    """An argparse type: a name of the tracker registry (:func:`spermtrack.tracker.tracker_names`)."""
    from spermtrack.tracker.registry import tracker_names

    if text not in tracker_names():
        raise argparse.ArgumentTypeError(f"unknown tracker {text!r}; choose one of {', '.join(tracker_names())}")
    return text


def _comma_list(choices: Sequence[str] | None, what: str):
    """An argparse type: a comma-separated list of names from ``choices`` (the tracker registry when None)."""

    def parse(text: str) -> str:
        from spermtrack.tracker.registry import tracker_names

        allowed = tuple(choices) if choices is not None else tracker_names()
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"give at least one {what}")
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; choose from "
                                             f"{', '.join(allowed)}")
        return ",".join(names)

    return parse


# --------------------------------------------------------------------------- synth
def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write a synthetic data set in the exact VISEM-Tracking layout",
                       description="Generate synthetic sperm videos with exact ground truth, written in the "
                                   "VISEM-Tracking layout (mp4, jpg frames, labels, labels_ftid) plus a "
                                   "semen-analysis CSV with the true grade percentages.")
    p.add_argument("out", type=Path, help="output folder (one sub-folder per video)")
    p.add_argument("--videos", type=_positive_int, default=2, help="number of videos (default 2)")
    p.add_argument("--seconds", type=_positive_float, default=10.0, help="length of each video in s (default 10)")
    p.add_argument("--fps", type=_fps, default=50.0, help="frame rate (default 50)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed; same seed, same bytes (default 0)")
    p.add_argument("--density", type=_positive_float, default=None,
                   help="mean sperm per frame (default: drawn per video from VISEM's real range)")
    _add_pixel_size(p, "visem")
    p.add_argument("--width", type=_positive_int, default=640, help="frame width in px (default 640)")
    p.add_argument("--height", type=_positive_int, default=480, help="frame height in px (default 480)")
    p.add_argument("--no-images", action="store_true", help="write the mp4 but not the per-frame jpg files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)


def _synth(out: Path, *, videos: int, seconds: float, fps: float, seed: int, density: float | None,
           um_per_px: float, width: int, height: int, images: bool, progress: bool) -> list[Path]:
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    config = SynthConfig(seconds=seconds, fps=fps, width=width, height=height, um_per_px=um_per_px,
                         density=density, write_images=images)
    return write_synthetic_dataset(out, n_videos=videos, config=config, seed=seed, progress=progress)


def cmd_synth(args: argparse.Namespace) -> int:
    """Run ``spermtrack synth``."""
    folders = _synth(args.out, videos=args.videos, seconds=args.seconds, fps=args.fps, seed=args.seed,
                     density=args.density, um_per_px=args.um_per_px, width=args.width, height=args.height,
                     images=not args.no_images, progress=not args.quiet)
    print(f"wrote {len(folders)} synthetic video(s) to {args.out}")
    return 0


# --------------------------------------------------------------------------- info
def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summarise a VISEM-Tracking data set (or one video folder)",
                       description="Per video: frames, fps, frame size, boxes per class and number of tracks.")
    p.add_argument("dataset", type=Path, help="a data set root (one folder per video) or one video folder")
    p.add_argument("--fps", type=_fps, default=None,
                   help="frame rate to use when a folder has no video file to read it from")
    _add_pixel_size(p, "visem")
    p.set_defaults(func=cmd_info)


def dataset_info(root: Path, *, fps: float | None = None, um_per_px: float = VISEM_UM_PER_PX):
    """Summarise every video of a VISEM-Tracking data set.

    Parameters
    ----------
    root : pathlib.Path
        A data set root or a single video folder.
    fps : float, optional
        Frame rate for folders without a video file.
    um_per_px : float
        Pixel size in um.

    Returns
    -------
    pandas.DataFrame
        One row per video: ``video, frames, fps, width, height, sperm, cluster,
        pinhead, tracks, labels`` (boxes per class; distinct track ids, or None
        when the folder has no ``labels_ftid``; which label folder was read).
    """
    import pandas as pd

    from spermtrack.io.visem import list_videos, read_visem_video
    from spermtrack.schema import CLASS_NAMES

    rows = []
    for folder in list_videos(root):
        video = read_visem_video(folder, um_per_px=um_per_px, fps=fps)
        gt = video.ground_truth
        rec = video.recording
        counts = gt["class_id"].value_counts()
        row = {"video": video.video_id, "frames": rec.n_frames, "fps": round(rec.fps, 3),
               "width": rec.width, "height": rec.height, "seconds": round(rec.duration_s, 2)}
        for cid, name in CLASS_NAMES.items():
            row[name] = int(counts.get(cid, 0))
        row["tracks"] = int(gt["track_id"].nunique()) if video.has_identities else None
        row["labels"] = video.label_source
        rows.append(row)
    return pd.DataFrame(rows)


def cmd_info(args: argparse.Namespace) -> int:
    """Run ``spermtrack info``."""
    table = dataset_info(args.dataset, fps=args.fps, um_per_px=args.um_per_px)
    print(table.to_string(index=False))
    return 0


# --------------------------------------------------------------------------- track
def _add_track(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--detector", choices=FRAME_DETECTORS, default=None,
                   help="detect on INPUT's frames with this detector instead of --detections")
    _add_yolo_options(p)
    p.add_argument("--polarity", choices=("auto", "bright", "dark"), default=None, help="blob: head polarity (default auto)")
    p.add_argument("--tracker", default=DEFAULT_TRACKER, type=_tracker_name, metavar="NAME", help=_TRACKER_HELP)
    p.add_argument("--allow-truncated", action="store_true",
                   help="use the frames of a video that ends before its container says (with a warning)")
    p.add_argument("--fps", type=_fps, default=None,
                   help="frame rate (default: from the video container; required for a bare det.txt)")
    _add_pixel_size(p, "visem")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_track)


def _load_detections(args: argparse.Namespace):
    """Return ``(detections, recording or None, description)`` for ``spermtrack track``.

    Everything that can be checked (the input, its frame rate) is checked before any detection runs.
    """
    from spermtrack.detectors import make_detector, with_pixel_size
    from spermtrack.io.inputs import resolve_video

    if args.detector is not None:
        if args.input is None:
            raise InputError("--detector needs INPUT, a video folder, video file or image folder")
        recording = _input_recording(args)
        detector = make_detector(args.detector, **with_pixel_size(args.detector, _detector_options(args),
                                                                  recording.um_per_px))
        source = resolve_video(args.input)
        dets = detector.detect_video(source.iter_frames(allow_truncated=args.allow_truncated), progress=True,
                                     total=source.frame_count())
        return dets, recording, {"detector": detector.to_dict(), "input": str(args.input)}
    if args.detections != "gt":
        from spermtrack.io.mot import read_mot

        recording = None if args.input is None else _input_recording(args)
        if recording is None and args.fps is None:
            raise InputError("--fps is required: a detections file stores no frame rate (or give INPUT, the video)")
        return read_mot(Path(args.detections), kind="det"), recording, {"detections": str(args.detections)}
    if args.input is None:
        raise InputError("--detections gt needs INPUT, a VISEM-Tracking video folder with labels")
    if args.input.is_file():
        raise InputError("is a video file; --detections gt needs a VISEM-Tracking video folder with labels "
                         "(to detect on a video file, use --detector blob or --detector yolo)", args.input)
    video = _open_input(args)
    rec = video.recording
    if not len(video.ground_truth):
        raise InputError(f"has no labelled boxes ({video.label_source}): --detections gt needs labels/ or "
                         "labels_ftid/; run a detector on the frames instead (--detector blob)", args.input)
    detector = make_detector("gt", **_detector_options(args, "gt"))
    dets = detector.detect_truth(video.ground_truth, width=rec.width, height=rec.height, n_frames=rec.n_frames)
    return dets, rec, {"detector": detector.to_dict(), "input": str(args.input)}


def _input_recording(args: argparse.Namespace):
    """The recording (fps, size, frames) of INPUT: a video file, a video folder or an image folder."""
    return _open_input(args).recording


def _open_input(args: argparse.Namespace):
    from spermtrack.io.inputs import open_video

    return open_video(args.input, um_per_px=args.um_per_px, fps=args.fps,
                      allow_truncated=getattr(args, "allow_truncated", False))


def cmd_track(args: argparse.Namespace) -> int:
    """Run ``spermtrack track``."""
    from spermtrack.io.atomic import output_folder, write_json
    from spermtrack.io.mot import write_mot
    from spermtrack.io.tables import write_table
    from spermtrack.pipeline import run_tracker
    from spermtrack.provenance import provenance

    if args.detector is not None:
        _detector_options(args)
    elif args.detections != "gt":
        _detector_options(args, "public")
    else:
        _detector_options(args, "gt")
    inputs = [args.input] + ([Path(args.detections)] if args.detections != "gt" else [])
    with output_folder(args.out, inputs=inputs) as out:
        dets, rec, source = _load_detections(args)
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


# --------------------------------------------------------------------------- kinematics
def _frame_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in px, e.g. 640x480, got {text!r}") from None
    if not sep or min(size) <= 0:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in px, e.g. 640x480, got {text!r}")
    return size


def _add_kinematics(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kinematics", help="CASA kinematics and WHO grades from a tracks table",
                       description="Compute VCL, VSL, VAP, LIN, STR, WOB, ALH, BCF, MAD and the WHO 2021 grade of "
                                   "every track; write kinematics.csv and summary.json (grade percentages, noise, "
                                   "config, versions).")
    p.add_argument("tracks", type=Path, help="a tracks table (contract CSV) or, with --format mot, a MOTChallenge file")
    _add_pixel_size(p, "required")
    p.add_argument("--fps", type=_fps, required=True, help="frame rate of the video")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=("csv", "mot"), default="csv", help="input format (default csv)")
    p.add_argument("--preset", choices=KINEMATICS_PRESETS, default="who2021", help="grading preset (default who2021)")
    p.add_argument("--chamber-depth-um", type=_positive_float, default=None,
                   help="chamber depth in um; with --frame-size gives the concentration")
    p.add_argument("--frame-size", type=_frame_size, default=None, metavar="WxH",
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


# --------------------------------------------------------------------------- detect / train-detector
def _add_detect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect sperm heads in a video: detections.csv and det_mot.txt out",
                       description="Run a frame detector on a VISEM-Tracking video folder, a video file or an "
                                   "image folder.")
    p.add_argument("input", type=Path, help="a VISEM-Tracking video folder, a video file or a folder of images")
    p.add_argument("--detector", choices=FRAME_DETECTORS, default=DEFAULT_DETECTOR,
                   help="detector (default %(default)s)")
    _add_yolo_options(p)
    p.add_argument("--polarity", choices=("auto", "bright", "dark"), default=None,
                   help="blob: bright heads (phase contrast), dark heads (bright field) or auto (default: "
                        "decided per video and reported)")
    _add_pixel_size(p, "optional", "blob, yolo: frames are resampled to VISEM's 0.351 before "
                    "detection (default: frames as they are)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="use the frames of a video that ends before its container says (with a warning)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_detect)


_DETECTOR_FLAGS = {"weights": "--weights", "imgsz": "--imgsz", "backend": "--backend", "polarity": "--polarity",
                   "noise": "--det-noise", "um_per_px": "--um-per-px"}


def _add_yolo_options(p: argparse.ArgumentParser, *, imgsz: bool = True) -> None:
    """The yolo detector's flags: its checkpoint, its backend and (``imgsz``) its inference size."""
    from spermtrack.detectors.yolo import BACKENDS

    p.add_argument("--weights", type=Path, default=None,
                   help="yolo: an ultralytics .pt checkpoint or its .onnx export (default: the shipped one)")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="yolo: onnx (ONNX Runtime; the default for the shipped checkpoints and .onnx files) or torch "
                        "(ultralytics; the default for other .pt files; needs spermtrack[train])")
    if imgsz:
        p.add_argument("--imgsz", type=_positive_int, default=None, help="yolo: inference size in px")


def _detector_options(args: argparse.Namespace, detector: str | None = None, *, pixel_size: bool = False) -> dict:
    """The options of the chosen detector from its flags; a flag that does not apply is a usage error.

    Which detector takes which option is the registry's (:data:`spermtrack.detectors.DETECTOR_OPTIONS`).
    ``pixel_size``: ``--um-per-px`` is a detector option here (``detect``); elsewhere it is the
    recording's, which the pipeline hands to the detector.
    """
    from spermtrack.detectors import DETECTOR_OPTIONS, detector_options

    detector = detector or args.detector
    values = {"weights": None if getattr(args, "weights", None) is None else str(args.weights),
              "imgsz": getattr(args, "imgsz", None), "backend": getattr(args, "backend", None),
              "polarity": getattr(args, "polarity", None),
              "noise": getattr(args, "det_noise", None),
              "um_per_px": getattr(args, "um_per_px", None) if pixel_size else None}
    try:
        return detector_options(detector, **values)
    except InputError:
        foreign = [k for k, v in values.items() if v is not None and k not in DETECTOR_OPTIONS[detector]]
        parts = []
        for key in foreign:
            takers = [d for d, opts in DETECTOR_OPTIONS.items() if key in opts]
            where = "--detections gt" if takers == ["gt"] else " or ".join(f"--detector {d}" for d in takers)
            parts.append(f"{_DETECTOR_FLAGS[key]} applies to {where} only")
        here = {"gt": "here the detections are the labelled boxes (--detections gt)",
                "public": "here the detections are read from a file"}.get(detector, f"the detector here is {detector}")
        raise UsageError(f"{'; '.join(parts)} ({here})") from None


def cmd_detect(args: argparse.Namespace) -> int:
    """Run ``spermtrack detect``."""
    from spermtrack.detectors import make_detector
    from spermtrack.io.atomic import output_folder, write_json
    from spermtrack.io.inputs import resolve_video
    from spermtrack.io.mot import write_mot
    from spermtrack.io.tables import write_table
    from spermtrack.provenance import provenance

    options = _detector_options(args, pixel_size=True)
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


def _add_train_detector(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-detector", help="train a YOLOv5-family detector on a VISEM-Tracking layout (CPU, offline)",
                       description="Convert a VISEM-Tracking data set to an ultralytics data set with a video-level "
                                   "split (val videos 52, 54, 60, 82 when present, else a seeded split), train on "
                                   "CPU with no downloads, and report mAP50, mAP50-95, precision and recall on the "
                                   "val videos.")
    p.add_argument("dataset", type=Path, help="a VISEM-Tracking root (real or synthetic)")
    p.add_argument("--model", default="yolov5n", help="yolov5n/s/m/l/x (built from the yaml; default yolov5n)")
    p.add_argument("--epochs", type=_positive_int, default=30, help="training epochs (default 30)")
    p.add_argument("--imgsz", type=_positive_int, default=640, help="training image size (default 640)")
    p.add_argument("--batch", type=_positive_int, default=16, help="batch size (default 16)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the split and training (default 0)")
    p.add_argument("--frame-step", type=_positive_int, default=1, help="use every Nth frame (default 1)")
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


def _score_threshold(text: str) -> float:
    """An argparse type: a detection score threshold in (0, 1]."""
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a score above 0 and at most 1, got {text!r}")
    return value


def _add_self_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("self-train", help="adapt a YOLO checkpoint to your microscope from unlabelled video",
                       description="Pseudo-label a video with a YOLO checkpoint (detections with score >= --conf), "
                                   "fine-tune the checkpoint on those frames (CPU, offline) and write "
                                   "OUT/detector.pt. No annotation is needed.")
    p.add_argument("video", type=Path, help="a video file or a VISEM-Tracking video folder")
    p.add_argument("--weights", default=None, help="starting checkpoint (default: the shipped one)")
    p.add_argument("--conf", type=_score_threshold, default=0.25,
                   help="pseudo-label score threshold, above 0 and at most 1 (default 0.25)")
    p.add_argument("--epochs", type=_positive_int, default=10, help="fine-tuning epochs (default 10)")
    p.add_argument("--frame-step", type=_positive_int, default=4, help="use every Nth frame (default 4)")
    p.add_argument("--start", type=_non_negative_int, default=0, help="first frame (default 0)")
    p.add_argument("--stop", type=_positive_int, default=None, help="stop before this frame (default: the end)")
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


# --------------------------------------------------------------------------- benchmark / evaluate
def _add_benchmark(sub: argparse._SubParsersAction) -> None:
    from spermtrack.benchmark.grid import DEFAULT_DETECTORS, DEFAULT_TRACKERS, DETECTORS

    p = sub.add_parser("benchmark", help="score detectors x trackers on a data set; write a leaderboard",
                       description="Run every detector x tracker on every video of a VISEM-Tracking root (real or "
                                   "synthetic; real: the official val videos by default), a MOTChallenge root or a "
                                   "real-trajectory table, and write leaderboard.csv/.md/.png plus kinematic and "
                                   "grade error.")
    p.add_argument("dataset", type=Path, help="VISEM-Tracking root, MOTChallenge root, or a trajectory .csv.gz")
    p.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS), type=_comma_list(DETECTORS, "detector"),
                   help=f"comma list of {', '.join(DETECTORS)} (default %(default)s)")
    p.add_argument("--trackers", default=",".join(DEFAULT_TRACKERS), type=_comma_list(None, "tracker"),
                   help=f"comma list of tracker names: {_TRACKER_HELP} (default %(default)s)")
    p.add_argument("--videos", default=None, help="comma list of video ids (default: val videos or all)")
    p.add_argument("--det-noise", default=None, metavar="SPEC", help="noise for gt detections, e.g. jitter=0.5,miss=0.1")
    p.add_argument("--clinical", type=Path, default=None, help="clinical CSV (VISEM format) for grade error vs lab")
    p.add_argument("--gate", type=_positive_float, default=10.0, help="centre-distance gate in px (default 10)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_benchmark)


def cmd_benchmark(args: argparse.Namespace) -> int:
    """Run ``spermtrack benchmark``."""
    from spermtrack.benchmark import run_benchmark

    videos = None if args.videos is None else [v.strip() for v in args.videos.split(",") if v.strip()]
    board = run_benchmark(args.dataset, detectors=args.detectors, trackers=args.trackers, out_dir=args.out,
                          videos=videos, det_noise=args.det_noise, clinical_csv=args.clinical, gate=args.gate,
                          progress=not args.quiet)
    overall = board[board["video"] == "OVERALL"]
    cols = [c for c in ("detector", "tracker", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN",
                        "tracker_fps") if c in overall.columns]
    print(overall[cols].sort_values("HOTA", ascending=False).round(2).to_string(index=False))
    print(f"wrote leaderboard.csv, leaderboard.md, leaderboard.png to {args.out}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score one tracking result against one ground truth",
                       description="MOT metrics (MOTA, IDF1, HOTA, ...) of PRED against GT. GT is a VISEM-Tracking "
                                   "video folder or a MOTChallenge gt.txt; PRED a tracks.csv or MOTChallenge file.")
    p.add_argument("gt", type=Path, help="ground truth: VISEM-Tracking video folder or MOT gt.txt")
    p.add_argument("pred", type=Path, help="result: tracks.csv or MOTChallenge result file")
    p.add_argument("--metric", choices=("centre", "iou"), default=None,
                   help="distance (default: iou for MOTChallenge files, centre distance otherwise)")
    p.add_argument("--gate", type=_positive_float, default=None, help="gate: px for centre, min IoU for iou")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Run ``spermtrack evaluate``."""
    from spermtrack.benchmark import evaluate_pair

    table = evaluate_pair(args.gt, args.pred, metric=args.metric, gate=args.gate)
    print(table.round(3).to_string())
    return 0


# --------------------------------------------------------------------------- analyze
def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse a video (or a folder of videos): tracks, kinematics, grades, report",
                       description="Detect, track and grade a video file, a folder of frames or a VISEM-Tracking "
                                   "video folder, and write trajectories (CSV, Parquet, MOT), kinematics, WHO 2021 "
                                   "grades, an annotated video, plots and a self-contained report.html. A folder "
                                   "of videos is analysed video by video into OUT/<video>/, with OUT/summary.csv "
                                   "and an OUT/report.html index; a rerun skips finished videos. The exit status "
                                   "is 1 when any video failed (the others are still written).")
    p.add_argument("input", type=Path, help="a video file, a folder of frames, a VISEM-Tracking video folder, or a "
                                            "folder of any of these")
    _add_pixel_size(p, "required")
    p.add_argument("--fps", type=_fps, default=None, help="frame rate (default: from the video container)")
    p.add_argument("--detector", choices=FRAME_DETECTORS, default=DEFAULT_DETECTOR,
                   help="detector (default %(default)s)")
    _add_yolo_options(p, imgsz=False)
    p.add_argument("--polarity", choices=("auto", "bright", "dark"), default=None,
                   help="blob: bright heads (phase contrast), dark heads (bright field) or auto (default: "
                        "decided per video and reported)")
    p.add_argument("--tracker", default=DEFAULT_TRACKER, type=_tracker_name, metavar="NAME", help=_TRACKER_HELP)
    p.add_argument("--preset", choices=KINEMATICS_PRESETS, default="who2021",
                   help="grading preset (default who2021)")
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument("--per-sperm-model", nargs="?", const="shipped", default=None, metavar="CHECKPOINT",
                   help="also grade each sperm from a clip cut along its track (the shipped video model, or "
                        "CHECKPOINT): per-sperm columns in kinematics.csv, both distributions in the report")
    p.add_argument("--allow-truncated", action="store_true",
                   help="use the frames of a video that ends before its container says (with a warning)")
    p.add_argument("--jobs", type=_positive_int, default=1, help="videos analysed in parallel (default 1)")
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="send the per-video work to a Dask distributed cluster (e.g. tcp://host:8786)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_analyze)


def _analyze_config(args: argparse.Namespace):
    from spermtrack.analysis import AnalyzeConfig
    from spermtrack.pipeline import PipelineConfig

    options = _detector_options(args)
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


# --------------------------------------------------------------------------- demo
def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the embedded synthetic sample, analyse it and score it",
                       description="Write a synthetic VISEM-Tracking sample with exact ground truth, analyse it as "
                                   "'spermtrack analyze' would (tracks, kinematics, grades, annotated video, "
                                   "report.html), and score the result against the truth: MOT metrics, kinematic "
                                   "error and grade error.")
    p.add_argument("--out", type=Path, default=Path(DEMO_DIR), help=f"output folder (default ./{DEMO_DIR})")
    p.add_argument("--seconds", type=_positive_float, default=10.0, help="length of the clip in s (default 10)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    p.add_argument("--detector", choices=FRAME_DETECTORS, default=DEFAULT_DETECTOR,
                   help="detector (default %(default)s)")
    p.add_argument("--tracker", default=DEFAULT_TRACKER, type=_tracker_name, metavar="NAME", help=_TRACKER_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run ``spermtrack demo``."""
    from spermtrack.analysis import AnalyzeConfig, analyze_video
    from spermtrack.pipeline import PipelineConfig
    from spermtrack.io.atomic import DATASET, check_output_folder
    from spermtrack.io.synth_truth import read_synthetic_truth
    from spermtrack.io.visem import list_videos, read_visem_video

    data, results = args.out / "data", args.out / "results"
    if args.out.exists() and not args.out.is_dir():
        raise InputError("exists and is not a folder: choose a folder name for the demo", args.out)
    check_output_folder(data, kind=DATASET)
    check_output_folder(results)
    config = AnalyzeConfig(um_per_px=VISEM_UM_PER_PX, stages=PipelineConfig(detector=args.detector, tracker=args.tracker))
    print(f"[1/3] writing a {args.seconds:g}-s synthetic VISEM-Tracking sample to {data}", flush=True)
    _synth(data, videos=1, seconds=args.seconds, fps=50.0, seed=args.seed, density=30.0, um_per_px=VISEM_UM_PER_PX,
           width=640, height=480, images=False, progress=not args.quiet)
    folder = list_videos(data)[0]
    video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    print(f"[2/3] analysing it: detect ({args.detector}), track ({args.tracker}), grade (who2021)", flush=True)
    analysis = analyze_video(video, config, progress=not args.quiet)
    for note in analysis.notes:
        print(f"spermtrack demo: warning: {note}", file=sys.stderr)
    truth = read_synthetic_truth(folder)
    score = _demo_score(analysis, video, truth)
    analysis.write(results, progress=not args.quiet, extra_files={"score.json": json.dumps(score, indent=2)})
    print("[3/3] scored against the synthetic truth")
    print(_demo_comparison(analysis.summary, truth).to_string(index=False))
    mot = score["tracking"]
    print(f"tracking: HOTA {mot['HOTA']:.3f}, MOTA {mot['MOTA']:.3f}, IDF1 {mot['IDF1']:.3f}; kinematics of "
          f"{score['kinematics']['matched_pct']:.0f} % of true sperm matched, VSL error (median) "
          f"{score['kinematics']['vsl_mdape']:.1f} %")
    print(f"report: {results / 'report.html'}")
    return 0


def _demo_score(analysis, video, truth) -> dict:
    """MOT metrics, kinematic error and grade error of a demo analysis against the synthetic truth."""
    import math

    from spermtrack.eval.kinematic import kinematic_accuracy, truth_reference
    from spermtrack.eval.mot import mot_metrics
    from spermtrack.kinematics import get_preset
    from spermtrack.synth import true_percentages

    gt = video.ground_truth
    mot = mot_metrics(gt, analysis.tracks, metric="centre", gate=10.0, n_frames=video.recording.n_frames)
    _, objects = truth
    reference = truth_reference(objects, gt, alh_factor=get_preset(analysis.config.stages.preset).alh_factor)
    _, kin = kinematic_accuracy(gt, analysis.tracks, analysis.kinematics, reference)
    true = true_percentages(objects)
    measured = analysis.summary["percent"]
    grades = {k: {"measured_pct": measured.get(k), "true_pct": true[k],
                  "error_points": None if measured.get(k) is None or math.isnan(true[k]) else measured[k] - true[k]}
              for k in ("a", "b", "c", "d", "progressive", "non_progressive", "immotile")}
    return {"tracking": {k: float(mot[k]) for k in ("HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN")},
            "kinematics": {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in kin.items()},
            "grades": grades}


def _demo_comparison(summary: dict, truth):
    """Measured grade percentages next to the generator's true ones."""
    import pandas as pd

    from spermtrack.synth import true_percentages

    pct = summary["percent"]
    true_pct = true_percentages(truth[1]) if truth is not None else {}
    rows = []
    for key, name in (("a", "a rapid progressive"), ("b", "b slow progressive"), ("c", "c non-progressive"),
                      ("d", "d immotile"), ("progressive", "progressive (a+b)")):
        measured = pct.get(key)
        rows.append({"grade": name, "measured %": None if measured is None else round(measured, 1),
                     "true %": round(true_pct[key], 1) if key in true_pct else None})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- regress, crosscheck
_REGRESSOR_NAMES = tuple(REGRESSOR_SUMMARIES)
_REGRESSOR_HELP = ", ".join(f"{name} ({text})" for name, text in REGRESSOR_SUMMARIES.items())


def _folds(text: str) -> int:
    """An argparse type: a number of cross-validation folds (at least 2)."""
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (each fold is tested on videos the others train on), "
                                         f"got {text!r}")
    return value


def _margin(text: str) -> float:
    """An argparse type: a disagreement margin in percentage points (0 to 100)."""
    import math

    value = _parse(float, text, "a number of percentage points")
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a number of percentage points from 0 to 100, got {text!r}")
    return value


def _regressor_list(text: str) -> list[str]:
    """An argparse type: a comma-separated list of regressor names from the registry, each once."""
    from spermtrack.regressors import REGRESSORS

    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected regressor names separated by commas, got {text!r}")
    unknown = [m for m in names if m not in REGRESSORS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown regressor(s) {', '.join(map(repr, unknown))}: choose from "
                                         f"{', '.join(REGRESSORS)}")
    doubled = sorted({m for m in names if names.count(m) > 1})
    if doubled:
        raise argparse.ArgumentTypeError(f"{', '.join(map(repr, doubled))} named more than once")
    return names


def _add_regress_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", type=Path, help="a VISEM-Tracking-layout folder with a semen-analysis CSV")
    p.add_argument("--folds", type=_folds, default=5, help="cross-validation folds, split by video (default 5)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the folds and the models (default 0)")
    p.add_argument("--clinical", type=Path, default=None,
                   help="the semen-analysis CSV (default: semen_analysis_data_Train.csv at the data set's root)")
    _add_pixel_size(p, "visem")
    p.add_argument("--cache", type=Path, default=None,
                   help="cache of decoded inputs (default ~/.cache/spermtrack/regressors)")
    p.add_argument("--quick", action="store_true", help="small inputs and one epoch: a fast check, not a result")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_regress(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("regress", help="train or apply a CNN motility regressor (WHO proportions from pixels)",
                       description="Motility regressors predict a video's WHO proportions directly, as a "
                                   "cross-check of the tracking path.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    t = actions.add_parser("train", help="cross-validate a regressor by video, then fit it on every video",
                           description="Cross-validate a regressor on a data set (folds split by video) and fit it "
                                       "on every video; writes model.pt, cv_predictions.csv, metrics.csv, "
                                       "agreement.png and regress.json.")
    t.add_argument("--model", required=True, choices=_REGRESSOR_NAMES, help=_REGRESSOR_HELP)
    _add_regress_data_options(t)
    t.set_defaults(func=cmd_regress_train)
    q = actions.add_parser("predict", help="predict the WHO proportions of a video with a trained regressor",
                           description="Predict progressive / non-progressive / immotile %% (and a-d when the "
                                       "model has them) of a video file, VISEM-Tracking video folder or frame folder.")
    q.add_argument("video", type=Path, help="a video file, a VISEM-Tracking video folder or a folder of frames")
    q.add_argument("--model", required=True, metavar="NAME|PATH",
                   help="a model name for its shipped checkpoint (flow2d, r3d18, aefeat, trackfeat), or model.pt, or "
                        "the folder 'regress train' wrote")
    _add_pixel_size(q, "optional", "default: the one the model was trained with")
    q.add_argument("--fps", type=_fps, default=None, help="frame rate (default: from the video container)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_regress_predict)


def cmd_regress_train(args: argparse.Namespace) -> int:
    """Run ``spermtrack regress train``."""
    import pandas as pd

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


def _add_crosscheck(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crosscheck", help="tracking-derived WHO grades beside every motility regressor",
                       description="Per video: the tracking path's WHO percentages (detector + tracker + kinematics), "
                                   "each regressor's prediction (its shipped checkpoint; with --train, cross-validated "
                                   "on the data set) and the truth; MAE of every source; videos where tracking and a "
                                   "regressor disagree by more than their combined uncertainty. Writes crosscheck.md, a "
                                   "self-contained crosscheck.html, CSV tables and plots.")
    _add_regress_data_options(p)
    p.add_argument("--models", type=_regressor_list, default=",".join(_REGRESSOR_NAMES),
                   help=f"regressors, comma-separated (default all): {_REGRESSOR_HELP}")
    p.add_argument("--train", action="store_true",
                   help="cross-validate every regressor on the data set (--folds) instead of its shipped checkpoint")
    p.add_argument("--margin", type=_margin, default=None,
                   help="list videos where tracking and a regressor differ by more points than this (default: by more "
                        "than their combined 95 %% uncertainty)")
    p.add_argument("--detector", choices=FRAME_DETECTORS, default=DEFAULT_DETECTOR,
                   help="tracking path: detector (default %(default)s)")
    p.add_argument("--tracker", default=DEFAULT_TRACKER, type=_tracker_name, metavar="NAME",
                   help="tracking path: tracker (default %(default)s)")
    p.add_argument("--preset", choices=KINEMATICS_PRESETS, default="who2021",
                   help="tracking path: grading preset (default who2021)")
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


# --------------------------------------------------------------------------- main
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_synth, _add_info, _add_detect, _add_track, _add_kinematics, _add_evaluate, _add_benchmark,
    _add_train_detector, _add_self_train, _add_analyze, _add_regress, _add_crosscheck, _add_demo]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``spermtrack`` argument parser with all subcommands."""
    from spermtrack import __version__

    parser = argparse.ArgumentParser(
        prog="spermtrack",
        description="Tracking-first analysis of human sperm videos: detect, track, CASA kinematics, WHO grades.")
    parser.add_argument("--version", action="version", version=f"spermtrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spermtrack`` command; returns the exit status."""
    import warnings

    os.environ.setdefault("YOLO_OFFLINE", "1")
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed as its own bytes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape" if stream is sys.stdout else "backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"spermtrack {args.command}"
    if args.command not in ("train-detector", "self-train") or getattr(args, "quiet", False):
        # ultralytics' own lines (a settings file created, a config folder that is not writable) are noise
        # outside training; only its errors are shown
        os.environ.setdefault("YOLO_VERBOSE", "False")

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prefix}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default", UserWarning)
        warnings.showwarning = show
        try:
            with terminate_as_interrupt():
                return int(args.func(args) or 0)
        except UsageError as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except InputError as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return EXIT_INPUT_ERROR
        except OSError as exc:  # a full or read-only disk, a permission, a file that vanished
            from spermtrack.io.atomic import describe_os_error

            message = describe_os_error(exc)
            if not exc.filename and getattr(args, "out", None) is not None:
                message = f"{args.out}: {message}"  # the system named no file: name the output being written
            print(f"{prefix}: error: {message}", file=sys.stderr)
            return EXIT_INPUT_ERROR
        except KeyboardInterrupt as exc:
            done = str(exc) if isinstance(exc, Interrupted) and str(exc) else "no partial output was kept"
            word = "terminated" if getattr(exc, "signal", signal.SIGINT) == signal.SIGTERM else "interrupted"
            print(f"{prefix}: {word}; {done}", file=sys.stderr)
            return EXIT_TERMINATED if word == "terminated" else EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
