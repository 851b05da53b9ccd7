"""The regressors: the simplex, the video-level split, every model's round trip, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.regressors import (FOUR, REGRESSORS, THREE, VideoInputs, kfold_by_video, load_regressor,
                                   make_regressor, project_to_simplex, three_from_four)
from spermtrack.regressors.trackfeat import FEATURE_BINS, track_features


def _videos(n: int, seed: int = 0) -> list[VideoInputs]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = 6
        kin = pd.DataFrame({"graded": [True] * k, "progression_um_s": rng.uniform(0, 40, k),
                            "vcl_um_s": rng.uniform(0, 100, k), "lin": rng.uniform(0, 1, k),
                            "str": rng.uniform(0, 1, k), "alh_mean_um": rng.uniform(0, 3, k)})
        out.append(VideoInputs(f"v{i}", frames=rng.integers(0, 255, (24, 60, 80), dtype=np.uint8), frame_step_s=0.04,
                               flow=rng.normal(size=(3, 8, 32, 32)).astype(np.float32), kinematics=kin))
    return out


def test_projection_onto_the_simplex_by_hand():
    # (0.5, 0.8, -0.2): sorted 0.8, 0.5, -0.2; rho = 2 (0.5 - (1.3 - 1) / 2 > 0, -0.2 - (1.1 - 1) / 3 < 0),
    # theta = (1.3 - 1) / 2 = 0.15 -> (0.35, 0.65, 0)
    np.testing.assert_allclose(project_to_simplex(np.array([0.5, 0.8, -0.2])), [0.35, 0.65, 0.0])
    np.testing.assert_allclose(project_to_simplex(np.array([[2.0, 0.0, 0.0], [0.2, 0.3, 0.5]])),
                               [[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])  # a point on the simplex stays


def test_three_categories_from_four_grades():
    np.testing.assert_allclose(three_from_four(np.array([0.1, 0.2, 0.3, 0.4])), [0.3, 0.3, 0.4])


def test_the_folds_split_by_video():
    ids = [str(i) for i in range(11)]
    folds = kfold_by_video(ids, 5, seed=3)
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests) == list(range(11))  # every video tested exactly once
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 11
    assert [t.tolist() for _, t in folds] == [t.tolist() for _, t in kfold_by_video(ids, 5, seed=3)]
    with pytest.raises(InputError, match="5 folds need at least 5 videos, the data set has 4"):
        kfold_by_video(ids[:4], 5)
    with pytest.raises(InputError, match="twice"):
        kfold_by_video(["1", "1", "2"], 2)


def test_track_features_by_hand():
    kin = pd.DataFrame({"graded": [True, True, False], "progression_um_s": [1.0, 30.0, 99.0],
                        "vcl_um_s": [3.0, 70.0, 1.0], "lin": [0.1, 0.9, 0.5], "str": [0.5, 0.5, 0.5],
                        "alh_mean_um": [0.2, 3.0, 0.0]})
    f = track_features(kin)
    sizes = [len(e) - 1 for e in FEATURE_BINS.values()]
    assert len(f) == sum(sizes)
    blocks = np.split(f, np.cumsum(sizes)[:-1])
    np.testing.assert_allclose(blocks[0], [0.5, 0, 0, 0, 0, 0, 0.5, 0, 0])  # progression 1 and 30 (ungraded dropped)
    np.testing.assert_allclose(blocks[3], [0, 0, 1.0, 0, 0])  # STR 0.5 twice
    assert track_features(kin.iloc[:0]).sum() == 0


def test_zeror_predicts_the_training_mean():
    y = np.array([[0.2, 0.3, 0.5], [0.4, 0.3, 0.3]])
    model = make_regressor("zeror").fit(_videos(2), y)
    np.testing.assert_allclose(model.predict(_videos(3)), np.tile([0.3, 0.3, 0.4], (3, 1)))


@pytest.mark.parametrize("name", list(REGRESSORS))
@pytest.mark.parametrize("categories", [THREE, FOUR])
def test_every_model_predicts_proportions_and_survives_a_checkpoint(name, categories, tmp_path):
    videos = _videos(5)
    y = np.random.default_rng(1).dirichlet(np.ones(len(categories)), 5)
    model = make_regressor(name, categories, quick=True).fit(videos[:4], y[:4])
    pred = model.predict(videos)
    assert pred.shape == (5, len(categories))
    assert (pred >= 0).all() and np.allclose(pred.sum(axis=1), 1.0)
    path = model.save(tmp_path / "m.pt", inputs={"frame_width": 80}, info={"note": "test"})
    loaded, inputs = load_regressor(path, expect=name)
    assert inputs == {"frame_width": 80} and loaded.categories == categories
    np.testing.assert_allclose(loaded.predict(videos), pred, atol=1e-6)


def test_checkpoints_of_another_kind_are_refused_in_one_line(tmp_path):
    import torch

    model = make_regressor("zeror").fit(_videos(2), np.array([[0.2, 0.3, 0.5], [0.4, 0.3, 0.3]]))
    path = model.save(tmp_path / "zeror.pt")
    with pytest.raises(InputError, match="holds a 'zeror' model, not 'flow2d'"):
        load_regressor(path, expect="flow2d")
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "version": 99}, tmp_path / "v99.pt")
    with pytest.raises(InputError, match="format version 99"):
        load_regressor(tmp_path / "v99.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a spermtrack regressor checkpoint"):
        load_regressor(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(InputError, match="it is a text file"):
        load_regressor(tmp_path / "text.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="nothing in it was run"):
        load_regressor(tmp_path / "evil.pt")


def test_bad_targets_and_inputs_are_refused():
    model = make_regressor("flow2d", quick=True)
    with pytest.raises(InputError, match="proportions"):
        model.fit(_videos(2), np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0]]))
    with pytest.raises(InputError, match="shape"):
        model.fit(_videos(2), np.ones((3, 3)) / 3)
    bare = [VideoInputs("x")]
    with pytest.raises(InputError, match="video x has no flow"):
        model.fit(bare, np.array([[0.2, 0.3, 0.5]]))
    with pytest.raises(InputError, match="fit the model"):
        make_regressor("zeror").predict(_videos(1))
    with pytest.raises(InputError, match="unknown regressor 'cnn'"):
        make_regressor("cnn")
    with pytest.raises(InputError, match="AEFeatConfig.window"):
        make_regressor("aefeat", window=1)


def _damaged(payload: dict, how: str) -> dict:
    payload = {**payload, "state": dict(payload["state"])}
    state = payload["state"]
    key = next(iter(state))
    if how == "empty":
        payload["state"] = {}
    elif how == "missing":
        del payload["state"]
    elif how == "drop-entry":
        del state[key]
    elif how == "wrong-shape":
        value = state[key]
        state[key] = ({k: v[..., :1] if v.ndim else v for k, v in value.items()} if isinstance(value, dict)
                      else np.zeros(99).tolist())
    elif how == "nan":
        value = state[key]
        state[key] = ({k: v * float("nan") if v.is_floating_point() else v for k, v in value.items()}
                      if isinstance(value, dict) else [float("nan")] * len(value))
    elif how == "other-model":
        payload["model"] = "zeror" if payload["model"] != "zeror" else "trackfeat"
        payload["config"] = {}
    return payload


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    """One fitted checkpoint of every model (quick settings), saved once."""
    folder = tmp_path_factory.mktemp("checkpoints")
    y = np.array([[0.2, 0.3, 0.5], [0.4, 0.3, 0.3]])
    return {name: make_regressor(name, quick=True).fit(_videos(2), y).save(folder / f"{name}.pt")
            for name in REGRESSORS}


@pytest.mark.parametrize("name", list(REGRESSORS))
@pytest.mark.parametrize("how", ["empty", "missing", "drop-entry", "wrong-shape", "nan", "other-model"])
def test_a_damaged_checkpoint_is_refused_in_one_line_naming_the_file(checkpoints, name, how, tmp_path):
    import torch

    payload = torch.load(checkpoints[name], weights_only=True)
    bad = tmp_path / "bad.pt"
    torch.save(_damaged(payload, how), bad)
    with pytest.raises(InputError) as err:
        load_regressor(bad)
    message = str(err.value)
    assert message.startswith(f"{bad}: holds model ") and "\n" not in message
    assert "train the model again" in message


def test_frames_a_model_needs():
    assert make_regressor("zeror").frames_needed() == 2
    assert make_regressor("r3d18", quick=True).frames_needed() == 4          # clip_frames
    assert make_regressor("r3d18", clip_frames=8, clip_step=3).frames_needed() == 22
    assert make_regressor("aefeat", quick=True).frames_needed() == 4         # window, stride 1
    assert make_regressor("aefeat", window=9, stride=2).frames_needed() == 17


def test_r3d18_clip_takes_every_step_th_frame():
    from spermtrack.regressors.r3d18 import clip_tensor

    frames = np.repeat(np.arange(10, dtype=np.uint8)[:, None, None], 4, axis=1).repeat(5, axis=2) * 10
    clip = clip_tensor(frames, 1, 0, 0, 4, 3, step=3)       # frames 1, 4, 7 and 10 -> the last one (9)
    levels = clip[0, :, 0, 0]
    assert clip.shape == (1, 4, 3, 3)
    np.testing.assert_allclose(levels, (np.array([10, 40, 70, 90]) - 52.5) / np.std([10, 40, 70, 90]), rtol=1e-5)


def test_aefeat_stacks_by_hand():
    from spermtrack.regressors.aefeat import stacks

    np.testing.assert_array_equal(stacks(10, 2, 3, 2), [[0, 2, 4], [5, 7, 9]])
    np.testing.assert_array_equal(stacks(10, 3, 3, 2), [[0, 2, 4], [2, 4, 6], [5, 7, 9]])
    np.testing.assert_array_equal(stacks(3, 2, 3, 2), [[0, 2, 2]])      # shorter than one stack


def test_every_regressor_has_a_summary_for_the_command_line():
    from spermtrack.regressors import REGRESSOR_SUMMARIES, REGRESSORS

    assert list(REGRESSOR_SUMMARIES) == list(REGRESSORS)
