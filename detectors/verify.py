"""Head verification: a small CNN that rescores a detector's boxes from the pixels around each one.

A detector that sees one frame at its own scale cannot tell a sperm head from a tail-less round object
of the same size (a round cell, a debris particle), and on real VISEM-Tracking video those objects are
most of its false positives: nobody annotates them, and a tracker follows them as faithfully as sperm.
The verifier looks at a wider, 48 x 48 px patch around each box (:data:`PATCH_RADIUS` px each way at
VISEM's pixel size: the head plus the first part of its tail) and gives the probability that the box is
an annotated object, calibrated by Platt scaling on frames the verifier never trained on. A box's score
becomes the geometric mean of the detector's score and that probability (:func:`combined_score`).

The network is an ONNX file run by ONNX Runtime (no PyTorch needed); its ``metadata_props`` carry the
patch radius, the score calibration and the recipe (:data:`META_KEYS`). It is trained by
``python -m spermtrack.training.recipes verifier`` (:mod:`spermtrack.training.verifier`).

Patches are grey levels standardised per patch (mean 0, standard deviation 1), so that the look of a
microscope (brightness, contrast) matters less than the shape around the head.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.detectors.base import pixel_scale
from spermtrack.detectors.calibrate import ScoreCalibration
from spermtrack.errors import InputError

__all__ = ["META_KEYS", "PATCH_RADIUS", "SHIPPED_VERIFIER", "HeadVerifier", "combined_score", "patches",
           "standardise"]

#: Half the patch side, px at VISEM-Tracking's pixel size (heads about 8 px, boxes about 17 px).
PATCH_RADIUS = 24
#: The verifier shipped in the package (``detectors/weights``).
SHIPPED_VERIFIER = "head_verifier.onnx"
#: metadata_props keys of a verifier ONNX file (values are strings, JSON where structured).
META_KEYS = {"radius": "spermtrack_patch_radius", "score_calibration": "spermtrack_score_calibration",
             "recipe": "spermtrack_recipe"}
#: Added to a patch's standard deviation before dividing (grey levels), so that a flat patch stays finite.
_STD_FLOOR = 1.0


def patches(gray: np.ndarray, x: np.ndarray, y: np.ndarray, *, radius: int = PATCH_RADIUS,
            scale: float = 1.0) -> np.ndarray:
    """Square patches of a grey frame centred on ``(x, y)``, resampled to ``2 * radius`` px a side.

    Parameters
    ----------
    gray : numpy.ndarray
        ``uint8`` ``(H, W)`` frame.
    x, y : numpy.ndarray
        Centres, frame px.
    radius : int
        Half the output side, px.
    scale : float
        The frame's :func:`~spermtrack.detectors.base.pixel_scale`: a patch covers ``radius / scale`` frame
        px each way, so that it shows the same area of the slide at any pixel size.

    Returns
    -------
    numpy.ndarray
        ``uint8`` ``(n, 2 * radius, 2 * radius)``; beyond the frame's edge the frame is mirrored.
    """
    import cv2

    side = 2 * radius
    half = max(1, int(round(radius / scale)))
    padded = cv2.copyMakeBorder(gray, half, half, half, half, cv2.BORDER_REFLECT_101)
    out = np.empty((len(x), side, side), np.uint8)
    for i, (cx, cy) in enumerate(zip(np.rint(x).astype(int), np.rint(y).astype(int))):
        cx = min(max(cx, 0), gray.shape[1] - 1) + half
        cy = min(max(cy, 0), gray.shape[0] - 1) + half
        patch = padded[cy - half:cy + half, cx - half:cx + half]
        out[i] = patch if patch.shape[0] == side else cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA
                                                                  if patch.shape[0] > side else cv2.INTER_LINEAR)
    return out


def standardise(batch: np.ndarray) -> np.ndarray:
    """``(n, s, s)`` patches as the network's ``float32`` ``(n, 1, s, s)`` input, each of mean 0 and std about 1."""
    values = batch.astype(np.float32)
    mean = values.mean(axis=(1, 2), keepdims=True)
    std = values.std(axis=(1, 2), keepdims=True) + _STD_FLOOR
    return ((values - mean) / std)[:, None]


def combined_score(detector_score: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """A verified box's score: the geometric mean of the detector's score and the verifier's probability.

    Either can veto a box, and where both agree the score keeps its scale. Replacing the score by the probability
    alone ranked boxes about as well on real VISEM-Tracking frames the verifier never saw, but a verifier that
    meets a microscope it never saw ranks boxes at chance, and the mean keeps part of the detector's own ranking
    there (leave-one-microscope-out, in ``detectors/weights/README.md``).
    """
    return np.sqrt(np.clip(detector_score, 0.0, 1.0) * np.clip(probability, 0.0, 1.0))


class HeadVerifier:
    """An ONNX head verifier: detections in, the same detections with verified scores out.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The ONNX file; by default the shipped one (:data:`SHIPPED_VERIFIER`).
    um_per_px : float, optional
        The recording's pixel size: patches then cover the slide area the verifier was trained on.
    threads : int
        ONNX Runtime threads.

    Raises
    ------
    InputError
        The file is missing, not an ONNX model, or lacks the verifier's metadata.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, um_per_px: float | None = None,
                 threads: int = 1) -> None:
        import onnxruntime

        from spermtrack.detectors.onnx_yolo import cpu_options

        self.path = Path(path) if path is not None else Path(__file__).resolve().parent / "weights" / SHIPPED_VERIFIER
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such verifier file")
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), cpu_options(threads),
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise InputError(f"{self.path}: not a readable ONNX model ({exc.__class__.__name__})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.radius = int(meta[META_KEYS["radius"]])
            self.calibration = ScoreCalibration.from_dict(json.loads(meta[META_KEYS["score_calibration"]]))
        except (KeyError, ValueError, TypeError):
            raise InputError(f"{self.path}: not a spermtrack head verifier (its metadata lacks "
                             f"{META_KEYS['radius']} or {META_KEYS['score_calibration']})") from None
        self.recipe = json.loads(meta.get(META_KEYS["recipe"], "null"))
        self.scale = pixel_scale(um_per_px)
        self.input_name = self.session.get_inputs()[0].name

    def probabilities(self, gray: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Calibrated probability that each ``(x, y)`` of the grey frame is an annotated object, ``(n,)``."""
        from scipy.special import expit

        if len(x) == 0:
            return np.zeros(0)
        batch = standardise(patches(gray, np.asarray(x), np.asarray(y), radius=self.radius, scale=self.scale))
        logits = self.session.run(None, {self.input_name: batch})[0].reshape(-1).astype(np.float64)
        return self.calibration.apply(expit(logits))

    def rescore(self, gray: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` (one frame's detections) with ``score`` replaced by :func:`combined_score`."""
        if table.empty:
            return table
        probability = self.probabilities(gray, table["x"].to_numpy(), table["y"].to_numpy())
        return table.assign(score=combined_score(table["score"].to_numpy(), probability))

    def to_dict(self) -> dict:
        """The verifier's file, checksum, patch radius and calibration, for provenance."""
        from spermtrack.extras import file_sha256

        return {"path": str(self.path), "sha256": file_sha256(self.path), "radius": self.radius,
                "score_calibration": self.calibration.to_dict()}
