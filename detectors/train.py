"""Train a YOLOv5-family detector with ultralytics, offline on CPU.

:func:`train_yolo` builds the model from ultralytics' yaml (``yolov5n/s/m/l/x``: random initialisation,
no downloaded weights) or continues from a given ``.pt``, trains it on an ultralytics data set with
spermtrack's photometric augmentation (:mod:`spermtrack.detectors.augment`) added to ultralytics' own,
then validates the best checkpoint (:func:`validate_detector`: mAP50, mAP50-95, precision, recall).
:func:`export_onnx` writes a checkpoint's ONNX graph for inference without PyTorch
(:mod:`spermtrack.detectors.onnx_yolo`).
Building the data set from VISEM-Tracking folders and writing files are the training package's job
(:mod:`spermtrack.training`).

No network: ``YOLO_OFFLINE=1``, ``plots=False`` (no font download), ``amp=False`` (no AMP check
model download) and :func:`~spermtrack.detectors.yolo.no_downloads` around every ultralytics call.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from spermtrack._validate import Config
from spermtrack.detectors.augment import PhotometricAugment, PhotometricConfig
from spermtrack.detectors.yolo import YOLO_MODELS, _import_ultralytics, configure_offline, load_yolo, no_downloads
from spermtrack.errors import InputError
from spermtrack.extras import require

__all__ = ["TrainConfig", "export_onnx", "train_yolo", "validate_detector"]


@dataclass(frozen=True)
class TrainConfig(Config):
    """Settings of :func:`train_yolo`; validated on construction.

    Parameters
    ----------
    model : str
        ``yolov5n``, ``yolov5s``, ``yolov5m``, ``yolov5l`` or ``yolov5x`` (built from ultralytics'
        yaml, random weights), or a path to an ultralytics model ``.yaml`` or a ``.pt`` checkpoint
        to continue from.
    epochs : int
        Training epochs.
    imgsz : int
        Training and validation size (long side, px, multiple of 32). VISEM frames are 640 x 480
        with 6-10 px heads: 640 keeps them at full size.
    batch : int
        Images per batch; also ultralytics' nominal batch ``nbs``, so that every batch is one
        optimizer step (ultralytics' default accumulates to 64 images, which leaves a small data
        set with very few steps).
    seed : int
        Seed of the split and of ultralytics (``deterministic=True``).
    workers : int
        Data loader worker processes (0: load in the main process).
    patience : int
        Stop after this many epochs without improvement of the validation fitness.
    flipud, fliplr : float
        Probability of vertical / horizontal flips (a microscope field has no up or left).
    mosaic : float
        Probability of mosaic augmentation.
    scale : float
        Random scale gain (+/- fraction); small, because head size carries information.
    close_mosaic : int
        Turn mosaic off for the last epochs.
    optimizer : str
        ultralytics optimizer name (``auto``, ``SGD``, ``AdamW``, ...).
    lr0 : float or None
        Initial learning rate; ``None`` keeps ultralytics' choice (with ``optimizer='auto'`` it
        fits one to the number of iterations).
    warmup_epochs : float
        Epochs of learning-rate warm-up.
    warmup_bias_lr : float
        Learning rate of the bias parameters at the start of the warm-up. ultralytics' 0.1 suits
        SGD from scratch; with Adam-type optimizers, whose steps do not scale with the gradient, it
        pushes the class biases to "background" and a fine-tuned model forgets every object for
        several epochs, so fine-tuning recipes set it to 0.
    device : str
        ``"cpu"`` (the reference; CI has no GPU) or a CUDA device such as ``"0"`` when one is
        available; the result is exported and calibrated on the CPU either way.
    """

    model: str = "yolov5n"
    epochs: int = 30
    imgsz: int = 640
    batch: int = 16
    seed: int = 0
    workers: int = 2
    patience: int = 100
    flipud: float = 0.5
    fliplr: float = 0.5
    mosaic: float = 1.0
    scale: float = 0.25
    close_mosaic: int = 5
    optimizer: str = "auto"
    lr0: float | None = None
    warmup_epochs: float = 3.0
    warmup_bias_lr: float = 0.1
    device: str = "cpu"

    def __post_init__(self) -> None:
        model = self._path("model")
        if model is None or (model not in YOLO_MODELS and Path(model).suffix.lower() not in (".yaml", ".yml", ".pt")):
            raise self._fail("model", f"one of {', '.join(YOLO_MODELS)} or a path to an ultralytics .yaml or .pt file")
        if model not in YOLO_MODELS and not Path(model).is_file():
            raise InputError(f"model file not found (use one of {', '.join(YOLO_MODELS)} to train from scratch)",
                             model)
        for name, lo, hi in (("epochs", 1, 100000), ("batch", 1, 4096), ("seed", 0, 2**32 - 1),
                             ("workers", 0, 64), ("patience", 1, 100000), ("close_mosaic", 0, 100000)):
            self._integer(name, lo=lo, hi=hi)
        if self._integer("imgsz", lo=32, hi=8192) % 32:
            raise self._fail("imgsz", "a multiple of 32")
        for name in ("flipud", "fliplr", "mosaic", "scale"):
            self._number(name, lo=0, hi=1)
        self._choice("optimizer", ("auto", "SGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp"))
        self._optional_number("lr0", lo=0, lo_open=True, hi=1)
        self._number("warmup_epochs", lo=0, hi=1000)
        self._number("warmup_bias_lr", lo=0, hi=1)
        if not isinstance(self.device, str) or not (self.device == "cpu" or self.device.replace(",", "").isdigit()):
            raise self._fail("device", "'cpu' or CUDA device numbers such as '0' or '0,1'")


def _model_source(model: str) -> str:
    return f"{model}.yaml" if model in YOLO_MODELS else str(Path(model).resolve())


def validate_detector(weights: str | os.PathLike, data_yaml: str | os.PathLike, *, imgsz: int, batch: int = 16,
                      out_dir: str | os.PathLike, name: str = "val") -> dict:
    """Score a checkpoint on the validation split of an ultralytics data set.

    ultralytics' detection validation: predictions at ``conf=0.001``, NMS IoU 0.7, COCO-style
    101-point AP per class averaged over classes with labels; precision and recall at the
    confidence that maximises the mean F1.

    Parameters
    ----------
    weights : str or PathLike
        An ultralytics ``.pt`` checkpoint.
    data_yaml : str or PathLike
        ``data.yaml`` of the data set (its ``val`` split is scored).
    imgsz, batch : int
        Inference size and batch.
    out_dir : str or PathLike
        The run folder goes to ``out_dir/name``.
    name : str
        Run folder name.

    Returns
    -------
    dict
        ``mAP50``, ``mAP50_95``, ``precision``, ``recall`` (floats in [0, 1]).
    """
    model = load_yolo(weights)
    with no_downloads():
        metrics = model.val(data=str(data_yaml), split="val", imgsz=int(imgsz), batch=int(batch), device="cpu",
                            plots=False, project=str(Path(out_dir).resolve()), name=name, exist_ok=True,
                            verbose=False, workers=0)
    box = metrics.box
    return {"mAP50": float(box.map50), "mAP50_95": float(box.map), "precision": float(box.mp),
            "recall": float(box.mr)}


def _trainer_class(photometric: PhotometricConfig | None):
    """ultralytics' detection trainer, with :class:`PhotometricAugment` in the training transforms."""
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.models.yolo.detect import DetectionTrainer

    if photometric is None:
        return DetectionTrainer

    class _AugmentedDataset(YOLODataset):
        def build_transforms(self, hyp=None):
            transforms = super().build_transforms(hyp)
            if self.augment:  # before the final Format step; rebuilt (and kept) when mosaic closes
                transforms.insert(len(transforms.transforms) - 1, PhotometricAugment(photometric))
            return transforms

    class _Trainer(DetectionTrainer):
        def build_dataset(self, img_path, mode="train", batch=None):
            dataset = super().build_dataset(img_path, mode, batch)
            if mode == "train" and type(dataset) is YOLODataset:
                dataset.__class__ = _AugmentedDataset  # same state; only build_transforms differs
                dataset.transforms = dataset.build_transforms(hyp=self.args)
            return dataset

    return _Trainer


