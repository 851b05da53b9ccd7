"""Train a YOLOv5-family detector on a VISEM-Tracking layout, offline on CPU.

:func:`train_detector` converts the data set (:func:`~spermtrack.detectors.dataset.convert_visem_to_yolo`,
split by video), builds the model from ultralytics' yaml (``yolov5n/s/m/l/x``: random
initialisation, no downloaded weights) or continues from a given ``.pt``, trains with
ultralytics, then validates the best checkpoint on the validation videos and reports mAP50,
mAP50-95, precision and recall.

Everything ultralytics writes goes under ``out_dir``::

    OUT/dataset/            the converted data set (data.yaml, split.json, images/, labels/)
    OUT/train/              the ultralytics run: weights/best.pt, weights/last.pt, results.csv, args.yaml
    OUT/val/                the final validation run
    OUT/metrics.json        the returned metrics, the training config and the split

No network: ``YOLO_OFFLINE=1``, ``plots=False`` (no font download), ``amp=False`` (no AMP check
model download) and :func:`~spermtrack.detectors.yolo.no_downloads` around every ultralytics call.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from spermtrack.detectors.augment import PhotometricAugment, PhotometricConfig
from spermtrack.detectors.base import check_number
from spermtrack.detectors.dataset import ConvertConfig, convert_visem_to_yolo
from spermtrack.detectors.yolo import YOLO_MODELS, _import_ultralytics, load_yolo, no_downloads
from spermtrack.errors import InputError

__all__ = ["TrainConfig", "export_checkpoint", "train_detector", "train_yolo", "validate_detector"]

_OWNER = "TrainConfig"


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_detector`; validated on construction.

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

    def __post_init__(self) -> None:
        if not isinstance(self.model, (str, os.PathLike)) or not str(self.model):
            raise InputError(f"{_OWNER}.model must be one of {', '.join(YOLO_MODELS)} or a .yaml/.pt path, "
                             f"got {self.model!r}")
        model = str(self.model)
        object.__setattr__(self, "model", model)
        if model not in YOLO_MODELS and Path(model).suffix.lower() not in (".yaml", ".yml", ".pt"):
            raise InputError(f"{_OWNER}.model must be one of {', '.join(YOLO_MODELS)} or a path to an ultralytics "
                             f".yaml or .pt file, got {model!r}")
        if model not in YOLO_MODELS and not Path(model).is_file():
            raise InputError(f"model file not found (use one of {', '.join(YOLO_MODELS)} to train from scratch)",
                             model)
        for name, lo, hi in (("epochs", 1, 100000), ("batch", 1, 4096), ("seed", 0, 2**32 - 1),
                             ("workers", 0, 64), ("patience", 1, 100000), ("close_mosaic", 0, 100000)):
            object.__setattr__(self, name, int(check_number(_OWNER, name, getattr(self, name), lo=lo, hi=hi,
                                                            integer=True)))
        size = int(check_number(_OWNER, "imgsz", self.imgsz, lo=32, hi=8192, integer=True))
        if size % 32:
            raise InputError(f"{_OWNER}.imgsz must be a multiple of 32, got {self.imgsz!r}")
        object.__setattr__(self, "imgsz", size)
        for name in ("flipud", "fliplr", "mosaic", "scale"):
            object.__setattr__(self, name, check_number(_OWNER, name, getattr(self, name), lo=0, hi=1))
        optimizers = ("auto", "SGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp")
        if self.optimizer not in optimizers:
            raise InputError(f"{_OWNER}.optimizer must be one of {', '.join(optimizers)}, got {self.optimizer!r}")
        if self.lr0 is not None:
            object.__setattr__(self, "lr0", check_number(_OWNER, "lr0", self.lr0, lo=0, lo_open=True, hi=1))
        object.__setattr__(self, "warmup_epochs", check_number(_OWNER, "warmup_epochs", self.warmup_epochs, lo=0,
                                                               hi=1000))
        object.__setattr__(self, "warmup_bias_lr", check_number(_OWNER, "warmup_bias_lr", self.warmup_bias_lr,
                                                                lo=0, hi=1))

    def to_dict(self) -> dict:
        """Plain-dict form, for JSON provenance."""
        return asdict(self)


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
        ``data.yaml`` of the data set (:func:`~spermtrack.detectors.dataset.write_yolo_dataset`).
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
                   imgsz=config.imgsz, batch=config.batch, device="cpu", workers=config.workers, seed=config.seed,
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


def train_detector(dataset_root: str | os.PathLike, *, out_dir: str | os.PathLike, model: str = "yolov5n",
                   epochs: int = 30, imgsz: int = 640, batch: int = 16, seed: int = 0,
                   val_videos: list[str] | tuple[str, ...] | None = None, val_fraction: float = 0.2,
                   frame_step: int = 1, max_frames_per_video: int | None = None, workers: int = 2,
                   patience: int = 100, verbose: bool = True, photometric: PhotometricConfig | None = None,
                   **augment) -> dict:
    """Convert a VISEM-Tracking layout, train a YOLOv5-family detector on CPU, validate it.

    Parameters
    ----------
    dataset_root : str or PathLike
        VISEM-Tracking root or its synthetic twin (``spermtrack synth``); video folders may hold
        only their video file (frames are decoded).
    out_dir : str or PathLike
        Output folder (see the module docstring); created if needed.
    model, epochs, imgsz, batch, seed, workers, patience
        See :class:`TrainConfig`.
    val_videos, val_fraction, frame_step, max_frames_per_video
        The split and frame selection (see :class:`~spermtrack.detectors.dataset.ConvertConfig`):
        the paper's val videos 52, 54, 60, 82 when present, else a seeded split.
    verbose : bool
        Let ultralytics print its per-epoch progress.
    photometric : PhotometricConfig, optional
        Photometric augmentation (see :func:`train_yolo`).
    **augment
        ``flipud``, ``fliplr``, ``mosaic``, ``scale``, ``close_mosaic`` (see :class:`TrainConfig`).

    Returns
    -------
    dict
        What :func:`train_yolo` returns, plus ``data_yaml``, ``train_videos``, ``val_videos``,
        ``train_images``, ``val_images`` and ``convert`` (the split settings). Also written to
        ``OUT/metrics.json``.

    Raises
    ------
    InputError
        Bad settings, an unusable data set (see :func:`convert_visem_to_yolo`), or an unreadable
        ``.pt`` model.
    """
    unknown = sorted(set(augment) - {"flipud", "fliplr", "mosaic", "scale", "close_mosaic"})
    if unknown:
        raise InputError(f"unknown training option(s) {', '.join(unknown)}")
    cfg = TrainConfig(model=model, epochs=epochs, imgsz=imgsz, batch=batch, seed=seed, workers=workers,
                      patience=patience, **augment)
    convert = ConvertConfig(val_videos=None if val_videos is None else tuple(str(v) for v in val_videos),
                            seed=seed, val_fraction=val_fraction, frame_step=frame_step,
                            max_frames_per_video=max_frames_per_video)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_yaml = convert_visem_to_yolo(dataset_root, out / "dataset", **convert.to_dict())
    split = json.loads((out / "dataset" / "split.json").read_text(encoding="utf-8"))
    result = train_yolo(data_yaml, out_dir=out, config=cfg, photometric=photometric, verbose=verbose)
    report = {**result, "data_yaml": str(data_yaml),
              "train_videos": split["splits"]["train"]["videos"], "val_videos": split["splits"]["val"]["videos"],
              "train_images": split["splits"]["train"]["frames"], "val_images": split["splits"]["val"]["frames"],
              "convert": convert.to_dict()}
    from spermtrack.io.atomic import write_json

    write_json(out / "metrics.json", report)
    return report


def export_checkpoint(src: str | os.PathLike, dest: str | os.PathLike, *, info: dict | None = None) -> Path:
    """Write a small, self-describing copy of a trained checkpoint (e.g. the one shipped in the package).

    The model is stored in half precision without optimizer, EMA or training state (as
    ultralytics' ``strip_optimizer``), machine-specific paths in ``train_args`` are replaced by
    their file names, and ``info`` is stored under the key ``"spermtrack"``. The file still loads
    with ``ultralytics.YOLO(dest)``.

    Parameters
    ----------
    src : str or PathLike
        An ultralytics checkpoint (``best.pt``).
    dest : str or PathLike
        Where to write (atomically).
    info : dict, optional
        Provenance to embed (e.g. the training command, data and metrics).

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    load_yolo(src)  # clear errors for a bad file
    import torch
    from ultralytics.nn.tasks import torch_safe_load

    from spermtrack.io.atomic import atomic_path

    with no_downloads():
        ckpt, _ = torch_safe_load(str(src), safe_only=True)  # weights_only=True against ultralytics' allow-list
    if ckpt.get("ema") is not None:
        ckpt["model"] = ckpt["ema"]
    for key in ("optimizer", "ema", "updates", "scaler", "best_fitness", "stopper", "train_metrics",
                "train_results", "git"):
        if key in ckpt:
            ckpt[key] = None
    ckpt["epoch"] = -1
    model = ckpt["model"].half()
    for p in model.parameters():
        p.requires_grad = False
    if hasattr(model, "criterion"):
        model.criterion = None
    args = dict(ckpt.get("train_args") or {})
    for key in ("data", "project", "save_dir", "model"):
        if isinstance(args.get(key), str) and os.sep in args[key]:
            args[key] = Path(args[key]).name
    ckpt["train_args"] = args
    if hasattr(model, "args") and isinstance(model.args, dict):
        model.args = {**model.args, **{k: args[k] for k in ("data", "project", "save_dir", "model") if k in args}}
    # plain JSON types only (e.g. torch.__version__ is a TorchVersion), so the file stays safe-loadable
    ckpt["spermtrack"] = json.loads(json.dumps(dict(info or {}), default=str))
    with atomic_path(dest) as tmp:
        torch.save(ckpt, str(tmp))
    return Path(dest)
