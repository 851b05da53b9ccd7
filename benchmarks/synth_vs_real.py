"""Synthetic VISEM-Tracking vs the real annotations: calibration table, density control and speed.

Usage::

    python benchmarks/synth_vs_real.py                 # side-by-side table (16 synthetic 30-s videos)
    python benchmarks/synth_vs_real.py --videos 32 --seed 1
    python benchmarks/synth_vs_real.py --speed         # also time render + write of a 10-s 50-fps clip
    python benchmarks/synth_vs_real.py --frame out.png # also save a real | synthetic frame side by side

The real data are the class-0 boxes of the 16 official VISEM-Tracking training videos
(``/work/shared/reference/visem_real/train_tracks.csv.gz``; 640 x 480, 0.351 um/px, each video's fps =
its frame count / 30 s) and the per-frame counts of all 20 videos (``sperm_counts_per_frame.csv``).
Synthetic videos are made with :func:`spermtrack.synth.simulate_video` (no pixels) at 30 s, 49 fps,
640 x 480, with every per-video draw at its default (density, grade mix, drift, box style), so the
table tests the defaults, not hand-picked values.

Every statistic is computed by the same function on both sides, from box centres:

- VCL (per track): mean frame-to-frame step over consecutive frames x fps, um/s;
- 1-s net progression (per track): mean over all pairs (f, f + W), W = round(fps), of the net
  displacement / (W / fps), um/s; tracks with at least one such pair;
- duration: (last - first + 1) / fps; gaps: missing frames runs inside a track;
- common drift: per video, median over frames of the mean displacement of all tracks present in two
  consecutive frames, x fps, um/s (dominated by the few motile cells of sparse videos), and a robust
  version: the median over 1-s windows of the median over tracks of the 1-s displacement vector;
- interior starts / ends: starts after frame 0 (ends before the last frame) more than 20 px from
  every border.

The real boxes are keyframe-interpolated by the annotators (93 % of steps have zero acceleration), so
real VCL understates head motion. The table therefore gives three synthetic VCLs: of the smooth
average path (the like-for-like comparison), of the exact wobbling head, and of the exact head
sampled at keyframes every 2-16 frames (log-uniform, median about 6; real keyframe intervals of
moving tracks: median 5, mean 7) and linearly interpolated, which imitates the annotation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.synth import SynthConfig, render_frames, simulate_video, video_seed, write_synthetic_dataset

REF = Path("/work/shared/reference")
UM_PER_PX = 0.351
WIDTH, HEIGHT = 640, 480


# ----------------------------------------------------------------------------- data
def load_real() -> tuple[pd.DataFrame, pd.Series]:
    """Real class-0 boxes as px columns ``video, frame, track, x, y, w, h``; fps per video."""
    df = pd.read_csv(REF / "visem_real" / "train_tracks.csv.gz")
    df = df[df["class_id"] == 0]
    out = pd.DataFrame({"video": df["video"].astype(str), "frame": df["frame"], "track": df["track_id"].astype(str),
                        "x": df["cx"] * WIDTH, "y": df["cy"] * HEIGHT, "w": df["w"] * WIDTH, "h": df["h"] * HEIGHT})
    n_frames = out.groupby("video")["frame"].max() + 1
    return out, n_frames / 30.0


def keyframed(frames: np.ndarray, xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions sampled at random keyframes (intervals log-uniform 2-16 frames) and linearly interpolated."""
    if len(frames) < 3:
        return xy
    keys = [0]
    while keys[-1] < len(frames) - 1:
        keys.append(min(len(frames) - 1, keys[-1] + int(np.exp(rng.uniform(np.log(2), np.log(17))))))
    keys = np.array(keys)
    return np.stack([np.interp(frames, frames[keys], xy[keys, i]) for i in range(2)], axis=1)


def synthetic(n_videos: int, seed: int, *, seconds: float = 30.0, fps: float = 49.0,
              density: float | None = None) -> tuple[pd.DataFrame, pd.Series, list]:
    """Synthetic class-0 truth in the same columns; x/y = exact head; extra xs/ys (smooth) and xk/yk (keyframed)."""
    parts, fpss, videos = [], {}, []
    rng = np.random.default_rng(seed)
    for i in range(n_videos):
        cfg = SynthConfig(seconds=seconds, fps=fps, density=density, write_images=False)
        v = simulate_video(cfg, seed=video_seed(seed, i), video_id=str(i + 1))
        videos.append(v)
        t = v.truth[v.truth["class_id"] == 0]
        part = pd.DataFrame({"video": f"s{i + 1}", "frame": t["frame"].to_numpy(), "track": t["track_id"].to_numpy(),
                             "x": t["x"].to_numpy(), "y": t["y"].to_numpy(), "w": t["w"].to_numpy(),
                             "h": t["h"].to_numpy(), "xs": t["x_avg"].to_numpy(), "ys": t["y_avg"].to_numpy()})
        kx, ky = np.empty(len(part)), np.empty(len(part))
        for _, idx in part.groupby("track").indices.items():
            k = keyframed(part["frame"].to_numpy()[idx], part[["x", "y"]].to_numpy()[idx], rng)
            kx[idx], ky[idx] = k[:, 0], k[:, 1]
        part["xk"], part["yk"] = kx, ky
        parts.append(part)
        fpss[f"s{i + 1}"] = fps
    return pd.concat(parts, ignore_index=True), pd.Series(fpss), videos