def train_yolo(data_yaml: str | os.PathLike, *, out_dir: str | os.PathLike, config: TrainConfig,
               photometric: PhotometricConfig | None = None, verbose: bool = True) -> dict:
    """Train a YOLOv5-family detector on an ultralytics data set on CPU, offline, and validate it.

    Parameters
    ----------
    data_yaml : str or PathLike
        ``data.yaml`` of the data set (:func:`~spermtrack.training.dataset.write_yolo_dataset`).
    out_dir : str or PathLike
        The run goes to ``out_dir/train``, the final validation to ``out_dir/val``.
    config : TrainConfig
        Model, epochs, size, batch and ultralytics' geometric augmentation.
    photometric : PhotometricConfig, optional
        Photometric augmentation of the training images (polarity, gray, contrast, blur, noise,
        JPEG); ``None`` uses ultralytics' own colour jitter only.
    verbose : bool
        Let ultralytics print its per-epoch progress.

    Returns
    -------
    dict
        ``mAP50``, ``mAP50_95``, ``precision``, ``recall`` of the best checkpoint on the val split,
        ``weights`` (``best.pt``), ``last_weights``, ``epochs_run``, ``train_seconds``, ``config``
        and ``photometric``.
    """
    require("torch", "ultralytics", purpose="training a YOLO detector")
    _import_ultralytics()
    from ultralytics import YOLO

    out = Path(out_dir).resolve()
    if config.model.endswith(".pt"):
        yolo = load_yolo(config.model)
    else:
        with no_downloads():
            yolo = YOLO(_model_source(config.model), task="detect")
    start = time.perf_counter()
    with no_downloads():
        yolo.train(data=str(data_yaml), trainer=_trainer_class(photometric), epochs=config.epochs,
                   imgsz=config.imgsz, batch=config.batch, device=config.device, workers=config.workers,
                   seed=config.seed,
                   deterministic=True, project=str(out), name="train", exist_ok=True, plots=False, amp=False,
                   # ultralytics re-initialises the weights when pretrained is False: keep a .pt model's own
                   pretrained=config.model.endswith(".pt"), patience=config.patience, flipud=config.flipud,
                   fliplr=config.fliplr,
                   mosaic=config.mosaic, scale=config.scale, close_mosaic=config.close_mosaic, nbs=config.batch,
                   optimizer=config.optimizer, warmup_epochs=config.warmup_epochs,
                   warmup_bias_lr=config.warmup_bias_lr, verbose=verbose, val=True, cache=False,
                   **({} if config.lr0 is None else {"lr0": config.lr0}))
    seconds = time.perf_counter() - start
    best = out / "train" / "weights" / "best.pt"
    last = out / "train" / "weights" / "last.pt"
    if not best.is_file():
        best = last
    scores = validate_detector(best, data_yaml, imgsz=config.imgsz, batch=config.batch, out_dir=out, name="val")
    epochs_run = None
    results_csv = out / "train" / "results.csv"
    if results_csv.is_file():
        epochs_run = max(0, len(results_csv.read_text(encoding="utf-8").strip().splitlines()) - 1)
    return {**scores, "weights": str(best), "last_weights": str(last), "epochs_run": epochs_run,
            "train_seconds": round(seconds, 1), "config": config.to_dict(),
            "photometric": None if photometric is None else photometric.to_dict()}


