"""Detector benchmark: accuracy on held-out synthetic videos and on the real VISEM frame, and speed.

Prints tables; it is a script, not a timed test. Every number is measured in this run.

Usage::

    python benchmarks/detector_bench.py [--seconds 1] [--weights W.pt] [--work DIR] [--no-speed]

Accuracy
    Held-out synthetic VISEM-Tracking videos written to disk by ``spermtrack.synth`` (JPEG frames, as
    the real data set), 2 videos at each density 5, 20 and 60 sperm per frame, seeds never used for
    training (the shipped checkpoint was trained on seed 2024); and the real frame 0 of VISEM-Tracking
    video 13 (43 labelled sperm, ../shared/reference/visem_real/13).

    - P, R, F1: centre matching, one-to-one per frame, 10 px gate (``eval.detection.detection_prf``);
      synthetic centres are the generator's exact head positions, real ones the label box centres.
    - centre error: median distance of the matched pairs, px (drives kinematic error).
    - mAP50 / mAP50-95: COCO-style on the label boxes (``eval.detection.average_precision``), averaged
      over the classes present (sperm, cluster, pinhead); ``mAP50 any`` treats all boxes as one class.
      Box-based scores depend on the box-size convention: ``blob`` gives every sperm a 22 px box
      (the mean VISEM label size); label boxes vary per annotator (per video) and per track, so even
      exact centres with 22 px boxes do not reach 1 -- the printed ceiling shows how far they get.
    - ``yolo 640`` (the shipped size) and ``yolo 320`` run once at conf 0.001 (for mAP); P/R/F1 use
      their detections with score >= 0.25 (the detector's default threshold).
    - ``trackpy`` (the classic Crocker-Grier locator, a peer; optional) runs with diameter 9 and the
      ``minmass`` that maximises its F1 on the density-20 videos (tuned on test data: an upper bound).

Speed
    Frames per second at 640 x 480 on this machine (threads as reported): ``blob`` one frame at a time;
    ``yolo`` at imgsz 320 and 640, batch 1 and 8; ``trackpy``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.detectors import BlobDetector, YoloDetector, shipped_weights
from spermtrack.eval.detection import average_precision, detection_prf

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "visem_real" / "13"
DENSITIES = (5, 20, 60)
SEED_BASE = 9100
YOLO_F1_CONF = 0.25


# ----------------------------------------------------------------------------------------------- data
def synthetic_sets(work: Path, seconds: float) -> list[dict]:
    """Write (once) and read the held-out synthetic videos: frames, exact truth and label boxes."""
    from spermtrack.io.synth_truth import read_synthetic_truth
    from spermtrack.io.visem import list_videos, read_visem_video
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    sets = []
    for density in DENSITIES:
        root = work / f"heldout_{density}_{seconds:g}s"
        if not (root / "synth_config.json").is_file():
            write_synthetic_dataset(root, n_videos=2, config=SynthConfig(seconds=seconds, fps=50.0,
                                                                         density=float(density)),
                                    seed=SEED_BASE + density, progress=False)
        frames, truth, labels = [], [], []
        offset = 0
        for folder in list_videos(root):
            video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
            exact, _ = read_synthetic_truth(folder)
            n = 0
            for index, frame in video.iter_frames():
                frames.append(frame)
                n = index + 1
            truth.append(exact.assign(frame=exact["frame"] + offset))
            labels.append(video.ground_truth.assign(frame=video.ground_truth["frame"] + offset))
            offset += n
        sets.append({"name": f"synthetic {density}/frame", "frames": frames,
                     "truth": pd.concat(truth, ignore_index=True), "labels": pd.concat(labels, ignore_index=True)})
    return sets


def real_set() -> dict | None:
    """The real frame 0 of VISEM-Tracking video 13 with its 43 labelled sperm."""
    import cv2

    image = REAL / "images" / "13_frame_0.jpg"
    if not image.is_file():
        return None
    lab = np.loadtxt(REAL / "labels" / "13_frame_0.txt", ndmin=2)
    gt = pd.DataFrame({"frame": 0, "x": lab[:, 1] * 640, "y": lab[:, 2] * 480, "w": lab[:, 3] * 640,
                       "h": lab[:, 4] * 480, "score": 1.0, "class_id": lab[:, 0].astype(int)})
    return {"name": "real VISEM 13 frame 0", "frames": [cv2.imread(str(image))], "truth": gt, "labels": gt}


# ----------------------------------------------------------------------------------------------- detectors
def run_trackpy(frames: list[np.ndarray], minmass: float) -> pd.DataFrame:
    """trackpy.locate on every frame (gray), as a detections table with 22 px boxes."""
    import warnings

    import cv2
    import trackpy

    trackpy.quiet()
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, frame in enumerate(frames):
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            f = trackpy.locate(gray, 9, minmass=minmass, engine="numba" if _has_numba() else "python")
            parts.append(pd.DataFrame({"frame": i, "x": f["x"].to_numpy(), "y": f["y"].to_numpy(), "w": 22.0,
                                       "h": 22.0, "score": np.clip(f["mass"].to_numpy() / 5000.0, 0, 1),
                                       "class_id": 0}))
    return pd.concat(parts, ignore_index=True)


def _has_numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _trackpy_available() -> bool:
    try:
        import trackpy  # noqa: F401
    except ImportError:
        return False
    return True


def score(data: dict, det: pd.DataFrame, *, f1_conf: float = 0.0) -> dict:
    """P/R/F1 and centre error on exact centres (score >= f1_conf), mAP on label boxes (all scores)."""
    prf = detection_prf(data["truth"], det[det["score"] >= f1_conf], max_dist=10.0)
    ap = average_precision(data["labels"], det)
    ap_any = average_precision(data["labels"], det, by_class=False)
    return {"P": prf["precision"], "R": prf["recall"], "F1": prf["f1"], "centre err px": prf["centre_error_median_px"],
            "mAP50": ap["mAP50"], "mAP50 any": ap_any["mAP50"], "mAP50-95": ap["mAP50_95"]}


def constant_box_ceiling(labels: pd.DataFrame, box_px: float = 22.0) -> float:
    """Share of sperm label boxes that a ``box_px`` square on the exact centre overlaps at IoU >= 0.5.

    This is the AP50 (sperm class) of an ideal detector that finds every head at its exact centre,
    ranks them perfectly and gives every sperm the same box: label sizes vary per annotator
    (video), track and frame and cannot be read from the pixels.
    """
    sperm = labels[labels["class_id"] == 0]
    w, h = sperm["w"].to_numpy(), sperm["h"].to_numpy()
    inter = np.minimum(w, box_px) * np.minimum(h, box_px)
    iou = inter / (w * h + box_px * box_px - inter)
    return float(np.mean(iou >= 0.5)) if len(iou) else float("nan")


# ----------------------------------------------------------------------------------------------- speed
def fps(fn, frames: list[np.ndarray], *, repeat: int = 1) -> float:
    fn(frames[:2])  # warm up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn(frames)
    return repeat * len(frames) / (time.perf_counter() - t0)


def speed_table(frames: list[np.ndarray], weights: Path, minmass: float | None) -> pd.DataFrame:
    import cv2
    import torch

    rows = []
    blob = BlobDetector()
    rows.append({"detector": "blob", "imgsz": "-", "batch": 1, "frames/s": fps(blob.detect_video, frames[:200],
                                                                                 repeat=2)})
    for imgsz in (320, 640):
        for batch in (1, 8):
            det = YoloDetector(weights=str(weights), imgsz=imgsz, batch=batch)
            rows.append({"detector": "yolo", "imgsz": imgsz, "batch": batch,
                         "frames/s": fps(det.detect_video, frames[:48])})
    if minmass is not None:
        rows.append({"detector": "trackpy (peer)", "imgsz": "-", "batch": 1,
                     "frames/s": fps(lambda f: run_trackpy(f, minmass), frames[:50])})
    table = pd.DataFrame(rows)
    table["vs blob"] = table["frames/s"] / table["frames/s"].iloc[0]
    print(f"\nSpeed at {frames[0].shape[1]} x {frames[0].shape[0]} px (cv2 threads {cv2.getNumThreads()}, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, shared machine)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return table


# ----------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each held-out video (default 1)")
    parser.add_argument("--weights", type=Path, default=None, help="yolo checkpoint (default: the shipped one)")
    parser.add_argument("--work", type=Path, default=None, help="where to keep the held-out videos (default: tmp)")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed table")
    parser.add_argument("--no-trackpy", action="store_true", help="skip the trackpy peer")
    args = parser.parse_args(argv)
    weights = args.weights or shipped_weights()
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="detector_bench_")
        work = Path(tmp.name)
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)

    sets = synthetic_sets(work, args.seconds)
    real = real_set()
    if real is not None:
        sets.append(real)
    blob = BlobDetector()
    yolo = YoloDetector(weights=str(weights), conf=0.001)
    yolo320 = YoloDetector(weights=str(weights), conf=0.001, imgsz=320)
    use_trackpy = _trackpy_available() and not args.no_trackpy
    minmass = None
    if use_trackpy:
        tune = sets[1]
        first = tune["truth"][tune["truth"]["frame"] < 20]
        f1 = {m: detection_prf(first, run_trackpy(tune["frames"][:20], m), max_dist=10.0)["f1"]
              for m in (500, 1000, 2000, 3000, 4000, 6000)}
        minmass = max(f1, key=f1.get)

    rows = []
    for data in sets:
        n_frames = len(data["frames"])
        n_true = len(data["truth"])
        dets = {"blob": (blob.detect_video(data["frames"]), 0.0),
                f"yolo {yolo.config.imgsz}": (yolo.detect_video(data["frames"]), YOLO_F1_CONF),
                "yolo 320": (yolo320.detect_video(data["frames"]), YOLO_F1_CONF)}
        if use_trackpy:
            dets["trackpy (peer)"] = (run_trackpy(data["frames"], minmass), 0.0)
        for name, (det, conf) in dets.items():
            rows.append({"data": data["name"], "frames": n_frames, "objects": n_true, "detector": name,
                         **score(data, det, f1_conf=conf)})
    table = pd.DataFrame(rows)
    ceiling = {data["name"]: constant_box_ceiling(data["labels"]) for data in sets}
    print(f"Accuracy (yolo: {Path(weights).name}, imgsz {yolo.config.imgsz}; F1 at 10 px; trackpy minmass "
          f"{minmass})")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    synth = table[table["data"].str.startswith("synthetic")]
    summary = synth.groupby("detector")[["P", "R", "F1", "centre err px", "mAP50", "mAP50 any", "mAP50-95"]].mean()
    print("\nMean over the synthetic densities")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nmAP50 ceiling of a constant 22 px box on exact centres (sperm class; label boxes vary per annotator):")
    print("  " + ", ".join(f"{name}: {value:.3f}" for name, value in ceiling.items()))

    if not args.no_speed:
        speed_table(sets[2]["frames"] if len(sets) > 2 else sets[0]["frames"], Path(weights), minmass)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