# ----------------------------------------------------------------------------- statistics
def per_track(df: pd.DataFrame, fps: pd.Series, xcol: str = "x", ycol: str = "y") -> pd.DataFrame:
    """Per track: vcl, prog (1-s net progression), duration, gaps, first/last frame and position."""
    rows = []
    for (video, track), g in df.groupby(["video", "track"], sort=False):
        g = g.sort_values("frame")
        f = g["frame"].to_numpy()
        xy = g[[xcol, ycol]].to_numpy() * UM_PER_PX
        rate = float(fps[video])
        w = max(1, int(round(rate)))
        cons = np.diff(f) == 1
        step = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        vcl = step[cons].mean() * rate if cons.any() else np.nan
        pos = {int(ff): i for i, ff in enumerate(f)}
        pairs = [(i, pos[int(ff) + w]) for i, ff in enumerate(f) if int(ff) + w in pos]
        prog = (np.mean([np.linalg.norm(xy[j] - xy[i]) for i, j in pairs]) / (w / rate)) if pairs else np.nan
        rows.append({"video": video, "vcl": vcl, "prog": prog, "dur": (f[-1] - f[0] + 1) / rate,
                     "gaps": int(np.count_nonzero(np.diff(f) > 1)), "n": len(f), "f0": f[0], "f1": f[-1],
                     "x0": g["x"].iloc[0], "y0": g["y"].iloc[0], "x1": g["x"].iloc[-1], "y1": g["y"].iloc[-1]})
    return pd.DataFrame(rows)


def drift_per_video(df: pd.DataFrame, fps: pd.Series) -> pd.Series:
    """Per video: median over frames of the mean displacement of all tracks seen in consecutive frames, um/s."""
    out = {}
    for video, g in df.groupby("video"):
        p = g.pivot_table(index="frame", columns="track", values=["x", "y"])
        p = p.reindex(np.arange(p.index.min(), p.index.max() + 1))
        mdx = p["x"].diff().mean(axis=1)
        mdy = p["y"].diff().mean(axis=1)
        out[video] = float(np.hypot(np.nanmedian(mdx), np.nanmedian(mdy)) * fps[video] * UM_PER_PX)
    return pd.Series(out)


def drift_robust_per_video(df: pd.DataFrame, fps: pd.Series) -> pd.Series:
    """Per video: |median over 1-s windows of the median over tracks of the 1-s displacement vector|, um/s.

    Robust to the few motile cells that dominate the per-frame mean in sparse videos.
    """
    out = {}
    for video, g in df.groupby("video"):
        p = g.pivot_table(index="frame", columns="track", values=["x", "y"])
        p = p.reindex(np.arange(p.index.min(), p.index.max() + 1))
        w = max(1, int(round(fps[video])))
        mx = (p["x"] - p["x"].shift(w)).median(axis=1)
        my = (p["y"] - p["y"].shift(w)).median(axis=1)
        out[video] = float(np.hypot(np.nanmedian(mx), np.nanmedian(my)) * UM_PER_PX / (w / fps[video]))
    return pd.Series(out)


def interior(tr: pd.DataFrame, last_frame: pd.Series, margin: float = 20.0) -> tuple[float, float]:
    def inner(x, y):
        return (x > margin) & (x < WIDTH - margin) & (y > margin) & (y < HEIGHT - margin)

    st = tr[tr["f0"] > 0]
    en = tr[tr["f1"] < tr["video"].map(last_frame)]
    return float(inner(st["x0"], st["y0"]).mean()), float(inner(en["x1"], en["y1"]).mean())


def q(s: pd.Series, p: float) -> float:
    return float(np.nanpercentile(s.to_numpy(dtype=float), p))


def fmt_q(s: pd.Series) -> str:
    return f"{q(s, 50):5.1f} / {q(s, 75):5.1f} / {q(s, 95):5.1f}"