def export_onnx(pt_path: str | os.PathLike, onnx_path: str | os.PathLike, *, opset: int | None = None) -> Path:
    """Export an ultralytics detection checkpoint to ONNX for :class:`~spermtrack.detectors.onnx_yolo.OnnxYolo`.

    The graph has dynamic batch, height and width and returns the raw head (no NMS). It keeps the
    checkpoint's half-precision weights as they are: batch normalisation is not folded into the
    convolutions (ultralytics' ``fuse`` and torch's constant folding are switched off for the export),
    so every weight is a float16 value, stored as float16 and cast to float32 in the graph
    (:func:`_half_initializers`); ONNX Runtime folds the casts and the normalisation when it loads the
    file. The file is half the size of a folded float32 export (5 MB) and gives the same boxes. ultralytics
    exports it offline (:func:`~spermtrack.detectors.yolo.configure_offline`, inside
    :func:`~spermtrack.detectors.yolo.no_downloads`) from a copy of the checkpoint in a temporary
    folder; the file is then written to ``onnx_path`` atomically (a temporary file in the same folder,
    renamed), so a reader never sees half a file. torch and ultralytics are imported only here.

    Parameters
    ----------
    pt_path : str or PathLike
        An ultralytics ``.pt`` detection checkpoint, or the name of a shipped one
        (:data:`~spermtrack.detectors.yolo.SHIPPED_CHECKPOINTS`).
    onnx_path : str or PathLike
        Where to write the model; must end in ``.onnx``. Its folder must exist; an existing file is replaced.
    opset : int, optional
        ONNX opset; default ultralytics' choice for the installed torch and onnx.

    Returns
    -------
    pathlib.Path
        ``onnx_path``.

    Raises
    ------
    InputError
        The checkpoint cannot be loaded (see :func:`~spermtrack.detectors.yolo.load_yolo`), ``onnx_path``
        does not end in ``.onnx`` or its folder does not exist.
    """
    import shutil
    import tempfile
    import warnings

    import onnx

    from spermtrack.detectors.onnx_yolo import META_KEYS
    from spermtrack.detectors.yolo import _checkpoint_imgsz, checkpoint_calibration, resolve_weights
    from spermtrack.extras import file_sha256

    source = resolve_weights(pt_path)
    out = Path(onnx_path).expanduser()
    if out.suffix.lower() != ".onnx":
        raise InputError("the ONNX output path must end in .onnx", out)
    if not out.parent.is_dir():
        raise InputError("the folder of the ONNX output does not exist", out)
    load_yolo(source)  # validates the file with spermtrack's messages before anything is copied
    configure_offline()
    with tempfile.TemporaryDirectory(prefix=".onnx_export_", dir=out.parent) as tmp:
        copy = Path(tmp) / "model.pt"  # ultralytics writes the .onnx next to the checkpoint it reads
        shutil.copyfile(source, copy)
        model = load_yolo(copy)
        names = {int(k): str(v) for k, v in dict(model.names).items()}
        stride = max(int(max(float(s) for s in model.model.stride)), 32)
        imgsz = _checkpoint_imgsz(model) or 640
        calibration = checkpoint_calibration(model)
        with no_downloads(), warnings.catch_warnings(), _unfolded_export(model):
            # ultralytics uses torch's TorchScript-based exporter, which torch 2.9+ marks deprecated in several
            # warnings; they would be errors under a strict filter (pytest's "error"), so they are muted here only
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            exported = Path(model.export(format="onnx", dynamic=True, simplify=False, nms=False, imgsz=imgsz,
                                         batch=1, device="cpu", opset=opset, verbose=False))
        proto = _half_initializers(onnx.load(str(exported)))
        outputs = proto.graph.output
        if len(outputs) != 1:
            raise InputError(f"the exported graph has {len(outputs)} outputs, expected the raw detection head only",
                             source)
        extra = {
            META_KEYS["names"]: json.dumps({str(k): v for k, v in sorted(names.items())}),
            META_KEYS["stride"]: str(stride),
            META_KEYS["imgsz"]: str(imgsz),
            META_KEYS["score_calibration"]: json.dumps(None if calibration is None else calibration.to_dict()),
            META_KEYS["source_sha256"]: file_sha256(source),
        }
        kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in extra]
        del proto.metadata_props[:]
        for key, value in [*kept, *extra.items()]:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        staged = Path(tmp) / out.name
        onnx.save(proto, str(staged))
        os.replace(staged, out)
    return out


