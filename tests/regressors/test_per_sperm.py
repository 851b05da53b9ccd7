"""The per-sperm models: probabilities out, a learnable toy task, checkpoints, refusals, the metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spermtrack.errors import InputError
from spermtrack.regressors.per_sperm import (ARCHITECTURES, CLIP_FRAMES, CLIP_PX, GRADES, PerSpermModel, combine_grades,
                                             augment_clips, balanced_accuracy, js_divergence, load_per_sperm, mse)


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, CLIP_FRAMES, CLIP_PX, CLIP_PX)).astype(np.float32)


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clips of a bright Gaussian blob on a noisy background: grade a moves 1.2 px/frame in a random
    direction, grade d stays put. Returns the clips and the grade index (0 or 3) of each."""
    rng = np.random.default_rng(seed)
    grade = np.where(rng.random(n) < 0.5, 0, 3)
    yy, xx = np.mgrid[:CLIP_PX, :CLIP_PX]
    t = np.arange(CLIP_FRAMES) - (CLIP_FRAMES - 1) / 2
    clips = np.empty((n, CLIP_FRAMES, CLIP_PX, CLIP_PX), np.float32)
    for i, g in enumerate(grade):
        angle, speed = rng.uniform(0, 2 * np.pi), 1.2 if g == 0 else 0.0
        cy = 16 + rng.uniform(-2, 2) + speed * t * np.sin(angle)
        cx = 16 + rng.uniform(-2, 2) + speed * t * np.cos(angle)
        blob = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 8.0)
        clips[i] = 100 + 80 * blob + rng.normal(0, 10, (CLIP_FRAMES, CLIP_PX, CLIP_PX))
    return clips, grade


def _one_hot(grade: np.ndarray) -> np.ndarray:
    return np.eye(len(GRADES))[grade]


@pytest.mark.parametrize("arch, heads", [("transformer", 3), ("cnn3d", 1)])
def test_every_architecture_gives_probabilities_whatever_the_brightness(arch, heads):
    model = PerSpermModel(arch)
    clips = _noise(5)
    p = model.predict_proba(clips, batch_size=2)
    assert p.shape == (5, 4) and p.dtype == np.float64
    assert (p >= 0).all() and np.allclose(p.sum(axis=1), 1.0)
    assert model.predict_proba(clips[:0]).shape == (0, 4)
    assert model.net(torch.from_numpy(clips)).shape == (heads, 5, 4)
    # each clip is standardised inside the network: grey levels x 0.5 + 20 change nothing
    np.testing.assert_allclose(model.predict_proba(clips * 0.5 + 20), p, atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(clips.astype(np.uint8)), model.predict_proba(
        clips.astype(np.uint8).astype(np.float32)))


@pytest.mark.parametrize("arch, floor", [("cnn3d", 0.8), ("transformer", 0.6)])
def test_both_models_learn_a_moving_blob_from_a_static_one(arch, floor):
    clips, grade = _blobs(160, seed=10)
    test_clips, test_grade = _blobs(64, seed=11)
    model = PerSpermModel(arch)
    history = model.fit(clips, _one_hot(grade), epochs=3, batch_size=16, lr=3e-3)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_loss"] == [] and history["best_epoch"] == 2
    accuracy = np.mean(model.predict_proba(test_clips).argmax(axis=1) == test_grade)
    assert accuracy > floor, f"{arch}: accuracy {accuracy:.2f} on the held-out clips"


