"""Real-pixel benchmark: detectors, trackers and WHO grades on real VISEM-Tracking video.

Data (VISEM, Haugen et al. 2019; VISEM-Tracking, Thambawita et al. 2023; CC BY 4.0), from
``../shared/reference/visem_real``:

- video 11 (``11/11.mp4``, 1,470 frames, 49 fps, official labels incl. cluster boxes). Only its
  frames 1029-1469 are scored here: frames 0-1028 trained and tuned the detectors (the YOLO recipe
  and the blob score model) and are never scored;
- video 13 frame 0 (another patient, 43 labelled sperm): detection only.

Prints four tables; every number is measured in this run on this machine.

1. Detection: P, R and F1 at 10 px (centre distance, one-to-one per frame, all classes as one), of each
   detector's default output (``yolo`` rescored by the head verifier, ``yolo-raw`` without it); mAP50 over the
   classes present and mAP50 with all boxes as one class, from a low-threshold run (blob ``min_score=0``, yolo
   ``conf=0.001``); median centre error; frames/s of the detector alone (decoding excluded). ``best F1`` and
   ``at score`` are an oracle: the highest F1 over the score thresholds 0.05, 0.10, ..., 0.95 (scores are
   calibrated probabilities), chosen on the scored frames themselves. It is optimistic by construction and only shows how much a checkpoint loses to its default threshold
   (e.g. a self-trained one that inherits its start checkpoint's calibration).
2. Tracking end to end: every detector x tracker on frames 1029-1469, centre distance with a 10 px
   gate (``spermtrack.eval.mot``): HOTA, MOTA, IDF1, IDSW, FP, FN. The ``oracle`` row of each detector is
   the ceiling its detections allow (``oracle_tracks``: each detection paired with a labelled object takes
   its id, the rest are dropped); a tracker can pass it only by interpolating across misses.
4. SVIA (``../shared/reference/svia``, another microscope: dark heads with bright halos on light grey,
   698 x 528, 30 fps): detection on clip S_0003, which no detector was fitted on, against its sperm
   boxes (impurities are not targets), with the look each detector took (``--only svia`` runs this
   table alone).
5. Rescaled VISEM: video 11 frames 1029-1469 (every 4th) at 0.5x and 2x VISEM's magnification (a recording
   at 0.702 or 0.1755 um/px), either the whole frame resized (same field of view) or a 640 x 480 sensor
   (mosaics of shrunk frames, enlarged crops), the labels and the 10 px gate scaled alike; each detector
   without and with the matching ``um_per_px`` (``--only rescaled`` runs this table alone).
3. Grades: progressive / non-progressive / immotile % with the ``visem`` kinematics preset, from
   each detector + the default tracker on the whole video and on frames 1029-1469 only, next to the
   same preset on the annotated tracks of the same frames and to the lab (11 / 17 / 72 %).

Usage::

    python benchmarks/real_bench.py [--reference DIR] [--detectors blob,yolo,yolo-raw,yolo-synth,trackpy]
                                    [--trackers sperm,sort,bytetrack,ocsort,botsort,trackpy] [--no-grades]
                                    [--yolo NAME=WEIGHTS ...] [--svia DIR] [--only svia|rescaled]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.eval.detection import average_precision, detection_prf, f1_by_threshold
from spermtrack.eval.mot import mot_metrics, oracle_tracks

DEFAULT_REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "visem_real"
VAL_START, VAL_STOP = 1029, 1470
GATE_PX = 10.0
LAB_11 = {"progressive": 11.0, "non_progressive": 17.0, "immotile": 72.0}
#: detector name -> (registry name, default options, low-threshold options for mAP)
DETECTORS = {
    "blob": ("blob", {}, {"min_score": 0.0}),
    "yolo": ("yolo", {"weights": "yolov5n_looks.pt"}, {"weights": "yolov5n_looks.pt", "conf": 0.001}),
    "yolo-raw": ("yolo", {"weights": "yolov5n_looks.pt", "verify": False},
                 {"weights": "yolov5n_looks.pt", "conf": 0.001, "verify": False}),
    "yolo-visem": ("yolo", {"weights": "yolov5n_visem.pt"}, {"weights": "yolov5n_visem.pt", "conf": 0.001}),
    "yolo-synth": ("yolo", {"weights": "yolov5n_synth.pt"}, {"weights": "yolov5n_synth.pt", "conf": 0.001}),
    "trackpy": ("trackpy", {}, {"minmass": 0.0}),
}


def _detector(name: str, low: bool = False):
    from spermtrack.detectors import make_detector

    registry, default, low_opts = DETECTORS[name]
    return make_detector(registry, **(low_opts if low else default))


def detect_frames(name: str, frames: list[tuple[int, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame, float, dict]:
    """The detector's default output (what the pipeline tracks), a low-threshold run (for mAP), frames/s (detector
    alone, default run) and the default detector's settings after the run."""
    detector = _detector(name)
    start = time.perf_counter()
    dets = detector.detect_video(iter(frames))
    fps = len(frames) / (time.perf_counter() - start)
    return dets, _detector(name, low=True).detect_video(iter(frames)), fps, detector.to_dict()


