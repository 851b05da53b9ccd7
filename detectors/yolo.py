"""``yolo``: a YOLOv5-family detector on CPU, fully offline, through ONNX Runtime or ultralytics.

``YoloDetector()`` with no weights loads the checkpoint shipped in the package
(:data:`SHIPPED_WEIGHTS`: YOLOv5n trained by the project on real VISEM-Tracking video 11, the real SVIA clips
S_0001-S_0002 (another microscope: dark heads on light grey) and synthetic data of both looks; see
``detectors/weights/README.md`` for the command that reproduces it). ``weights=PATH`` loads any
ultralytics detection checkpoint as it is (``best.pt`` from ``spermtrack train-detector`` or from
ultralytics itself); its class indices become ``class_id`` unchanged (for VISEM-trained models
0 sperm, 1 cluster, 2 pinhead).

Two backends run the same network (:attr:`YoloConfig.backend`): ONNX Runtime on the ``.onnx`` export
shipped beside the default checkpoint (the default for it; no PyTorch installed or imported; the
pre- and post-processing of ultralytics redone in numpy, :mod:`spermtrack.detectors.onnx_yolo`) and
ultralytics on the ``.pt`` checkpoint (the default for any other ``.pt``; ``spermtrack[train]``).

Offline: before ultralytics is first imported, ``YOLO_OFFLINE=1`` is set (ultralytics then skips
its online checks, update checks and telemetry); if it was imported earlier its ``ONLINE`` flags
are switched off. Weights are only read from the path given: a missing, empty, non-``.pt`` or
unreadable file is an :class:`~spermtrack.errors.InputError` that says how to get one, never a
download attempt. torch and ultralytics are imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack._validate import Config
from spermtrack.detectors.base import FrameDetector, detections_table, pixel_scale, to_bgr, to_gray
from spermtrack.detectors.verify import HeadVerifier
from spermtrack.errors import InputError
from spermtrack.extras import file_sha256, require, torch_file_kind

__all__ = ["BACKENDS", "SHIPPED_CHECKPOINTS", "SHIPPED_WEIGHTS", "YOLO_MODELS", "YoloConfig", "YoloDetector",
           "checkpoint_calibration", "choose_backend", "configure_offline", "load_yolo", "no_downloads",
           "onnx_weights", "resolve_weights",
           "shipped_weights"]

#: The YOLOv5 sizes spermtrack builds from ultralytics' model yaml (no pretrained weights).
YOLO_MODELS: tuple[str, ...] = ("yolov5n", "yolov5s", "yolov5m", "yolov5l", "yolov5x")
#: Checkpoints shipped in ``spermtrack/detectors/weights/`` (recipes in :mod:`spermtrack.training.recipes`).
SHIPPED_CHECKPOINTS: tuple[str, ...] = ("yolov5n_looks.pt", "yolov5n_visem.pt", "yolov5n_synth.pt")
#: What can run a YOLO network (see :attr:`YoloConfig.backend`).
BACKENDS: tuple[str, ...] = ("auto", "onnx", "torch")
#: The shipped checkpoint used when no weights are given.
SHIPPED_WEIGHTS = "yolov5n_looks.pt"
_HOW_TO_GET = ("train one with 'spermtrack train-detector DATASET --model yolov5n --out DIR' (it writes "
               "DIR/train/weights/best.pt; 'spermtrack synth' makes a synthetic DATASET), or omit --weights to use "
               f"the checkpoint shipped with spermtrack ({SHIPPED_WEIGHTS})")


# ----------------------------------------------------------------------------------------------- offline
def configure_offline() -> None:
    """Make ultralytics run offline (``YOLO_OFFLINE=1``) and load checkpoints safely, always.

    ``ULTRALYTICS_SAFE_LOAD=1`` makes ultralytics unpickle checkpoints with
    ``torch.load(weights_only=True)`` against its allow-list of model classes, so a user's ``.pt``
    file cannot run arbitrary code. It is set whatever the environment says (a user's
    ``ULTRALYTICS_SAFE_LOAD=0`` is overridden inside spermtrack); if ultralytics is already imported,
    its flags are updated too.
    """
    import sys

    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"
    for name in ("ultralytics.utils", "ultralytics.nn.tasks"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "SAFE_LOAD"):
            module.SAFE_LOAD = True
    for name in ("ultralytics.utils", "ultralytics.utils.checks", "ultralytics.utils.events",
                 "ultralytics.hub.utils"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ONLINE", False):
            module.ONLINE = False


def _import_ultralytics():
    configure_offline()
    import ultralytics

    return ultralytics


def _refuse_download(*args, **kwargs):
    url = kwargs.get("url", args[0] if args else "?")
    raise InputError(f"spermtrack runs offline, but ultralytics tried to download {url}")


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Within this block ultralytics cannot download: font checks are skipped, downloads raise.

    ultralytics checks for (and downloads) the Arial font when it reads a data set, even with
    ``plots=False``; that check is replaced by a no-op, and ``safe_download`` raises
    :class:`~spermtrack.errors.InputError` naming the URL. Everything is restored on exit.
    """
    _import_ultralytics()
    import importlib

    patches = []
    for module_name, attr, replacement in (
            ("ultralytics.utils.checks", "check_font", lambda *a, **k: None),
            ("ultralytics.data.utils", "check_font", lambda *a, **k: None),
            ("ultralytics.utils.downloads", "safe_download", _refuse_download),
            ("ultralytics.data.utils", "safe_download", _refuse_download),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - layout of another ultralytics version
            continue
        if hasattr(module, attr):
            patches.append((module, attr, getattr(module, attr)))
            setattr(module, attr, replacement)
    try:
        yield
    finally:
        for module, attr, original in reversed(patches):
            setattr(module, attr, original)


# ----------------------------------------------------------------------------------------------- weights
def shipped_weights(name: str | None = None) -> Path:
    """Path of a checkpoint shipped in the package (``spermtrack.detectors/weights``).

    Parameters
    ----------
    name : str, optional
        One of :data:`SHIPPED_CHECKPOINTS`; default :data:`SHIPPED_WEIGHTS`.

    Raises
    ------
    InputError
        An unknown name, or the file is not in this installation.
    """
    import importlib.resources

    name = SHIPPED_WEIGHTS if name is None else name
    if name not in SHIPPED_CHECKPOINTS:
        raise InputError(f"unknown shipped checkpoint {name!r}; choose one of {', '.join(SHIPPED_CHECKPOINTS)}")
    resource = importlib.resources.files("spermtrack.detectors").joinpath("weights", name)
    if not resource.is_file():
        raise InputError(f"the shipped checkpoint {name} is missing from this installation of "
                         f"spermtrack (expected in spermtrack/detectors/weights/): reinstall spermtrack, or "
                         f"{_HOW_TO_GET.split(', or omit')[0]} and pass --weights")
    if isinstance(resource, Path):
        return resource
    stack = contextlib.ExitStack()  # a zipped install: extract once for the life of the process
    import atexit

    atexit.register(stack.close)
    return stack.enter_context(importlib.resources.as_file(resource))


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    """The checkpoint file for a ``weights`` setting.

    ``None`` is the default shipped checkpoint; a name in :data:`SHIPPED_CHECKPOINTS` (with or
    without ``.pt``) that is not an existing file is that shipped checkpoint; anything else is a path.
    """
    if weights is None:
        return shipped_weights()
    path = Path(weights).expanduser()
    name = path.name if path.suffix == ".pt" else f"{path.name}.pt"
    if not path.exists() and str(weights) in (name, name.removesuffix(".pt")) and name in SHIPPED_CHECKPOINTS:
        return shipped_weights(name)
    return path


def choose_backend(config: YoloConfig, weights: Path) -> str:
    """``onnx`` or ``torch`` for a config's ``backend`` and its resolved weights (see :attr:`YoloConfig.backend`)."""
    if config.backend != "auto":
        return config.backend
    shipped = weights.resolve().parent == Path(__file__).resolve().parent / "weights"
    exported = shipped and weights.with_suffix(".onnx").is_file()
    return "onnx" if exported or weights.suffix.lower() == ".onnx" else "torch"


def onnx_weights(weights: Path) -> Path:
    """The ONNX file to run for ``weights``: the file itself, or the export shipped beside a shipped checkpoint.

    Raises
    ------
    InputError
        A ``.pt`` file without an ``.onnx`` export beside it.
    """
    if weights.suffix.lower() == ".onnx":
        return weights
    beside = weights.with_suffix(".onnx")
    if not beside.is_file():
        raise InputError(f"has no ONNX export beside it ({beside.name}): use backend=torch (pip install "
                         f'"spermtrack[train]"), or export one with spermtrack.detectors.train.export_onnx', weights)
    return beside


def checkpoint_calibration(model):
    """The :class:`~spermtrack.detectors.calibrate.ScoreCalibration` stored in a loaded checkpoint, or None.

    Raises
    ------
    InputError
        The checkpoint holds a malformed calibration.
    """
    from spermtrack.detectors.calibrate import ScoreCalibration

    info = (getattr(model, "ckpt", None) or {}).get("spermtrack") or {}
    values = info.get("score_calibration") if isinstance(info, dict) else None
    return None if values is None else ScoreCalibration.from_dict(values)


def load_yolo(weights: str | os.PathLike):
    """Load an ultralytics detection checkpoint from a local file, offline.

    Parameters
    ----------
    weights : str or PathLike
        A ``.pt`` file written by ultralytics (``spermtrack train-detector`` or ultralytics itself).

    Returns
    -------
    ultralytics.YOLO
        The model, on CPU.

    Raises
    ------
    InputError
        The file does not exist, is a folder, is empty, is not a ``.pt`` file, cannot be
        unpickled as an ultralytics checkpoint (corrupt, truncated, another format), or holds a
        model for another task than detection. The message says how to get a checkpoint.
    """
    path = Path(weights).expanduser()
    if not path.exists():
        raise InputError(f"weights file not found: {_HOW_TO_GET}", path)
    if not path.is_file():
        raise InputError(f"is a folder, not a weights file: {_HOW_TO_GET}", path)
    if path.suffix.lower() != ".pt":
        raise InputError(f"is not a PyTorch checkpoint (.pt); spermtrack loads ultralytics .pt files: {_HOW_TO_GET}",
                         path)
    if path.stat().st_size == 0:
        raise InputError(f"is empty (0 bytes), not a checkpoint: {_HOW_TO_GET}", path)
    kind = torch_file_kind(path)
    if kind is not None:
        raise InputError(f"is not a PyTorch checkpoint (it is {kind}): {_HOW_TO_GET}", path)
    require("torch", "ultralytics", purpose=f"yolo with a PyTorch checkpoint ({path.name})")
    _import_ultralytics()
    from ultralytics import YOLO

    try:
        with no_downloads():
            model = YOLO(str(path.resolve()), task="detect")
    except InputError:
        raise
    except Exception as exc:  # torch/pickle raise many types for a bad file
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot be loaded as an ultralytics checkpoint ({type(exc).__name__}: {detail[:200]}); "
                         f"the file may be corrupt, truncated or of another format: {_HOW_TO_GET}", path) from None
    task = getattr(model, "task", "detect")
    if task != "detect":
        raise InputError(f"holds an ultralytics '{task}' model; spermtrack needs a detection model: {_HOW_TO_GET}",
                         path)
    return model


