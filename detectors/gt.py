"""The ground-truth "detector": boxes from the labels, optionally degraded by a noise model.

Used for tracker-only studies: the tracker sees the true boxes, or the true boxes
with centre jitter, missed detections and false positives, so that tracking
errors can be told apart from detection errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.schema import DETECTION_COLUMNS, validate_detections


@dataclass(frozen=True)
class DetectionNoise:
    """A noise model for ground-truth detections.

    Parameters
    ----------
    jitter_px : float
        Standard deviation of i.i.d. Gaussian centre jitter per axis, px.
    miss_rate : float
        Probability that a true box is dropped (independently per box), in [0, 1).
    fp_per_frame : float
        Mean number of false positives per frame (Poisson), placed uniformly in the
        frame with sizes drawn from the true boxes.
    true_score : tuple of float
        ``(mean, sd)`` of the score of true detections (clipped to [0.05, 1]).
    fp_score : tuple of float
        ``(low, high)`` of the uniform score of false positives.
    seed : int
        Seed of the random generator; same seed, same output.
    """

    jitter_px: float = 0.0
    miss_rate: float = 0.0
    fp_per_frame: float = 0.0
    true_score: tuple[float, float] = (0.85, 0.1)
    fp_score: tuple[float, float] = (0.2, 0.7)
    seed: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.jitter_px) and self.jitter_px >= 0):
            raise InputError(f"DetectionNoise.jitter_px must be >= 0, got {self.jitter_px!r}")
        if not (0 <= self.miss_rate < 1):
            raise InputError(f"DetectionNoise.miss_rate must be in [0, 1), got {self.miss_rate!r}")
        if not (np.isfinite(self.fp_per_frame) and self.fp_per_frame >= 0):
            raise InputError(f"DetectionNoise.fp_per_frame must be >= 0, got {self.fp_per_frame!r}")
        lo, hi = self.fp_score
        if not (0 <= lo <= hi <= 1):
            raise InputError(f"DetectionNoise.fp_score must satisfy 0 <= low <= high <= 1, got {self.fp_score!r}")

    @classmethod
    def parse(cls, text: str) -> DetectionNoise:
        """Parse ``"jitter=0.5,miss=0.1,fp=2,seed=0"`` (any subset, any order).

        Raises
        ------
        InputError
            An unknown key or a value that is not a number.
        """
        keys = {"jitter": "jitter_px", "miss": "miss_rate", "fp": "fp_per_frame", "seed": "seed"}
        kwargs: dict = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in keys:
                raise InputError(f"bad noise spec {part!r}: use jitter=PX,miss=RATE,fp=PER_FRAME,seed=N")
            try:
                kwargs[keys[key.strip()]] = int(value) if key.strip() == "seed" else float(value)
            except ValueError:
                raise InputError(f"bad noise spec {part!r}: {value!r} is not a number") from None
        return cls(**kwargs)

    def to_dict(self) -> dict:
        """Plain-dict form, for provenance."""
        return asdict(self)


def gt_detections(ground_truth: pd.DataFrame, noise: DetectionNoise | None = None, *, width: int, height: int,
                  n_frames: int | None = None) -> pd.DataFrame:
    """Turn ground-truth boxes into a detections table, optionally with noise.

    Parameters
    ----------
    ground_truth : pandas.DataFrame
        Ground-truth (or tracks) table; ``track_id`` / ``gt_id`` are dropped, other
        extra columns are carried through.
    noise : DetectionNoise, optional
        The noise model; ``None`` gives the exact boxes with score 1.
    width, height : int
        Frame size in px; jittered centres and false positives stay inside it.
    n_frames : int, optional
        Number of frames (false positives are placed in frames ``0 .. n_frames-1``);
        defaults to the last labelled frame + 1.

    Returns
    -------
    pandas.DataFrame
        Detections table sorted by frame, with a boolean ``true_positive`` column
        (False for injected false positives) and ``gt_track_id`` (-1 for false positives).
    """
    gt = validate_detections(ground_truth, name="ground truth")
    out = gt.drop(columns=[c for c in ("gt_id",) if c in gt.columns]).copy()
    out["gt_track_id"] = gt["track_id"].to_numpy() if "track_id" in gt.columns else -1
    out = out.drop(columns=[c for c in ("track_id",) if c in out.columns])
    out["true_positive"] = True
    if noise is None:
        out["score"] = 1.0
        return out.sort_values("frame", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(noise.seed)
    n = len(out)
    keep = rng.random(n) >= noise.miss_rate
    out["x"] = np.clip(out["x"].to_numpy() + rng.normal(0.0, noise.jitter_px, n) if noise.jitter_px else
                       out["x"].to_numpy(), 0.0, width - 1e-6)
    out["y"] = np.clip(out["y"].to_numpy() + rng.normal(0.0, noise.jitter_px, n) if noise.jitter_px else
                       out["y"].to_numpy(), 0.0, height - 1e-6)
    mean, sd = noise.true_score
    out["score"] = np.clip(rng.normal(mean, sd, n), 0.05, 1.0)
    out = out[keep]
    last = int(gt["frame"].max()) + 1 if len(gt) else 0
    frames_total = last if n_frames is None else int(n_frames)
    n_fp = rng.poisson(noise.fp_per_frame * frames_total) if frames_total else 0
    if n_fp:
        sizes = gt[["w", "h"]].to_numpy()[rng.integers(0, len(gt), n_fp)] if len(gt) else np.full((n_fp, 2), 20.0)
        fp = pd.DataFrame({"frame": rng.integers(0, frames_total, n_fp), "x": rng.uniform(0, width, n_fp),
                           "y": rng.uniform(0, height, n_fp), "w": sizes[:, 0], "h": sizes[:, 1],
                           "score": rng.uniform(*noise.fp_score, n_fp), "class_id": 0, "gt_track_id": -1,
                           "true_positive": False})
        out = pd.concat([out, fp], ignore_index=True)
    cols = list(DETECTION_COLUMNS) + [c for c in out.columns if c not in DETECTION_COLUMNS]
    return validate_detections(out[cols].sort_values("frame", kind="stable").reset_index(drop=True))
