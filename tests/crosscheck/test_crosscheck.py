"""Regression data sets, prepared inputs and their cache, 'regress train/predict' and 'crosscheck'."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.cli import main
from spermtrack.crosscheck.data import open_regression_data
from spermtrack.crosscheck.inputs import InputSettings, prepare_inputs
from spermtrack.errors import InputError
from spermtrack.io.visem import read_visem_video
from spermtrack.synth import SynthConfig, write_synthetic_dataset

CSV = "semen_analysis_data_Train.csv"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Four 1.2-s synthetic videos with their true percentages in the VISEM CSV dialect."""
    out = tmp_path_factory.mktemp("regress") / "data"
    write_synthetic_dataset(out, n_videos=4, config=SynthConfig(seconds=1.2, fps=25.0, density=10.0,
                                                                 write_images=False), seed=61, progress=False)
    return out


def _copy_with_csv(dataset, tmp_path, text: str | None):
    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    if text is None:
        (root / CSV).unlink()
    else:
        (root / CSV).write_text(text, encoding="utf-8")
    return root


def test_targets_are_proportions_of_the_four_grades(dataset):
    data = open_regression_data(dataset)
    assert data.video_ids == ["1", "2", "3", "4"] and data.categories == ("a", "b", "c", "d")
    np.testing.assert_allclose(data.targets.sum(axis=1), 1.0)
    three = data.percent()
    assert list(three.columns) == ["progressive", "non_progressive", "immotile"]
    np.testing.assert_allclose(three.sum(axis=1), 100.0)


@pytest.mark.parametrize("text, message", [
    (None, "has no semen-analysis CSV"),
    ("ID;Progressive motility (%);Non progressive sperm motility (%);Immotile sperm (%)\n1;10;20;70\n2;10;20;70\n"
     "3;10;20;70\n", "has no row for video\\(s\\) 4"),
    ("ID;Progressive motility (%);Non progressive sperm motility (%);Immotile sperm (%)\n1;10;20;70\n2;10;20;70\n"
     "3;10;;70\n4;10;20;70\n", "ID 3: no value in non_progressive"),
    ("ID;Progressive motility (%);Non progressive sperm motility (%);Immotile sperm (%)\n1;10;20;70\n2;10;20;70\n"
     "3;10;20;20\n4;10;20;70\n", "ID 3: .* sum to 50.0 %"),
])
def test_bad_targets_are_one_line_errors(dataset, tmp_path, text, message):
    root = _copy_with_csv(dataset, tmp_path, text)
    with pytest.raises(InputError, match=message):
        open_regression_data(root)


def test_three_categories_and_rows_without_a_video(dataset, tmp_path):
    text = ("ID;Progressive motility (%);Non progressive sperm motility (%);Immotile sperm (%)\n"
            "1;10;20;70\n2;30;20;50\n3;50;20;30\n4;0;10;90\n99;1;1;98\n")
    data = open_regression_data(_copy_with_csv(dataset, tmp_path, text))
    assert data.categories == ("progressive", "non_progressive", "immotile")
    assert data.notes == [f"1 row(s) of {CSV} have no video in {tmp_path / 'copy'} (not used)"]
    assert data.targets.loc["2"].tolist() == pytest.approx([0.3, 0.2, 0.5])


