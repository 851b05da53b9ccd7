"""YOLO through ONNX Runtime: equal to ultralytics' torch path, no torch import, bad model files, export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spermtrack.detectors.onnx_yolo import META_KEYS, OnnxYolo
from spermtrack.detectors.train import export_onnx
from spermtrack.errors import InputError

REPO = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = REPO / "detectors" / "weights"
ONNX_LOOKS = WEIGHTS_DIR / "yolov5n_looks.onnx"
VIDEO = REPO.parent / "shared" / "reference" / "visem_real" / "11" / "11.mp4"
CONF, IOU, MAX_DET = 0.05, 0.5, 1000
TOL_PX, TOL_SCORE = 1e-3, 1e-3


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """The first 8 frames of VISEM-Tracking video 11 (640 x 480 BGR)."""
    import cv2

    if not VIDEO.is_file():
        pytest.skip(f"reference video not present: {VIDEO}")
    cap = cv2.VideoCapture(str(VIDEO))
    out = []
    try:
        while len(out) < 8:
            ok, frame = cap.read()
            if not ok:
                break
            out.append(frame)
    finally:
        cap.release()
    if len(out) < 8:
        pytest.skip(f"could not read 8 frames from {VIDEO}")
    return out


@pytest.fixture(scope="module")
def torch_model():
    from spermtrack.detectors.yolo import load_yolo

    return load_yolo(WEIGHTS_DIR / "yolov5n_looks.pt")


@pytest.fixture(scope="module")
def onnx_model() -> OnnxYolo:
    return OnnxYolo(ONNX_LOOKS, threads=1)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one xywh box with many."""
    a1, a2 = box[:2] - box[2:] / 2, box[:2] + box[2:] / 2
    b1, b2 = others[:, :2] - others[:, 2:] / 2, others[:, :2] + others[:, 2:] / 2
    wh = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (box[2] * box[3] + others[:, 2] * others[:, 3] - inter)


def _at_boundary(k: int, xywh: np.ndarray, score: np.ndarray, agnostic: bool, cls: np.ndarray) -> bool:
    """Whether box ``k`` of one result may be missing from the other by float32 round-off.

    Either its score is within round-off of ``conf``, or its IoU with a higher-scored box (of its class
    unless agnostic) is within round-off of the NMS threshold.
    """
    if abs(score[k] - CONF) < 1e-4:
        return True
    higher = (score > score[k]) & ((cls == cls[k]) | agnostic)
    return bool(higher.any() and (np.abs(_iou(xywh[k], xywh[higher]) - IOU) < 1e-3).any())


def _compare(torch_results, onnx_results, agnostic: bool) -> dict:
    """Match boxes per frame (same class, all of xywh within TOL_PX); return the largest differences and counts."""
    stats = {"max_dx": 0.0, "max_dscore": 0.0, "torch": 0, "onnx": 0, "boundary": 0}
    for result, (xywh, score, cls) in zip(torch_results, onnx_results, strict=True):
        t_xywh = result.boxes.xywh.cpu().numpy().astype(np.float64).reshape(-1, 4)
        t_score = result.boxes.conf.cpu().numpy().astype(np.float64).reshape(-1)
        t_cls = result.boxes.cls.cpu().numpy().astype(np.int64).reshape(-1)
        stats["torch"] += len(t_xywh)
        stats["onnx"] += len(xywh)
        dist = np.abs(t_xywh[:, None, :] - xywh[None, :, :]).max(-1) if len(t_xywh) and len(xywh) else \
            np.zeros((len(t_xywh), len(xywh)))
        dist[t_cls[:, None] != cls[None, :]] = np.inf
        pairs = []
        if dist.size:
            for i in np.argsort(dist, axis=None):
                a, b = np.unravel_index(i, dist.shape)
                if dist[a, b] > TOL_PX:
                    break
                if all(a != p and b != q for p, q in pairs):
                    pairs.append((a, b))
        ta = np.array([p for p, _ in pairs], dtype=np.int64)
        ob = np.array([q for _, q in pairs], dtype=np.int64)
        if len(pairs):
            stats["max_dx"] = max(stats["max_dx"], float(np.abs(t_xywh[ta] - xywh[ob]).max()))
            stats["max_dscore"] = max(stats["max_dscore"], float(np.abs(t_score[ta] - score[ob]).max()))
        for k in sorted(set(range(len(t_xywh))) - set(ta.tolist())):
            assert _at_boundary(k, t_xywh, t_score, agnostic, t_cls), \
                f"torch box {t_xywh[k]} score {t_score[k]:.6f} has no ONNX match and is not at a conf/NMS boundary"
            stats["boundary"] += 1
        for k in sorted(set(range(len(xywh))) - set(ob.tolist())):
            assert _at_boundary(k, xywh, score, agnostic, cls), \
                f"ONNX box {xywh[k]} score {score[k]:.6f} has no torch match and is not at a conf/NMS boundary"
            stats["boundary"] += 1
    return stats