def _checkpoint_imgsz(model) -> int | None:
    """The image size a checkpoint was trained at, when it records one."""
    args = getattr(getattr(model, "model", None), "args", None) or {}
    imgsz = args.get("imgsz") if isinstance(args, dict) else getattr(args, "imgsz", None)
    if isinstance(imgsz, (list, tuple)) and imgsz:
        imgsz = max(imgsz)
    return int(imgsz) if isinstance(imgsz, (int, np.integer)) and imgsz > 0 else None


def inference_size(shape: tuple[int, int], um_per_px: float) -> int:
    """The inference size (multiple of 32, 32-4096) that shows a frame of ``shape`` at VISEM's pixel size.

    ultralytics letterboxes the long side to the inference size, so ``long side * pixel_scale``.
    """
    side = max(shape) * pixel_scale(um_per_px)
    return int(min(4096, max(32, round(side / 32) * 32)))


# ----------------------------------------------------------------------------------------------- detector
@dataclass(frozen=True)
class YoloConfig(Config):
    """Settings of the ``yolo`` detector; validated on construction.

    Parameters
    ----------
    weights : str or None
        Path of an ultralytics ``.pt`` checkpoint, or the name of a shipped one
        (:data:`SHIPPED_CHECKPOINTS`); ``None`` uses :data:`SHIPPED_WEIGHTS`.
    imgsz : int or None
        Inference size (long side, px, multiple of 32). ``None``: the frame's long side resampled to
        VISEM's pixel size when ``um_per_px`` is given (heads of the size the checkpoint learnt), else the
        size the checkpoint was trained at (640 when it does not say). VISEM heads are about 8 px at
        640 x 480: a smaller size shrinks them.
    conf : float
        Score threshold in [0, 1], on the reported (calibrated, when ``calibrate``) scale. Use about
        0.001 to score mAP (the whole precision-recall curve).
    iou : float
        IoU threshold of non-maximum suppression, in (0, 1].
    batch : int
        Frames per forward pass in ``detect_video``.
    max_det : int
        Most detections per frame.
    agnostic_nms : bool
        Suppress overlapping boxes across classes (one head is either sperm or pinhead).
    device : str
        torch device; ``"cpu"`` (spermtrack is CPU-first).
    calibrate : bool
        Report calibrated scores (:mod:`spermtrack.detectors.calibrate`) when the checkpoint holds
        a score calibration (the shipped ``yolov5n_looks.pt`` and ``yolov5n_visem.pt`` and those written by
        ``spermtrack train-detector`` do); raw confidences otherwise.
    threads : int or None
        CPU threads for inference (for ``torch``, torch's process-wide setting). ``None``: ``cpu_count - 1``
        (1 on a 2-core machine; ultralytics' own choice for torch): on a shared 2-core machine 2 threads
        ran 3-5x *slower* than 1 with torch (thread contention) and no faster with ONNX Runtime, so raise
        it only on idle machines.
    um_per_px : float or None
        The recording's pixel size, um; sets the inference size when ``imgsz`` is not given (see there).
    backend : {'auto', 'onnx', 'torch'}
        What runs the network. ``onnx``: ONNX Runtime on the ``.onnx`` export (shipped beside the
        default checkpoint; :mod:`spermtrack.detectors.onnx_yolo`), no PyTorch needed, the same pre- and
        post-processing as ultralytics. ``torch``: ultralytics on the ``.pt`` checkpoint (needs
        ``spermtrack[train]``). ``auto``: ``onnx`` for an ``.onnx`` file or a shipped checkpoint with its
        export beside it, ``torch`` for any other ``.pt`` file.
    verify : bool
        Rescore every box with the shipped head verifier (:mod:`spermtrack.detectors.verify`): a small CNN
        that sees the patch around the box and gives the calibrated probability that it is an annotated
        object; the score becomes the geometric mean of that and yolo's own. ``conf`` still selects the boxes,
        on yolo's own score.
    verifier : str or None
        With ``verify``: the verifier's ONNX file; ``None``: the shipped one.
    """

    weights: str | None = None
    imgsz: int | None = None
    conf: float = 0.25
    iou: float = 0.5
    batch: int = 8
    max_det: int = 1000
    agnostic_nms: bool = True
    device: str = "cpu"
    calibrate: bool = True
    threads: int | None = None
    um_per_px: float | None = None
    backend: str = "auto"
    verify: bool = True
    verifier: str | None = None

    def __post_init__(self) -> None:
        self._path("weights")
        if self._optional_integer("imgsz", lo=32, hi=8192) is not None and self.imgsz % 32:
            raise self._fail("imgsz", "a multiple of 32 (the model's largest stride)")
        self._number("conf", lo=0, hi=1)
        self._number("iou", lo=0, lo_open=True, hi=1)
        self._integer("batch", lo=1, hi=4096)
        self._integer("max_det", lo=1)
        self._boolean("agnostic_nms")
        self._boolean("calibrate")
        self._optional_integer("threads", lo=1, hi=1024)
        self._optional_number("um_per_px", lo=0, lo_open=True, hi=1000)
        if not isinstance(self.device, str) or not self.device:
            raise self._fail("device", "a torch device string such as 'cpu'")
        self._choice("backend", BACKENDS)
        self._boolean("verify")
        self._path("verifier")