def _unfolded_export(model):
    """Within this block, ultralytics exports ``model`` without folding batch normalisation into convolutions.

    ultralytics calls the model's ``fuse`` and then ``torch.onnx.export`` in evaluation mode, whose
    peephole pass and constant folding fold it too; ``fuse`` becomes a no-op and the export runs with
    ``training=PRESERVE`` (the model is in evaluation mode, so normalisation uses its running statistics)
    and ``do_constant_folding=False``.
    """
    import contextlib
    from unittest import mock

    import torch

    export = torch.onnx.export

    def unfolded(*args, **kwargs):
        return export(*args, **{**kwargs, "training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False})

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(type(model.model), "fuse", lambda self, *a, **k: self))
    stack.enter_context(mock.patch.object(torch.onnx, "export", unfolded))
    return stack


def _half_initializers(proto):
    """Store every float32 initializer whose values are float16 values as float16, cast back in the graph.

    Lossless (only exact values are converted); a checkpoint saved in half precision becomes half the size.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    kept, casts = [], []
    for init in proto.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.float32 and values.size > 1 and np.array_equal(
                values.astype(np.float16).astype(np.float32), values):
            kept.append(numpy_helper.from_array(values.astype(np.float16), f"{init.name}.fp16"))
            casts.append(helper.make_node("Cast", [f"{init.name}.fp16"], [init.name], to=TensorProto.FLOAT))
        else:
            kept.append(init)
    nodes = list(proto.graph.node)
    del proto.graph.initializer[:], proto.graph.node[:]
    proto.graph.initializer.extend(kept)
    proto.graph.node.extend(casts + nodes)
    return proto