def band_fractions(tr: pd.DataFrame) -> str:
    p = tr["prog"].dropna()
    return f"{(p >= 25).mean():.0%} / {((p >= 5) & (p < 25)).mean():.0%} / {(p < 5).mean():.0%}"


def band_fractions_weighted(tr: pd.DataFrame) -> str:
    t = tr.dropna(subset=["prog"])
    w = t["n"] / t["n"].sum()
    return (f"{w[t['prog'] >= 25].sum():.0%} / {w[(t['prog'] >= 5) & (t['prog'] < 25)].sum():.0%} / "
            f"{w[t['prog'] < 5].sum():.0%}")


def summary(df: pd.DataFrame, fps: pd.Series, *, synthetic_: bool) -> dict[str, str]:
    tr = per_track(df, fps)
    long = tr.dropna(subset=["prog"])
    counts = df.groupby(["video", "frame"]).size().groupby("video")
    per_video = counts.mean()
    drift = drift_per_video(df, fps)
    drift_r = drift_robust_per_video(df, fps)
    last = df.groupby("video")["frame"].max()
    i_start, i_end = interior(tr, last)
    tracks = tr.groupby("video").size()
    duration = (df.groupby("video")["frame"].max() + 1) / fps
    out = {
        "box w, px (mean +/- sd)": f"{df['w'].mean():5.1f} +/- {df['w'].std():.1f}",
        "box h, px (mean +/- sd)": f"{df['h'].mean():5.1f} +/- {df['h'].std():.1f}",
        "VCL, um/s, per track (p50/p75/p95)": fmt_q(tr["vcl"]),
        "1-s net progression, um/s (p50/p75/p95)": fmt_q(long["prog"]),
        "  tracks >=25 / 5-25 / <5 um/s": band_fractions(long),
        "  same, weighted by track length": band_fractions_weighted(long),
        "track duration, s (mean / median)": f"{tr['dur'].mean():5.1f} / {tr['dur'].median():.1f}",
        "tracks per video (median, range)": f"{tracks.median():.0f} ({tracks.min()}-{tracks.max()})",
        "  tracks per 30 s / sperm per frame (median)": f"{(tracks / per_video * 30 / duration).median():.2f}",
        "sperm per frame, per-video mean (range)": f"{per_video.min():.1f}-{per_video.max():.1f} "
                                                   f"(median {per_video.median():.1f})",
        "common drift, um/s (median, range)": f"{drift.median():.2f} ({drift.min():.2f}-{drift.max():.2f})",
        "  robust drift (median of 1-s track steps)": f"{drift_r.median():.2f} ({drift_r.min():.2f}-"
                                                      f"{drift_r.max():.2f})",
        "gaps per track": f"{tr['gaps'].mean():.3f}",
        "interior starts / ends": f"{i_start:.0%} / {i_end:.0%}",
    }
    if synthetic_:
        smooth = per_track(df, fps, "xs", "ys")
        key = per_track(df, fps, "xk", "yk")
        vcl = "VCL, um/s, per track (p50/p75/p95)"
        extra = {vcl: f"{fmt_q(smooth['vcl'])}  smooth path", "  VCL of the exact head": fmt_q(tr["vcl"]),
                 "  VCL of the exact head, keyframed": fmt_q(key["vcl"])}
        ordered = {}
        for k, v in out.items():
            if k == vcl:
                ordered.update(extra)
            else:
                ordered[k] = v
        out = ordered
    return out


def print_table(real: dict[str, str], synth: dict[str, str], title: str) -> None:
    keys = list(real)
    for i, key in enumerate(synth):       # synthetic-only rows go right after the row before them
        if key not in keys:
            before = list(synth)[i - 1] if i else None
            keys.insert(keys.index(before) + 1 if before in keys else len(keys), key)
    width = max(len(k) for k in keys)
    print(title)
    print(f"{'metric':<{width}} | {'real VISEM-Tracking (16 train videos)':<38} | synthetic")
    print("-" * (width + 80))
    for k in keys:
        print(f"{k:<{width}} | {real.get(k, '(not measurable)'):<38} | {synth.get(k, '')}")


# ----------------------------------------------------------------------------- runs
def density_control(seed: int) -> None:
    print("\nDensity control (10-s clips at 50 fps, one video per setting):")
    print(f"{'density':>8} | {'sperm/frame (mean, min-max)':>28} | {'tracks':>6} | {'clusters/frame':>14} | "
          f"{'pinheads/frame':>14}")
    for d in (2.2, 5, 10, 20, 40, 62.3):
        v = simulate_video(SynthConfig(seconds=10, fps=50, density=d, write_images=False), seed=seed)
        c = v.truth.groupby(["frame", "class_id"]).size().unstack(fill_value=0).reindex(
            index=range(v.recording.n_frames), columns=[0, 1, 2], fill_value=0)
        print(f"{d:8.1f} | {c[0].mean():8.1f} ({c[0].min():3d}-{c[0].max():3d})          | "
              f"{(v.objects['class_id'] == 0).sum():6d} | {c[1].mean():14.2f} | {c[2].mean():14.2f}")


