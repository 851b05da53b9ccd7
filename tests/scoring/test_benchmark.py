"""The benchmark runner (detectors x trackers on a data set) and the one-pair evaluation."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.scoring import LEADERBOARD_COLUMNS, evaluate_pair, open_dataset, run_benchmark
from spermtrack.errors import InputError

TRACKERS = "sperm,sort,bytetrack,trackpy"
TUD = {"TUD-Campus": 71, "TUD-Stadtmitte": 179}


# ----------------------------------------------------------------------------------------------------------------------
# Fixtures: tiny data sets in the three layouts
# ----------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic VISEM-Tracking root: 2 videos x 2 s at 25 fps, with exact truth."""
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    config = SynthConfig(seconds=2.0, fps=25.0, density=12.0, grade_mix=(0.3, 0.3, 0.2, 0.2), write_images=False)
    write_synthetic_dataset(root, n_videos=2, config=config, seed=11, progress=False)
    return root


@pytest.fixture(scope="module")
def bench(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    """The grid on the synthetic root: detectors gt, blob x four trackers."""
    out = tmp_path_factory.mktemp("bench")
    board = run_benchmark(synth, detectors="gt,blob", trackers=TRACKERS, out_dir=out, progress=False, um_per_px=VISEM_UM_PER_PX)
    return board, out


def _semen_csv(path: Path, ids: list[str]) -> None:
    """A semen-analysis CSV in VISEM's dialect (BOM, ';', decimal comma)."""
    lines = ["ID;Progressive motility (%);Non progressive sperm motility (%);Immotile sperm (%)"]
    for k, vid in enumerate(ids):
        lines.append(f"{vid};{30 + 5 * k},5;{20 - 2 * k},0;{49 - 3 * k},5")
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def real_like(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VISEM-Tracking root without synthetic truth: val video 52, train video 11, plus broken val videos.

    54 has only ``labels/`` (no identities), 60 has empty ``labels_ftid`` files (no object).
    """
    root = tmp_path_factory.mktemp("real_like")
    shutil.copytree(synth / "1", root / "52")
    shutil.copytree(synth / "2", root / "11")
    shutil.copytree(synth / "2", root / "54")
    shutil.rmtree(root / "54" / "labels_ftid")
    shutil.copytree(synth / "1", root / "60")
    for f in (root / "60" / "labels_ftid").iterdir():
        f.write_text("")
    _semen_csv(root / "semen_analysis_data_Train.csv", ["52", "11", "54", "60"])
    return root


@pytest.fixture(scope="module")
def table_file(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic labels as a real-trajectory table (train_tracks.csv.gz layout) with a lab CSV beside it."""
    from spermtrack.io.visem import list_videos, read_visem_video

    folder = tmp_path_factory.mktemp("table")
    parts = []
    for path in list_videos(synth):
        gt = read_visem_video(path, um_per_px=VISEM_UM_PER_PX).ground_truth
        parts.append(pd.DataFrame({"video": path.name, "frame": gt["frame"], "track_id": gt["gt_id"],
                                   "class_id": gt["class_id"], "cx": gt["x"] / 640, "cy": gt["y"] / 480,
                                   "w": gt["w"] / 640, "h": gt["h"] / 480}))
    out = folder / "train_tracks.csv.gz"
    with gzip.open(out, "wt") as fh:
        pd.concat(parts).to_csv(fh, index=False)
    _semen_csv(folder / "semen_analysis_data_Train.csv", ["1", "2"])
    return out


def _motmetrics_data() -> Path:
    import motmetrics

    return Path(motmetrics.__file__).parent / "data"


@pytest.fixture(scope="module")
def mot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MOTChallenge layout from motmetrics' TUD data: gt/gt.txt, det/det.txt (from test.txt), seqinfo.ini."""
    root = tmp_path_factory.mktemp("mot")
    for name, n in TUD.items():
        seq = root / name
        (seq / "gt").mkdir(parents=True)
        (seq / "det").mkdir()
        shutil.copy(_motmetrics_data() / name / "gt.txt", seq / "gt" / "gt.txt")
        det = np.loadtxt(_motmetrics_data() / name / "test.txt", delimiter=",", ndmin=2)
        lines = [f"{int(r[0])},-1,{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},0.9,-1,-1,-1" for r in det]
        (seq / "det" / "det.txt").write_text("\n".join(lines) + "\n")
        (seq / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nframeRate=25\nseqLength={n}\n"
                                         "imWidth=640\nimHeight=480\n")
    return root


# ----------------------------------------------------------------------------------------------------------------------
# The synthetic grid
# ----------------------------------------------------------------------------------------------------------------------
def test_benchmark_writes_every_output(bench):
    board, out = bench
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.png", "kinematics_error.csv", "grade_error.csv",
                 "bland_altman.png", "benchmark.json"):
        assert (out / name).is_file(), name
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".spermtrack-output"]  # no temporaries
    for png in ("leaderboard.png", "bland_altman.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = pd.read_csv(out / "leaderboard.csv", dtype={"video": str})
    assert list(written.columns) == list(LEADERBOARD_COLUMNS)
    pd.testing.assert_frame_equal(written, board.reset_index(drop=True), check_dtype=False)


def test_leaderboard_rows_and_values(bench):
    board, _ = bench
    assert len(board) == 2 * 4 * 3  # detectors x trackers x (2 videos + OVERALL)
    assert set(board["video"]) == {"1", "2", "OVERALL"}
    assert set(board["detector"]) == {"gt", "blob"} and set(board["tracker"]) == set(TRACKERS.split(","))
    for col in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "tracker_fps", "detector_fps"):
        assert board[col].notna().all(), col
    assert ((board["HOTA"] > 0) & (board["HOTA"] <= 100)).all()  # percent
    assert (board["tracker_fps"] > 0).all()
    best = board[(board["video"] == "OVERALL") & (board["detector"] == "gt") & (board["tracker"] == "sperm")]
    assert best["HOTA"].iloc[0] > 90 and best["IDF1"].iloc[0] > 90  # exact boxes: near-perfect tracking
    over = board[board["video"] == "OVERALL"].set_index(["detector", "tracker"])
    per_video = board[board["video"] != "OVERALL"].groupby(["detector", "tracker"])
    for col in ("FN", "FP", "IDSW", "n_frames"):  # OVERALL pools counts
        pd.testing.assert_series_equal(per_video[col].sum().sort_index(), over[col].sort_index(), check_names=False)


