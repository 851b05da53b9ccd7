"""Fixtures for the evaluation tests: MOTChallenge TUD data bundled with motmetrics, tiny scenes."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pytest

TUD_SEQUENCES = {"TUD-Campus": 71, "TUD-Stadtmitte": 179}  # name -> number of frames


def _data_dir() -> str:
    import motmetrics

    return os.path.join(os.path.dirname(motmetrics.__file__), "data")


def read_mot_txt(path: str) -> pd.DataFrame:
    """Read a MOTChallenge txt file into a 0-based, centre-box tracks table.

    MOT rows are ``frame, id, left, top, width, height, conf/consider, ...`` with 1-based
    frames and 1-based pixel coordinates (motmetrics subtracts 1 from left/top too).
    """
    a = np.loadtxt(path, delimiter=",", ndmin=2)
    return pd.DataFrame({
        "frame": a[:, 0].astype(np.int64) - 1,
        "track_id": a[:, 1].astype(np.int64),
        "x": a[:, 2] - 1 + a[:, 4] / 2,
        "y": a[:, 3] - 1 + a[:, 5] / 2,
        "w": a[:, 4],
        "h": a[:, 5],
        "score": np.clip(a[:, 6], 0, 1),
        "class_id": 0,
        "consider": a[:, 6],
    })


@pytest.fixture(scope="session")
def tud() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """TUD-Campus and TUD-Stadtmitte: name -> (gt, pred); pred has no ``consider`` column."""
    out = {}
    for name in TUD_SEQUENCES:
        gt = read_mot_txt(os.path.join(_data_dir(), name, "gt.txt"))
        pred = read_mot_txt(os.path.join(_data_dir(), name, "test.txt")).drop(columns="consider")
        out[name] = (gt, pred)
    return out


@pytest.fixture(scope="session")
def trackeval_tud(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    """TrackEval's own file-based MOTChallenge evaluation of the TUD data (an independent reference).

    Returns ``{sequence or 'COMBINED_SEQ': {'HOTA': ..., 'CLEAR': ..., 'Identity': ...}}``.
    Benchmark 'MOT15' because the TUD files carry no MOT17 class column.
    """
    import trackeval

    root = tmp_path_factory.mktemp("trackeval_tud")
    for name in TUD_SEQUENCES:
        (root / "gt" / name / "gt").mkdir(parents=True)
        (root / "trk" / "T" / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(_data_dir(), name, "gt.txt"), root / "gt" / name / "gt" / "gt.txt")
        shutil.copy(os.path.join(_data_dir(), name, "test.txt"), root / "trk" / "T" / "data" / f"{name}.txt")
    quiet = {"PRINT_CONFIG": False}
    evaluator = trackeval.Evaluator({
        "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False,
        "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None,
    })
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trk"), "OUTPUT_FOLDER": str(root / "out"),
        "BENCHMARK": "MOT15", "SEQ_INFO": dict(TUD_SEQUENCES), "SKIP_SPLIT_FOL": True, "PRINT_CONFIG": False,
    })
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(dict(quiet)), trackeval.metrics.Identity(dict(quiet))]
    with contextlib.redirect_stdout(io.StringIO()):
        results, _ = evaluator.evaluate([dataset], metrics)
    per_seq = results["MotChallenge2DBox"]["T"]
    return {seq: res["pedestrian"] for seq, res in per_seq.items()}


def tracks(rows: Iterable[tuple], *, size: float = 8.0) -> pd.DataFrame:
    """Tracks table from ``(frame, track_id, x, y)`` tuples (w = h = ``size``)."""
    rows = list(rows)
    df = pd.DataFrame(rows, columns=["frame", "track_id", "x", "y"]) if rows else pd.DataFrame(
        {"frame": pd.Series(dtype=np.int64), "track_id": pd.Series(dtype=np.int64),
         "x": pd.Series(dtype=float), "y": pd.Series(dtype=float)})
    df["w"] = size
    df["h"] = size
    df["score"] = 1.0
    df["class_id"] = 0
    return df


@pytest.fixture
def make_tracks() -> Callable[..., pd.DataFrame]:
    return tracks


def random_scene(seed: int, *, n_frames: int = 80, n_objects: int = 10, gate: float = 10.0,
                 size: float = 8.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A sperm-like scene with misses, false positives, fragments and id swaps.

    Ground truth: random walks with births and deaths. Prediction: ground truth plus
    Gaussian noise (some beyond the gate), 10 % dropped rows, clutter, every track split
    into fragments with fresh ids, and a few id swaps between tracks.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_objects):
        start = int(rng.integers(0, n_frames // 2))
        stop = int(rng.integers(start + 5, n_frames + 1))
        xy = rng.uniform(0, 150, 2) + np.cumsum(rng.normal(0, 2.0, (stop - start, 2)), axis=0)
        rows += [(f, k, *xy[f - start]) for f in range(start, stop)]
    gt = tracks(rows, size=size)
    pred = gt.copy()
    pred[["x", "y"]] += rng.normal(0, gate / 3, (len(pred), 2))
    pred["track_id"] = pred["track_id"] * 100 + (pred["frame"] // rng.integers(10, 40))
    swap = rng.random(len(pred)) < 0.05
    pred.loc[swap, "track_id"] = pred.loc[swap, "track_id"] + 1
    pred = pred[rng.random(len(pred)) > 0.1]
    pred = pred.drop_duplicates(["frame", "track_id"])
    clutter = tracks([(int(rng.integers(0, n_frames)), 10_000 + i, *rng.uniform(0, 150, 2)) for i in range(30)],
                     size=size)
    pred = pd.concat([pred, clutter], ignore_index=True)
    return gt, pred


@pytest.fixture
def scene() -> Callable[..., tuple[pd.DataFrame, pd.DataFrame]]:
    return random_scene
