"""The command line's option types and option groups: one definition of every shared flag.

Argparse types turn a flag's text into a checked value (a usage error, exit 2, says what was expected).
The option groups (:func:`add_pixel_size`, :func:`add_detector`, :func:`add_tracker`, :func:`add_preset`)
take their names, defaults and help from the stage registries, so a detector, tracker or preset added
there appears in every command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.detectors import DEFAULT_DETECTOR, DETECTOR_SUMMARIES, FRAME_DETECTORS
from spermtrack.errors import InputError, UsageError
from spermtrack.kinematics.config import DEFAULT_PRESET, KINEMATICS_PRESETS, PRESET_SUMMARIES
from spermtrack.tracker.registry import DEFAULT_TRACKER, tracker_help

#: Exit statuses: a user error (a file, a value), a usage error (argparse's convention), Ctrl-C, SIGTERM.
EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def parse_number(kind: type, text: str, what: str):
    """``kind(text)`` (float or int), or an argparse usage error that says what was expected."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_float(text: str) -> float:
    value = parse_number(float, text, "a number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def physical_value(field: str, option: str, what: str):
    """An argparse type: a number within the physical range of ``field`` (:func:`spermtrack._validate.physical`)."""

    def parse(text: str) -> float:
        from spermtrack._validate import physical

        value = positive_float(text)
        try:
            physical(option, field, value)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{option}.{field} ")) from None
        return value

    parse.__doc__ = what
    return parse


fps_value = physical_value("fps", "--fps", "A frame rate within the physical range of :data:`spermtrack.constants.FPS_RANGE`.")


um_per_px_value = physical_value("um_per_px", "--um-per-px",
                       "A pixel size within :data:`spermtrack.constants.UM_PER_PX_RANGE`.")


#: The three pixel-size policies of the commands: the one place that words them.
PIXEL_SIZE = {
    "required": dict(required=True, help=f"pixel size in um (required: never guessed; VISEM-Tracking: {VISEM_UM_PER_PX})"),
    "visem": dict(default=VISEM_UM_PER_PX, help="pixel size in um (default: VISEM-Tracking's %(default)s)"),
    "optional": dict(default=None, help="pixel size in um"),
}


def add_pixel_size(p: argparse.ArgumentParser, policy: str, why: str = "") -> None:
    """Add ``--um-per-px`` under one of the :data:`PIXEL_SIZE` policies, with ``why`` after the standard help."""
    options = dict(PIXEL_SIZE[policy])
    options["help"] += f"; {why}" if why else ""
    p.add_argument("--um-per-px", type=um_per_px_value, **options)


def positive_int(text: str) -> int:
    value = parse_number(int, text, "an integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = parse_number(int, text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def tracker_name(text: str) -> str:
    """An argparse type: a name of the tracker registry (:func:`spermtrack.tracker.tracker_names`)."""
    from spermtrack.tracker.registry import tracker_names

    if text not in tracker_names():
        raise argparse.ArgumentTypeError(f"unknown tracker {text!r}; choose one of {', '.join(tracker_names())}")
    return text


def comma_list(choices: Sequence[str] | None, what: str):
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


def frame_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in px, e.g. 640x480, got {text!r}") from None
    if not sep or min(size) <= 0:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in px, e.g. 640x480, got {text!r}")
    return size


def score_threshold(text: str) -> float:
    """An argparse type: a detection score threshold in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a score above 0 and at most 1, got {text!r}")
    return value


def folds(text: str) -> int:
    """An argparse type: a number of cross-validation folds (at least 2)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (each fold is tested on videos the others train on), "
                                         f"got {text!r}")
    return value


def margin(text: str) -> float:
    """An argparse type: a disagreement margin in percentage points (0 to 100)."""
    import math

    value = parse_number(float, text, "a number of percentage points")
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a number of percentage points from 0 to 100, got {text!r}")
    return value


def regressor_list(text: str) -> list[str]:
    """An argparse type: a comma-separated list of regressor names from the registry, each once."""
    from spermtrack.regressors import REGRESSORS

    names = comma_list(tuple(REGRESSORS), "regressor")(text).split(",")
    doubled = sorted({m for m in names if names.count(m) > 1})
    if doubled:
        raise argparse.ArgumentTypeError(f"{', '.join(map(repr, doubled))} named more than once")
    return names


DETECTOR_FLAGS = {"weights": "--weights", "imgsz": "--imgsz", "backend": "--backend", "polarity": "--polarity",
                   "noise": "--det-noise", "um_per_px": "--um-per-px", "verify": "--no-verify"}


def add_yolo_options(p: argparse.ArgumentParser, *, imgsz: bool = True) -> None:
    """The yolo detector's flags: its checkpoint, its backend and (``imgsz``) its inference size."""
    from spermtrack.detectors.yolo import BACKENDS

    p.add_argument("--weights", type=Path, default=None,
                   help="yolo: an ultralytics .pt checkpoint or its .onnx export (default: the shipped one)")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="yolo: onnx (ONNX Runtime; the default for the shipped checkpoints and .onnx files) or torch "
                        "(ultralytics; the default for other .pt files; needs spermtrack[train])")
    if imgsz:
        p.add_argument("--imgsz", type=positive_int, default=None, help="yolo: inference size in px")
    p.add_argument("--no-verify", dest="verify", action="store_const", const=False, default=None,
                   help="yolo: keep the detector's own scores instead of rescoring each box with the shipped head "
                        "verifier (a small CNN on the patch around it)")