@pytest.mark.parametrize(("imgsz", "agnostic"), [(640, True), (320, True), (320, False)])
def test_onnx_equals_ultralytics_torch(frames, torch_model, onnx_model, imgsz, agnostic):
    from spermtrack.detectors.yolo import no_downloads

    with no_downloads():  # raw confidences, as YoloDetector._predict calls it
        expected = torch_model.predict(frames, imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET,
                                       agnostic_nms=agnostic, device="cpu", batch=len(frames), verbose=False)
    got = onnx_model.predict(frames, imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET, agnostic=agnostic)
    stats = _compare(expected, got, agnostic)
    assert stats["torch"] > 100  # the frames hold many heads: the comparison is not vacuous
    # no box of these frames sits at a boundary (measured: 509 boxes at 640, 453 at 320, max |dx| 1.2e-4 px,
    # max |dscore| 1.1e-6); _at_boundary lets such a box differ should round-off ever put one there
    assert stats["torch"] - stats["onnx"] in range(-stats["boundary"], stats["boundary"] + 1), stats
    assert stats["max_dx"] <= TOL_PX, stats
    assert stats["max_dscore"] <= TOL_SCORE, stats
    for xywh, score, cls in got:
        assert xywh.dtype == np.float64 and score.dtype == np.float64 and cls.dtype == np.int64
        assert xywh.shape == (len(score), 4) and cls.shape == score.shape
        assert (score > CONF).all() and np.all(np.diff(score) <= 0)  # descending, as ultralytics returns them
        assert (xywh[:, 0] >= 0).all() and (xywh[:, 0] <= 640).all() and (xywh[:, 1] <= 480).all()


def test_predict_does_not_import_torch_or_ultralytics():
    code = ("import sys, numpy as np\n"
            "from spermtrack.detectors.onnx_yolo import OnnxYolo\n"
            f"model = OnnxYolo({str(ONNX_LOOKS)!r}, threads=1)\n"
            "frame = np.full((120, 160, 3), 60, np.uint8); frame[50:56, 70:80] = 230\n"
            "out = model.predict([frame, frame], imgsz=160, conf=0.001, iou=0.5, max_det=100, agnostic=True)\n"
            "assert len(out) == 2 and out[0][0].shape[1] == 4\n"
            "print(sorted(m for m in ('torch', 'torchvision', 'ultralytics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_shipped_onnx_metadata_matches_checkpoint():
    from spermtrack.extras import file_sha256

    exported = sorted(p for p in WEIGHTS_DIR.glob("*.onnx") if p.name != "head_verifier.onnx")
    assert [p.stem for p in exported] == ["yolov5n_looks"]  # the default; the ablation checkpoints run on torch
    for stem in (p.stem for p in exported):
        model = OnnxYolo(WEIGHTS_DIR / f"{stem}.onnx", threads=1)
        assert model.source_sha256 == file_sha256(WEIGHTS_DIR / f"{stem}.pt"), f"{stem}.onnx is stale: re-export it"
        assert model.names == {0: "sperm", 1: "cluster", 2: "pinhead"}
        assert model.stride == 32 and model.imgsz == 640
        assert model.calibration is None or {"slope", "intercept"} <= set(model.calibration)


def test_bad_model_files_are_input_errors(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    folder = tmp_path / "folder.onnx"
    folder.mkdir()
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    text = tmp_path / "text.onnx"
    text.write_text("not a model\n")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(ONNX_LOOKS.read_bytes()[:5000])
    wrong_suffix = tmp_path / "model.pt"
    wrong_suffix.write_bytes(ONNX_LOOKS.read_bytes()[:100])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    not_yolo = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph), str(not_yolo))
    for path in (tmp_path / "missing.onnx", folder, empty, text, truncated, wrong_suffix, not_yolo):
        with pytest.raises(InputError) as info:
            OnnxYolo(path)
        message = str(info.value)
        assert message.startswith(str(path)) and "\n" not in message, message


def test_bad_frames_are_input_errors(onnx_model):
    frame = np.zeros((64, 64, 3), np.uint8)
    for frames in ([], [frame, np.zeros((32, 64, 3), np.uint8)], [frame[..., 0]], [frame.astype(np.float32)]):
        with pytest.raises(InputError):
            onnx_model.predict(frames, imgsz=64)


def test_export_writes_metadata_atomically(tmp_path):
    from spermtrack.extras import file_sha256

    with pytest.raises(InputError, match="must end in .onnx"):
        export_onnx(WEIGHTS_DIR / "yolov5n_looks.pt", tmp_path / "model.bin")
    out = export_onnx(WEIGHTS_DIR / "yolov5n_looks.pt", tmp_path / "looks.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["looks.onnx"]  # no temporary left behind
    model = OnnxYolo(out, threads=1)
    meta = model.session.get_modelmeta().custom_metadata_map
    assert json.loads(meta[META_KEYS["names"]]) == {"0": "sperm", "1": "cluster", "2": "pinhead"}
    assert model.source_sha256 == file_sha256(WEIGHTS_DIR / "yolov5n_looks.pt")
    assert model.calibration == OnnxYolo(ONNX_LOOKS, threads=1).calibration is not None
    output = model.session.get_outputs()[0]
    assert len(output.shape) == 3 and not isinstance(output.shape[2], int)  # raw head, dynamic anchors (no NMS)
    assert model.forward(np.zeros((2, 3, 64, 96), np.float32)).shape == (2, 7, 8 * 12 + 4 * 6 + 2 * 3)
    assert [not isinstance(d, int) for d in model.session.get_inputs()[0].shape] == [True, False, True, True]


def test_the_backend_follows_the_weights_unless_told(tmp_path):
    from spermtrack.detectors.yolo import YoloConfig, choose_backend, onnx_weights, resolve_weights

    shipped = resolve_weights(None)
    assert choose_backend(YoloConfig(), shipped) == "onnx"  # the default runs without PyTorch
    assert choose_backend(YoloConfig(backend="torch"), shipped) == "torch"
    own = tmp_path / "best.pt"
    own.write_bytes(b"PK\x03\x04")
    assert choose_backend(YoloConfig(weights=str(own)), own) == "torch"
    assert choose_backend(YoloConfig(), resolve_weights("yolov5n_visem")) == "torch"  # no export shipped beside it
    assert onnx_weights(shipped) == shipped.with_suffix(".onnx")
    with pytest.raises(InputError, match="has no ONNX export beside it"):
        onnx_weights(own)
