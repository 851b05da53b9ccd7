"""The pipeline end to end on a short synthetic clip: every detection kept, true grades recovered, timings."""


import numpy as np
import pytest

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError
from spermtrack.io.visem import read_visem_video
from spermtrack.pipeline import PipelineConfig, run_pipeline
from spermtrack.synth import SynthConfig, write_synthetic_dataset


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(seconds=3.0, fps=25.0, density=12.0)
    (folder,) = write_synthetic_dataset(out, n_videos=1, config=config, seed=4, progress=False)
    return read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)


@pytest.mark.parametrize("detector", ["gt", "blob"])
def test_pipeline_keeps_every_detection_and_times_each_stage(clip, detector):
    timings = {}
    analysis = run_pipeline(clip, PipelineConfig(detector=detector), timings=timings)
    measured = analysis.tracks[~analysis.tracks["interpolated"].astype(bool)]
    assert len(measured) == len(analysis.detections)  # every detection kept; interpolated rows are extra
    assert analysis.kinematics["track_id"].is_unique
    assert analysis.detector_config["detector"] == detector
    expected = {"detect", "track", "kinematics"} | ({"decode"} if detector == "blob" else set())
    assert set(timings) == expected and all(v >= 0 for v in timings.values())


def test_gt_pipeline_recovers_the_true_grades(clip):
    from spermtrack.io.synth_truth import read_synthetic_truth

    analysis = run_pipeline(clip, PipelineConfig(detector="gt"))
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


class _FixedModel:
    """A stand-in per-sperm model with known outputs: every clip is 'c' when its mean is above the median, else 'd'."""

    arch = "fixed"
    info = {"val": {"balanced_accuracy": 0.5}}

    def predict_proba(self, clips):
        bright = clips.mean(axis=(1, 2, 3)) > np.median(clips.mean(axis=(1, 2, 3)))
        return np.where(bright[:, None], [[0.1, 0.1, 0.7, 0.1]], [[0.1, 0.1, 0.1, 0.7]])


def test_per_sperm_grades_sit_beside_the_kinematic_ones(clip):
    from spermtrack.pipeline import per_sperm_grades

    analysis = run_pipeline(clip, PipelineConfig(detector="gt"))
    table, block = per_sperm_grades(clip, analysis.tracks, analysis.kinematics, _FixedModel())
    graded = table[table["graded"].astype(bool)]
    assert block["n"] == len(graded) and graded["grade_video"].isin(["c", "d"]).all()
    assert table.loc[~table["graded"].astype(bool), "grade_video"].isna().all()
    progressive = graded["grade"].isin(["a", "b"])
    assert (graded.loc[progressive, "grade_combined"] == graded.loc[progressive, "grade"]).all()
    assert (graded.loc[~progressive, "grade_combined"] == graded.loc[~progressive, "grade_video"]).all()
    assert block["disagreements"] == int((graded["grade_video"] != graded["grade"]).sum())
    video = block["percent_video"]
    assert video["progressive"] == pytest.approx(20.0) and video["c"] + video["d"] == pytest.approx(80.0)
    assert block["percent_combined"]["progressive"] == pytest.approx(100 * progressive.mean(), abs=0.01)


def test_analyze_with_a_per_sperm_checkpoint(clip, tmp_path):
    import json

    import pandas as pd

    from spermtrack.cli import main
    from spermtrack.regressors.per_sperm import PerSpermModel

    checkpoint = PerSpermModel("cnn3d", seed=1).save(tmp_path / "model.pt")
    out = tmp_path / "out"
    assert main(["analyze", str(clip.video_path), "--um-per-px", "0.351", "--detector", "blob", "--no-video",
                 "--per-sperm-model", str(checkpoint), "--out", str(out), "--quiet"]) == 0
    kin = pd.read_csv(out / "kinematics.csv")
    assert {"p_a", "p_b", "p_c", "p_d", "grade_video", "grade_combined", "grade_disagrees"} <= set(kin.columns)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["per_sperm_model"]["model"]["arch"] == "cnn3d"
    assert "Per-sperm video model" in (out / "report.html").read_text()
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    assert main(["analyze", str(clip.video_path), "--um-per-px", "0.351", "--no-video", "--per-sperm-model",
                 str(bad), "--out", str(tmp_path / "o2"), "--quiet"]) == 1