def test_inputs_are_physical_and_cached(dataset, tmp_path, monkeypatch):
    video = read_visem_video(dataset / "1", um_per_px=VISEM_UM_PER_PX)
    settings = InputSettings.quick()
    first = prepare_inputs(video, settings, {"frames", "flow", "kinematics"}, cache_dir=tmp_path)
    inputs = first.inputs
    assert inputs.frames.shape == (settings.max_frames, 60, 80) and inputs.frames.dtype == np.uint8
    assert inputs.flow.shape == (3, 8, 32, 32)
    speed = np.hypot(inputs.flow[:, 0], inputs.flow[:, 1])
    assert (inputs.flow[:, 2] >= speed - 1e-4).all()  # mean speed >= speed of the mean velocity
    assert inputs.flow[:, 2].max() < 30  # units of 10 um/s: no sperm swims at 300 um/s
    assert inputs.flow[:, 3].min() >= 0 and inputs.flow[:, 3].max() > 1  # cells stand out of the noise
    assert inputs.flow[:, 4].max() < 30  # the long gap's speed, same units
    assert (inputs.flow[:, 5] >= inputs.flow[:, 2] - 1e-4).all()  # a block's maximum speed >= its mean
    assert (inputs.flow[:, 7] >= inputs.flow[:, 3] - 1e-4).all()
    assert set(first.tracking_percent) >= {"progressive", "non_progressive", "immotile"}
    import spermtrack.crosscheck.inputs as module

    def fail(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(module, "frames_and_flow", fail)
    monkeypatch.setattr(module, "tracking_path", fail)
    again = prepare_inputs(video, settings, {"frames", "flow", "kinematics"}, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.inputs.frames, inputs.frames)
    np.testing.assert_allclose(again.inputs.flow, inputs.flow)
    assert json.dumps(again.tracking_percent, sort_keys=True) == json.dumps(first.tracking_percent, sort_keys=True)


@pytest.mark.heavy
def test_regress_train_and_predict_round_trip(dataset, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(["regress", "train", str(dataset), "--model", "r3d18", "--folds", "2", "--quick", "--out", str(out),
                 "--cache", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validation by video on 4 videos" in printed and "progressive" in printed
    assert {p.name for p in out.iterdir()} >= {"model.pt", "cv_predictions.csv", "metrics.csv", "agreement.png",
                                                "regress.json"}
    record = json.loads((out / "regress.json").read_text())["regress"]
    assert sorted(sum(record["folds"], [])) == ["1", "2", "3", "4"]
    cv = pd.read_csv(out / "cv_predictions.csv", dtype={"video": str})
    np.testing.assert_allclose(cv[["progressive_pred", "non_progressive_pred", "immotile_pred"]].sum(axis=1), 100.0)
    assert main(["regress", "predict", str(dataset / "2" / "2.mp4"), "--model", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{dataset / '2' / '2.mp4'}: progressive") and "[model r3d18]" in line


def test_regress_train_with_more_folds_than_videos_writes_nothing(dataset, tmp_path, capsys):
    code = main(["regress", "train", str(dataset), "--model", "zeror", "--folds", "5", "--out", str(tmp_path / "m"),
                 "--quiet"])
    assert code == 1
    assert "5 folds need at least 5 videos, the data set has 4" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_crosscheck_puts_tracking_beside_every_model(dataset, tmp_path, capsys):
    out = tmp_path / "cc"
    code = main(["crosscheck", str(dataset), "--train", "--folds", "2", "--quick", "--out", str(out), "--cache",
                 str(tmp_path / "cache"), "--quiet", "--margin", "10"])
    assert code == 0
    printed = capsys.readouterr().out
    for source in ("tracking", "zeror", "trackfeat", "flow2d", "r3d18", "aefeat", "trails"):
        assert source in printed
    table = pd.read_csv(out / "crosscheck.csv", dtype={"video": str})
    assert list(table["video"]) == ["1", "2", "3", "4"]
    assert {"truth_progressive", "tracking_progressive", "flow2d_immotile"} <= set(table.columns)
    # 1.2-s clips give few graded tracks: the tracking path says so beside its numbers, never a silent blank
    assert table["tracking_note"].str.contains("could be graded").all()
    record = json.loads((out / "crosscheck.json").read_text(encoding="utf-8"))["crosscheck"]
    assert any("tracking path: only" in n for n in record["notes"])
    errors = pd.read_csv(out / "errors.csv")
    assert set(errors["source"]) == {"tracking", "zeror", "trackfeat", "flow2d", "r3d18", "aefeat", "trails"}
    assert {"mae", "pearson_r", "pearson_p", "bias", "loa_low", "loa_high", "seconds"} <= set(errors.columns)
    dis = pd.read_csv(out / "disagreements.csv", dtype={"video": str})
    assert (dis["difference"].abs() > 10).all()
    np.testing.assert_allclose(dis["model_pct"] - dis["tracking_pct"], dis["difference"], atol=1e-9)
    page = (out / "crosscheck.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 7 and "http" not in page.split("<h2>Settings")[0]
    assert "tracking path blob + sperm +\nwho2021" in page and "None" not in page.split("<h2>")[0]
    assert "MAE per category" in (out / "crosscheck.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, fps, needed", [
    ("zeror", 50.0, 1),        # reads nothing of the video
    ("r3d18", 50.0, 7),        # quick clips of 4 frames, 0.04 s = 2 frames apart: 3 * 2 + 1
    ("r3d18", 25.0, 4),        # ... 1 frame apart
    ("r3d18", 45.0, 7),        # ... 1.8 frames apart: the last at 5.4, between frames 5 and 6
    ("flow2d", 50.0, 26),      # one pair 0.5 s = 25 frames apart (the long gap)
    ("trackfeat", 50.0, 51),   # a track of who2021's 1 s: 50 steps, 51 frames
])
def test_the_frames_a_model_needs_from_a_video(name, fps, needed):
    from spermtrack.crosscheck.train import frames_needed
    from spermtrack.regressors import make_regressor

    n, why = frames_needed(make_regressor(name, quick=True), InputSettings.quick(), fps)
    assert n == needed and why


def test_kept_frames_are_frame_step_s_apart_at_any_frame_rate(tmp_path):
    import cv2

    from spermtrack.crosscheck.inputs import frames_and_flow, kept_frame_positions
    from spermtrack.io.inputs import open_video

    np.testing.assert_allclose(kept_frame_positions(4, 50.0, 0.04), [0, 2, 4, 6])
    np.testing.assert_allclose(kept_frame_positions(4, 45.0, 0.04), [0, 1.8, 3.6, 5.4])
    writer = cv2.VideoWriter(str(tmp_path / "ramp.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 45.0, (64, 48), False)
    for i in range(12):                                  # frame i is grey level 10 i
        writer.write(np.full((48, 64), 10 * i, np.uint8))
    writer.release()
    video = open_video(tmp_path / "ramp.mp4", um_per_px=VISEM_UM_PER_PX)
    settings = InputSettings(frame_width=32, frame_height=24, frame_step_s=0.04, max_frames=10)
    frames, flow = frames_and_flow(video, settings, True, False, False)
    assert flow is None and frames.shape == (7, 24, 32)  # 0, 1.8, ..., 10.8; 12.6 is past the last frame (11)
    np.testing.assert_allclose(frames.mean(axis=(1, 2)), 18 * np.arange(7), atol=2.5)


def test_the_contrast_of_a_video(dataset, tmp_path):
    import cv2

    from spermtrack.crosscheck.train import MIN_CONTRAST, frame_contrast
    from spermtrack.io.inputs import open_video

    assert frame_contrast(read_visem_video(dataset / "1", um_per_px=VISEM_UM_PER_PX)) > 2 * MIN_CONTRAST
    writer = cv2.VideoWriter(str(tmp_path / "grey.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48), False)
    for _ in range(10):
        writer.write(np.full((48, 64), 128, np.uint8))
    writer.release()
    assert frame_contrast(open_video(tmp_path / "grey.mp4", um_per_px=VISEM_UM_PER_PX)) < MIN_CONTRAST


def test_presence_counts_still_cells_that_flow_cannot_see():
    from spermtrack.crosscheck.inputs import presence

    rng = np.random.default_rng(0)
    frame = rng.normal(100, 3, (120, 160)).clip(0, 255).astype(np.uint8)
    mask = np.zeros(frame.shape, bool)
    for y, x in ((30, 40), (60, 100), (90, 130)):
        mask[y - 2:y + 3, x - 3:x + 4] = True
    frame[mask] = 160
    seen = presence(frame)
    assert seen[mask].mean() > 8 * seen[~mask].mean()
    brighter = (frame.astype(np.float64) * 1.3).clip(0, 255).astype(np.uint8)  # units of the noise: same map
    assert presence(brighter)[mask].mean() == pytest.approx(seen[mask].mean(), rel=0.15)


def test_crosscheck_uses_the_shipped_checkpoints_by_default(dataset, tmp_path, capsys):
    """No training: each shipped model predicts every video; disagreements use the combined uncertainty."""
    out = tmp_path / "cc"
    code = main(["crosscheck", str(dataset), "--models", "zeror,trackfeat", "--out", str(out), "--cache",
                 str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    assert "shipped checkpoints" in capsys.readouterr().out
    record = json.loads((out / "crosscheck.json").read_text(encoding="utf-8"))["crosscheck"]
    assert record["train"] is False and record["folds"] == [] and record["margin"] is None
    table = pd.read_csv(out / "crosscheck.csv", dtype={"video": str})
    zeror = table[["zeror_progressive", "zeror_non_progressive", "zeror_immotile"]].to_numpy()
    np.testing.assert_allclose(zeror, zeror[:1].repeat(len(zeror), axis=0))  # one shipped training mean for all
    assert (table["tracking_progressive_low"] <= table["tracking_progressive"]).all()
    dis = pd.read_csv(out / "disagreements.csv", dtype={"video": str})
    assert (dis["difference"].abs() > dis["threshold"]).all()


def test_crosscheck_gives_no_number_outside_the_pixel_sizes_a_model_was_trained_for(dataset, tmp_path, capsys):
    out = tmp_path / "cc"
    code = main(["crosscheck", str(dataset), "--models", "trackfeat", "--um-per-px", "0.7", "--out", str(out),
                 "--cache", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    assert "outside the 0.3-0.42 um/px the model was trained for: no prediction" in capsys.readouterr().err
    table = pd.read_csv(out / "crosscheck.csv", dtype={"video": str})
    assert table["trackfeat_progressive"].isna().all() and table["tracking_progressive"].notna().any()


def test_regress_predict_takes_a_shipped_model_by_name(dataset, capsys):
    assert main(["regress", "predict", str(dataset / "2" / "2.mp4"), "--model", "trackfeat", "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{dataset / '2' / '2.mp4'}: progressive") and "[model trackfeat]" in line


def test_regress_predict_warns_outside_the_trained_pixel_sizes(dataset, capsys):
    assert main(["regress", "predict", str(dataset / "2" / "2.mp4"), "--model", "trackfeat", "--um-per-px", "0.7",
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "outside the 0.3-0.42 um/px the model was trained for" in captured.err
    assert "[UNRELIABLE: see the warning]" in captured.out