def best_f1(dets: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float]:
    """Oracle F1: the best F1 over the score thresholds 0.05, 0.10, ..., 0.95.

    The threshold is chosen on the scored frames themselves, so the figure is optimistic.
    Returns ``(f1, threshold)``; ``(nan, nan)`` without detections.
    """
    if dets.empty:
        return float("nan"), float("nan")
    scored = [(f1, t) for t, f1 in f1_by_threshold(truth, dets, max_dist=GATE_PX).items() if np.isfinite(f1)]
    return max(scored) if scored else (float("nan"), float("nan"))


def detection_row(name: str, data: str, kept: pd.DataFrame, dets: pd.DataFrame, truth: pd.DataFrame,
                  fps: float) -> dict:
    """One row of the detection table: ``kept`` the default output, ``dets`` the low-threshold run."""
    prf = detection_prf(truth, kept, max_dist=GATE_PX)
    oracle_f1, oracle_at = best_f1(dets, truth)
    ap = average_precision(truth, dets, iou_thresholds=[0.5])
    ap_any = average_precision(truth, dets, iou_thresholds=[0.5], by_class=False)
    return {"data": data, "detector": name, "per frame": len(kept) / max(1, truth["frame"].nunique()),
            "P": prf["precision"], "R": prf["recall"], "F1": prf["f1"],
            "centre err px": prf["centre_error_median_px"], "mAP50": ap["mAP50"], "mAP50 any": ap_any["mAP50"],
            "best F1": oracle_f1, "at score": oracle_at, "frames/s": fps}


def tracking_rows(name: str, dets: pd.DataFrame, truth: pd.DataFrame, trackers: list[str], *, fps: float,
                  um_per_px: float) -> list[dict]:
    """HOTA, MOTA, IDF1, ... of every tracker on one detector's detections."""
    from spermtrack.pipeline import run_tracker

    rows = []
    for tracker in [*trackers, "oracle"]:
        start = time.perf_counter()
        tracks = (oracle_tracks(dets, truth, gate=GATE_PX) if tracker == "oracle" else
                  run_tracker(dets, tracker, fps=fps, um_per_px=um_per_px)[0])
        seconds = time.perf_counter() - start
        tracked = tracks[tracks["track_id"] >= 0]
        m = mot_metrics(truth, tracked, metric="centre", gate=GATE_PX)
        rows.append({"detector": name, "tracker": tracker, "HOTA": m["HOTA"], "MOTA": m["MOTA"], "IDF1": m["IDF1"],
                     "IDSW": int(m["IDSW"]), "FP": int(m["FP"]), "FN": int(m["FN"]),
                     "tracks": int(tracked["track_id"].nunique()), "tracker s": seconds})
    return rows


def grade_percent(tracks: pd.DataFrame, *, fps: float, um_per_px: float) -> dict:
    """Progressive / non-progressive / immotile % of the sperm tracks, ``visem`` preset."""
    from spermtrack.kinematics import analyze_tracks, get_preset, summarize

    sperm = tracks[(tracks["track_id"] >= 0) & (tracks["class_id"] == 0)]
    summary = summarize(analyze_tracks(sperm, um_per_px, fps, get_preset("visem")))
    pct = summary["percent"]
    return {k: pct.get(k) for k in ("progressive", "non_progressive", "immotile")} | \
        {"graded": summary["counts"]["graded"]}


