"""The ground-truth "detector": boxes from the labels, optionally degraded by a noise model.

Used for tracker-only studies: the tracker sees the true boxes, or the true boxes
with centre jitter, missed detections and false positives, so that tracking
errors can be told apart from detection errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.errors import InputError
from spermtrack.schema import DETECTION_COLUMNS, validate_detections


@dataclass(frozen=True)
class DetectionNoise(Config):
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
    miss_run : float
        Mean length (frames) of a run of misses of one object; 1: misses independent per box. Real
        detectors miss in runs (video 11, the shipped yolo on frames 900-1028: median run 3 frames,
        mean 9; blob on frames 0-1028: median 2, mean 16).
    fp_objects : float
        Mean number of *persistent* false objects per frame (debris, unlabelled or half-visible cells),
        each with a geometric lifetime of mean ``fp_life`` frames, a slow random walk (0.3 px/frame per
        axis), its own score drawn from ``fp_score`` (+/- 0.05 per frame) and detected in 90 % of its
        frames (so about ``0.9 * fp_objects`` false detections per frame). Real detectors' false positives are of this kind (video 11: 96-97 % of them lie within
        4 px of one in the frame before; 8-9 per frame), unlike ``fp_per_frame``'s scattered ones.
    fp_life : float
        Mean lifetime of a persistent false object, frames.
    """

    jitter_px: float = 0.0
    miss_rate: float = 0.0
    fp_per_frame: float = 0.0
    true_score: tuple[float, float] = (0.85, 0.1)
    fp_score: tuple[float, float] = (0.2, 0.7)
    seed: int = 0
    miss_run: float = 1.0
    fp_objects: float = 0.0
    fp_life: float = 100.0

    def __post_init__(self) -> None:
        self._number("jitter_px", lo=0)
        self._number("miss_rate", lo=0, hi=1, hi_open=True)
        self._number("fp_per_frame", lo=0)
        self._pair("true_score", ordered=False, lo=0)
        self._pair("fp_score", lo=0, hi=1)
        self._integer("seed", lo=0)
        self._number("miss_run", lo=1, hi=1e6)
        self._number("fp_objects", lo=0, hi=1e4)
        self._number("fp_life", lo=1, hi=1e6)

    @classmethod
    def parse(cls, text: str) -> DetectionNoise:
        """Parse ``"jitter=0.5,miss=0.1,fp=2,seed=0"`` (any subset, any order).

        Raises
        ------
        InputError
            An unknown key or a value that is not a number.
        """
        keys = {"jitter": "jitter_px", "miss": "miss_rate", "fp": "fp_per_frame", "seed": "seed",
                "run": "miss_run", "fpobj": "fp_objects", "life": "fp_life"}
        kwargs: dict = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in keys:
                raise InputError(f"bad noise spec {part!r}: use jitter=PX,miss=RATE,fp=PER_FRAME,seed=N "
                                 "(and run=FRAMES,fpobj=PER_FRAME,life=FRAMES)")
            try:
                kwargs[keys[key.strip()]] = int(value) if key.strip() == "seed" else float(value)
            except ValueError:
                raise InputError(f"bad noise spec {part!r}: {value!r} is not a number") from None
        return cls(**kwargs)


#: Named noise profiles of the benchmarks. ``noisy``: light, scattered errors (0.75 px jitter, 10 % independent
#: misses, 2 scattered false positives per frame). ``detector``: the error statistics of the shipped detectors on
#: real video 11 (yolo on frames 900-1028, which it was not trained on; blob on frames 0-1028): centre error
#: about 2 px rms per axis, misses in runs, about 7 persistent false objects per frame scoring 0.4-0.85.
NOISE_PROFILES: dict[str, DetectionNoise] = {
    "noisy": DetectionNoise(jitter_px=0.75, miss_rate=0.10, fp_per_frame=2.0, seed=11),
    "detector": DetectionNoise(jitter_px=2.0, miss_rate=0.10, miss_run=5.0, fp_objects=8.0, fp_score=(0.4, 0.85),
                               seed=11),
}


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
    if noise.miss_run > 1 and noise.miss_rate > 0:
        keep = _run_misses(out["gt_track_id"].to_numpy(), out["frame"].to_numpy(), noise, rng)
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
    if noise.fp_objects > 0 and frames_total:
        sizes = gt[["w", "h"]].to_numpy() if len(gt) else np.full((1, 2), 20.0)
        out = pd.concat([out, _persistent_fps(noise, rng, frames_total, width, height, sizes)], ignore_index=True)
    cols = list(DETECTION_COLUMNS) + [c for c in out.columns if c not in DETECTION_COLUMNS]
    return validate_detections(out[cols].sort_values("frame", kind="stable").reset_index(drop=True))


