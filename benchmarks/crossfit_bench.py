"""Trackers on real detector output of frames the detector never trained on (video 11, cross-fitted YOLOv5n).

The shipped yolo trained on video 11 frames 0-899, so its detections there are a detector's best case (F1 at
10 px, ``spermtrack.eval.detection.detection_prf``: 0.915 on frames 0-899, 0.881 on its validation frames 940-1028,
0.841 on the held-out frames 1029-1469), and a tracker tuned on them is tuned to that best case. This bench gives
trackers real detections of frames the detector never saw; the held-out frames are neither detected nor scored
(their labels are read with the video's and dropped):

- split A: frames 520-1028, detected by ``crossfit-a`` (trained on frames 0-479, validation 480-519);
- split B: frames 0-519, detected by ``crossfit-b`` (trained on frames 560-1028, validation 520-559).

Both checkpoints come from ``python -m spermtrack.training.recipes crossfit-a|crossfit-b --work DIR --visem ...
--svia ...`` (10 epochs, about 24 min each on two CPU cores; ``--train`` here runs them when missing).

Their detections are put at the shipped detector's operating point, so that every tracker's thresholds meet the
scores they were set for: the cross-fitted detectors are weaker (half the frames, 10 epochs) and their calibrated
scores sit lower (a peer that starts tracks at 0.7 would start none). Each split keeps its highest-scoring
detections, as many per labelled object as the shipped yolo gives on its validation frames 940-1028, and their
scores are replaced, rank for rank, by the quantiles of the shipped yolo's scores there (:func:`rank_map_scores`).
The detectors' ranking and boxes are their own. The shipped head verifier (``spermtrack.detectors.verify``)
trained on patches of these very frames, so it never rescores them here. ``--verify`` rescores each split with
a verifier that never saw it, as the shipped yolo's boxes are rescored in use: ``verifier-a`` (trained on
crossfit-b's detections of frames 0-479, calibrated on 480-519) for split A and ``verifier-b`` (crossfit-a's
detections of frames 520-939, calibrated on 940-1028) for split B, both also on the SVIA training clips and
synthetic videos (``python -m spermtrack.training.recipes verifier-a|verifier-b --work DIR ...``, about 5 min
each; ``--train`` runs them when missing).

A still object stays in place for the whole video, so those fold verifiers have learnt most of the still objects
they rescore from other frames of them, which a new video's objects never are: on the splits' detections they rank
boxes at AUC 0.945 / 0.961 (yolo's own score: 0.737 / 0.767), at 0.974 / 0.977 where a training box lay within
4 px and at 0.813 / 0.914 elsewhere (the verifier's probability, boxes scoring at least 0.25). ``--verify
spatial`` rescores each half of a split's frame with a verifier that also never saw that half:
``verifier-a|b-left`` learn from boxes at x < 292 px and rescore x >= 320 px, ``verifier-a|b-right`` learn from
x >= 348 px and rescore x < 320 px (no training patch reaches the half it rescores; AUC 0.871 / 0.770). It is the
harder and more honest instrument for what the verifier does on a new patient's video.

Prints, per split and on average, HOTA / DetA / AssA / MOTA / IDF1 / IDSW / FP / FN of each tracker (centre
distance, 10 px gate), and of the identity oracle (``spermtrack.eval.mot.oracle_tracks``: each detection that pairs
with a labelled object takes its id, the others are dropped), the ceiling these detections allow a tracker.

Usage::

    python benchmarks/crossfit_bench.py [--work DIR] [--train] [--verify [fold|spatial]]
                                        [--trackers sperm,botsort,bytetrack]
                                        [--set FIELD=VALUE ...]
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError
from spermtrack.eval.mot import mot_metrics, oracle_tracks

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
SPLITS = {"A": "crossfit-a", "B": "crossfit-b"}
#: The verifiers that rescore each split with ``--verify fold|spatial``: ``fold`` trained on the other split only,
#: ``spatial`` also on one side of the frame only, each rescoring the other half (their recipes' ``rescores``).
VERIFIERS = {"fold": {"A": ["verifier-a"], "B": ["verifier-b"]},
             "spatial": {"A": ["verifier-a-left", "verifier-a-right"], "B": ["verifier-b-left", "verifier-b-right"]}}
#: The shipped yolo's validation frames of video 11: its operating point is measured there.
OPERATING_FRAMES = (940, 1029)
GATE_PX = 10.0


def rank_map_scores(dets: pd.DataFrame, reference: np.ndarray, keep: int) -> pd.DataFrame:
    """Keep the ``keep`` highest-scoring detections and give them ``reference``'s score quantiles, rank for rank.

    Parameters
    ----------
    dets : pandas.DataFrame
        Detections with a ``score`` column.
    reference : ndarray
        Scores of the detector whose operating point is wanted.
    keep : int
        Detections kept.

    Returns
    -------
    pandas.DataFrame
        The kept rows, in their original order, with mapped scores.
    """
    order = np.argsort(-dets["score"].to_numpy(), kind="stable")[:max(0, int(keep))]
    kept = dets.iloc[np.sort(order)].copy()
    kept["score"] = np.quantile(np.asarray(reference, dtype=np.float64), kept["score"].rank(pct=True).to_numpy())
    return kept.reset_index(drop=True)


def _detect(weights, video, start: int, stop: int, work: Path, name: str) -> pd.DataFrame:
    """The checkpoint's detections of frames ``start <= f < stop``, cached in ``work`` (keyed by the frames and
    ``ANALYSIS_VERSION``; recomputed when the checkpoint is newer)."""
    from spermtrack.constants import ANALYSIS_VERSION
    from spermtrack.detectors import make_detector
    from spermtrack.io.atomic import atomic_path

    cache = work / f"{name}_{start}_{stop - 1}_v{ANALYSIS_VERSION}.csv"
    if cache.is_file() and cache.stat().st_mtime >= Path(weights).stat().st_mtime:
        return pd.read_csv(cache)
    # unverified: the head verifier trained on these very frames (spermtrack.training.recipes "verifier")
    dets = make_detector("yolo", weights=str(weights), verify=False).detect_video(video.iter_frames(start=start,
                                                                                                   stop=stop))
    with atomic_path(cache) as tmp:
        dets.to_csv(tmp, index=False)
    return dets


def _checkpoint(name: str, work: Path, train: bool) -> Path:
    """A crossfit checkpoint (in ``work/NAME``) or a fold or spatial verifier (in ``work``), made with ``train`` when
    missing."""
    from spermtrack.training.recipes import RECIPES, make_checkpoint

    recipe = RECIPES[name]
    folder = work / name if "checkpoint" in recipe else work  # a verifier uses the crossfit checkpoints in work
    path = folder / recipe.get("checkpoint", recipe.get("file"))
    if not path.is_file():
        if not train:
            sys.exit(f"crossfit_bench: {path} is missing; run with --train, or: "
                     f"{recipe['command'].replace('WORK', str(folder))}")
        make_checkpoint(name, folder, visem=REFERENCE / "visem_real", svia=REFERENCE / "svia")
    return path


def verified(dets: pd.DataFrame, video, verifiers: list[tuple[Path, dict | None]]) -> pd.DataFrame:
    """``dets`` rescored as the yolo detector rescores its boxes (read from the frames they lie on), each box by the
    verifier of ``verifiers`` (``(path, region)``, :func:`~spermtrack.training.recipes.in_region`) whose part of the
    frame holds it; the regions must not overlap, and a box in none of them is an error."""
    from spermtrack.detectors.base import to_gray
    from spermtrack.detectors.verify import HeadVerifier
    from spermtrack.training.recipes import in_region

    x = dets["x"].to_numpy()
    masks = [in_region(x, region) for _, region in verifiers]
    if not np.array_equal(np.sum(masks, axis=0), np.ones(len(dets))):
        raise InputError("crossfit_bench: the verifiers' regions must hold every box exactly once")
    checks = [HeadVerifier(path) for path, _ in verifiers]
    rows_of = dets.groupby("frame").indices
    scores = dets["score"].to_numpy(copy=True)
    for frame, image in video.iter_frames(start=int(dets["frame"].min()), stop=int(dets["frame"].max()) + 1):
        rows = rows_of.get(frame)
        if rows is None:
            continue
        gray = to_gray(image)
        for check, mask in zip(checks, masks):
            mine = rows[mask[rows]]
            if len(mine):
                scores[mine] = check.rescore(gray, dets.iloc[mine])["score"].to_numpy()
    return dets.assign(score=scores)


def split_sets(work: Path, train: bool, verify: str | None = None) -> tuple[dict[str, tuple[pd.DataFrame,
                                                                                          pd.DataFrame]], float]:
    """``{split: (truth, detections at the shipped operating point)}`` for splits A and B, and the video's fps;
    with ``verify`` (``"fold"`` or ``"spatial"``) the kept detections are rescored by the split's own verifiers
    (:data:`VERIFIERS`)."""
    from spermtrack.detectors.yolo import shipped_weights
    from spermtrack.io.visem import read_visem_video
    from spermtrack.training.recipes import RECIPES

    checkpoints = {split: _checkpoint(name, work, train) for split, name in SPLITS.items()}
    video = read_visem_video(REFERENCE / "visem_real" / "11", um_per_px=VISEM_UM_PER_PX)
    truth = video.ground_truth
    lo, hi = OPERATING_FRAMES
    shipped = _detect(shipped_weights("yolov5n_looks.pt"), video, lo, hi, work, "shipped")
    per_object = len(shipped) / int(((truth["frame"] >= lo) & (truth["frame"] < hi)).sum())
    out = {}
    for split, name in SPLITS.items():
        span = RECIPES[name]["detects"]
        dets = _detect(checkpoints[split], video, span["start"], span["stop"], work, name)
        gt = truth[(truth["frame"] >= span["start"]) & (truth["frame"] < span["stop"])].reset_index(drop=True)
        kept = rank_map_scores(dets, shipped["score"].to_numpy(), round(per_object * len(gt)))
        if verify is not None:
            kept = verified(kept, video, [(_checkpoint(v, work, train), RECIPES[v]["rescores"].get("region"))
                                          for v in VERIFIERS[verify][split]])
        out[split] = (gt, kept)
    return out, video.recording.fps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "spermtrack_crossfit",
                        help="the checkpoints' and detections' folder")
    parser.add_argument("--train", action="store_true", help="train the cross-fitted checkpoints that are missing")
    parser.add_argument("--verify", nargs="?", const="fold", choices=sorted(VERIFIERS), default=None,
                        help="rescore each split with head verifiers that never saw it (as yolo's boxes are in use): "
                             "fold (the default) or spatial (nor the objects in it)")
    parser.add_argument("--trackers", default="sperm,botsort,bytetrack")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a TrackerConfig override for the sperm tracker, a python literal in the recording's "
                             "px/frame (not rescaled; video 11 runs at 49 fps); repeatable")
    args = parser.parse_args(argv)
    from spermtrack.pipeline import run_tracker

    overrides = {}
    for item in args.set:
        field, sep, value = item.partition("=")
        if not sep or not field:
            parser.error(f"--set takes FIELD=VALUE, got {item!r}")
        if field in overrides:
            parser.error(f"--set {field} is given twice")
        try:
            overrides[field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parser.error(f"--set {field}: {value!r} is not a python literal (quote strings: {field}='...')")
    args.work.mkdir(parents=True, exist_ok=True)
    sets, fps = split_sets(args.work, args.train, args.verify)
    rows = []
    for tracker in [t.strip() for t in args.trackers.split(",") if t.strip()] + ["oracle"]:
        for split, (gt, dets) in sets.items():
            extra = overrides if tracker == "sperm" else {}
            try:
                tracks = (oracle_tracks(dets, gt, gate=GATE_PX) if tracker == "oracle" else
                          run_tracker(dets, tracker, fps=fps, um_per_px=VISEM_UM_PER_PX, **extra)[0])
            except InputError as err:
                parser.error(str(err))
            m = mot_metrics(gt, tracks[tracks["track_id"] >= 0], metric="centre", gate=GATE_PX)
            rows.append({"tracker": tracker, "split": split, **{k: m[k] for k in ("HOTA", "DetA", "AssA", "MOTA",
                                                                                  "IDF1")},
                         **{k: int(m[k]) for k in ("IDSW", "FP", "FN")}})
    table = pd.DataFrame(rows)
    mean = table.groupby("tracker", sort=False)[["HOTA", "DetA", "AssA", "MOTA", "IDF1"]].mean().reset_index()
    mean["split"] = "mean"
    how = {None: "not rescored", "fold": "rescored by head verifiers that never saw those frames",
           "spatial": "rescored by head verifiers that never saw those frames nor their objects"}[args.verify]
    print(f"Video 11, detections of frames the detector never trained on, {how} (overrides: {overrides or 'none'})")
    board = pd.concat([table, mean])
    for key in ("IDSW", "FP", "FN"):
        board[key] = board[key].map(lambda v: "" if pd.isna(v) else str(int(v)))
    print(board.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep=""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
