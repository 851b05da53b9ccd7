"""Train and export a YOLOv5-family detector from a VISEM-Tracking layout (the file-handling side).

:func:`train_detector` converts a data set (:func:`~spermtrack.training.dataset.convert_visem_to_yolo`,
split by video), trains with :func:`spermtrack.detectors.train.train_yolo`, validates the best checkpoint
and writes ``OUT/metrics.json``. :func:`export_checkpoint` writes a small, self-describing copy of a
checkpoint (the form shipped in the package).

Everything ultralytics writes goes under ``out_dir``::

    OUT/dataset/            the converted data set (data.yaml, split.json, images/, labels/)
    OUT/train/              the ultralytics run: weights/best.pt, weights/last.pt, results.csv, args.yaml
    OUT/val/                the final validation run
    OUT/metrics.json        the returned metrics, the training config and the split
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from spermtrack.detectors.augment import PhotometricConfig
from spermtrack.detectors.train import TrainConfig, train_yolo
from spermtrack.detectors.yolo import load_yolo, no_downloads
from spermtrack.errors import InputError
from spermtrack.io.atomic import atomic_path, write_json
from spermtrack.training.dataset import ConvertConfig, convert_visem_to_yolo

__all__ = ["export_checkpoint", "train_detector"]


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
    from spermtrack.extras import require

    require("torch", "ultralytics", purpose="training a YOLO detector")
    unknown = sorted(set(augment) - {"flipud", "fliplr", "mosaic", "scale", "close_mosaic"})
    if unknown:
        raise InputError(f"unknown training option(s) {', '.join(unknown)}")
    cfg = TrainConfig(model=model, epochs=epochs, imgsz=imgsz, batch=batch, seed=seed, workers=workers,
                      patience=patience, **augment)
    convert = ConvertConfig(val_videos=None if val_videos is None else tuple(str(v) for v in val_videos),
                            seed=seed, val_fraction=val_fraction, frame_step=frame_step,
                            max_frames_per_video=max_frames_per_video)
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder: choose a folder name for the training run", out)
    # the conversion checks the whole data set before it writes anything (and creates OUT/dataset)
    data_yaml = convert_visem_to_yolo(dataset_root, out / "dataset", **convert.to_dict())
    split = json.loads((out / "dataset" / "split.json").read_text(encoding="utf-8"))
    result = train_yolo(data_yaml, out_dir=out, config=cfg, photometric=photometric, verbose=verbose)
    report = {**result, "data_yaml": str(data_yaml),
              "train_videos": split["splits"]["train"]["videos"], "val_videos": split["splits"]["val"]["videos"],
              "train_images": split["splits"]["train"]["frames"], "val_images": split["splits"]["val"]["frames"],
              "convert": convert.to_dict()}
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
