"""``spermtrack regress train --model persperm``: the per-sperm model trained on a data set's per-sperm truth."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from spermtrack.cli import main
from spermtrack.errors import InputError
from spermtrack.training.per_sperm_dataset import train_per_sperm


@pytest.fixture(scope="module")
def per_sperm_data(tmp_path_factory):
    """Three synthetic 2-s videos (160 x 120, 25 fps) with their per-sperm truth."""
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    root = tmp_path_factory.mktemp("per_sperm")
    config = SynthConfig(seconds=2.0, fps=25, width=160, height=120, density=10, write_images=False)
    write_synthetic_dataset(root, n_videos=3, config=config, seed=5, progress=False)
    return root


def test_it_cross_validates_by_video_and_writes_a_checkpoint_analyze_can_use(per_sperm_data, tmp_path):
    from spermtrack.pipeline import load_per_sperm_model

    out = tmp_path / "ps"
    record = train_per_sperm(per_sperm_data, out, folds=3, quick=True, um_per_px=0.351, progress=False)
    assert {"cv_predictions.csv", "metrics.csv", "model.pt", "regress.json"} <= {p.name for p in out.iterdir()}
    cv = pd.read_csv(out / "cv_predictions.csv", dtype={"video": str})
    assert len(cv) == record["cells"] > 0 and set(cv["video"]) == {"1", "2", "3"}
    assert cv[["p_a", "p_b", "p_c", "p_d"]].sum(axis=1).round(6).eq(1).all()
    assert set(record["metrics"]["sample_error_points"]) == {"a", "b", "c", "d"}
    assert json.loads((out / "regress.json").read_text())["regress"]["folds"] == 3
    model = load_per_sperm_model(str(out / "model.pt"))
    assert model.info["trained_on"]["videos"] == ["1", "2", "3"]


def test_a_data_set_without_per_sperm_truth_is_refused_before_training(per_sperm_data, tmp_path):
    for video in ("1", "2"):
        plain = tmp_path / "plain" / video
        shutil.copytree(per_sperm_data / video, plain)
        for name in (f"{video}_truth.csv.gz", f"{video}_objects.csv"):
            (plain / name).unlink()
    with pytest.raises(InputError, match=r"1: has no per-sperm truth \(1_truth.csv.gz and 1_objects.csv"):
        train_per_sperm(plain.parent, tmp_path / "x", folds=2, quick=True, um_per_px=0.351, progress=False)
    with pytest.raises(InputError, match="at least 3"):  # more folds than videos: refused before any clip is cut
        train_per_sperm(plain.parent, tmp_path / "x", folds=3, quick=True, um_per_px=0.351, progress=False)
    assert not (tmp_path / "x").exists()


def test_the_command_refuses_options_of_the_sample_level_regressors(per_sperm_data, tmp_path, capsys):
    code = main(["regress", "train", str(per_sperm_data), "--model", "persperm", "--cache", str(tmp_path / "c"),
                 "--out", str(tmp_path / "o"), "--quick", "--quiet"])
    assert code == 2 and "--cache apply to the sample-level regressors only" in capsys.readouterr().err
