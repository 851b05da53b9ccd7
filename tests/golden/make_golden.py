"""Regenerate the golden files of ``tests/golden/`` (run from the repository root).

    python tests/golden/make_golden.py

A fixed-seed synthetic clip (2 videos of 1.6 s, 320 x 240 px, 25 fps) goes through the command line
as a user would run it: ``synth`` -> ``track`` (ground-truth boxes with noise, the default tracker)
-> ``kinematics`` -> ``benchmark`` (gt and blob x sperm and sort). The stored results are the tracks
table, the kinematics summary and the leaderboard, rounded to 6 significant decimals so that a
diff shows intended changes only. ``tests/test_golden.py`` runs :func:`produce` again and compares.
Re-run this script only when a change of results is intended, and say so in the commit.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DECIMALS = 6
#: Leaderboard columns that measure time (not results) and are left out.
TIMING = ("tracker_s", "tracker_fps", "detector_fps")


def produce(work: Path) -> dict[str, object]:
    """Run the golden pipeline in ``work``; return ``{file name: table or dict}`` as stored."""
    from spermtrack.cli import main

    data = work / "data"
    steps = [
        ["synth", str(data), "--videos", "2", "--seconds", "1.6", "--fps", "25", "--seed", "2718", "--density", "10",
         "--width", "320", "--height", "240", "--no-images", "--quiet"],
        ["track", str(data / "1"), "--detections", "gt", "--det-noise", "jitter=0.5,miss=0.1,fp=1,seed=3",
         "--tracker", "sperm", "--out", str(work / "trk")],
        ["kinematics", str(work / "trk" / "tracks.csv"), "--um-per-px", "0.351", "--fps", "25", "--out",
         str(work / "kin")],
        ["benchmark", str(data), "--detectors", "gt,blob", "--trackers", "sperm,sort", "--out", str(work / "bench"),
         "--quiet"],
    ]
    for argv in steps:
        if main(argv) != 0:
            raise RuntimeError(f"spermtrack {' '.join(argv)} failed")
    tracks = pd.read_csv(work / "trk" / "tracks.csv")
    summary = json.loads((work / "kin" / "summary.json").read_text())
    summary = {k: summary[k] for k in ("counts", "percent", "noise", "drift", "motile_means")}
    board = pd.read_csv(work / "bench" / "leaderboard.csv").drop(columns=list(TIMING))
    return {"tracks.csv": tracks.round(DECIMALS), "summary.json": _rounded(summary),
            "leaderboard.csv": board.round(DECIMALS)}


def _rounded(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, DECIMALS)
    return obj


def write(results: dict[str, object], folder: Path = HERE) -> None:
    """Store ``results`` as the golden files."""
    for name, value in results.items():
        if name.endswith(".csv"):
            value.to_csv(folder / name, index=False, lineterminator="\n")
        else:
            (folder / name).write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        write(produce(Path(tmp)))
    print(f"wrote {', '.join(sorted(p.name for p in HERE.glob('*.*') if p.suffix in ('.csv', '.json')))} "
          f"to {HERE}", file=sys.stderr)
