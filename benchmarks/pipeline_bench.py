"""End-to-end speed and memory of ``spermtrack analyze`` on 640 x 480 synthetic videos of 10 s and 60 s.

Prints a table; it is a script, not a timed test. Every number is measured in this run.

Usage::

    python benchmarks/pipeline_bench.py [--seconds 10,60] [--detectors blob,yolo,yolo-torch] [--work DIR]
                                        [--install-sizes]

Each run is one fresh Python process doing what ``spermtrack analyze VIDEO.mp4 --um-per-px 0.351 --out
DIR`` does (``spermtrack.analyze`` then ``.write``: tables, Parquet, MOT, kinematics, plots,
``annotated.mp4``, ``report.html``), on a synthetic VISEM-Tracking mp4 (50 fps, 30 sperm per frame,
seed 8800).

- ``fps end to end = frames / (seconds from the call of spermtrack.analyze to the end of write)``: it
  includes importing the detector's libraries (torch for yolo), decoding, detecting, tracking,
  kinematics, and writing every output including the annotated video; it excludes starting Python.
- the stage columns are wall-clock seconds: ``decode`` (reading the frames for detection, in the main
  thread while the detector works on earlier frames), ``detect`` (the rest of the detection pass),
  ``track``, ``kinematics``, ``annotate`` (the annotated-video pass: decoding again, drawing and encoding,
  overlapped), ``other`` (imports, plots, tables, report);
- ``peak MB`` is the whole process's maximum resident set size (``ru_maxrss`` of the child, what
  ``/usr/bin/time -v`` calls "Maximum resident set size"); ``60 s / 10 s`` compares the peaks.
- ``first frame s``: from the start of the child (before ``import spermtrack``) to the first decoded
  frame of the detection pass: imports, opening the video, building the detector.
- ``yolo`` runs the shipped YOLOv5n through ONNX Runtime (the default backend), ``yolo-torch`` the same
  checkpoint through ultralytics and PyTorch.
- ``decode only``: the same video decoded to BGR frames (as the pipeline reads it) and nothing else, in a fresh process: the physical ceiling of any analysis that reads every frame.
- ``--install-sizes`` builds two fresh virtual environments from the local package index, ``pip install .``
  (the slim default) and ``pip install ".[train]"``, and prints the size of each (``du`` of the venv).

Targets (issue 23): blob >= 120 frames/s end to end on the 60-s video and >= 90 on the 10-s one; yolo
(ONNX) >= 25 frames/s on the 60-s video; under 0.5 s before the first frame of a 10-s video; peak memory
< 1.5 GB and flat (the 60-s peak within 10 % of the 10-s peak); slim install <= 800 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

SEED = 8800
STAGES = ("decode", "detect", "track", "kinematics", "annotate")

CHILD = """
import json, sys, time
start = time.perf_counter()
import spermtrack.io.video as video_io
first = {}
read = video_io.iter_frames
def timed_read(*args, **kwargs):
    for item in read(*args, **kwargs):
        first.setdefault("s", time.perf_counter() - start)
        yield item
video_io.iter_frames = timed_read
import spermtrack
import spermtrack.io.visem as visem
visem.iter_frames = timed_read
detector, options = sys.argv[2], {}
if detector == "yolo-torch":
    detector, options = "yolo", {"backend": "torch"}
result = spermtrack.analyze(sys.argv[1], um_per_px=0.351, detector=detector, progress=False, **options)
analysed = time.perf_counter()
result.write(sys.argv[3])
end = time.perf_counter()
print(json.dumps({"frames": result.recording.n_frames, "timings": result.timings, "first_frame_s": first["s"],
                  "analyze_s": analysed - start, "total_s": end - start}))
