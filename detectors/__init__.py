"""Detectors: frames in, detections table out (see spermtrack.schema).

Frame detectors follow :class:`Detector`: ``detect(frame) -> table`` and
``detect_video(frames) -> table`` with the contract columns ``frame, x, y, w, h, score,
class_id``.

``blob`` (:class:`BlobDetector`, the default)
    Classical: band-pass background model, adaptive threshold, connected components, sub-pixel
    centroids, cluster/pinhead heuristic. No weights; bright (phase contrast) or dark (bright
    field) heads, or automatic polarity.
``yolo`` (:class:`YoloDetector`)
    A YOLOv5-family ultralytics checkpoint on CPU, offline; by default the YOLOv5n shipped in
    the package. :func:`train_yolo` trains one on an ultralytics data set; building that data set
    from VISEM-Tracking folders lives in :mod:`spermtrack.training`.
``gt`` (:class:`GroundTruthDetector`)
    Not a frame detector: the ground-truth boxes, optionally degraded by :class:`DetectionNoise`.
``trackpy`` (:class:`~spermtrack.detectors.peers.TrackpyLocator`)
    A peer: trackpy's Crocker-Grier locator (optional ``peers`` extra).

Importing this package imports neither torch nor ultralytics (nor OpenCV): they are imported
when a model is loaded or a frame is processed.

Typical use::

    from spermtrack.detectors import make_detector
    from spermtrack.io.video import iter_frames

    detector = make_detector("blob")                     # or make_detector("yolo", weights="best.pt")
    detections = detector.detect_video(iter_frames("11/11.mp4"), progress=True)
"""

from __future__ import annotations

from dataclasses import dataclass

from spermtrack.detectors.base import Detector, FrameDetector, as_frame
from spermtrack.detectors.blob import POLARITY_DEFAULTS, BlobConfig, BlobDetector
from spermtrack.detectors.gt import DetectionNoise, GroundTruthDetector, gt_detections
from spermtrack.detectors.train import TrainConfig, train_yolo, validate_detector
from spermtrack.detectors.yolo import (SHIPPED_WEIGHTS, YOLO_MODELS, YoloConfig, YoloDetector, load_yolo,
                                       shipped_weights)
from spermtrack.errors import InputError

__all__ = [
    "DEFAULT_DETECTOR", "DETECTOR_NAMES", "DETECTOR_OPTIONS", "DETECTOR_SUMMARIES", "REGISTRY", "DetectorEntry", "detector_options", "FRAME_DETECTORS", "POLARITY_DEFAULTS", "SHIPPED_WEIGHTS", "YOLO_MODELS", "BlobConfig",
    "BlobDetector", "DetectionNoise", "Detector", "FrameDetector", "GroundTruthDetector", "TrainConfig", "YoloConfig",
    "YoloDetector", "as_frame", "gt_detections", "load_yolo", "make_detector", "shipped_weights", "train_yolo",
    "validate_detector", "with_pixel_size",
]

@dataclass(frozen=True)
class DetectorEntry:
    """One detector of the registry: its class, the options it takes and a one-line summary.

    Attributes
    ----------
    factory : str
        ``"module:Class"``, imported when the detector is made.
    options : tuple of str
        The options the commands may give it (each has a flag in the CLI's ``DETECTOR_FLAGS``).
    summary : str
        One line for help texts.
    reads_frames : bool
        False for ``gt``, which gives labelled boxes and reads no pixels.
    """

    factory: str
    options: tuple[str, ...]
    summary: str
    reads_frames: bool = True