def _run_misses(track: np.ndarray, frame: np.ndarray, noise: DetectionNoise, rng: np.random.Generator) -> np.ndarray:
    """Which boxes are kept when misses come in runs: per track, alternating geometric runs of hits and misses.

    Miss runs have mean ``miss_run`` frames and hit runs ``miss_run * (1 - miss_rate) / miss_rate``, so that
    the share of missed boxes is ``miss_rate``; boxes without a track (``-1``) are missed independently.
    """
    keep = rng.random(len(track)) >= noise.miss_rate
    mean_hit = noise.miss_run * (1.0 - noise.miss_rate) / noise.miss_rate
    order = np.lexsort((frame, track))
    tracks, starts = np.unique(track[order], return_index=True)
    for tid, lo, hi in zip(tracks, starts, np.append(starts[1:], len(order))):
        if tid < 0:
            continue
        rows = order[lo:hi]
        span = int(frame[rows[-1]] - frame[rows[0]]) + 1
        missing = rng.random() < noise.miss_rate
        state = np.empty(span, dtype=bool)
        at = 0
        while at < span:
            length = int(rng.geometric(1.0 / (noise.miss_run if missing else max(mean_hit, 1.0))))
            state[at:at + length] = missing
            at += length
            missing = not missing
        keep[rows] = ~state[frame[rows] - frame[rows[0]]]
    return keep


def _persistent_fps(noise: DetectionNoise, rng: np.random.Generator, n_frames: int, width: int, height: int,
                    sizes: np.ndarray) -> pd.DataFrame:
    """False detections of persistent objects (see :class:`DetectionNoise` ``fp_objects``)."""
    n_objects = rng.poisson(noise.fp_objects * (n_frames + noise.fp_life) / noise.fp_life)
    parts = []
    for _ in range(n_objects):
        life = int(rng.geometric(1.0 / noise.fp_life))
        start = int(rng.integers(-round(noise.fp_life), n_frames))
        frames = np.arange(max(start, 0), min(start + life, n_frames))
        if not len(frames):
            continue
        steps = rng.normal(0.0, 0.3, (len(frames), 2)).cumsum(axis=0)
        x = np.clip(rng.uniform(0, width) + steps[:, 0], 0.0, width - 1e-6)
        y = np.clip(rng.uniform(0, height) + steps[:, 1], 0.0, height - 1e-6)
        score = np.clip(rng.uniform(*noise.fp_score) + rng.normal(0.0, 0.05, len(frames)), 0.0, 1.0)
        w, h = sizes[rng.integers(0, len(sizes))]
        seen = rng.random(len(frames)) < 0.9
        parts.append(pd.DataFrame({"frame": frames[seen], "x": x[seen], "y": y[seen], "w": w, "h": h,
                                   "score": score[seen], "class_id": 0, "gt_track_id": -1, "true_positive": False}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["frame", "x", "y", "w", "h", "score",
                                                                                  "class_id", "gt_track_id",
                                                                                  "true_positive"])


class GroundTruthDetector:
    """The ``gt`` detector of the registry: labelled boxes, optionally degraded by :class:`DetectionNoise`.

    It reads no pixels (``needs_frames`` is False): the pipeline gives it the video's ground truth
    through :meth:`detect_truth`, where frame detectors get frames through ``detect_video``.

    Parameters
    ----------
    noise : DetectionNoise or str or None
        A noise model, a spec such as ``"jitter=0.5,miss=0.1,fp=2,seed=0"`` (:meth:`DetectionNoise.parse`),
        or None for the exact boxes.
    """

    name = "gt"
    needs_frames = False

    def __init__(self, noise: DetectionNoise | str | None = None) -> None:
        if isinstance(noise, str):
            noise = DetectionNoise.parse(noise)
        if noise is not None and not isinstance(noise, DetectionNoise):
            raise InputError(f"noise must be a DetectionNoise, a spec string or None, got {type(noise).__name__}")
        self.noise = noise

    def detect_truth(self, ground_truth: pd.DataFrame, *, width: int, height: int,
                     n_frames: int | None = None) -> pd.DataFrame:
        """Detections from labelled boxes (see :func:`gt_detections`)."""
        if "track_id" not in ground_truth.columns:
            ground_truth = ground_truth.assign(track_id=-1)
        return gt_detections(ground_truth, self.noise, width=width, height=height, n_frames=n_frames)

    def to_dict(self) -> dict:
        """Name and noise model, for provenance."""
        return {"detector": self.name, "noise": None if self.noise is None else self.noise.to_dict()}
