"""YOLO inference through ONNX Runtime, without torch or ultralytics.

:func:`spermtrack.detectors.train.export_onnx` turns an ultralytics detection checkpoint (``.pt``) into
an ONNX graph with dynamic batch, height and width whose single output is the raw head,
``(batch, 4 + classes, anchors)``: box centre, width and height in input pixels, then the per-class
sigmoid scores (no NMS in the graph). The
file's ``metadata_props`` carry what inference needs besides the graph (keys :data:`META_KEYS`): class
names, stride, training image size, spermtrack's score calibration (when the checkpoint has one) and the
sha256 of the source checkpoint. ultralytics' own metadata is kept too, so ultralytics can load the file.

:class:`OnnxYolo` runs such a file with numpy, OpenCV and onnxruntime only. Its
:meth:`OnnxYolo.predict` replicates ultralytics' ``model.predict`` on BGR uint8 frames step by step:
``LetterBox`` with ``auto=True`` (minimal padding to a stride multiple, centred, grey 114, INTER_LINEAR,
ultralytics' rounding), BGR to RGB, ``/255`` as float32; then ``non_max_suppression`` (best class per
box, score ``> conf``, class-offset or agnostic greedy NMS as ``torchvision.ops.nms``, ``max_det``) and
``scale_boxes`` (same gain, padding and clipping), all in float32 as torch computes them. Boxes and
scores agree with the torch path to float32 round-off of the network (about 1e-4 px); a box whose score or
overlap sits within that round-off of ``conf`` or ``iou`` may be in one result and not the other.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from spermtrack.errors import InputError

__all__ = ["META_KEYS", "OnnxYolo"]

_PREFIX = "spermtrack."
#: metadata_props keys written by :func:`~spermtrack.detectors.train.export_onnx` (values are strings; JSON
#: where noted).
META_KEYS: dict[str, str] = {
    "names": _PREFIX + "names",  # JSON object {"0": "sperm", ...}
    "stride": _PREFIX + "stride",  # largest stride, int
    "imgsz": _PREFIX + "imgsz",  # training image size, int
    "score_calibration": _PREFIX + "score_calibration",  # JSON ScoreCalibration.to_dict(), or "null"
    "source_sha256": _PREFIX + "source_sha256",  # sha256 of the .pt the graph was exported from
}
_MAX_WH = 7680  # ultralytics' per-class box offset for class-aware NMS
_MAX_NMS = 30000  # ultralytics' cap on boxes entering NMS
_PAD = 114  # LetterBox padding value
_HOW_TO_GET = ("export one from an ultralytics checkpoint with "
               "spermtrack.detectors.train.export_onnx(PT_PATH, ONNX_PATH)")


# ------------------------------------------------------------------------------------------------ inference
def cpu_options(threads: int):
    """ONNX Runtime session options for spermtrack's CPU inference: ``threads`` intra-op threads, one inter-op."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle workers sleep instead of spinning: on a shared 2-core machine spinning made 2 threads ~1.5x slower
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return options


def _check_model_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"ONNX model file not found: {_HOW_TO_GET}", path)
    if not path.is_file():
        raise InputError(f"is a folder, not an ONNX model file: {_HOW_TO_GET}", path)
    if path.suffix.lower() != ".onnx":
        raise InputError(f"is not an ONNX model (.onnx): {_HOW_TO_GET}", path)
    if path.stat().st_size == 0:
        raise InputError(f"is empty (0 bytes), not an ONNX model: {_HOW_TO_GET}", path)