def _print(title: str, table: pd.DataFrame) -> None:
    print(f"\n{title}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def svia_rows(detectors: list[str], svia: Path, clip: str = "S_0003") -> list[dict]:
    """Detection rows of the SVIA clip ``clip`` (sperm boxes as truth), with the look each detector took."""
    from spermtrack.io.boxes import read_box_csv
    from spermtrack.io.video import iter_frames

    boxes = read_box_csv(svia / f"{clip}_boxes.csv")
    truth = boxes[boxes["class_id"] == 0].drop(columns="class_name").reset_index(drop=True)
    frames = list(iter_frames(svia / f"{clip}.mp4"))
    rows = []
    for name in detectors:
        kept, dets, fps, settings = detect_frames(name, frames)
        row = detection_row(name, f"SVIA {clip}", kept, dets, truth, fps)
        look = settings.get("look") or {}
        row["look"] = f"{look['polarity']} ({look['source']})" if look else "-"
        rows.append(row)
    return rows


def sensor_frames(frames: list, truth: pd.DataFrame, zoom: float, width: int = 640,
                  height: int = 480) -> tuple[list, pd.DataFrame]:
    """Frames of a ``width x height`` sensor at ``zoom`` times VISEM's magnification, with their labels.

    ``zoom < 1`` (coarser pixels): each image is a mosaic of ``ceil(1/zoom)^2`` held-out frames shrunk by
    ``zoom``; ``zoom > 1``: two corner crops of each frame enlarged by ``zoom``. The frame size stays, as it
    does when a lab changes the objective; only the heads change size.
    """
    import cv2

    images, labels = [], []
    if zoom < 1:
        n = int(np.ceil(1 / zoom))
        tw, th = round(width * zoom), round(height * zoom)
        for k in range(0, len(frames) - n * n + 1, n * n):
            canvas, parts = np.zeros((th * n, tw * n, 3), np.uint8), []
            for j in range(n * n):
                i, frame = frames[k + j]
                r, c = divmod(j, n)
                canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA)
                t = truth[truth["frame"] == i]
                parts.append(t.assign(x=(t["x"] + 0.5) * zoom - 0.5 + c * tw, y=(t["y"] + 0.5) * zoom - 0.5 + r * th,
                                      w=t["w"] * zoom, h=t["h"] * zoom))
            lab = pd.concat(parts)
            labels.append(lab[(lab["x"] < width) & (lab["y"] < height)].assign(frame=len(images)))
            images.append((len(images), np.ascontiguousarray(canvas[:height, :width])))
    else:
        cw, ch = round(width / zoom), round(height / zoom)
        for i, frame in frames:
            for x0, y0 in ((0, 0), (width - cw, height - ch)):
                t = truth[(truth["frame"] == i) & truth["x"].between(x0, x0 + cw, inclusive="left")
                          & truth["y"].between(y0, y0 + ch, inclusive="left")]
                labels.append(t.assign(frame=len(images), x=(t["x"] - x0 + 0.5) * zoom - 0.5,
                                       y=(t["y"] - y0 + 0.5) * zoom - 0.5, w=t["w"] * zoom, h=t["h"] * zoom))
                images.append((len(images), cv2.resize(frame[y0:y0 + ch, x0:x0 + cw], (width, height),
                                                       interpolation=cv2.INTER_LINEAR)))
    return images, pd.concat(labels, ignore_index=True)