#: The detector registry: adding a detector is one entry here (plus its module and its test).
REGISTRY: dict[str, DetectorEntry] = {
    "blob": DetectorEntry("spermtrack.detectors.blob:BlobDetector", ("polarity", "um_per_px"),
                          "classical, no weights: band-pass and blob scoring, bright or dark heads"),
    "yolo": DetectorEntry("spermtrack.detectors.yolo:YoloDetector",
                          ("weights", "imgsz", "backend", "um_per_px", "verify"),
                          "YOLOv5n trained on VISEM-Tracking and SVIA (shipped; ONNX Runtime)"),
    "trackpy": DetectorEntry("spermtrack.detectors.peers:TrackpyLocator", ("polarity",),
                             "trackpy's feature locator (peer; needs trackpy)"),
    "gt": DetectorEntry("spermtrack.detectors.gt:GroundTruthDetector", ("noise",),
                        "the video's labelled boxes, optionally with noise (no pixels read)", reads_frames=False),
}
#: Names accepted by :func:`make_detector`.
DETECTOR_NAMES: tuple[str, ...] = tuple(REGISTRY)
#: The detectors that read pixels (every name but ``gt``).
FRAME_DETECTORS: tuple[str, ...] = tuple(name for name, entry in REGISTRY.items() if entry.reads_frames)
#: The detector every command uses unless told otherwise.
DEFAULT_DETECTOR = "blob"
#: One line per detector, for help texts.
DETECTOR_SUMMARIES: dict[str, str] = {name: entry.summary for name, entry in REGISTRY.items()}
#: The options each detector takes (of those the commands offer); any other given option does not apply.
#: ``public`` stands for detections read from a file (MOTChallenge det.txt): nothing to set.
DETECTOR_OPTIONS: dict[str, tuple[str, ...]] = {**{name: entry.options for name, entry in REGISTRY.items()},
                                                "public": ()}


def detector_options(name: str, **values) -> dict:
    """The options in ``values`` that detector ``name`` takes, with the unset (``None``) ones left out.

    Parameters
    ----------
    name : str
        A detector name (:data:`DETECTOR_NAMES`).
    **values
        Option values as given, ``None`` for an option that was not given.

    Returns
    -------
    dict
        The given options that apply to ``name``, ready for :func:`make_detector`.

    Raises
    ------
    InputError
        An option was given that ``name`` does not take (it would be silently ignored).
    """
    if name not in DETECTOR_OPTIONS:
        raise InputError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    given = {k: v for k, v in values.items() if v is not None}
    foreign = [k for k in given if k not in DETECTOR_OPTIONS[name]]
    if foreign:
        takers = {k: [d for d, opts in DETECTOR_OPTIONS.items() if k in opts] for k in foreign}
        what = "; ".join(f"{k} applies to {' and '.join(takers[k]) or 'no detector'} only" for k in foreign)
        raise InputError(f"detector {name} does not take {', '.join(foreign)} ({what})")
    return given


def with_pixel_size(name: str, options: dict, um_per_px: float | None) -> dict:
    """``options`` plus the recording's pixel size, for a detector that scales to it (blob, yolo).

    The one place that decides that a recording's pixel size reaches its detector: the detector then
    works at the scale it was fitted at (:func:`~spermtrack.detectors.base.pixel_scale`). A pixel size
    already in ``options`` wins; ``None`` adds nothing; detectors without the option get ``options`` unchanged.
    """
    if um_per_px is None or "um_per_px" not in DETECTOR_OPTIONS.get(name, ()) or options.get("um_per_px") is not None:
        return dict(options)
    return {**options, "um_per_px": float(um_per_px)}


def make_detector(name: str = DEFAULT_DETECTOR, **options):
    """Build a detector by name: the one place where a detector name becomes a detector.

    Parameters
    ----------
    name : {'blob', 'yolo', 'trackpy', 'gt'}
        ``blob`` (no weights), ``yolo`` (ultralytics checkpoint; the shipped one by default), the
        peer ``trackpy`` (trackpy's locator, needs the ``peers`` extra), or ``gt`` (labelled boxes).
    **options
        Settings of :class:`BlobConfig`, :class:`YoloConfig`, :class:`~spermtrack.detectors.peers.TrackpyConfig`,
        or ``noise`` for ``gt`` (a :class:`DetectionNoise` or a spec such as ``"jitter=0.5,miss=0.1"``).
        ``None`` values are ignored (convenient for optional command-line flags).

    Returns
    -------
    FrameDetector or GroundTruthDetector
        Frame detectors have ``needs_frames = True`` and ``detect``/``detect_video``; ``gt`` has
        ``needs_frames = False`` and ``detect_truth``. All have ``name`` and ``to_dict``.

    Raises
    ------
    InputError
        An unknown name or option, a bad value, or weights that cannot be loaded.
    """
    import importlib

    if name not in REGISTRY:
        raise InputError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    module, cls = REGISTRY[name].factory.split(":")
    return getattr(importlib.import_module(module), cls)(**{k: v for k, v in options.items() if v is not None})