def _letterbox_geometry(shape: tuple[int, int], imgsz: int, stride: int) -> tuple[tuple[int, int], int, int, int, int]:
    """ultralytics' ``LetterBox(auto=True, center=True)`` for a square ``imgsz``: resized (w, h) and padding."""
    r = min(imgsz / shape[0], imgsz / shape[1])
    new_unpad = max(round(shape[1] * r), 1), max(round(shape[0] * r), 1)
    dw, dh = imgsz - new_unpad[0], imgsz - new_unpad[1]
    dw, dh = dw % stride, dh % stride  # minimum rectangle
    dw, dh = dw / 2, dh / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    return new_unpad, top, bottom, left, right


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int) -> np.ndarray:
    """Greedy NMS as ``torchvision.ops.nms`` on CPU (float32 overlaps, stable descending sort).

    A box is dropped when its IoU with a kept, higher-scored box is ``> iou`` (compared in float64, as
    torchvision compares its float overlap with the double threshold). Stops after ``limit`` boxes are
    kept: the greedy order makes that the first ``limit`` of the full result.
    """
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    zero = np.float32(0)
    keep = []
    while order.size and len(keep) < limit:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(overlap.astype(np.float64) > iou)]
    return np.asarray(keep, dtype=np.int64)


class OnnxYolo:
    """A YOLO detection model exported by :func:`~spermtrack.detectors.train.export_onnx`, run by onnxruntime on CPU.

    Parameters
    ----------
    path : str or PathLike
        The ``.onnx`` file.
    threads : int, optional
        onnxruntime intra-op threads; default ``os.cpu_count()``. Idle threads sleep rather than spin.
        On a busy 2-core machine 1 thread was as fast as 2 or faster; raise it on idle many-core machines.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    names : dict[int, str]
        Class index to name.
    stride : int
        Largest stride; inference sizes are rounded up to a multiple of it.
    imgsz : int
        The image size the checkpoint was trained at.
    calibration : dict or None
        spermtrack's score calibration (``ScoreCalibration.to_dict()``), when the checkpoint had one;
        ``ScoreCalibration.from_dict`` rebuilds it. :meth:`predict` returns raw, uncalibrated scores.
    source_sha256 : str or None
        sha256 of the checkpoint the graph was exported from.

    Raises
    ------
    InputError
        The file is missing, a folder, empty, not ``.onnx``, not readable by onnxruntime, or not a
        detection head with class names (one input, one ``(batch, 4 + classes, anchors)`` output).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path).expanduser()
        _check_model_file(self.path)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                    or threads < 1):
            raise InputError(f"threads must be a positive integer, got {threads!r}")
        self.threads = int(threads) if threads is not None else (os.cpu_count() or 1)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=cpu_options(self.threads),
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for protobuf/graph errors
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"cannot be loaded as an ONNX model ({type(exc).__name__}: {detail[:200]}); the file may "
                             f"be corrupt, truncated or of another format: {_HOW_TO_GET}", self.path) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.names, self.stride, self.imgsz = self._read_meta(meta)
        calibration = meta.get(META_KEYS["score_calibration"])
        self.calibration = json.loads(calibration) if calibration else None
        self.source_sha256 = meta.get(META_KEYS["source_sha256"])
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1 or len(outputs[0].shape) != 3:
            raise InputError(f"is not a raw YOLO detection graph (needs one image input and one (batch, 4 + classes, "
                             f"anchors) output; export without NMS): {_HOW_TO_GET}", self.path)
        channels = outputs[0].shape[1]
        if isinstance(channels, int) and channels != 4 + len(self.names):
            raise InputError(f"has {channels} output channels but {len(self.names)} class names (expected "
                             f"{4 + len(self.names)}): {_HOW_TO_GET}", self.path)
        self._input = inputs[0].name

    def _read_meta(self, meta: dict) -> tuple[dict[int, str], int, int]:
        """Names, stride and training size from spermtrack's keys, else from ultralytics' own metadata."""
        import ast

        try:
            if META_KEYS["names"] in meta:
                names = {int(k): str(v) for k, v in json.loads(meta[META_KEYS["names"]]).items()}
            else:  # a file exported by ultralytics itself
                names = {int(k): str(v) for k, v in ast.literal_eval(meta["names"]).items()}
            stride = int(meta.get(META_KEYS["stride"], meta.get("stride", 32)))
            imgsz = meta.get(META_KEYS["imgsz"])
            if imgsz is None:
                size = ast.literal_eval(meta.get("imgsz", "640"))
                imgsz = max(size) if isinstance(size, (list, tuple)) else size
            imgsz = int(imgsz)
        except (KeyError, ValueError, SyntaxError, TypeError, AttributeError) as exc:
            raise InputError(f"has no readable class names, stride or image size in its metadata "
                             f"({type(exc).__name__}): {_HOW_TO_GET}", self.path) from None
        if not names or stride < 1 or imgsz < 1:
            raise InputError(f"has empty class names or a non-positive stride/image size in its metadata: "
                             f"{_HOW_TO_GET}", self.path)
        return names, stride, imgsz

    def __repr__(self) -> str:
        return f"OnnxYolo({str(self.path)!r}, threads={self.threads})"

    # -------------------------------------------------------------------------------------------- steps
    def input_size(self, imgsz: int | None = None) -> int:
        """``imgsz`` (default the training size) rounded up to a stride multiple, as ultralytics' ``check_imgsz``."""
        size = self.imgsz if imgsz is None else int(imgsz)
        return max(math.ceil(size / self.stride) * self.stride, self.stride)

    def preprocess(self, frames_bgr: list[np.ndarray], imgsz: int | None = None) -> np.ndarray:
        """Letterbox BGR uint8 frames of one shape into the network input, ``(n, 3, h, w)`` float32 RGB in [0, 1].

        Raises
        ------
        InputError
            No frames, frames of different shapes, or not ``(H, W, 3)`` uint8.
        """
        import cv2

        if not len(frames_bgr):
            raise InputError("predict needs at least one frame")
        shape = frames_bgr[0].shape
        for frame in frames_bgr:
            if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise InputError(f"frames must be (H, W, 3) BGR uint8 arrays, got "
                                 f"{getattr(frame, 'shape', type(frame).__name__)} {getattr(frame, 'dtype', '')}")
            if frame.shape != shape or not all(shape):
                raise InputError(f"the frames of one batch must share one non-empty shape; got {shape} and "
                                 f"{frame.shape}")
        size = self.input_size(imgsz)
        new_unpad, top, bottom, left, right = _letterbox_geometry(shape[:2], size, self.stride)
        h, w = new_unpad[1] + top + bottom, new_unpad[0] + left + right
        batch = np.empty((len(frames_bgr), h, w, 3), np.uint8)
        for k, frame in enumerate(frames_bgr):
            img = frame if shape[1::-1] == new_unpad else cv2.resize(frame, new_unpad,
                                                                      interpolation=cv2.INTER_LINEAR)
            batch[k] = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                          value=(_PAD, _PAD, _PAD))
        tensor = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32)
        tensor /= np.float32(255)
        return tensor

    def forward(self, tensor: np.ndarray) -> np.ndarray:
        """The raw head for a preprocessed batch: ``(n, 4 + classes, anchors)`` float32."""
        return self.session.run(None, {self._input: tensor})[0]

    def postprocess(self, raw: np.ndarray, input_shape: tuple[int, int], orig_shape: tuple[int, int], conf: float,
                    iou: float, max_det: int, agnostic: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """ultralytics' ``non_max_suppression`` then ``scale_boxes`` and ``Boxes.xywh``, per image, in float32.

        Parameters
        ----------
        raw : numpy.ndarray
            :meth:`forward`'s output.
        input_shape : tuple of int
            (h, w) of the network input.
        orig_shape : tuple of int
            (h, w) of the original frames.
        conf, iou, max_det, agnostic
            As in :meth:`predict`.

        Returns
        -------
        list of tuple
            Per image ``(xywh (n, 4) float64, score (n,) float64, class (n,) int64)``, in original pixels.
        """
        nc = raw.shape[1] - 4
        if raw.ndim != 3 or nc != len(self.names):
            raise InputError(f"the model returned shape {raw.shape}, not (batch, {4 + len(self.names)}, anchors) for "
                             f"{len(self.names)} classes: {_HOW_TO_GET}", self.path)
        thres = np.float32(conf)  # torch compares the float32 scores with the threshold cast to float32
        results = []
        for pred in raw:
            x = pred.T  # (anchors, 4 + nc)
            cls_scores = x[:, 4:4 + nc]
            score = cls_scores.max(1)
            keep = score > thres
            x, score = x[keep], score[keep]
            if not len(x):
                results.append(_empty())
                continue
            cls = x[:, 4:4 + nc].argmax(1)
            xy, half = x[:, :2], x[:, 2:4] / np.float32(2)
            boxes = np.concatenate([xy - half, xy + half], axis=1)  # xywh2xyxy
            if len(x) > _MAX_NMS:
                top = np.argsort(-score, kind="stable")[:_MAX_NMS]
                boxes, score, cls = boxes[top], score[top], cls[top]
            offset = cls.astype(np.float32)[:, None] * np.float32(0 if agnostic else _MAX_WH)
            kept = _nms(boxes + offset, score, float(iou), int(max_det))
            boxes, score, cls = _scale_boxes(input_shape, boxes[kept], orig_shape), score[kept], cls[kept]
            xywh = np.stack([(boxes[:, 0] + boxes[:, 2]) / np.float32(2), (boxes[:, 1] + boxes[:, 3]) / np.float32(2),
                             boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
            results.append((xywh.astype(np.float64), score.astype(np.float64), cls.astype(np.int64)))
        return results

    def predict(self, frames_bgr: list[np.ndarray], imgsz: int | None = None, conf: float = 0.25, iou: float = 0.5,
                max_det: int = 1000, agnostic: bool = True) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Detect objects in frames, as ultralytics' ``model.predict`` would on the source checkpoint.

        Parameters
        ----------
        frames_bgr : list of numpy.ndarray
            BGR uint8 frames ``(H, W, 3)``, all of one shape; run as one batch.
        imgsz : int, optional
            Inference size (long side), rounded up to a multiple of :attr:`stride`; default :attr:`imgsz`.
        conf : float
            Keep boxes whose best raw class score is ``> conf``.
        iou : float
            NMS drops a box whose IoU with a higher-scored kept box is ``> iou``.
        max_det : int
            Most boxes per frame.
        agnostic : bool
            NMS across classes (True) or within each class (False).

        Returns
        -------
        list of tuple
            Per frame ``(xywh, score, class)``: box centre, width and height in the frame's pixels
            (``(n, 4)`` float64), raw score (``(n,)`` float64, uncalibrated), class index (``(n,)`` int64),
            in descending score order.

        Raises
        ------
        InputError
            Bad frames (see :meth:`preprocess`) or settings out of range.
        """
        if not 0 <= conf <= 1:
            raise InputError(f"conf must be in [0, 1], got {conf!r}")
        if not 0 <= iou <= 1:
            raise InputError(f"iou must be in [0, 1], got {iou!r}")
        if int(max_det) < 1:
            raise InputError(f"max_det must be at least 1, got {max_det!r}")
        tensor = self.preprocess(frames_bgr, imgsz)
        raw = self.forward(tensor)
        return self.postprocess(raw, tensor.shape[2:], frames_bgr[0].shape[:2], conf, iou, max_det, bool(agnostic))


def _scale_boxes(input_shape: tuple[int, int], boxes: np.ndarray, orig_shape: tuple[int, int]) -> np.ndarray:
    """ultralytics' ``scale_boxes`` (gain and padding recomputed from the shapes) and ``clip_boxes``, float32."""
    gain = min(input_shape[0] / orig_shape[0], input_shape[1] / orig_shape[1])
    new_h, new_w = (max(round(s * gain), 1) for s in orig_shape[:2])
    gain_y, gain_x = np.float32(new_h / orig_shape[0]), np.float32(new_w / orig_shape[1])
    pad_x = np.float32(round((input_shape[1] - new_w) / 2 - 0.1))
    pad_y = np.float32(round((input_shape[0] - new_h) / 2 - 0.1))
    out = boxes.copy()
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - pad_x) / gain_x, np.float32(0), np.float32(orig_shape[1]))
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - pad_y) / gain_y, np.float32(0), np.float32(orig_shape[0]))
    return out


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float64), np.zeros(0, np.float64), np.zeros(0, np.int64)