def rescaled_rows(detectors: list[str], video, zooms=(1.0, 0.5, 2.0), step: int = 4) -> list[dict]:
    """Detection F1 on video 11's held-out frames at other pixel sizes, with and without ``um_per_px``.

    Two layouts per zoom: ``resized`` (the whole frame resized: same field of view, other frame size) and
    ``sensor`` (:func:`sensor_frames`: same frame size, other field of view). Labels and the 10 px gate
    scale with the heads.
    """
    import cv2

    from spermtrack.detectors import make_detector

    truth = video.ground_truth
    frames = list(video.iter_frames(start=VAL_START, stop=VAL_STOP))[::step]
    truth = truth[truth["frame"].isin({i for i, _ in frames})]
    rows = []
    for zoom in zooms:
        um = VISEM_UM_PER_PX / zoom
        interpolation = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
        layouts = {"resized": ([(i, cv2.resize(f, None, fx=zoom, fy=zoom, interpolation=interpolation))
                                for i, f in frames],
                               truth.assign(x=(truth["x"] + 0.5) * zoom - 0.5, y=(truth["y"] + 0.5) * zoom - 0.5,
                                            w=truth["w"] * zoom, h=truth["h"] * zoom))}
        if zoom != 1.0:
            layouts["sensor"] = sensor_frames(frames, truth, zoom)
        for layout, (images, labels) in layouts.items():
            for name in detectors:
                registry, default, _ = DETECTORS[name]
                for given in (None, um) if zoom != 1.0 else (None,):
                    dets = make_detector(registry, **default, **({} if given is None else {"um_per_px": given}))\
                        .detect_video(iter(images))
                    prf = detection_prf(labels, dets, max_dist=GATE_PX * zoom)
                    rows.append({"zoom": zoom, "um/px": round(um, 4), "layout": layout, "detector": name,
                                 "--um-per-px": "-" if given is None else round(given, 4), "images": len(images),
                                 "P": prf["precision"], "R": prf["recall"], "F1": prf["f1"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REF, help="the visem_real folder")
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--trackers", default="sperm,sort,bytetrack,ocsort,botsort,trackpy")
    parser.add_argument("--no-grades", action="store_true", help="skip the whole-video grade runs")
    parser.add_argument("--yolo", action="append", default=[], metavar="NAME=WEIGHTS",
                        help="also score this YOLO checkpoint under NAME (e.g. a self-trained one); repeatable")
    parser.add_argument("--svia", type=Path, default=DEFAULT_REF.parent / "svia", help="the SVIA clips' folder")
    parser.add_argument("--only", choices=("svia", "rescaled"), default=None, help="run only this table")
    args = parser.parse_args(argv)
    for item in args.yolo:
        name, _, weights = item.partition("=")
        if not name or not weights:
            parser.error(f"--yolo takes NAME=WEIGHTS, got {item!r}")
        DETECTORS[name] = ("yolo", {"weights": weights}, {"weights": weights, "conf": 0.001})
        if name not in args.detectors.split(","):
            args.detectors += f",{name}"
    from spermtrack.io.visem import read_visem_video

    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    trackers = [t.strip() for t in args.trackers.split(",") if t.strip()]
    if args.only in (None, "svia"):
        _print("SVIA S_0003, another microscope (F1 at 10 px against the sperm boxes; mAP from a low-threshold run)",
               pd.DataFrame(svia_rows(detectors, args.svia)))
    if args.only in (None, "rescaled"):
        _print("Video 11 frames 1029-1469 (every 4th) at other pixel sizes, labels and gate scaled alike; "
               "without (-) and with the matching --um-per-px",
               pd.DataFrame(rescaled_rows([d for d in detectors if d in ("blob", "yolo")] or detectors,
                                          read_visem_video(args.reference / "11", um_per_px=VISEM_UM_PER_PX))))
    if args.only is not None:
        return 0
    v11 = read_visem_video(args.reference / "11", um_per_px=VISEM_UM_PER_PX)
    rec = v11.recording
    gt11 = v11.ground_truth
    val_truth = gt11[(gt11["frame"] >= VAL_START) & (gt11["frame"] < VAL_STOP)].reset_index(drop=True)
    val_frames = list(v11.iter_frames(start=VAL_START, stop=VAL_STOP))
    v13 = read_visem_video(args.reference / "13", fps=rec.fps, um_per_px=VISEM_UM_PER_PX)
    f13 = list(v13.iter_frames())
    print(f"video 11: frames {VAL_START}-{VAL_STOP - 1} ({len(val_frames)} frames, {len(val_truth)} labelled boxes, "
          f"{rec.fps:g} fps); video 13 frame 0 ({len(v13.ground_truth)} boxes)")

    det_rows, trk_rows, dets_val = [], [], {}
    for name in detectors:
        kept, dets, fps, _ = detect_frames(name, val_frames)
        dets_val[name] = kept
        det_rows.append(detection_row(name, "11 frames 1029-1469", kept, dets, val_truth, fps))
        k13, d13, fps13, _ = detect_frames(name, f13)
        det_rows.append(detection_row(name, "13 frame 0", k13, d13, v13.ground_truth, fps13))
        print(f"  {name}: detected ({fps:.1f} frames/s)", file=sys.stderr, flush=True)
    _print("Detection (F1 at 10 px, all classes as objects; mAP from a low-threshold run)", pd.DataFrame(det_rows))

    for name in detectors:
        trk_rows += tracking_rows(name, dets_val[name], val_truth, trackers, fps=rec.fps, um_per_px=rec.um_per_px)
        print(f"  {name}: tracked", file=sys.stderr, flush=True)
    board = pd.DataFrame(trk_rows).sort_values("HOTA", ascending=False)
    _print("Tracking, video 11 frames 1029-1469 (centre distance, 10 px)", board)

    if args.no_grades:
        return 0
    from spermtrack.pipeline import run_tracker

    rows = [{"source": "lab (participant 11, whole sample)", **LAB_11}]
    val_gt_tracks = val_truth.assign(score=1.0)
    rows.append({"source": "annotated tracks, frames 1029-1469",
                 **grade_percent(val_gt_tracks, fps=rec.fps, um_per_px=rec.um_per_px)})
    rows.append({"source": "annotated tracks, whole video",
                 **grade_percent(gt11.assign(score=1.0), fps=rec.fps, um_per_px=rec.um_per_px)})
    for name in detectors:
        tracks, _, _ = run_tracker(dets_val[name], "sperm", fps=rec.fps, um_per_px=rec.um_per_px)
        rows.append({"source": f"{name} + sperm, frames 1029-1469",
                     **grade_percent(tracks, fps=rec.fps, um_per_px=rec.um_per_px)})
        detector = _detector(name)
        whole = detector.detect_video(v11.iter_frames())
        tracks, _, _ = run_tracker(whole, "sperm", fps=rec.fps, um_per_px=rec.um_per_px)
        rows.append({"source": f"{name} + sperm, whole video",
                     **grade_percent(tracks, fps=rec.fps, um_per_px=rec.um_per_px)})
        print(f"  {name}: graded", file=sys.stderr, flush=True)
    _print("WHO grades of video 11, visem preset (%)", pd.DataFrame(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