def test_a_validation_set_picks_the_best_epoch_and_a_seed_repeats_the_fit():
    clips, grade = _blobs(24, seed=1)
    val_clips, val_grade = _blobs(12, seed=2)
    soft = 0.8 * _one_hot(grade) + 0.05  # soft labels are allowed
    runs = []
    for _ in range(2):
        model = PerSpermModel("transformer", seed=3)
        history = model.fit(clips, soft, val_clips=val_clips, val_targets=_one_hot(val_grade), epochs=4,
                            batch_size=8)
        runs.append((history, model.predict_proba(val_clips)))
    history, p = runs[0]
    assert len(history["train_loss"]) == len(history["val_loss"]) == 4
    assert history["best_epoch"] == int(np.argmin(history["val_loss"]))
    kept = -np.mean(np.log(p[np.arange(12), val_grade]))  # the model holds the best epoch's weights
    assert kept == pytest.approx(history["val_loss"][history["best_epoch"]], rel=1e-5)
    assert runs[1][0] == history
    np.testing.assert_array_equal(runs[1][1], p)

    # validation labels swapped (moving <-> static): learning makes the validation loss rise, so with a
    # patience of 2 the fit stops after epoch 2 and keeps epoch 0
    history = PerSpermModel("transformer").fit(clips, soft, val_clips=val_clips, val_targets=_one_hot(3 - val_grade),
                                               epochs=8, batch_size=8, lr=3e-3, patience=2)
    assert len(history["train_loss"]) == len(history["val_loss"]) == 3 and history["best_epoch"] == 0