def test_leaderboard_agrees_with_scoring_the_tracks_directly(bench, synth):
    """The leaderboard's numbers are evaluate_sequences' numbers on the same tracks."""
    from spermtrack.detectors import gt_detections
    from spermtrack.eval.mot import evaluate_sequences
    from spermtrack.io.visem import list_videos, read_visem_video
    from spermtrack.tracker import track

    board, _ = bench
    pairs, n_frames = {}, {}
    for path in list_videos(synth):
        video = read_visem_video(path, um_per_px=VISEM_UM_PER_PX)
        rec = video.recording
        dets = gt_detections(video.ground_truth, width=rec.width, height=rec.height, n_frames=rec.n_frames)
        pairs[path.name] = (video.ground_truth, track(dets, "sperm", fps=rec.fps, um_per_px=rec.um_per_px))
        n_frames[path.name] = rec.n_frames
    ref = evaluate_sequences(pairs, metric="centre", gate=10.0, n_frames=n_frames)
    ours = board[(board["detector"] == "gt") & (board["tracker"] == "sperm")].set_index("video")
    for row in ("1", "2", "OVERALL"):
        for col in ("HOTA", "DetA", "AssA", "MOTA", "IDF1"):
            assert ours.loc[row, col] == pytest.approx(100 * ref.loc[row, col], rel=1e-12)
        for col in ("IDSW", "FP", "FN"):
            assert ours.loc[row, col] == ref.loc[row, col]


def test_kinematic_and_grade_errors(bench):
    _, out = bench
    kin = pd.read_csv(out / "kinematics_error.csv", dtype={"video": str})
    assert len(kin) == 2 * 4 * 3
    assert set(kin["reference"]) == {"truth"}
    assert set(kin.loc[kin["detector"] == "gt", "matching"]) == {"labels"}
    assert set(kin.loc[kin["detector"] == "blob", "matching"]) == {"distance"}
    gt_sperm = kin[(kin["video"] == "OVERALL") & (kin["detector"] == "gt") & (kin["tracker"] == "sperm")].iloc[0]
    assert gt_sperm["matched_pct"] > 85 and gt_sperm["prog_mdape"] < 10
    grades = pd.read_csv(out / "grade_error.csv", dtype={"video": str})
    assert set(grades["reference"]) == {"truth"}
    per_video = grades[grades["video"] != "OVERALL"]
    assert len(per_video) == 2 * 4 * 2 * 3  # combos x videos x categories
    assert np.allclose(per_video["error_pct"], per_video["predicted_pct"] - per_video["reference_pct"],
                       equal_nan=True)
    overall = grades[grades["video"] == "OVERALL"]
    assert set(overall["category"]) == {"progressive", "non_progressive", "immotile", "all"}
    assert (overall["n"] == overall["category"].map({"all": 6}).fillna(2)).all()


