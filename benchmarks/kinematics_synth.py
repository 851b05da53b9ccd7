"""Kinematics against exact synthetic ground truth, per detection source and tracker.

For each synthetic video (spermtrack.synth: exact head positions, true grades and true kinematics with
the fluid drift removed) the kinematics stage is run on

* ``truth``: the exact head positions with the true track ids;
* ``gt+J px, ids``: ground-truth boxes with Gaussian centre jitter J px per axis, true track ids (no
  tracker: isolates the noise handling);
* ``gt+J px, tracker``: the same detections tracked by spermtrack's tracker (RTS-smoothed x_s, y_s);
* ``blob`` / ``yolo`` detections + tracker, when those detectors exist (``--detectors``; renders frames);

each twice: with the noise handling (preset who2021: smoothed positions, noise-corrected c/d test) and
``raw`` (measured positions, no noise correction), so the gain of the noise handling is visible.

Printed per source: (1) per sperm, over tracks matched to a true a/b sperm: median relative error of VCL,
VSL, VAP and median absolute error of LIN, ALH (amplitude, um) and BCF (Hz), grade agreement and the
estimated noise; (2) per video, the mean absolute error (points) of the a/b/c/d and progressive /
non-progressive / immotile percentages against the truth over all class-0 tracks (spermtrack.synth's
semen table) and against the truth over the tracks that can be graded (>= 1 s, no long gap), which
separates measurement error from the exclusion of short tracks. Then (``--confusion``) the grade
confusion matrices and the throughput of the kinematics stage on about a million points.

Truth conventions (spermtrack.synth): drift removed; ALH is the amplitude (this script divides the
measured ALH by the config's ``alh_factor``); BCF counts crossings of the TRUE average path; VAP is the
length of the true smooth path, whereas the CASA VAP is a 5-point running mean of the head path, which
keeps part of a 5-22 Hz beat at 50 fps (hence about 11 % on exact positions without a tracker).

Usage::

    python benchmarks/kinematics_synth.py --detectors --confusion     # 8 videos of 20 s, about 2 min
    python benchmarks/kinematics_synth.py --videos 2 --seconds 10 --quick
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

import numpy as np
import pandas as pd

from spermtrack.kinematics import analyze_tracks, get_preset, summarize
from spermtrack.kinematics.arrays import longest_stretch
from spermtrack.kinematics.grades import GRADES

PCT_KEYS = ("a", "b", "c", "d", "progressive", "non_progressive", "immotile")


def _synth_video(seed: int, *, seconds: float, fps: float, density: float | None):
    from spermtrack.synth import SynthConfig, simulate_video

    return simulate_video(SynthConfig(seconds=seconds, fps=fps, density=density, write_images=False), seed=seed,
                          video_id=str(seed))


def _true_percentages(video, *, config=None) -> dict[str, float]:
    """True percentages over all class-0 tracks (spermtrack.synth's semen table), or, given a kinematics
    config, over the tracks it can grade (their longest stretch without a gap longer than max_gap_s, the stretch
    the kinematics measure, spans >= min_duration_s)."""
    from spermtrack.synth import semen_analysis_table

    if config is None:
        row = semen_analysis_table([video]).iloc[0]
        return {"a": row["Grade a (%)"], "b": row["Grade b (%)"], "c": row["Grade c (%)"], "d": row["Grade d (%)"],
                "progressive": row["Progressive motility (%)"],
                "non_progressive": row["Non progressive sperm motility (%)"], "immotile": row["Immotile sperm (%)"]}
    obj = video.objects[video.objects["class_id"] == 0]
    fps = video.recording.fps

    def stretch_frames(frames: pd.Series) -> int:
        f = frames.to_numpy()
        seen = np.zeros(int(f.max() - f.min()) + 1, bool)
        seen[f - f.min()] = True
        first, last = longest_stretch(seen, config.max_gap_frames(fps))
        return last - first

    spans = video.truth.groupby("track_id")["frame"].apply(stretch_frames)
    obj = obj[obj["track_id"].map(spans) / fps >= config.min_duration_s - 1e-9]
    pct = {g: 100.0 * float((obj["grade"] == g).mean()) if len(obj) else np.nan for g in GRADES}
    return {**pct, "progressive": pct["a"] + pct["b"], "non_progressive": pct["c"], "immotile": pct["d"]}


def _jittered(video, jitter: float, seed: int) -> pd.DataFrame:
    from spermtrack.detectors.gt import DetectionNoise, gt_detections

    rec = video.recording
    return gt_detections(video.truth, DetectionNoise(jitter_px=jitter, seed=seed), width=rec.width,
                         height=rec.height)


def _tracked(detections: pd.DataFrame, video) -> pd.DataFrame:
    from spermtrack.tracker import make_tracker, motion_from_physical

    rec = video.recording
    return make_tracker("sperm", **motion_from_physical(fps=rec.fps, um_per_px=rec.um_per_px)).track(detections)


def _match(tracks: pd.DataFrame, objects: pd.DataFrame, *, min_purity: float = 0.8,
           min_coverage: float = 0.8) -> dict[int, int]:
    """Map output track_id -> true track_id: majority truth id covering >= 80 % of both; one to one."""
    rows = tracks[(tracks["track_id"] >= 0) & ~tracks.get("interpolated", False)]
    rows = rows[rows["gt_track_id"] >= 0] if "gt_track_id" in rows.columns else rows
    if "gt_track_id" not in rows.columns:
        return {int(t): int(t) for t in rows["track_id"].unique()}
    counts = rows.groupby(["track_id", "gt_track_id"]).size().rename("n").reset_index()
    size = tracks[tracks["track_id"] >= 0].groupby("track_id").size()
    best = counts.sort_values("n", ascending=False).drop_duplicates("track_id")
    gt_len = objects.set_index("track_id")["n_frames"]
    best = best[(best["n"] >= min_purity * size.reindex(best["track_id"]).to_numpy())
                & (best["n"] >= min_coverage * gt_len.reindex(best["gt_track_id"]).to_numpy())]
    best = best.sort_values("n", ascending=False).drop_duplicates("gt_track_id")
    return dict(zip(best["track_id"].astype(int), best["gt_track_id"].astype(int)))


def _evaluate(video, tracks: pd.DataFrame, config, *, with_ids: bool) -> dict:
    rec = video.recording
    t0 = time.perf_counter()
    result = analyze_tracks(tracks, rec.um_per_px, rec.fps, config)
    elapsed = time.perf_counter() - t0
    summary = summarize(result)
    kin = result.table
    objects = video.objects
    mapping = ({int(t): int(t) for t in kin["track_id"]} if with_ids else _match(tracks, objects))
    k = kin[kin["track_id"].isin(mapping)].copy()
    k["true_id"] = k["track_id"].map(mapping)
    m = k.merge(objects, left_on="true_id", right_on="track_id", suffixes=("", "_true"))
    m = m[m["class_id_true"] == 0]
    return {"matched": m, "percent": summary["percent"], "truth_percent": _true_percentages(video),
            "truth_graded_percent": _true_percentages(video, config=config),
            "noise_px": result.noise["sigma_px"], "seconds": elapsed, "points": len(tracks),
            "n_tracks": int((kin["class_id"] == 0).sum())}


def _row(name: str, runs: list[dict], alh_factor: float) -> tuple[dict, pd.DataFrame]:
    m = pd.concat([r["matched"] for r in runs], ignore_index=True)
    prog = m[m["grade_true"].isin(["a", "b"]) & m["graded"]]

    def rel(col):
        t = prog[f"{col}_true"].to_numpy(float)
        e = np.abs(prog[col].to_numpy(float) - t) / t
        return float(np.nanmedian(e)) * 100 if len(e) else np.nan

    def absmed(a, b):
        e = np.abs(np.asarray(a, float) - np.asarray(b, float))
        return float(np.nanmedian(e)) if len(e) else np.nan

    lin_true = prog["vsl_um_s_true"] / prog["vcl_um_s_true"]
    graded = m[m["graded"]]
    agree = float((graded["grade"] == graded["grade_true"]).mean() * 100) if len(graded) else np.nan
    def pct_mae(key: str, truth: str) -> float:
        return float(np.nanmean([abs((r["percent"][key] if r["percent"][key] is not None else np.nan)
                                     - r[truth][key]) for r in runs]))

    row = {"source": name, "matched": len(m), "prog": len(prog),
           "VCL %": rel("vcl_um_s"), "VSL %": rel("vsl_um_s"), "VAP %": rel("vap_um_s"),
           "LIN": absmed(prog["lin"], lin_true),
           "ALH um": absmed(prog["alh_mean_um"] / alh_factor, prog["alh_um"]),
           "BCF Hz": absmed(prog["bcf_hz"], prog["bcf_hz_true"]),
           "grade ok %": agree,
           "noise px": float(np.mean([r["noise_px"] for r in runs]))}
    pct = {"source": name, **{k: pct_mae(k, "truth_percent") for k in PCT_KEYS},
           **{f"{k} ": pct_mae(k, "truth_graded_percent") for k in PCT_KEYS}}
    conf = pd.crosstab(m["grade_true"], m["grade"].fillna("ungraded")).reindex(
        index=list(GRADES), columns=list(GRADES) + ["ungraded"], fill_value=0)
    return row, pct, conf


def _detector_sources() -> dict[str, str | None]:
    """Detector name -> None if usable, else why not."""
    out: dict[str, str | None] = {}
    for name in ("blob", "yolo"):
        if importlib.util.find_spec(f"spermtrack.detectors.{name}") is None:
            out[name] = "module missing"
            continue
        if name == "yolo":
            try:
                from spermtrack.detectors import shipped_weights

                shipped_weights()
            except Exception as exc:                     # noqa: BLE001 - report why it is skipped
                out[name] = f"no weights ({str(exc).split(':')[0]})"
                continue
        out[name] = None
    return out


def _label_detections(det: pd.DataFrame, truth: pd.DataFrame, radius: float = 10.0) -> pd.DataFrame:
    """Give each detection the id of the truth head it matches (one to one per frame, within radius px)."""
    from scipy.optimize import linear_sum_assignment

    det = det.reset_index(drop=True).copy()
    det["gt_track_id"] = -1
    truth_by_frame = {f: g for f, g in truth.groupby("frame")}
    for f, g in det.groupby("frame"):
        t = truth_by_frame.get(f)
        if t is None:
            continue
        d = np.hypot(g["x"].to_numpy()[:, None] - t["x"].to_numpy()[None], g["y"].to_numpy()[:, None]
                     - t["y"].to_numpy()[None])
        cost = np.where(d <= radius, d, 1e6)
        r, c = linear_sum_assignment(cost)
        ok = cost[r, c] <= radius
        det.loc[g.index[r[ok]], "gt_track_id"] = t["track_id"].to_numpy()[c[ok]]
    return det


def _detected(video, name: str) -> pd.DataFrame:
    from spermtrack.detectors import make_detector
    from spermtrack.synth import render_frames

    det = make_detector(name).detect_video(render_frames(video))
    return _label_detections(det, video.truth)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--fps", type=float, default=50.0)
    p.add_argument("--density", type=float, default=None, help="sperm per frame (default: drawn per video)")
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="only truth and gt+0.5 px sources")
    p.add_argument("--detectors", action="store_true", help="also blob/yolo detections when available")
    p.add_argument("--detector-videos", type=int, default=4, help="videos rendered for the detectors (default 4)")
    p.add_argument("--confusion", action="store_true", help="print the grade confusion matrices")
    args = p.parse_args(argv)

    # class 0 only: the synthetic truth grades sperm (class 0), not pinheads (class 2)
    noise_aware = get_preset("who2021", class_ids=(0,))
    raw = get_preset("who2021", class_ids=(0,), positions="raw", noise_px=0.0)
    modes = [("", noise_aware), (" [raw]", raw)]
    jitters = (0.5,) if args.quick else (0.5, 1.0)
    videos = [_synth_video(args.seed + i, seconds=args.seconds, fps=args.fps, density=args.density)
              for i in range(args.videos)]
    sources: list[tuple[str, list[pd.DataFrame], bool]] = []
    sources.append(("truth", [v.truth for v in videos], True))
    for j in jitters:
        dets = [_jittered(v, j, seed=1000 + i) for i, v in enumerate(videos)]
        ided = [d.rename(columns={"gt_track_id": "track_id"}) for d in dets]
        sources.append((f"gt+{j:g}px, ids", ided, True))
        sources.append((f"gt+{j:g}px, tracker", [_tracked(d, v) for d, v in zip(dets, videos)], False))
    skipped = []
    if args.detectors:
        for name, why in _detector_sources().items():
            if why is not None:
                skipped.append(f"{name}: {why}")
                continue
            dets = [_detected(v, name) for v in videos[:args.detector_videos]]
            sources.append((f"{name}, tracker", [_tracked(d, v) for d, v in zip(dets, videos)], False))

    rows, pcts, confs = [], [], []
    for name, tables, with_ids in sources:
        for suffix, cfg in modes:
            runs = [_evaluate(v, t, cfg, with_ids=with_ids) for v, t in zip(videos, tables)]   # zip: detector subset
            row, pct, conf = _row(name + suffix, runs, cfg.alh_factor)
            rows.append(row)
            pcts.append(pct)
            confs.append((name + suffix, conf))
    table = pd.DataFrame(rows).set_index("source")
    pct_table = pd.DataFrame(pcts).set_index("source")
    n_sperm = sum(int((v.objects["class_id"] == 0).sum()) for v in videos)
    print(f"{len(videos)} synthetic videos x {args.seconds:g} s at {args.fps:g} fps, seed {args.seed}, "
          f"{n_sperm} true sperm tracks.")
    print("Per sperm: median relative error (%) of VCL/VSL/VAP and median absolute error of LIN, ALH (amplitude, um) "
          "and BCF (Hz) over matched true a/b tracks; grade agreement over matched graded tracks.")
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.float_format", "{:.2f}".format):
        print(table)
        print("\nPer video: MAE (percentage points) of the percentages; left: against the truth over ALL sperm "
              "tracks (synth semen table); right (trailing space): against the truth over the tracks that can "
              "be graded (>= 1 s, no gap > 0.2 s)")
        print(pct_table)
    if args.detectors:
        print(f"detector rows use the first {min(args.detector_videos, len(videos))} videos (rendered frames)")
    for line in skipped:
        print(f"skipped {line}")
    if args.confusion:
        for name, conf in confs:
            print(f"\ngrade confusion ({name}); rows: truth, columns: measured")
            print(conf.to_string())

    # throughput of the kinematics stage on one big table (all videos' truth stacked, distinct ids)
    big = pd.concat([v.truth.assign(track_id=v.truth["track_id"] + 100000 * i) for i, v in enumerate(videos)],
                    ignore_index=True)
    big = pd.concat([big.assign(track_id=big["track_id"] + 10**7 * r) for r in range(max(1, 10**6 // len(big)))],
                    ignore_index=True)
    rng = np.random.default_rng(0)
    big = big.assign(x=big["x"] + rng.normal(0, 0.5, len(big)), y=big["y"] + rng.normal(0, 0.5, len(big)))
    for label, frame in (("own smoothing", big), ("tracker x_s", big.assign(x_s=big["x"], y_s=big["y"]))):
        wall, cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            analyze_tracks(frame, 0.351, args.fps, noise_aware)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(f"throughput ({label}): {len(frame):,} points, best of 3: {len(frame) / min(wall) / 1e6:.2f} M points/s "
              f"wall, {len(frame) / min(cpu) / 1e6:.2f} M points/s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
