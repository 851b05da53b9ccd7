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
    the package, trained on synthetic VISEM-Tracking data. :func:`train_detector` trains one on a
    VISEM-Tracking layout (:func:`convert_visem_to_yolo` makes the video-level split).
``gt`` (:func:`gt_detections`)
    Not a frame detector: the ground-truth boxes, optionally degraded by :class:`DetectionNoise`.

Importing this package imports neither torch nor ultralytics (nor OpenCV): they are imported
when a model is loaded or a frame is processed.

Typical use::

    from spermtrack.detectors import get_detector
    from spermtrack.io.video import iter_frames

    detector = get_detector("blob")                      # or get_detector("yolo", weights="best.pt")
    detections = detector.detect_video(iter_frames("11/11.mp4"), progress=True)
"""

from __future__ import annotations

from spermtrack.detectors.base import Detector, FrameDetector, as_frame
from spermtrack.detectors.blob import POLARITY_DEFAULTS, BlobConfig, BlobDetector
from spermtrack.detectors.dataset import PAPER_VAL_VIDEOS, ConvertConfig, convert_visem_to_yolo
from spermtrack.detectors.gt import DetectionNoise, gt_detections
from spermtrack.detectors.train import TrainConfig, export_checkpoint, train_detector, validate_detector
from spermtrack.detectors.yolo import (SHIPPED_WEIGHTS, YOLO_MODELS, YoloConfig, YoloDetector, load_yolo,
                                       shipped_weights)
from spermtrack.errors import InputError

__all__ = [
    "DETECTOR_NAMES", "PAPER_VAL_VIDEOS", "POLARITY_DEFAULTS", "SHIPPED_WEIGHTS", "YOLO_MODELS", "BlobConfig",
    "BlobDetector", "ConvertConfig", "DetectionNoise", "Detector", "FrameDetector", "TrainConfig", "YoloConfig",
    "YoloDetector", "as_frame", "convert_visem_to_yolo", "export_checkpoint", "get_detector", "gt_detections",
    "load_yolo", "shipped_weights", "train_detector", "validate_detector",
]

#: Names accepted by :func:`get_detector` (``gt`` is handled by :func:`gt_detections`); ``trackpy`` is a
#: peer (trackpy's locator, optional ``peers`` extra).
DETECTOR_NAMES: tuple[str, ...] = ("blob", "yolo", "trackpy")


def _classes() -> dict:
    from spermtrack.detectors.peers import TrackpyLocator

    return {"blob": BlobDetector, "yolo": YoloDetector, "trackpy": TrackpyLocator}


def get_detector(name: str = "blob", **options) -> FrameDetector:
    """Build a frame detector by name.

    Parameters
    ----------
    name : {'blob', 'yolo', 'trackpy'}
        ``blob`` (no weights), ``yolo`` (ultralytics checkpoint; the shipped one by default) or the
        peer ``trackpy`` (trackpy's locator, needs the ``peers`` extra).
    **options
        Fields of :class:`BlobConfig` or :class:`YoloConfig`, e.g. ``get_detector("blob",
        polarity="dark")`` or ``get_detector("yolo", weights="best.pt", imgsz=640, batch=8)``.
        ``None`` values are ignored (convenient for optional CLI flags).

    Returns
    -------
    FrameDetector
        An object with ``detect``, ``detect_video`` and ``to_dict``.

    Raises
    ------
    InputError
        An unknown name or option, a bad value, or weights that cannot be loaded.
    """
    if name == "gt":
        raise InputError("'gt' is not a frame detector: use the ground-truth boxes of a labelled folder "
                         "(spermtrack.detectors.gt_detections / '--detections gt')")
    if name not in DETECTOR_NAMES:
        raise InputError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    return _classes()[name](**{k: v for k, v in options.items() if v is not None})