class YoloDetector(FrameDetector):
    """The ``yolo`` detector: an ultralytics YOLO checkpoint run batched on CPU.

    Parameters
    ----------
    config : YoloConfig, optional
        Settings; by default the shipped checkpoint at its training size.
    **overrides
        Fields of :class:`YoloConfig`, e.g. ``YoloDetector(weights="best.pt", imgsz=320)``.

    Raises
    ------
    InputError
        An unknown option, or weights that cannot be loaded (see :func:`load_yolo`).
    """

    name = "yolo"

    def __init__(self, config: YoloConfig | None = None, **overrides) -> None:
        base = config if config is not None else YoloConfig()
        if not isinstance(base, YoloConfig):
            raise InputError(f"config must be a YoloConfig, got {type(base).__name__}")
        cfg = base.replace(**overrides) if overrides else base
        self.weights_path = resolve_weights(cfg.weights)
        self.backend = choose_backend(cfg, self.weights_path)
        self._scaled = cfg.imgsz is None and cfg.um_per_px is not None  # imgsz follows each video's frame size
        if self.backend == "onnx":
            from spermtrack.detectors.calibrate import ScoreCalibration
            from spermtrack.detectors.onnx_yolo import OnnxYolo

            self.weights_path = onnx_weights(self.weights_path)
            # one thread less than the cores: the main thread decodes the next frames meanwhile
            self.runtime = OnnxYolo(self.weights_path, threads=cfg.threads or max(1, (os.cpu_count() or 1) - 1))
            stored = self.runtime.calibration
            self.calibration = ScoreCalibration.from_dict(stored) if cfg.calibrate and stored else None
            trained_imgsz, names = self.runtime.imgsz, self.runtime.names
        else:
            self.model = load_yolo(self.weights_path)
            self.calibration = checkpoint_calibration(self.model) if cfg.calibrate else None
            trained_imgsz, names = _checkpoint_imgsz(self.model), dict(self.model.names)
        if cfg.imgsz is None:
            cfg = replace(cfg, imgsz=trained_imgsz or 640)
        self.config = cfg
        self.imgsz = cfg.imgsz
        self.batch_size = cfg.batch
        self.class_names = {int(k): str(v) for k, v in names.items()}
        self.verifier = HeadVerifier(cfg.verifier, um_per_px=cfg.um_per_px) if cfg.verify else None
        if self.backend == "torch":
            self._predict([np.zeros((32, 32, 3), np.uint8)])  # set up ultralytics' predictor (it resets threads)
            if cfg.threads is not None:
                import torch

                torch.set_num_threads(cfg.threads)

    def _start_video(self, first: np.ndarray) -> None:
        if self._scaled:
            self.imgsz = inference_size(first.shape[:2], self.config.um_per_px)

    def to_dict(self) -> dict:
        """Settings plus the checkpoint's path, sha256 and class names, for provenance (``imgsz``: the last video's)."""
        return {"detector": self.name, **self.config.to_dict(), "backend": self.backend, "imgsz": self.imgsz,
                "weights_path": str(self.weights_path),
                "weights_sha256": file_sha256(self.weights_path), "class_names": self.class_names,
                "score_calibration": None if self.calibration is None else self.calibration.to_dict(),
                "verifier": None if self.verifier is None else self.verifier.to_dict()}

    def _predict(self, frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Raw boxes of BGR frames: per frame ``(xywh (n, 4), score (n,), class (n,))`` in frame pixels."""
        cfg = self.config
        conf = cfg.conf if self.calibration is None or cfg.conf <= 0 else self.calibration.invert(cfg.conf)
        if self.backend == "onnx":
            return self.runtime.predict(frames, imgsz=self.imgsz, conf=conf, iou=cfg.iou, max_det=cfg.max_det,
                                        agnostic=cfg.agnostic_nms)
        with no_downloads():
            results = self.model.predict(frames, imgsz=self.imgsz, conf=conf, iou=cfg.iou, max_det=cfg.max_det,
                                         agnostic_nms=cfg.agnostic_nms, device=cfg.device, batch=len(frames),
                                         verbose=False)
        return [(r.boxes.xywh.cpu().numpy().astype(np.float64).reshape(-1, 4),
                 r.boxes.conf.cpu().numpy().astype(np.float64).reshape(-1),
                 r.boxes.cls.cpu().numpy().astype(np.int64).reshape(-1)) for r in results]

    def _detect_batch(self, frames: list[np.ndarray], indices: list[int]) -> list[pd.DataFrame]:
        tables = []
        for frame, index, (xywh, score, cls) in zip(frames, indices, self._predict([to_bgr(f) for f in frames])):
            if self.calibration is not None:
                score = self.calibration.apply(score)
            order = np.lexsort((xywh[:, 0], xywh[:, 1]))
            table = detections_table(index, xywh[order, 0], xywh[order, 1], xywh[order, 2], xywh[order, 3],
                                     score[order], cls[order])
            tables.append(table if self.verifier is None else self.verifier.rescore(to_gray(frame), table))
        return tables