def test_grade_truth_is_the_synthetic_objects(bench, synth):
    from spermtrack.io.clinical import motility_columns, read_clinical_csv

    _, out = bench
    grades = pd.read_csv(out / "grade_error.csv", dtype={"video": str})
    truth = motility_columns(read_clinical_csv(synth / "semen_analysis_data_Train.csv"))  # written by synth
    rows = grades[(grades["video"] == "1") & (grades["detector"] == "gt") & (grades["tracker"] == "sort")]
    for row in rows.itertuples():
        assert row.reference_pct == pytest.approx(truth.loc["1", row.category], abs=0.006)  # CSV has 2 decimals


def test_markdown_is_sorted_and_carries_the_anchors(bench):
    board, out = bench
    text = (out / "leaderboard.md").read_text()
    for needle in ("74.3", "71.2", "84.8", "Sensors 2024, 24(11):3493", "Sensors 2025, 25(24):7539",
                   "not a like-for-like comparison", "synthetic VISEM-Tracking twin"):
        assert needle in text, needle
    first_table = text.split("## Overall")[1].split("##")[0]
    rows = [line for line in first_table.splitlines() if line.startswith("| ") and "detector" not in line]
    hota = [float(r.split("|")[3]) for r in rows]
    assert len(rows) == 8 and hota == sorted(hota, reverse=True)
    assert "## Kinematic accuracy" in text and "## Motility percentages" in text


def test_provenance(bench):
    _, out = bench
    record = json.loads((out / "benchmark.json").read_text())
    assert record["dataset"]["kind"] == "visem" and record["dataset"]["synthetic"] is True
    assert record["dataset"]["videos"] == ["1", "2"]
    assert set(record["trackers"]) == set(TRACKERS.split(",")) and record["trackers"]["sperm"]["tracker"] == "sperm"
    assert record["trackers"]["bytetrack"] == {"tracker": "bytetrack", "peer": "trackers", "fps": 50.0}
    assert set(record["detectors"]) == {"gt", "blob"} and record["metric"] == "centre" and record["gate"] == 10.0
    assert record["kinematics"]["name"] == "who2021" and "versions" in record


# ----------------------------------------------------------------------------------------------------------------------
# Options, skips and failures
# ----------------------------------------------------------------------------------------------------------------------
def test_noisy_gt_detections(synth, tmp_path):
    board = run_benchmark(synth, detectors=["gt"], trackers=["sperm"], out_dir=tmp_path, progress=False,
                          det_noise="jitter=0.5,miss=0.1,fp=2,seed=0", um_per_px=VISEM_UM_PER_PX)
    assert set(board["detector"]) == {"gt+noise"}
    record = json.loads((tmp_path / "benchmark.json").read_text())
    assert record["det_noise"]["miss_rate"] == 0.1 and record["det_noise"]["fp_per_frame"] == 2
    assert "missed" in (tmp_path / "leaderboard.md").read_text()


