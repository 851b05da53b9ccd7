"""Self-training: adapt a YOLO checkpoint to a user's own microscope from unlabelled video.

1. **Pseudo-labels.** The starting checkpoint detects heads on frames ``start, start + step, ...
   < stop`` of the user's video; detections with ``score >= conf`` become YOLO label files of a
   VISEM-Tracking-layout folder (:func:`pseudo_label`). No annotation is needed.
2. **Fine-tuning.** The checkpoint is trained further on those frames
   (:func:`~spermtrack.detectors.train.train_yolo`, photometric augmentation on, Adam with no bias
   warm-up so the starting model is not forgotten), the last tenth of the frames serving as the
   validation split that picks the best epoch.
3. **Export.** ``OUT/detector.pt`` (:func:`~spermtrack.detectors.train.export_checkpoint`) with the
   settings embedded. It carries no score calibration (there are no labels to fit one on).

The output folder is written as a unit (:func:`spermtrack.io.atomic.output_folder`): it is checked
before any work (new, empty or an earlier spermtrack output, and apart from the video and the starting
checkpoint) and appears only when everything is written. The pseudo-labelled data set (a link to the
video, label files, the extracted frames) is a working folder inside the temporary output and is
deleted whatever happens; only its label files are kept, in ``OUT/pseudo_labels/``.

Self-training reinforces what the starting checkpoint already finds: it sharpens confident
detections and suppresses what it never finds, so it helps when the starting model is roughly right
and its scores are low or unsure on the new look (measured in ``benchmarks/real_bench.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spermtrack._validate import Config
from spermtrack.errors import InputError

__all__ = ["SelfTrainConfig", "pseudo_label", "self_train"]


@dataclass(frozen=True)
class SelfTrainConfig(Config):
    """Settings of :func:`self_train`.

    Parameters
    ----------
    conf : float
        Detections with at least this score become pseudo-labels.
    start, stop, step : int
        Frames used: ``start, start + step, ... < stop`` (``stop=None``: to the end).
    epochs : int
        Fine-tuning epochs.
    imgsz, batch : int
        Training size and batch.
    seed : int
        ultralytics seed.
    """

    conf: float = 0.25
    start: int = 0
    stop: int | None = None
    step: int = 4
    epochs: int = 10
    imgsz: int = 640
    batch: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        self._number("conf", lo=0, lo_open=True, hi=1)
        for name, lo in (("start", 0), ("step", 1), ("epochs", 1), ("imgsz", 32), ("batch", 1), ("seed", 0)):
            self._integer(name, lo=lo)
        self._optional_integer("stop", lo=self.start + 1)


def _clip(video: Path) -> tuple[Path, str]:
    """The video file and id of a video file or VISEM-Tracking video folder."""
    from spermtrack.io.visem import find_video_file

    if video.is_file():
        return video, video.stem
    if video.is_dir():
        clip = find_video_file(video)
        if clip is None:
            raise InputError("holds no video file to self-train on", video)
        return clip, video.name
    raise InputError("does not exist", video)


def pseudo_label(video: str | os.PathLike, weights: str | os.PathLike | None, out_dir: str | os.PathLike, *,
                 config: SelfTrainConfig) -> tuple[Path, int]:
    """Write a VISEM-layout folder whose labels are a checkpoint's confident detections.

    Parameters
    ----------
    video : str or PathLike
        A video file or a VISEM-Tracking video folder (its labels, if any, are not read).
    weights : str or PathLike or None
        The starting checkpoint (``None``: the shipped default).
    out_dir : str or PathLike
        The folder ``OUT/<id>/`` is written: ``<id>.<ext>`` (a link to the clip) and ``labels/``.
    config : SelfTrainConfig

    Returns
    -------
    (pathlib.Path, int)
        The video folder and the number of pseudo-labelled boxes.

    Raises
    ------
    InputError
        An unreadable video or checkpoint; ``start`` at or past the video's last frame, or a frame range
        that holds fewer than 2 frames (checked before any detection); no detection reaches ``conf``.
    """
    from spermtrack.detectors import make_detector
    from spermtrack.io.atomic import write_text
    from spermtrack.io.video import iter_frames, probe_video
    from spermtrack.io.visem_write import label_lines

    clip, video_id = _clip(Path(video))
    info = probe_video(clip)
    stop = config.stop if config.stop is not None else (info.n_frames or None)
    if info.n_frames and config.start >= info.n_frames:
        raise InputError(f"--start {config.start} is past the end of the video: it has {info.n_frames} frames "
                         f"(0 to {info.n_frames - 1})", video)
    if stop is not None and len(range(config.start, stop, config.step)) < 2:
        raise InputError(f"frames {config.start} to {stop - 1} every {config.step} give only one frame; "
                         "self-training needs at least 2 (one to train on, one to validate): widen --start/--stop "
                         "or lower --frame-step", video)
    folder = Path(out_dir) / video_id
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    link = folder / f"{video_id}{clip.suffix.lower()}"
    if not link.exists():
        try:
            os.link(clip, link)
        except OSError:
            link.symlink_to(clip.resolve())
    detector = make_detector("yolo", weights=None if weights is None else str(weights), conf=config.conf)
    wanted = (item for item in iter_frames(clip, start=config.start, stop=stop)
              if (item[0] - config.start) % config.step == 0)
    dets = detector.detect_video(wanted, progress=True)
    if len(dets) == 0:
        raise InputError(f"no detection reaches the pseudo-label score {config.conf:g}: lower it (--conf) or start "
                         "from another checkpoint", video)
    frames = sorted(set(range(config.start, stop or (int(dets['frame'].max()) + 1), config.step)))
    by_frame = dict(tuple(dets.assign(gt_id="").groupby("frame")))
    for f in frames:
        rows = by_frame.get(f)
        text = "" if rows is None else label_lines(rows, width=info.width, height=info.height)[0]
        write_text(folder / "labels" / f"{video_id}_frame_{f}.txt", text)
    return folder, len(dets)


def self_train(video: str | os.PathLike, *, weights: str | os.PathLike | None = None,
               out_dir: str | os.PathLike, config: SelfTrainConfig | None = None, verbose: bool = True) -> dict:
    """Pseudo-label a video with a checkpoint, fine-tune the checkpoint on it, export the result.

    Parameters
    ----------
    video : str or PathLike
        A video file or a VISEM-Tracking video folder.
    weights : str or PathLike or None
        Starting checkpoint (``None``: the shipped default).
    out_dir : str or PathLike
        Output folder, written as a unit (see the module notes): ``detector.pt``, ``self_train.json``,
        ``pseudo_labels/`` (the pseudo-label files) and ``run/`` (ultralytics' training run).
    config : SelfTrainConfig, optional
    verbose : bool
        Let ultralytics print its progress.

    Returns
    -------
    dict
        ``detector`` (path of the exported checkpoint), ``pseudo_boxes``, the validation metrics of
        the fine-tuned model on pseudo-labels and the settings.

    Raises
    ------
    InputError
        Before any work: ``out_dir`` is a file, a non-empty folder spermtrack did not write, or the
        same as, inside or above the video or the starting checkpoint. Later: an unreadable video or
        checkpoint, a frame range outside the video, or no detection reaching ``conf``. Nothing is
        left in ``out_dir`` (or beside it) after a failure.
    """
    from spermtrack.extras import require

    require("torch", "ultralytics", purpose="self-training a detector")
    from spermtrack.detectors.augment import PhotometricConfig
    from spermtrack.detectors.train import TrainConfig, train_yolo
    from spermtrack.training.dataset import VideoSelection, write_yolo_dataset
    from spermtrack.training.detector import export_checkpoint
    from spermtrack.detectors.yolo import resolve_weights
    from spermtrack.io.atomic import output_folder, write_json

    config = config or SelfTrainConfig()
    final = Path(out_dir).resolve()
    start_weights = resolve_weights(weights)
    inputs = [video] + ([start_weights] if weights is not None else [])
    with output_folder(out_dir, inputs=inputs) as out:
        work = Path(tempfile.mkdtemp(prefix=".self-train-work-", dir=out))  # the pseudo-labelled data set
        try:
            folder, n_boxes = pseudo_label(video, start_weights, work / "pseudo", config=config)
            labelled = sorted(int(p.stem.rsplit("_", 1)[1]) for p in (folder / "labels").glob("*.txt"))
            n_val = max(1, len(labelled) // 10)
            split_at = labelled[-n_val]
            selections = [VideoSelection(folder, split="train", start=config.start, stop=split_at, step=config.step),
                          VideoSelection(folder, split="val", start=split_at, stop=labelled[-1] + 1,
                                         step=config.step)]
            data_yaml = write_yolo_dataset(selections, work / "dataset", settings={"self_train": config.to_dict()})
            train = TrainConfig(model=str(start_weights), epochs=config.epochs, imgsz=config.imgsz,
                                batch=config.batch, seed=config.seed, optimizer="AdamW", lr0=0.001,
                                warmup_epochs=1.0, warmup_bias_lr=0.0, close_mosaic=min(3, config.epochs))
            report = train_yolo(data_yaml, out_dir=out / "run", config=train, photometric=PhotometricConfig(),
                                verbose=verbose)
            info = {"trained_on": f"pseudo-labels (score >= {config.conf:g}) of {Path(video).name} from "
                                  f"{start_weights.name}; no human labels",
                    "self_train": config.to_dict(), "start_weights": start_weights.name,
                    "val_metrics_on_pseudo_labels": {k: report[k] for k in ("mAP50", "mAP50_95", "precision",
                                                                            "recall")}}
            export_checkpoint(report["weights"], out / "detector.pt", info=info)
            shutil.copytree(folder / "labels", out / "pseudo_labels")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result = {"detector": str(final / "detector.pt"), "pseudo_boxes": n_boxes, **info}
        write_json(out / "self_train.json", result)
    return result
