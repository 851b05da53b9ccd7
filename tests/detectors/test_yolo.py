"""The ``yolo`` detector: shipped checkpoint, user checkpoints, bad weights files, batching, offline, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermtrack.detectors import SHIPPED_WEIGHTS, YoloConfig, YoloDetector, make_detector, load_yolo, shipped_weights
from spermtrack.detectors.yolo import SHIPPED_CHECKPOINTS
from spermtrack.errors import InputError
from spermtrack.eval.detection import detection_prf
from spermtrack.schema import DETECTION_COLUMNS, validate_detections

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "detectors" / "weights"


@pytest.fixture(scope="module")
def untrained(tmp_path_factory) -> Path:
    """A user-style ultralytics checkpoint: YOLOv5n from the yaml, random weights, two classes."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel("yolov5n.yaml", nc=2, verbose=False)
    model.names = {0: "head", 1: "debris"}
    path = tmp_path_factory.mktemp("ckpt") / "user.pt"
    torch.save({"model": model.half(), "train_args": {"imgsz": 160}, "epoch": -1}, path)
    return path


def test_importing_detectors_does_not_import_torch_or_ultralytics():
    code = ("import sys, spermtrack.detectors, spermtrack.detectors.yolo, spermtrack.detectors.train; "
            "print(sorted(m for m in ('torch', 'ultralytics', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shipped_checkpoints_are_packaged_small_with_their_recipes():
    path = shipped_weights()
    assert path.name == SHIPPED_WEIGHTS == "yolov5n_looks.pt" and path.is_file()
    assert path.resolve() == (WEIGHTS_DIR / SHIPPED_WEIGHTS).resolve()
    for name in SHIPPED_CHECKPOINTS:
        assert 1e6 < shipped_weights(name).stat().st_size < 8e6
    readme = (WEIGHTS_DIR / "README.md").read_text()
    assert "python -m spermtrack.training.recipes synth" in readme
    assert "python -m spermtrack.training.recipes visem" in readme


def test_shipped_checkpoint_finds_synthetic_heads(synth_clip):
    truth, frames = synth_clip
    det = make_detector("yolo")
    assert det.config.imgsz == 640 and det.class_names == {0: "sperm", 1: "cluster", 2: "pinhead"}
    out = det.detect_video(frames[:2])
    pd.testing.assert_frame_equal(out, validate_detections(out))
    scores = detection_prf(truth[truth["frame"] < 2], out, max_dist=10)
    assert scores["f1"] >= 0.8, scores
    info = det.to_dict()
    assert info["detector"] == "yolo" and len(info["weights_sha256"]) == 64


def test_the_head_verifier_rescores_the_same_boxes_unless_switched_off(synth_clip, tmp_path):
    from spermtrack.detectors.verify import PATCH_RADIUS

    _, frames = synth_clip
    raw = make_detector("yolo", verify=False)
    checked = make_detector("yolo")
    a, b = raw.detect_video(frames[:2]), checked.detect_video(frames[:2])
    assert len(a) > 5
    pd.testing.assert_frame_equal(a.drop(columns="score"), b.drop(columns="score"))
    assert not np.allclose(a["score"], b["score"]) and b["score"].between(0, 1).all()
    assert raw.to_dict()["verifier"] is None and checked.to_dict()["verifier"]["radius"] == PATCH_RADIUS
    with pytest.raises(InputError, match="no such verifier file"):
        make_detector("yolo", verifier=str(tmp_path / "none.onnx"))


def test_user_checkpoint_loads_as_it_is(untrained):
    det = YoloDetector(weights=str(untrained), conf=0.0, batch=3)
    assert det.class_names == {0: "head", 1: "debris"}
    assert det.config.imgsz == 160  # the size the checkpoint records
    assert det.to_dict()["weights_path"] == str(untrained)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (90, 130, 3), dtype=np.uint8) for _ in range(5)]
    batched = det.detect_video(frames)
    single = pd.concat([det.detect(f, frame_index=i) for i, f in enumerate(frames)], ignore_index=True)
    assert list(batched.columns) == list(DETECTION_COLUMNS)
    assert sorted(batched["frame"].unique()) == list(range(5))
    assert batched["class_id"].isin([0, 1]).all()
    pd.testing.assert_frame_equal(batched, single, atol=1e-2)