def detector_options(args: argparse.Namespace, detector: str | None = None, *, pixel_size: bool = False) -> dict:
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
              "noise": getattr(args, "det_noise", None), "verify": getattr(args, "verify", None),
              "um_per_px": getattr(args, "um_per_px", None) if pixel_size else None}
    try:
        return detector_options(detector, **values)
    except InputError:
        foreign = [k for k, v in values.items() if v is not None and k not in DETECTOR_OPTIONS[detector]]
        parts = []
        for key in foreign:
            takers = [d for d, opts in DETECTOR_OPTIONS.items() if key in opts]
            where = "--detections gt" if takers == ["gt"] else " or ".join(f"--detector {d}" for d in takers)
            parts.append(f"{DETECTOR_FLAGS[key]} applies to {where} only")
        here = {"gt": "here the detections are the labelled boxes (--detections gt)",
                "public": "here the detections are read from a file"}.get(detector, f"the detector here is {detector}")
        raise UsageError(f"{'; '.join(parts)} ({here})") from None


def _summaries(names: Sequence[str], summaries: dict[str, str]) -> str:
    return "; ".join(f"{name}: {summaries[name]}" for name in names)


def add_detector(p: argparse.ArgumentParser, *, default: str | None = DEFAULT_DETECTOR, options: bool = True,
                 imgsz: bool = True, help: str | None = None) -> None:
    """``--detector`` (a detector that reads frames) and, with ``options``, the flags its options take."""
    text = help or f"detector (default {default})"
    p.add_argument("--detector", choices=FRAME_DETECTORS, default=default,
                   help=f"{text}: {_summaries(FRAME_DETECTORS, DETECTOR_SUMMARIES)}")
    if options:
        add_yolo_options(p, imgsz=imgsz)
        p.add_argument("--polarity", choices=("auto", "bright", "dark"), default=None,
                       help="blob: bright heads (phase contrast), dark heads (bright field) or auto (default: "
                            "decided per video and reported)")


def add_tracker(p: argparse.ArgumentParser, *, what: str = "") -> None:
    """``--tracker``: a name of the tracker registry."""
    p.add_argument("--tracker", default=DEFAULT_TRACKER, type=tracker_name, metavar="NAME",
                   help=f"{what}{tracker_help()}")


def add_preset(p: argparse.ArgumentParser, *, what: str = "") -> None:
    """``--preset``: a kinematics (grading) preset."""
    p.add_argument("--preset", choices=KINEMATICS_PRESETS, default=DEFAULT_PRESET,
                   help=f"{what}grading preset (default {DEFAULT_PRESET}): "
                        f"{_summaries(KINEMATICS_PRESETS, PRESET_SUMMARIES)}")

