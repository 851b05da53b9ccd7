"""The analysis product on one video: the Python API, every output file, the CLI and the demo."""

from __future__ import annotations

import hashlib
import json
import re

import cv2
import numpy as np
import pandas as pd
import pytest

import spermtrack
from spermtrack.analysis import OUTPUT_FILES, AnalyzeConfig
from spermtrack.cli import main
from spermtrack.errors import InputError
from spermtrack.pipeline import PipelineConfig
from spermtrack.synth import SynthConfig, write_synthetic_dataset


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A 2-s synthetic VISEM-Tracking video folder (mp4 + frames + labels)."""
    out = tmp_path_factory.mktemp("sample")
    (folder,) = write_synthetic_dataset(out, n_videos=1, config=SynthConfig(seconds=2.0, fps=25.0, density=10.0),
                                        seed=11, progress=False)
    return folder


@pytest.fixture(scope="module")
def result(sample):
    return spermtrack.analyze(sample / f"{sample.name}.mp4", um_per_px=0.351, progress=False)


def test_the_api_returns_the_tables_and_a_summary(result):
    assert result.video_id == "1"
    assert result.recording.fps == pytest.approx(25.0)  # read from the container
    assert {"frame", "track_id", "x", "y", "x_s", "y_s"} <= set(result.tracks.columns)
    assert result.kinematics["track_id"].is_unique
    pct = result.summary["percent"]
    assert sum(pct[g] for g in "abcd") == pytest.approx(100.0)
    assert set(result.timings) >= {"decode", "detect", "track", "kinematics"}
    assert re.fullmatch(r"1: progressive \d+\.\d % \[\d+-\d+\], .* \(\d+ graded tracks; 95 % intervals in brackets\)",
                        result.one_line())


def test_write_puts_every_output_in_one_folder(result, sample, tmp_path):
    out = result.write(tmp_path / "res")
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUT_FILES, ".spermtrack-output"])
    tracks = pd.read_csv(out / "tracks.csv")
    parquet = pd.read_parquet(out / "tracks.parquet")
    assert len(tracks) == len(parquet) == len(result.tracks)
    np.testing.assert_allclose(tracks["x_s"], parquet["x_s"], atol=1e-6)
    mot = np.loadtxt(out / "tracks_mot.txt", delimiter=",", ndmin=2)
    assert len(mot) == int((result.tracks["track_id"] >= 0).sum())
    summary = json.loads((out / "summary.json").read_text())
    digest = hashlib.sha256((sample / f"{sample.name}.mp4").read_bytes()).hexdigest()
    assert summary["input_sha256"] == digest
    assert summary["analysis_key"] == result.config.key(digest)
    assert summary["provenance"]["analysis"]["stages"]["detector"] == "blob"
    assert "numpy" in summary["provenance"]["versions"]
    assert set(summary["timings_s"]) >= {"decode", "detect", "track", "kinematics", "annotate"}
    kin = pd.read_csv(out / "kinematics.csv")
    assert len(kin) == len(result.kinematics)


def test_the_annotated_video_has_every_frame_in_grade_colours(result, tmp_path):
    out = result.write(tmp_path / "res")
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert n == result.recording.n_frames
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
    cap.set(cv2.CAP_PROP_POS_FRAMES, n // 2)
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape[:2] == (result.recording.height, result.recording.width)
    # The legend swatch of grade a (Okabe-Ito bluish green) is drawn in the top-left corner.
    from spermtrack.drawing import GRADE_COLOURS

    corner = frame[:80, :200].reshape(-1, 3).astype(int)
    assert (np.abs(corner - np.array(GRADE_COLOURS["a"])).sum(axis=1) < 60).sum() > 20


def test_the_report_is_one_self_contained_page(result, tmp_path):
    out = result.write(tmp_path / "res")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched from a network
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5
    import base64

    for data in images:
        img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[0] > 100
    assert "How to read this" in page and "um/s" in page


def test_a_folder_of_frames_needs_a_frame_rate(sample, tmp_path):
    frames = sample / "images"
    with pytest.raises(InputError, match="fps"):
        spermtrack.analyze(frames, um_per_px=0.351, progress=False)
    result = spermtrack.analyze(frames, um_per_px=0.351, fps=25.0, progress=False, annotate=False)
    assert result.recording.n_frames == 50
    out = result.write(tmp_path / "frames")
    assert not (out / "annotated.mp4").exists() and (out / "report.html").is_file()


@pytest.mark.parametrize("bad", [{"um_per_px": 0.0}, {"um_per_px": -1.0}, {"fps": 0.0},
                                 {"stages": {"detector": "sift"}}, {"stages": {"detector": "gt"}},
                                 {"stages": {"preset": "who2010"}}, {"trail_frames": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(InputError):
        AnalyzeConfig.from_dict({"um_per_px": 0.351, **bad})


def test_the_pixel_size_is_never_defaulted():
    with pytest.raises(TypeError, match="um_per_px"):
        AnalyzeConfig()
    with pytest.raises(TypeError, match="um_per_px"):
        spermtrack.analyze("any.mp4")


def test_the_config_round_trips_through_its_dict():
    config = AnalyzeConfig(um_per_px=0.4, stages=PipelineConfig(detector="yolo", preset="visem"), annotate=False)
    assert AnalyzeConfig.from_dict(config.to_dict()) == config


def test_cli_analyze_one_video(sample, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["analyze", str(sample), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("1: progressive") and line.endswith(f"report: {out / 'report.html'}")
    assert (out / "report.html").is_file() and not (out / "annotated.mp4").exists()


def test_cli_analyze_without_calibration_is_a_usage_error(sample, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(sample), "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "--um-per-px" in capsys.readouterr().err


def test_cli_analyze_refuses_a_file_as_output_before_any_work(sample, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["analyze", str(sample), "--um-per-px", "0.351", "--out", str(target), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert str(target) in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "keep me"


def test_demo_analyses_and_scores_the_synthetic_sample(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seconds", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "measured %" in out and "true %" in out and "HOTA" in out
    results = tmp_path / "demo" / "results"
    assert out.strip().endswith(f"report: {results / 'report.html'}")
    score = json.loads((results / "score.json").read_text())
    assert {"tracking", "kinematics", "grades"} <= set(score)
    assert (results / "annotated.mp4").is_file()


def test_a_video_without_sperm_gives_an_empty_report_and_says_why(tmp_path, capsys):
    path = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (320, 240))
    for _ in range(30):
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    assert main(["analyze", str(path), "--um-per-px", "0.5", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "found no object in any of the 30 frames" in captured.err
    assert "progressive n/a" in captured.out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"]["graded"] == 0 and summary["notes"]
    assert "found no object" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
