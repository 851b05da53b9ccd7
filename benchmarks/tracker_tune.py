"""Tune spermtrack's tracker on REAL sperm motion (VISEM-Tracking training annotations).

The annotated trajectories of the 16 VISEM-Tracking training videos (Haugen et al. 2019;
Thambawita et al. 2023; CC BY 4.0) are turned into detections, clean or degraded with
:data:`spermtrack.detectors.gt.NOISE_PROFILES` (``noisy``: 0.75 px jitter, 10 % misses,
2 false positives per frame; ``detector``: the real detectors' error statistics on video 11), tracked, and scored with :func:`spermtrack.eval.mot.mot_metrics`
(centre distance, 10 px gate) plus two simple identity numbers computed here from the
known origin of every detection:

- ``purity``: fraction of tracked true detections whose track's majority ground-truth id
  is their own (1 - purity ~ fraction of rows on the wrong identity);
- ``coverage``: fraction of true detections that got a ``track_id``.

Usage::

    python benchmarks/tracker_tune.py --data synthetic        # synthetic VISEM-like videos instead
    python benchmarks/tracker_tune.py                         # sperm preset, clean + noisy
    python benchmarks/tracker_tune.py --grid max_distance=10,12,15 --grid accel_std=0.5,1,2
    python benchmarks/tracker_tune.py --set two_stage=False --noise noisy --peers bytetrack,ocsort

Prints one line per (config, noise) with means over videos; a script, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import pandas as pd

from spermtrack.detectors.gt import NOISE_PROFILES, gt_detections
from spermtrack.eval.mot import mot_metrics
from spermtrack.io.train_tracks import read_train_tracks
from spermtrack.tracker import make_tracker

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "visem_real" / "train_tracks.csv.gz"
NOISE = {"clean": None, **NOISE_PROFILES}


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def identity_scores(dets: pd.DataFrame, out: pd.DataFrame) -> dict[str, float]:
    """Purity and coverage of the predicted ids over the true detections (see module docstring)."""
    true = out["gt_track_id"].to_numpy() >= 0
    tid = out["track_id"].to_numpy()
    gt = out["gt_track_id"].to_numpy()
    sel = true & (tid >= 0)
    if not sel.any():
        return {"purity": float("nan"), "coverage": 0.0}
    pairs = pd.DataFrame({"t": tid[sel], "g": gt[sel]})
    majority = pairs.groupby(["t", "g"]).size().groupby(level=0).max().sum()
    return {"purity": majority / sel.sum(), "coverage": sel.sum() / true.sum()}


def run(videos: dict, noise: str, params: dict, *, preset: str, peer: str | None = None) -> dict[str, float]:
    rows, secs, frames = [], 0.0, 0
    for vid, (rec, gt) in videos.items():
        dets = gt_detections(gt, NOISE[noise], width=rec.width, height=rec.height)
        t0 = time.perf_counter()
        out = make_tracker(preset if peer is None else peer, fps=rec.fps, um_per_px=rec.um_per_px,
                           **(params if peer is None else {})).track(dets)
        secs += time.perf_counter() - t0
        frames += int(dets["frame"].max()) + 1
        m = mot_metrics(gt, out, metric="centre", gate=10.0)
        rows.append({"video": vid, "HOTA": m["HOTA"], "IDF1": m["IDF1"], "MOTA": m["MOTA"], "IDSW": m["IDSW"],
                     **identity_scores(dets, out)})
    table = pd.DataFrame(rows)
    return {"HOTA": table["HOTA"].mean(), "IDF1": table["IDF1"].mean(), "IDF1_min": table["IDF1"].min(),
            "MOTA": table["MOTA"].mean(), "IDSW": table["IDSW"].sum(), "purity": table["purity"].mean(),
            "coverage": table["coverage"].mean(), "fps": frames / secs,
            "worst": table.loc[table["IDF1"].idxmin(), "video"]}


def real_videos(args) -> dict:
    """The 16 real videos (optionally a subset / the first seconds) as ``{id: (Recording, gt)}``."""
    real = read_train_tracks(REAL)
    keep = set(args.videos.split(",")) if args.videos else None
    videos = {}
    for vid, (rec, gt) in sorted(real.items(), key=lambda kv: int(kv[0])):
        if keep is not None and vid not in keep:
            continue
        if args.seconds > 0:
            gt = gt[gt["frame"] < int(round(args.seconds * rec.fps))]
        videos[vid] = (rec, gt)
    return videos


def synthetic_videos(seconds: float) -> dict:
    """Synthetic VISEM-like videos at 5, 20 and 60 sperm per frame (sperm class only)."""
    from spermtrack.schema import Recording
    from spermtrack.synth import SynthConfig, simulate_video

    videos = {}
    for density in (5, 20, 60):
        cfg = SynthConfig(seconds=seconds, fps=50.0, density=float(density), write_images=False)
        video = simulate_video(cfg, seed=100 + density, video_id=str(density))
        gt = video.truth[video.truth["class_id"] == 0].drop(columns=["interpolated"])
        rec = Recording(fps=cfg.fps, um_per_px=cfg.um_per_px, width=cfg.width, height=cfg.height,
                        n_frames=int(cfg.seconds * cfg.fps), source="synthetic")
        videos[f"synth{density}"] = (rec, gt)
    return videos


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="sperm")
    ap.add_argument("--data", choices=("real", "synthetic"), default="real")
    ap.add_argument("--synth-seconds", type=float, default=20.0)
    ap.add_argument("--seconds", type=float, default=0.0, help="keep the first N seconds of each video (0: all)")
    ap.add_argument("--videos", default="", help="comma-separated video ids (default: all 16)")
    ap.add_argument("--noise", default="clean,noisy,detector")
    ap.add_argument("--set", action="append", default=[], help="key=value applied to every run")
    ap.add_argument("--grid", action="append", default=[], help="key=v1,v2,... (cartesian product)")
    ap.add_argument("--peers", default="", help="comma-separated peer trackers to run as well")
    args = ap.parse_args(argv)

    videos = synthetic_videos(args.synth_seconds) if args.data == "synthetic" else real_videos(args)
    fixed = dict(kv.split("=", 1) for kv in args.set)
    fixed = {k: _value(v) for k, v in fixed.items()}
    grid = [(k, [_value(v) for v in vs.split(",")]) for k, vs in (g.split("=", 1) for g in args.grid)]
    combos = [dict(zip([k for k, _ in grid], vals)) for vals in itertools.product(*[v for _, v in grid])] or [{}]
    print(f"{len(videos)} videos; preset {args.preset}; fixed {fixed}")
    header = f"{'noise':6s} {'config':40s} {'HOTA':>6s} {'IDF1':>6s} {'min':>6s} {'MOTA':>6s} {'IDSW':>5s} " \
             f"{'purity':>7s} {'cover':>6s} {'fps':>6s} worst"
    print(header)
    for noise in args.noise.split(","):
        for combo in combos:
            r = run(videos, noise, {**fixed, **combo}, preset=args.preset)
            label = ",".join(f"{k}={v}" for k, v in combo.items()) or "-"
            print(f"{noise:6s} {label:40s} {100 * r['HOTA']:6.2f} {100 * r['IDF1']:6.2f} {100 * r['IDF1_min']:6.2f} "
                  f"{100 * r['MOTA']:6.2f} {r['IDSW']:5.0f} {100 * r['purity']:7.2f} {100 * r['coverage']:6.2f} "
                  f"{r['fps']:6.0f} {r['worst']}", flush=True)
        for peer in filter(None, args.peers.split(",")):
            r = run(videos, noise, {}, preset=args.preset, peer=peer)
            print(f"{noise:6s} {'peer ' + peer:40s} {100 * r['HOTA']:6.2f} {100 * r['IDF1']:6.2f} "
                  f"{100 * r['IDF1_min']:6.2f} {100 * r['MOTA']:6.2f} {r['IDSW']:5.0f} {100 * r['purity']:7.2f} "
                  f"{100 * r['coverage']:6.2f} {r['fps']:6.0f} {r['worst']}", flush=True)


if __name__ == "__main__":
    main()
