"""Training: data sets from VISEM-Tracking folders, detector training and export, recipes, self-training.

This package sits on top of the stages (it reads and writes files through :mod:`spermtrack.io`, draws
synthetic data from :mod:`spermtrack.synth` and scores with :mod:`spermtrack.eval`); the detectors
package itself only knows how to train a model on a prepared ultralytics data set
(:func:`spermtrack.detectors.train_yolo`).

:mod:`~spermtrack.training.dataset`
    VISEM-Tracking folders (images or only the clip) -> an ultralytics data set, split by video or by
    frame range (:func:`convert_visem_to_yolo`, :func:`write_yolo_dataset`).
:mod:`~spermtrack.training.detector`
    :func:`train_detector` (convert + train + validate + ``metrics.json``) and :func:`export_checkpoint`.
:mod:`~spermtrack.training.recipes`
    The recipes of the shipped checkpoints and of the blob score model (``python -m spermtrack.training.recipes``).
:mod:`~spermtrack.training.selftrain`
    Self-training from pseudo-labels on a user's unlabelled video.
"""

from spermtrack.training.dataset import (PAPER_VAL_VIDEOS, ConvertConfig, VideoSelection, convert_visem_to_yolo,
                                         write_yolo_dataset)
from spermtrack.training.detector import export_checkpoint, train_detector

__all__ = ["PAPER_VAL_VIDEOS", "ConvertConfig", "VideoSelection", "convert_visem_to_yolo", "export_checkpoint",
           "train_detector", "write_yolo_dataset"]