def test_names_are_checked(synth, tmp_path):
    with pytest.raises(InputError, match="unknown tracker 'deepsort'"):
        run_benchmark(synth, detectors="gt", trackers="sperm,deepsort", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    with pytest.raises(InputError, match="unknown detector"):
        run_benchmark(synth, detectors="gt,sift", trackers="sort", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    with pytest.raises(InputError, match="at least one tracker"):
        run_benchmark(synth, detectors="gt", trackers="", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    from spermtrack.tracker import make_tracker
    from spermtrack.tracker.peers import PeerTracker
    from spermtrack.tracker.registry import PresetTracker

    assert isinstance(make_tracker("sort"), PresetTracker) and isinstance(make_tracker("sperm_online"), PresetTracker)
    assert isinstance(make_tracker("bytetrack"), PeerTracker)  # the roboflow peer, not our IoU preset


def test_missing_peer_and_checkpoint_are_skipped_with_a_note(synth, tmp_path, monkeypatch):
    import spermtrack.detectors as detectors
    import spermtrack.tracker.peers as peers

    real_available, real_make = peers.available_peers, detectors.make_detector
    monkeypatch.setattr(peers, "available_peers", lambda: {**real_available(), "trackpy": False})

    def make_detector(name, **options):
        if name == "yolo":
            raise InputError("weights file not found: train one first")
        return real_make(name, **options)

    monkeypatch.setattr(detectors, "make_detector", make_detector)
    board = run_benchmark(synth, detectors="gt,yolo", trackers="sort,trackpy", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    assert set(board["tracker"]) == {"sort"} and set(board["detector"]) == {"gt"}
    notes = json.loads((tmp_path / "benchmark.json").read_text())["notes"]
    assert any("tracker trackpy skipped" in n and "pip install trackpy" in n for n in notes)
    assert any("detector yolo skipped" in n and "weights file not found" in n for n in notes)
    assert "## Notes" in (tmp_path / "leaderboard.md").read_text()


def test_a_failing_tracker_is_left_out_of_the_whole_leaderboard(synth, tmp_path, monkeypatch):
    import spermtrack.scoring.grid as grid

    real = grid._run_tracker

    def flaky(dets, name, rec):
        if name == "trackpy" and rec.source.endswith("2"):
            raise RuntimeError("boom")
        return real(dets, name, rec)

    monkeypatch.setattr(grid, "_run_tracker", flaky)
    board = run_benchmark(synth, detectors="gt", trackers="sort,trackpy", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    assert set(board["tracker"]) == {"sort"}  # no half-scored OVERALL for trackpy
    notes = json.loads((tmp_path / "benchmark.json").read_text())["notes"]
    assert any("trackpy left out" in n and "boom" in n for n in notes)


def test_real_visem_root_defaults_to_the_val_videos_and_uses_the_lab(real_like, tmp_path):
    data = open_dataset(real_like, um_per_px=VISEM_UM_PER_PX)
    assert [s.name for s in data.sequences] == ["52"]  # val videos present; 54 and 60 cannot be scored
    assert not data.synthetic and data.clinical_path == real_like / "semen_analysis_data_Train.csv"
    assert any("54 skipped" in n and "labels_ftid" in n for n in data.notes)
    assert any("60 skipped" in n and "no object" in n for n in data.notes)
    board = run_benchmark(real_like, detectors="gt", trackers="sperm", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    assert set(board["video"]) == {"52", "OVERALL"}
    grades = pd.read_csv(tmp_path / "grade_error.csv", dtype={"video": str})
    assert set(grades["reference"]) == {"lab", "gt_tracks"}
    lab = grades[(grades["reference"] == "lab") & (grades["video"] == "52")].set_index("category")
    assert lab.loc["progressive", "reference_pct"] == 30.5  # read in VISEM's dialect (decimal comma)
    kin = pd.read_csv(tmp_path / "kinematics_error.csv", dtype={"video": str})
    assert set(kin["reference"]) == {"gt_tracks"}
    assert "lab (semen analysis CSV)" in (tmp_path / "leaderboard.md").read_text()
    # asking for the train video explicitly works too; asking for a missing one is an error
    assert [s.name for s in open_dataset(real_like, videos=[11], um_per_px=VISEM_UM_PER_PX).sequences] == ["11"]
    with pytest.raises(InputError, match="has no video"):
        open_dataset(real_like, videos=["82"], um_per_px=VISEM_UM_PER_PX)
    with pytest.raises(InputError, match="no video with ground-truth identities"):
        open_dataset(real_like, videos=["54", "60"], um_per_px=VISEM_UM_PER_PX)


def test_trajectory_table_with_its_lab_csv(table_file, tmp_path):
    board = run_benchmark(table_file, detectors="gt,blob", trackers="sperm,sort", out_dir=tmp_path,
                          progress=False, det_noise="jitter=0.3,seed=1", um_per_px=VISEM_UM_PER_PX)
    assert set(board["detector"]) == {"gt+noise"} and set(board["video"]) == {"1", "2", "OVERALL"}
    record = json.loads((tmp_path / "benchmark.json").read_text())
    assert record["dataset"]["kind"] == "tracks"
    assert any("detector blob skipped" in n for n in record["notes"])
    grades = pd.read_csv(tmp_path / "grade_error.csv", dtype={"video": str})
    assert set(grades["reference"]) == {"lab", "gt_tracks"}


def test_motchallenge_root_runs_on_public_detections(mot_root, tmp_path):
    board = run_benchmark(mot_root, detectors="gt,blob", trackers="sort,sperm", out_dir=tmp_path, progress=False, um_per_px=VISEM_UM_PER_PX)
    assert set(board["detector"]) == {"gt", "public"} and set(board["video"]) == {*TUD, "OVERALL"}
    record = json.loads((tmp_path / "benchmark.json").read_text())
    assert record["metric"] == "iou" and record["gate"] == 0.5 and record["kinematics"] is None
    assert any("replaced by 'public'" in n for n in record["notes"])
    assert len(pd.read_csv(tmp_path / "kinematics_error.csv")) == 0  # pedestrians have no sperm kinematics
    gt_sort = board[(board["detector"] == "gt") & (board["video"] == "OVERALL") & (board["tracker"] == "sort")]
    assert gt_sort["MOTA"].iloc[0] > 50
    assert not (tmp_path / "bland_altman.png").exists()


# ----------------------------------------------------------------------------------------------------------------------
# evaluate_pair
# ----------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def predictions(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MOT result files per video: video 1 = its ground truth, video 2 = ground truth with ids swapped halfway."""
    from spermtrack.io.mot import write_mot
    from spermtrack.io.visem import read_visem_video

    folder = tmp_path_factory.mktemp("pred")
    write_mot(folder / "1.txt", read_visem_video(synth / "1", um_per_px=VISEM_UM_PER_PX).ground_truth)
    gt2 = read_visem_video(synth / "2", um_per_px=VISEM_UM_PER_PX).ground_truth.copy()
    late = gt2["frame"] >= 25
    gt2.loc[late, "track_id"] = gt2.loc[late, "track_id"] + 1000
    (folder / "2").mkdir()
    write_mot(folder / "2" / "tracks_mot.txt", gt2)
    return folder


def test_evaluate_perfect_and_fragmented(synth, predictions):
    one = evaluate_pair(synth / "1", predictions / "1.txt")
    assert list(one.index) == ["1", "OVERALL"]
    assert one.loc["1", "HOTA"] == pytest.approx(100.0) and one.loc["1", "MOTA"] == pytest.approx(100.0)
    assert one.loc["1", "IDF1"] == pytest.approx(100.0) and one.loc["1", "IDSW"] == 0
    both = evaluate_pair(synth, predictions)
    assert list(both.index) == ["1", "2", "OVERALL"]
    assert both.loc["2", "MOTA"] < 100 and both.loc["2", "IDSW"] > 0 and both.loc["2", "IDF1"] < 100
    assert both.loc["OVERALL", "IDSW"] == both.loc["2", "IDSW"]
    fractions = evaluate_pair(synth, predictions, percent=False)
    assert fractions.loc["2", "HOTA"] == pytest.approx(both.loc["2", "HOTA"] / 100)


def test_evaluate_matches_trackeval_on_motchallenge(tmp_path):
    """The TUD-Campus result scored from its files agrees with TrackEval's own file-based evaluation."""
    import trackeval

    name = "TUD-Campus"
    (tmp_path / "gt" / name / "gt").mkdir(parents=True)
    (tmp_path / "trk" / "T" / "data").mkdir(parents=True)
    shutil.copy(_motmetrics_data() / name / "gt.txt", tmp_path / "gt" / name / "gt" / "gt.txt")
    shutil.copy(_motmetrics_data() / name / "test.txt", tmp_path / "trk" / "T" / "data" / f"{name}.txt")
    evaluator = trackeval.Evaluator({"PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
                                     "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
                                     "LOG_ON_ERROR": None})
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "trk"),
        "OUTPUT_FOLDER": str(tmp_path / "out"), "BENCHMARK": "MOT15", "SEQ_INFO": {name: TUD[name]},
        "SKIP_SPLIT_FOL": True, "PRINT_CONFIG": False})
    quiet = {"PRINT_CONFIG": False}
    with contextlib.redirect_stdout(io.StringIO()):
        res, _ = evaluator.evaluate([dataset], [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(quiet),
                                                trackeval.metrics.Identity(quiet)])
    ref = res["MotChallenge2DBox"]["T"][name]["pedestrian"]
    ours = evaluate_pair(tmp_path / "gt" / name / "gt" / "gt.txt", tmp_path / "trk" / "T" / "data" / f"{name}.txt",
                         metric="iou", percent=False)
    assert list(ours.index) == [name, "OVERALL"]
    row = ours.loc[name]
    for key in ("HOTA", "DetA", "AssA", "LocA"):
        assert row[key] == pytest.approx(float(np.mean(ref["HOTA"][key])), abs=1e-12), key
    assert row["MOTA"] == pytest.approx(ref["CLEAR"]["MOTA"], abs=1e-12)
    assert row["IDF1"] == pytest.approx(ref["Identity"]["IDF1"], abs=1e-12)
    for ours_key, theirs in (("FP", "CLR_FP"), ("FN", "CLR_FN"), ("TP", "CLR_TP")):
        assert row[ours_key] == ref["CLEAR"][theirs]
    # metric=None chooses IoU for MOTChallenge files by itself
    auto = evaluate_pair(tmp_path / "gt" / name / "gt" / "gt.txt", tmp_path / "trk" / "T" / "data" / f"{name}.txt",
                         metric=None, percent=False)
    assert auto.loc[name, "HOTA"] == row["HOTA"]


def test_evaluate_motchallenge_root(mot_root, tmp_path):
    for name in TUD:
        shutil.copy(_motmetrics_data() / name / "test.txt", tmp_path / f"{name}.txt")
    table = evaluate_pair(mot_root, tmp_path, metric="iou")
    assert list(table.index) == [*TUD, "OVERALL"] and table["HOTA"].between(0, 100).all()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_bad_predictions(synth, predictions, tmp_path):
    good = (predictions / "1.txt").read_text().splitlines()
    with pytest.raises(InputError, match=r"dup\.txt:2: id \d+ occurs twice in frame 1"):
        evaluate_pair(synth / "1", _write(tmp_path / "dup.txt", [good[0], good[0]]))
    with pytest.raises(InputError, match="outside the video's frames 0..49"):
        evaluate_pair(synth / "1", _write(tmp_path / "late.txt", good + ["999,1,10,10,5,5,1,-1,-1,-1"]))
    with pytest.raises(InputError, match=r"neg\.txt:1: id must be an integer >= 0"):
        evaluate_pair(synth / "1", _write(tmp_path / "neg.txt", ["1,-3,10,10,5,5,1,-1,-1,-1"]))
    with pytest.raises(InputError, match="frame must be an integer >= 1"):
        evaluate_pair(synth / "1", _write(tmp_path / "zero.txt", ["0,3,10,10,5,5,1,-1,-1,-1"]))


def test_evaluate_bad_layouts(synth, predictions, tmp_path):
    with pytest.raises(InputError, match="ground truth holds 2 sequences"):
        evaluate_pair(synth, predictions / "1.txt")
    extra = tmp_path / "extra"
    shutil.copytree(predictions, extra)
    shutil.copy(predictions / "1.txt", extra / "99.txt")
    with pytest.raises(InputError, match="sequence\\(s\\) 99 that are not in the ground truth"):
        evaluate_pair(synth, extra)
    os.remove(extra / "99.txt")
    shutil.rmtree(extra / "2")
    with pytest.raises(InputError, match="has no result for sequence\\(s\\) 2"):
        evaluate_pair(synth, extra)
    with pytest.raises(InputError, match="does not exist"):
        evaluate_pair(tmp_path / "nothing", predictions)


def test_evaluate_empty_ground_truth_is_an_error(synth, predictions, tmp_path):
    empty = tmp_path / "7"
    shutil.copytree(synth / "1", empty)
    for f in (empty / "labels_ftid").iterdir():
        f.write_text("")
    with pytest.raises(InputError, match="ground truth has no object: there is nothing to score"):
        evaluate_pair(empty, predictions / "1.txt")
    labels_only = tmp_path / "8"
    shutil.copytree(synth / "1", labels_only)
    shutil.rmtree(labels_only / "labels_ftid")
    with pytest.raises(InputError, match="no labels_ftid"):
        evaluate_pair(labels_only, predictions / "1.txt")


def test_undefined_metrics_of_an_empty_sequence_are_nan(synth, predictions, tmp_path):
    """Among several sequences, one without objects is scored: MOTA undefined (NaN), HOTA 0 (all FP)."""
    root = tmp_path / "root"
    shutil.copytree(synth, root)
    for f in (root / "2" / "labels_ftid").iterdir():
        f.write_text("")
    table = evaluate_pair(root, predictions)
    assert math.isnan(table.loc["2", "MOTA"]) and table.loc["2", "HOTA"] == 0 and table.loc["2", "FP"] > 0
    assert table.loc["1", "MOTA"] == pytest.approx(100.0)
