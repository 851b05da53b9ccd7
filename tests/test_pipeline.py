"""The pipeline end to end on a short synthetic clip: every detection kept, true grades recovered, timings."""


import numpy as np
import pytest

from spermtrack.errors import InputError
from spermtrack.io.visem import read_visem_video
from spermtrack.pipeline import PipelineConfig, run_pipeline
from spermtrack.synth import SynthConfig, write_synthetic_dataset


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(seconds=3.0, fps=25.0, density=12.0)
    (folder,) = write_synthetic_dataset(out, n_videos=1, config=config, seed=4, progress=False)
    return read_visem_video(folder)


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
    from spermtrack.io.visem import read_synthetic_truth

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