def test_augmentation_turns_each_clip_by_a_symmetry_of_the_square():
    clips = _noise(64, seed=4)
    out = augment_clips(clips, np.random.default_rng(0))
    assert out.shape == clips.shape and out.dtype == clips.dtype
    seen = set()
    for before, after in zip(clips, out):
        turns = [np.rot90(before, k, axes=(1, 2)) for k in range(4)]
        images = turns + [t[:, :, ::-1] for t in turns]
        match = [i for i, image in enumerate(images) if np.array_equal(image, after)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == set(range(8))  # every rotation and mirror (the vertical flip is mirror 2)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_checkpoint_gives_identical_predictions(arch, tmp_path):
    clips, grade = _blobs(16, seed=5)
    model = PerSpermModel(arch, seed=1)
    model.fit(clips, _one_hot(grade), epochs=1, batch_size=8)
    model.info = {"recipe": {"epochs": 1}, "val_js": np.float32(0.25), "folds": np.arange(3), "data": tmp_path}
    path = model.save(tmp_path / "per_sperm.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per_sperm.pt"]  # no temporary file left
    loaded = load_per_sperm(path)
    assert loaded.arch == arch and not loaded.net.training
    assert loaded.info == {"recipe": {"epochs": 1}, "val_js": 0.25, "folds": [0, 1, 2], "data": str(tmp_path)}
    np.testing.assert_array_equal(loaded.predict_proba(clips), model.predict_proba(clips))
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "spermtrack-per-sperm" and payload["version"] == 1
    assert payload["clip_shape"] == (16, 32, 32)


def test_bad_checkpoints_are_refused_in_one_line(tmp_path):
    path = PerSpermModel("cnn3d").save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    with pytest.raises(InputError, match="nope.pt: no such per-sperm checkpoint file"):
        load_per_sperm(tmp_path / "nope.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(InputError, match="not a per-sperm checkpoint \\(it is a text file\\)"):
        load_per_sperm(tmp_path / "text.pt")
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="cut.pt: cannot be read as a checkpoint"):
        load_per_sperm(tmp_path / "cut.pt")
    cases = {"other": ({"state_dict": {}}, "not a per-sperm checkpoint"),
             "v2": ({**payload, "version": 2}, "format version 2"),
             "arch": ({**payload, "arch": "r3d18"}, "unknown architecture 'r3d18' \\(known: transformer, cnn3d\\)"),
             "shape": ({**payload, "clip_shape": (8, 32, 32)}, "clips of shape \\(8, 32, 32\\)"),
             "swap": ({**payload, "arch": "transformer"}, "'state_dict' does not fit the network")}
    for name, (content, message) in cases.items():
        torch.save(content, tmp_path / f"{name}.pt")
        with pytest.raises(InputError, match=f"{name}.pt: .*{message}"):
            load_per_sperm(tmp_path / f"{name}.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="nothing in it was run"):
        load_per_sperm(tmp_path / "evil.pt")


def test_bad_inputs_are_refused_with_what_was_expected(tmp_path):
    with pytest.raises(InputError, match="unknown per-sperm architecture 'vit': choose from transformer, cnn3d"):
        PerSpermModel("vit")
    model = PerSpermModel("cnn3d")
    clips, y = _noise(4), np.full((4, 4), 0.25)
    expected = r"clips must be an array of shape \(N, 16, 32, 32\) .*got shape "
    for bad in (clips[0], clips[:, :8], clips[..., :16]):
        with pytest.raises(InputError, match=expected + f"\\({', '.join(map(str, bad.shape))}\\)"):
            model.predict_proba(bad)
    with pytest.raises(InputError, match="clips must be a numeric array, got ndarray of dtype <U1"):
        model.predict_proba(np.full((1, 16, 32, 32), "x"))
    nan = clips.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="clips hold NaN"):
        model.fit(nan, y)
    with pytest.raises(InputError, match=r"targets must be an array of shape \(4, 4\) .*got shape \(4, 3\)"):
        model.fit(clips, np.full((4, 3), 1 / 3))
    with pytest.raises(InputError, match="targets must be probabilities"):
        model.fit(clips, np.tile([1.5, -0.5, 0.0, 0.0], (4, 1)))
    with pytest.raises(InputError, match="targets must be probabilities"):
        model.fit(clips, np.full((4, 4), 0.5))
    with pytest.raises(InputError, match="no training clips"):
        model.fit(clips[:0], y[:0])
    with pytest.raises(InputError, match="both val_clips and val_targets"):
        model.fit(clips, y, val_clips=clips)
    with pytest.raises(InputError, match=r"val_targets must be an array of shape \(4, 4\)"):
        model.fit(clips, y, val_clips=clips, val_targets=y[:2])
    with pytest.raises(InputError, match="PerSpermModel.fit.epochs must be an integer >= 1, got 0"):
        model.fit(clips, y, epochs=0)
    model.info = {"model": model}
    with pytest.raises(InputError, match=r"info\['model'\] is a PerSpermModel"):
        model.save(tmp_path / "m.pt")
    model.info = {}
    with pytest.raises(InputError, match="no such folder"):
        model.save(tmp_path / "missing" / "m.pt")


def test_balanced_accuracy_by_hand():
    # class 0: 2 of 3 right; class 1: 1 of 1; class 2: 0 of 2; class 3 absent -> (2/3 + 1 + 0) / 3
    assert balanced_accuracy([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 0, 3]) == pytest.approx(5 / 9)
    assert balanced_accuracy([3, 3], [3, 3]) == 1.0
    assert np.isnan(balanced_accuracy([], []))
    with pytest.raises(InputError, match="one length"):
        balanced_accuracy([0, 1], [0])
    with pytest.raises(InputError, match=r"integers in 0\.\.3"):
        balanced_accuracy([0, 4], [0, 1])


def test_js_divergence_and_mse_by_hand():
    p = np.array([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    q = np.array([[0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    # disjoint rows: m = (1/2, 1/2), KL(p || m) = ln 2 = KL(q || m) -> JS = ln 2; equal rows -> 0
    assert js_divergence(p, q) == pytest.approx(np.log(2) / 2)
    # (1, 0) vs (1/2, 1/2): m = (3/4, 1/4); KL(p||m) = ln(4/3); KL(q||m) = (ln(2/3) + ln 2) / 2
    expected = 0.5 * np.log(4 / 3) + 0.25 * (np.log(2 / 3) + np.log(2))
    assert js_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected)
    assert mse(p, q) == pytest.approx(2 / 8)  # two squared differences of 1 among 8 entries
    assert mse([0.2, 0.8], [0.4, 0.6]) == pytest.approx(0.04)
    with pytest.raises(InputError, match="same"):
        mse(p, q[:, :3])


def test_the_combined_grade_keeps_kinematic_a_b_and_takes_c_or_d_from_the_clip():
    proba = np.array([[0.1, 0.1, 0.7, 0.1], [0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.2, 0.6], [0.25] * 4,
                      [np.nan] * 4, [np.nan] * 4])
    kinematic = np.array(["a", "b", "c", "d", "d", "a"], dtype=object)
    assert combine_grades(kinematic, proba).tolist() == ["a", "b", "d", "c", None, "a"]
    assert combine_grades(np.array([None], dtype=object), np.array([[0.0, 0.0, 0.2, 0.8]])).tolist() == ["d"]

