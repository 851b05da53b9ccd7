"""The pipeline end to end on a short synthetic clip, the report image, and the demo command."""

import json

import numpy as np
import pytest

from spermtrack.cli import main
from spermtrack.errors import InputError
from spermtrack.io.visem import read_visem_video
from spermtrack.pipeline import PipelineConfig, analyse_video, read_frame, write_analysis
from spermtrack.report import annotate_frame, report_image
from spermtrack.synth import SynthConfig, write_synthetic_dataset


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(seconds=3.0, fps=25.0, density=12.0)
    (folder,) = write_synthetic_dataset(out, n_videos=1, config=config, seed=4, progress=False)
    return read_visem_video(folder)


@pytest.mark.parametrize("detector", ["gt", "blob"])
def test_pipeline_writes_every_output(clip, tmp_path, detector):
    config = PipelineConfig(detector=detector)
    analysis = analyse_video(clip, config)
    measured = analysis.tracks[~analysis.tracks["interpolated"].astype(bool)]
    assert len(measured) == len(analysis.detections)  # every detection kept; interpolated rows are extra
    assert analysis.kinematics["track_id"].is_unique
    files = write_analysis(tmp_path, analysis, pipeline=config, frame=read_frame(clip, 10), frame_index=10)
    names = {p.name for p in files}
    assert {"detections.csv", "tracks.csv", "tracks_mot.txt", "kinematics.csv", "summary.json", "report.png"} <= names
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["provenance"]["pipeline"]["detector"] == detector
    assert "numpy" in summary["provenance"]["versions"]
    assert [p.name for p in tmp_path.glob(".*")] == [".spermtrack-output"]  # no temporary files left behind


def test_gt_pipeline_recovers_the_true_grades(clip):
    from spermtrack.io.visem import read_synthetic_truth

    analysis = analyse_video(clip, PipelineConfig(detector="gt"))
    _, objects = read_synthetic_truth(clip.folder)
    true_grade = dict(zip(objects["track_id"], objects["grade"].astype(str)))
    tracked = analysis.tracks[analysis.tracks["track_id"] >= 0]
    source = tracked.groupby("track_id")["gt_track_id"].agg(lambda s: s.mode().iloc[0])
    graded = analysis.kinematics[analysis.kinematics["graded"].astype(bool)]
    assert len(graded) >= 5
    agree = [true_grade[source[t]] == g for t, g in zip(graded["track_id"], graded["grade"])]
    assert np.mean(agree) >= 0.8


def test_pipeline_config_rejects_unknown_names():
    with pytest.raises(InputError, match="PipelineConfig.detector must be one of"):
        PipelineConfig(detector="sift")
    with pytest.raises(InputError, match="PipelineConfig.tracker must be one of.*sperm"):
        PipelineConfig(tracker="spermtrack")
    with pytest.raises(InputError, match="unknown PipelineConfig setting.*det_noise"):
        PipelineConfig.from_dict({"detector": "gt", "det_noise": "jitter=1"})


def test_annotated_frame_draws_tracks_in_grade_colours():
    frame = np.full((60, 80), 50, np.uint8)
    import pandas as pd

    tracks = pd.DataFrame({"frame": [0, 1, 2], "x": [20.0, 22.0, 24.0], "y": [30.0, 30.0, 30.0], "w": 10.0,
                           "h": 10.0, "score": 1.0, "class_id": 0, "track_id": 7})
    img = annotate_frame(frame, tracks, 2, grades={7: "a"}, scale=2)
    assert img.shape == (120, 160, 3)
    green = (img[:, :, 1] > 150) & (img[:, :, 0] < 150)
    assert green.any()
    panel = report_image(frame, tracks, 2, {"percent": {"a": 100.0, "b": 0.0, "c": 0.0, "d": 0.0}})
    assert panel.shape[0] == 120 and panel.shape[1] > 160


def test_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seconds", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "measured %" in out and "true %" in out
    assert (tmp_path / "demo" / "results" / "report.png").is_file()
    assert (tmp_path / "demo" / "results" / "kinematics.csv").is_file()