"""

DECODE = """
import json, sys, time
from spermtrack.io.video import iter_frames
start = time.perf_counter()
n = sum(1 for _ in iter_frames(sys.argv[1]))
print(json.dumps({"frames": n, "seconds": time.perf_counter() - start}))
"""


def make_video(work: Path, seconds: float) -> Path:
    """Write (once) a synthetic 640 x 480, 50-fps VISEM-Tracking video of ``seconds`` s; return its mp4."""
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    root = work / f"video_{seconds:g}s"
    mp4 = root / "1" / "1.mp4"
    if not mp4.is_file():
        config = SynthConfig(seconds=seconds, fps=50.0, density=30.0, width=640, height=480, write_images=False)
        write_synthetic_dataset(root, n_videos=1, config=config, seed=SEED, progress=True)
    return mp4


def decode_rate(mp4: Path) -> float:
    """Frames per second of decoding ``mp4`` alone, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", DECODE, str(mp4)], capture_output=True, text=True, check=True)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    return record["frames"] / record["seconds"]


def install_sizes(work: Path) -> dict[str, float]:
    """MB of a fresh venv with ``pip install .`` (slim) and with ``pip install ".[train]"``."""
    root = Path(__file__).resolve().parents[1]
    sizes = {}
    for name, spec in (("slim: pip install .", str(root)), ("full: pip install \".[train]\"", f"{root}[train]")):
        venv = work / f"venv-{len(sizes)}"
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", spec], check=True)
        du = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True, check=True)
        sizes[name] = float(du.stdout.split()[0])
        print(f"{name}: {sizes[name]:.0f} MB", file=sys.stderr, flush=True)
    return sizes


def run_once(mp4: Path, detector: str, out: Path) -> dict:
    """Analyse ``mp4`` in a fresh process; return its timings and peak resident memory."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(mp4), detector, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"analyze failed on {mp4} with {detector}: {stderr.strip()[-500:]}")
    record = json.loads(stdout.strip().splitlines()[-1])
    record["peak_mb"] = usage.ru_maxrss / 1024.0  # KiB on Linux
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", default="10,60", help="video lengths in s (default 10,60)")
    parser.add_argument("--detectors", default="blob,yolo,yolo-torch",
                        help="detectors (default blob,yolo,yolo-torch; yolo runs through ONNX Runtime)")
    parser.add_argument("--install-sizes", action="store_true", help="also measure the slim and full installs")
    parser.add_argument("--work", type=Path, default=None, help="folder for the videos (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="spermtrack-pipeline-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    lengths = [float(s) for s in args.seconds.split(",")]
    videos = {s: make_video(work, s) for s in lengths}
    rows = []
    for detector in args.detectors.split(","):
        for seconds, mp4 in videos.items():
            r = run_once(mp4, detector, work / f"out_{detector}_{seconds:g}s")
            t = r["timings"]
            row = {"detector": detector, "video s": seconds, "frames": r["frames"],
                   "fps end to end": r["frames"] / r["total_s"], "total s": r["total_s"],
                   "first frame s": r["first_frame_s"]}
            row.update({k: t.get(k, 0.0) for k in STAGES})
            row["other"] = r["total_s"] - sum(t.get(k, 0.0) for k in STAGES)
            row["peak MB"] = r["peak_mb"]
            rows.append(row)
            print(f"{detector} {seconds:g} s: {row['fps end to end']:.1f} frames/s, peak {row['peak MB']:.0f} MB",
                  file=sys.stderr, flush=True)
    for seconds, mp4 in videos.items():
        rows.append({"detector": "decode only", "video s": seconds, "fps end to end": decode_rate(mp4)})
    table = pd.DataFrame(rows)
    first = table.groupby("detector")["peak MB"].transform("first")
    table["peak vs shortest"] = table["peak MB"] / first
    pd.set_option("display.width", 200)
    print(f"\nspermtrack analyze, 640 x 480, 50 fps, 30 sperm/frame; {os.cpu_count()} CPU(s); "
          f"python {sys.version.split()[0]}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep=""))
    if args.install_sizes:
        print("\ninstall size (fresh venv, du), MB")
        for name, mb in install_sizes(work).items():
            print(f"  {name:32s} {mb:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