def speed(seed: int) -> None:
    cfg = SynthConfig(seconds=10, fps=50, width=640, height=480, density=30)
    t0 = time.perf_counter()
    v = simulate_video(cfg, seed=seed)
    t1 = time.perf_counter()
    for _ in render_frames(v):
        pass
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        t3 = time.perf_counter()
        write_synthetic_dataset(tmp, n_videos=1, config=cfg, seed=seed, progress=False)
        t4 = time.perf_counter()
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    print("\nSpeed (10 s, 640x480, 50 fps = 500 frames, density 30; limit 30 s):")
    print(f"  simulate_video          {t1 - t0:6.2f} s")
    print(f"  render_frames only      {t2 - t1:6.2f} s  ({(t2 - t1) / cfg.n_frames * 1e3:.1f} ms/frame)")
    print(f"  write_synthetic_dataset {t4 - t3:6.2f} s  (simulate + render + mp4 + jpg + labels + truth; "
          f"{size / 1e6:.1f} MB)")


def side_by_side(path: Path, seed: int) -> None:
    import cv2

    real = cv2.imread(str(REF / "visem_real" / "13" / "images" / "13_frame_0.jpg"))
    n_real = sum(1 for _ in open(REF / "visem_real" / "13" / "labels" / "13_frame_0.txt"))
    cfg = SynthConfig(seconds=0.2, fps=49, density=float(n_real))
    img = next(iter(render_frames(simulate_video(cfg, seed=seed))))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    sep = np.full((real.shape[0], 8, 3), 255, np.uint8)
    both = np.hstack([real, sep, img])
    cv2.putText(both, "real VISEM-Tracking 13, frame 0", (8, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    cv2.putText(both, f"synthetic (density {n_real}, seed {seed})", (656, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), both)
    print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=16, help="synthetic videos of 30 s at 49 fps (default 16)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", action="store_true", help="time render + write of a 10-s 50-fps clip")
    ap.add_argument("--frame", type=Path, default=None, help="write a real | synthetic side-by-side PNG here")
    ap.add_argument("--no-table", action="store_true", help="skip the calibration table")
    args = ap.parse_args(argv)
    if not (REF / "visem_real" / "train_tracks.csv.gz").is_file():
        print(f"real reference data not found under {REF}", file=sys.stderr)
        return 2
    if not args.no_table:
        t0 = time.perf_counter()
        real_df, real_fps = load_real()
        syn_df, syn_fps, syn_videos = synthetic(args.videos, args.seed)
        real = summary(real_df, real_fps, synthetic_=False)
        counts = pd.read_csv(REF / "sperm_counts_per_frame.csv", skipinitialspace=True)
        counts["video"] = counts["frame_name"].str.split("_").str[0]
        pv = counts.groupby("video")["sperm_count"].mean()
        real["sperm per frame, per-video mean (range)"] += f"; all 20: {pv.min():.1f}-{pv.max():.1f}"
        synth = summary(syn_df, syn_fps, synthetic_=True)
        true_drift = pd.Series([v.params.drift_um_s for v in syn_videos])
        ordered = {}
        for key, value in synth.items():
            ordered[key] = value
            if key.startswith("  robust drift"):
                ordered["  true drift of the generator"] = (f"{true_drift.median():.2f} ({true_drift.min():.2f}-"
                                                            f"{true_drift.max():.2f})")
        synth = ordered
        print_table(real, synth, f"Synthetic ({args.videos} videos x 30 s at 49 fps, seed {args.seed}, "
                                 f"default per-video draws) vs real VISEM-Tracking, 0.351 um/px")
        print("Notes: real boxes are keyframe-interpolated, so real VCL is like the VCL of a smooth path: the"
              " synthetic VCL\nrow is the smooth average path; the two rows below it are the exact head, raw and"
              " sampled at keyframes.\nBoth drift estimators mostly measure the cells' own motion (real immotile"
              " tracks are keyframe-static,\nwhich lowers their floor); the generator's true drift is listed"
              " below them.")
        print(f"(table computed in {time.perf_counter() - t0:.1f} s)")
        density_control(args.seed)
    if args.speed:
        speed(args.seed)
    if args.frame is not None:
        side_by_side(args.frame, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
