"""The head verifier: patches, standardisation, the shipped ONNX file, a trained-and-exported round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.detectors.verify import PATCH_RADIUS, HeadVerifier, combined_score, patches, standardise
from spermtrack.errors import InputError


def test_a_patch_is_centred_on_its_point_and_mirrors_beyond_the_edge():
    gray = np.arange(100 * 120, dtype=np.int64).reshape(100, 120) % 251
    gray = gray.astype(np.uint8)
    out = patches(gray, np.array([60.0, 0.0]), np.array([50.0, 0.0]), radius=8)
    assert out.shape == (2, 16, 16) and out.dtype == np.uint8
    assert out[0, 8, 8] == gray[50, 60] and (out[0] == gray[42:58, 52:68]).all()
    assert out[1, 8, 8] == gray[0, 0] and out[1, 7, 8] == gray[1, 0]  # mirrored about the edge row


def test_a_coarser_pixel_size_cuts_a_smaller_patch_and_enlarges_it():
    gray = np.zeros((100, 100), np.uint8)
    gray[40:60, 40:60] = 200  # a 20 px square
    same = patches(gray, np.array([50.0]), np.array([50.0]), radius=20)[0]
    coarse = patches(gray, np.array([50.0]), np.array([50.0]), radius=20, scale=2.0)[0]
    assert (same > 100).mean() == pytest.approx(0.25)  # the square fills a quarter of a 40 px patch
    assert (coarse > 100).mean() == pytest.approx(1.0)  # the same 20 px of slide now fill the patch


def test_standardised_patches_have_zero_mean_and_stay_finite_when_flat():
    batch = np.stack([np.full((6, 6), 7, np.uint8), np.arange(36, dtype=np.uint8).reshape(6, 6)])
    x = standardise(batch)
    assert x.shape == (2, 1, 6, 6) and x.dtype == np.float32
    assert np.allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-6) and np.isfinite(x).all()
    assert (x[0] == 0).all() and x[1].std() == pytest.approx(1.0, abs=0.1)


def test_the_combined_score_is_the_geometric_mean_so_either_side_can_veto_a_box():
    out = combined_score(np.array([0.9, 0.9, 0.04, 0.5]), np.array([0.9, 0.01, 0.99, 0.5]))
    assert np.allclose(out, [0.9, np.sqrt(0.009), np.sqrt(0.04 * 0.99), 0.5]) and out[1] < 0.1
    assert combined_score(np.array([1.2]), np.array([-0.1]))[0] == 0.0  # clipped to [0, 1]


@pytest.fixture(scope="module")
def verifier() -> HeadVerifier:
    return HeadVerifier()


def test_the_shipped_verifier_reads_its_metadata(verifier):
    assert verifier.radius == PATCH_RADIUS
    assert verifier.calibration.slope > 0 and verifier.calibration.n > 0
    assert verifier.recipe["svia"]["held_out"] == "S_0003" and verifier.recipe["validation"]["auc"] > 0.8
    assert verifier.path.stat().st_size < 1e6
    readme = (verifier.path.parent / "README.md").read_text()
    assert "python -m spermtrack.training.recipes verifier" in readme and "head_verifier.onnx" in readme
    info = verifier.to_dict()
    assert len(info["sha256"]) == 64 and info["score_calibration"]["slope"] == verifier.calibration.slope


def test_the_shipped_verifier_tells_annotated_heads_from_background_on_a_real_frame(reference, verifier):
    import cv2

    folder = reference / "visem_real" / "13"
    gray = cv2.imread(str(folder / "images" / "13_frame_0.jpg"), cv2.IMREAD_GRAYSCALE)
    labels = np.loadtxt(folder / "labels" / "13_frame_0.txt", ndmin=2)
    heads = verifier.probabilities(gray, labels[:, 1] * 640, labels[:, 2] * 480)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(30, 610, 200), rng.uniform(30, 450, 200)
    far = np.hypot(x[:, None] - labels[:, 1] * 640, y[:, None] - labels[:, 2] * 480).min(axis=1) > 30
    background = verifier.probabilities(gray, x[far], y[far])
    from spermtrack.eval.detection import roc_auc

    assert ((heads > 0) & (heads < 1)).all() and ((background > 0) & (background < 1)).all()
    is_head = np.r_[np.ones(len(heads), bool), np.zeros(len(background), bool)]
    assert roc_auc(is_head, np.r_[heads, background]) > 0.95
    assert np.median(background) < 0.3 < 0.6 < np.median(heads), (np.median(heads), np.median(background))


def test_rescore_replaces_only_the_score(verifier):
    gray = np.full((60, 80), 90, np.uint8)
    table = pd.DataFrame({"frame": 3, "x": [20.0, 50.0], "y": [30.0, 10.0], "w": 15.0, "h": 14.0, "score": 0.9,
                          "class_id": [0, 2]})
    out = verifier.rescore(gray, table)
    pd.testing.assert_frame_equal(out.drop(columns="score"), table.drop(columns="score"))
    expected = combined_score(table["score"].to_numpy(), verifier.probabilities(gray, table["x"], table["y"]))
    assert np.allclose(out["score"], expected) and not np.allclose(out["score"], 0.9)
    assert verifier.rescore(gray, table.iloc[:0]).empty and verifier.probabilities(gray, [], []).shape == (0,)


def test_a_missing_or_foreign_file_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match="no such verifier file"):
        HeadVerifier(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a readable ONNX model"):
        HeadVerifier(junk)


def _scene(rng: np.random.Generator, tail: bool) -> np.ndarray:
    """A 48 px patch: a bright head at the centre, with a dark tail ray or without one (a round cell)."""
    import cv2

    img = np.full((48, 48), 100, np.uint8)
    cv2.circle(img, (24, 24), int(rng.integers(4, 7)), 200, -1)
    if tail:
        angle = rng.uniform(0, 2 * np.pi)
        cv2.line(img, (24, 24), (int(24 + 22 * np.cos(angle)), int(24 + 22 * np.sin(angle))), 40, 2)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def test_a_trained_verifier_exports_to_onnx_and_scores_as_it_did_in_torch(tmp_path):
    pytest.importorskip("torch")
    from spermtrack.detectors.calibrate import ScoreCalibration
    from spermtrack.eval.detection import roc_auc
    from spermtrack.training.verifier import (VerifierTrainConfig, export_verifier, predict_logits,
                                              train_verifier)

    rng = np.random.default_rng(1)
    labels = np.arange(256) % 2 == 0
    batch = np.stack([_scene(rng, bool(t)) for t in labels])
    model = train_verifier(batch, labels, VerifierTrainConfig(epochs=4, batch=32, lr=1e-2))
    test_labels = np.arange(64) % 2 == 0
    test = np.stack([_scene(rng, bool(t)) for t in test_labels])
    logits = predict_logits(model, test)
    assert roc_auc(test_labels, logits) > 0.9
    path = export_verifier(model, tmp_path / "v.onnx", calibration=ScoreCalibration(slope=0.5, intercept=0.2, n=64),
                           recipe={"test": True})
    onnx = HeadVerifier(path)
    assert onnx.recipe == {"test": True} and onnx.calibration.slope == 0.5
    # one patch per frame, centred: the ONNX run must give what torch gave, calibrated
    got = np.array([onnx.probabilities(p, np.array([24.0]), np.array([24.0]))[0] for p in test[:8]])
    raw = 1 / (1 + np.exp(-logits[:8]))
    assert np.allclose(got, ScoreCalibration(slope=0.5, intercept=0.2).apply(raw), atol=1e-4)


def test_training_needs_both_labels():
    pytest.importorskip("torch")
    from spermtrack.training.verifier import train_verifier

    with pytest.raises(InputError, match="both true and false"):
        train_verifier(np.zeros((4, 48, 48), np.uint8), np.ones(4, bool))
    with pytest.raises(InputError, match="one label each"):
        train_verifier(np.zeros((4, 48, 48), np.uint8), np.ones(3, bool))