def test_gray_frames_are_replicated_to_bgr(untrained):
    det = YoloDetector(weights=str(untrained), conf=0.0)
    gray = np.random.default_rng(1).integers(0, 255, (64, 96), dtype=np.uint8)
    a = det.detect(gray)
    b = det.detect(np.dstack([gray, gray, gray]))
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InputError, match="at least 8 x 8"):
        det.detect(np.zeros((4, 4), np.uint8))


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(InputError, match="weights file not found.*spermtrack train-detector"):
        YoloDetector(weights=str(tmp_path / "nope.pt"))
    with pytest.raises(InputError, match="is a folder"):
        load_yolo(tmp_path)


@pytest.mark.parametrize("name, content, match", [
    ("empty.pt", b"", "is empty"),
    ("garbage.pt", b"this is not a checkpoint" * 100, r"not a PyTorch checkpoint \(it is a text file\)"),
    ("broken.pt", b"PK\x03\x04" + bytes(range(256)) * 4, "cannot be loaded as an ultralytics checkpoint"),
    ("model.onnx", b"onnx", "cannot be loaded as an ONNX model"),  # .onnx: the ONNX Runtime backend
    ("weights.yaml", b"nc: 3\n", r"not a PyTorch checkpoint \(\.pt\)"),
])
def test_bad_weights_files_are_clear_errors(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        YoloDetector(weights=str(path))
    assert ("export_onnx" if name.endswith(".onnx") else "train-detector") in str(info.value)  # how to get one


def test_truncated_and_foreign_pickles_are_clear_errors(tmp_path, untrained):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(untrained.read_bytes()[:4096])
    with pytest.raises(InputError, match="cannot be loaded"):
        load_yolo(truncated)
    import torch

    foreign = tmp_path / "state_dict.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="cannot be loaded"):
        load_yolo(foreign)


@pytest.mark.parametrize("kw, match", [
    ({"imgsz": 300}, "multiple of 32"),
    ({"conf": 1.5}, "conf"),
    ({"iou": 0}, "iou"),
    ({"batch": 0}, "batch"),
    ({"agnostic_nms": "yes"}, "agnostic_nms"),
    ({"weights": 3}, "weights"),
    ({"device": ""}, "device"),
    ({"verify": "yes"}, "verify"),
    ({"verifier": 3}, "verifier"),
])
def test_config_validation(kw, match):
    with pytest.raises(InputError, match=match):
        YoloConfig(**kw)


def test_unknown_option():
    with pytest.raises(InputError, match="unknown YoloConfig setting.*imgsize"):
        YoloDetector(imgsize=640)


def test_offline_mode_is_set():
    from spermtrack.detectors.yolo import configure_offline, no_downloads

    configure_offline()
    assert os.environ["YOLO_OFFLINE"] == "1"
    import ultralytics.utils
    import ultralytics.utils.downloads as downloads

    assert ultralytics.utils.ONLINE is False
    with no_downloads():
        with pytest.raises(InputError, match="offline.*example.invalid"):
            downloads.safe_download(url="https://example.invalid/Arial.ttf")
    assert downloads.safe_download.__name__ == "safe_download"


def test_shipped_checkpoints_resolve_by_name(tmp_path):
    from spermtrack.detectors.yolo import SHIPPED_CHECKPOINTS, resolve_weights, shipped_weights

    assert resolve_weights(None) == shipped_weights()
    assert resolve_weights("yolov5n_synth") == shipped_weights("yolov5n_synth.pt")
    assert resolve_weights("yolov5n_synth.pt") == shipped_weights("yolov5n_synth.pt")
    own = tmp_path / "mine.pt"
    assert resolve_weights(own) == own
    with pytest.raises(InputError, match="unknown shipped checkpoint"):
        shipped_weights("yolov9.pt")
    assert "yolov5n_synth.pt" in SHIPPED_CHECKPOINTS
