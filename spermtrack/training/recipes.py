"""Recipes of the YOLOv5n checkpoints and the head verifier shipped in the package: data -> training ->
``detectors/weights/``.

Run (offline, CPU)::

    python -m spermtrack.training.recipes synth --work /tmp/yolo_synth --install
    python -m spermtrack.training.recipes visem --work /tmp/yolo_visem --visem ../shared/reference/visem_real --install
    python -m spermtrack.training.recipes looks --work /tmp/yolo_looks --visem ../shared/reference/visem_real \
        --svia ../shared/reference/svia --install

``synth`` -> ``yolov5n_synth.pt``
    50 synthetic VISEM-Tracking videos of 40 frames (``spermtrack synth WORK/data --videos 50
    --seconds 0.8 --fps 50 --seed 2024``), every 10th frame, a seeded video-level split (40 train,
    10 val), YOLOv5n from ultralytics' yaml with random weights, 30 epochs at imgsz 640, batch 4.
    It has never seen a real frame: it measures how well the synthetic twin transfers.

``looks`` -> ``yolov5n_looks.pt`` (the default of ``--detector yolo``)
    Fine-tunes ``yolov5n_visem.pt`` for 8 epochs on the ``visem`` recipe's data plus every frame of
    the real SVIA clips S_0001 and S_0002 (another microscope: dark heads with bright halos on light
    grey; their sperm boxes, impurities unlabelled), so that one checkpoint serves both looks. SVIA
    S_0003 and video 11 frames 1029-1469 are never read. The best epoch is picked and the scores
    calibrated on video 11 frames 940-1028, as for ``visem``. ``--device 0`` trains on a GPU.

``visem`` -> ``yolov5n_visem.pt`` (the start of ``looks``)
    Fine-tunes ``yolov5n_synth.pt`` on real and synthetic frames together:

    - real VISEM-Tracking video 11 (the mp4 and its official labels; frames are decoded from the
      video): frames 0-899, every 4th, for training; frames 940-1028, every 8th, as the
      validation split that picks the best epoch. Frames 1029-1469 are never read: they are the
      project's held-out validation frames (``benchmarks/real_bench.py``);
    - synthetic phase-contrast videos (30 train + 4 val, 1 s each, every 10th frame) and
      synthetic bright-field videos (10 train + 2 val), so that the model also knows dark heads;
    - photometric augmentation (:class:`~spermtrack.detectors.augment.PhotometricConfig`: polarity,
      gray, contrast/gamma, blur, noise, JPEG) on top of ultralytics' flips, scale and mosaic.

    After training, the checkpoint's scores are calibrated
    (:func:`~spermtrack.detectors.calibrate.fit_score_calibration`) on the validation split's real frames 940-1028, so that a score reads as the probability
    that a detection is a labelled object; the calibration is stored in the checkpoint.

``calibrate`` (``--checkpoint NAME``, default ``yolov5n_synth.pt``)
    Fits an installed checkpoint's score calibration on real video 11 frames 940-1028 (every 8th,
    the ``visem`` recipe's validation split) and re-exports it with the calibration and this
    command embedded; the weights are unchanged. The synthetic-only checkpoint gets one this way, so
    that its scores mean what the tracker's thresholds expect on real video.

``crossfit-a``, ``crossfit-b`` (tuning instruments, never installed)
    The shipped checkpoints trained on video 11 frames 0-899, so their detections there are a detector's
    best case (yolo, F1 at 10 px: 0.915 on frames 0-899, 0.881 on its validation frames 940-1028, 0.841 on
    the held-out frames). These two fine-tune ``yolov5n_synth.pt`` for 10 epochs on the ``looks`` data
    with video 11 cut in two: ``crossfit-a`` trains on frames 0-479 (validation 480-519) and detects
    520-1028; ``crossfit-b`` trains on 560-1028 (validation 520-559) and detects 0-519.
    ``benchmarks/crossfit_bench.py`` tunes trackers on those detections. About 24 min each on two CPU
    cores (validation mAP50 0.445 and 0.553 on the mixed real and synthetic split).

``verifier`` -> ``head_verifier.onnx`` (rescores every ``--detector yolo`` box; :mod:`spermtrack.detectors.verify`)
    A small CNN on 48 px patches around detections, labelled by whether each matched an annotated box within
    10 px: the ``crossfit-a`` and ``crossfit-b`` checkpoints' detections of the video 11 frames each never
    trained on (frames 0-939; made in ``WORK/crossfit-a|b`` when missing), the shipped yolo's detections of
    the SVIA clips S_0001-S_0002 and of synthetic videos of both looks. Its score calibration is fitted on
    crossfit-a's detections of frames 940-1028, which it never trained on. 6 epochs, about 8 min on two CPU
    cores (:mod:`spermtrack.training.verifier`).

``verifier-a``, ``verifier-b`` (tuning instruments, never installed)
    The same, each trained on one crossfit split only (a: crossfit-b's detections of frames 0-479, calibrated
    on 480-519; b: crossfit-a's of 520-939, calibrated on 940-1028), so that ``benchmarks/crossfit_bench.py
    --verify`` rescores each split with a verifier that never saw it.

``verifier-a-left``, ``verifier-a-right``, ``verifier-b-left``, ``verifier-b-right`` (tuning instruments, never
installed)
    ``verifier-a|b`` trained on the detections on one side of video 11's frame only (left: x < 292 px, to
    rescore x >= 320 px; right: x >= 348 px, to rescore x < 320 px; no training patch reaches the half it
    rescores), so that ``benchmarks/crossfit_bench.py --verify spatial`` rescores each half of a split with a
    verifier that never saw its objects. A still object stays in place for the whole video, so
    ``verifier-a|b``, trained on other frames of the same field, know most of the still objects they rescore
    and rank them better than they would a new video's (detection AUC of the splits' detections scoring at least
    0.25, yolo's own 0.737 / 0.767: fold 0.945 / 0.961, spatial 0.871 / 0.770). About 3 min each.

``trackpy``
    Fits the trackpy peer detector's score (``mass_half``, ``mass_slope`` of
    :class:`~spermtrack.detectors.peers.TrackpyConfig`) by logistic regression of "matched a labelled
    object within 10 px" on log mass, on real video 11 frames 0-1028, every 10th; prints the values
    (they are the config's defaults).

Every checkpoint is exported with :func:`~spermtrack.detectors.train.export_checkpoint` (half
precision, no optimizer state, the recipe, command and validation metrics embedded under the
``"spermtrack"`` key).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError

__all__ = ["RECIPES", "calibrate_on_frames", "fit_blob_score_model", "in_region", "make_checkpoint", "main"]

#: Real video 11 in the YOLO recipes: frames 0-899 train, 940-1028 pick the epoch and calibrate; 1029-1469 never read.
_VIDEO_11 = {"video": "11", "train": {"start": 0, "stop": 900, "step": 4},
             "val": {"start": 940, "stop": 1029, "step": 8}, "held_out_from": 1029}
#: Synthetic videos of both looks in the YOLO recipes (the last ``val_videos`` of each set are validation).
_SYNTH_BOTH_LOOKS = [
    {"name": "phase", "n_videos": 34, "val_videos": 4, "seconds": 1.0, "fps": 50.0, "seed": 3101,
     "polarity": "phase", "step": 10},
    {"name": "bright", "n_videos": 12, "val_videos": 2, "seconds": 1.0, "fps": 50.0, "seed": 3202,
     "polarity": "bright", "step": 10},
]

#: The real SVIA clips in the recipes of both looks (another microscope); S_0003 is kept for validation.
_SVIA_LOOKS = {"train": ["S_0001", "S_0002"], "held_out": "S_0003", "step": 1}
#: Training settings of the ``looks`` recipe (the crossfit recipes start from them).
_LOOKS_TRAIN = {"epochs": 8, "imgsz": 640, "batch": 8, "seed": 0, "workers": 2, "scale": 0.3, "mosaic": 1.0,
                "close_mosaic": 2, "flipud": 0.5, "fliplr": 0.5, "optimizer": "AdamW", "lr0": 0.0005,
                "warmup_epochs": 0.5, "warmup_bias_lr": 0.0}


def _verifier_recipe(file: str, command: str, *, crossfit: list[str], train: tuple[int, int],
                     calibrate: tuple[int, int], rescores: tuple[int, int] | None = None,
                     region: dict | None = None, rescores_region: dict | None = None) -> dict:
    """A head verifier recipe: patches at crossfit detections of video 11 frames ``train`` (their score
    calibration fitted on frames ``calibrate``), at the shipped yolo's detections of the SVIA training clips and
    of synthetic videos of both looks (:mod:`spermtrack.training.verifier`). ``rescores``: the frames a tuning
    instrument rescores (it never trains there). ``region`` (:func:`in_region`): only the video 11 detections in
    this part of the frame are learnt from; ``rescores_region``: the part of the frame the instrument rescores."""
    recipe = {
        "file": file, "command": command,
        "real": {"video": "11", "crossfit": crossfit, "train": {"start": train[0], "stop": train[1]},
                 "calibrate": {"start": calibrate[0], "stop": calibrate[1]}, "held_out_from": 1029,
                 **({"region": region} if region is not None else {})},
        # SVIA S_0003 is never read
        "svia": {"train": ["S_0001", "S_0002"], "held_out": "S_0003"},
        # the verifier otherwise knows only two microscopes
        "synth": [{"name": "verifier_phase", "n_videos": 6, "seconds": 1.0, "fps": 50.0, "seed": 4101,
                   "polarity": "phase", "step": 5},
                  {"name": "verifier_bright", "n_videos": 6, "seconds": 1.0, "fps": 50.0, "seed": 4202,
                   "polarity": "bright", "step": 5}],
        "train": {"epochs": 6, "batch": 128, "lr": 3e-3, "weight_decay": 1e-4, "seed": 0},
        # patches cut this many px wider and cropped at a random offset in training (boxes off the head's centre)
        "margin": 4,
        "max_dist": 10.0,
    }
    if rescores is not None:
        recipe["rescores"] = {"video": "11", "start": rescores[0], "stop": rescores[1],
                              **({"region": rescores_region} if rescores_region is not None else {})}
    return recipe


def in_region(x: np.ndarray, region: dict | None) -> np.ndarray:
    """Which box centres ``x`` (px) lie in a vertical band of the frame, ``x_min <= x < x_max``.

    Parameters
    ----------
    x : numpy.ndarray
        Box centres' x, px.
    region : dict or None
        ``{"x_min": px, "x_max": px}``, either bound optional; None: the whole frame.

    Returns
    -------
    numpy.ndarray of bool
    """
    x = np.asarray(x, dtype=np.float64)
    region = region or {}
    return (x >= region.get("x_min", -np.inf)) & (x < region.get("x_max", np.inf))


#: The fold verifier instruments: a rescores crossfit split A (frames 520-1028) and learns from crossfit-b's
#: detections of frames 0-479; b rescores split B (frames 0-519) and learns from crossfit-a's of 520-939.
_VERIFIER_FOLDS = {
    "a": {"crossfit": ["crossfit-b"], "train": (0, 480), "calibrate": (480, 520), "rescores": (520, 1029)},
    "b": {"crossfit": ["crossfit-a"], "train": (520, 940), "calibrate": (940, 1029), "rescores": (0, 520)},
}
#: The spatial verifier instruments' bands of video 11's 640 px wide frame: each rescores one half (x >= 320 or
#: x < 320 px) and learns only from boxes at least 28 px (the patch's half width, 24 px, plus the 4 px training
#: margin) inside the other half, so that no training patch reaches the half it rescores (a still object stays
#: where it is for the whole video: a verifier that trained on other frames of it knows it).
_SPATIAL = {"left": ({"x_max": 292.0}, {"x_min": 320.0}), "right": ({"x_min": 348.0}, {"x_max": 320.0})}


def _instrument_verifier(fold: str, side: str | None) -> tuple[str, dict]:
    """Name and recipe of the fold verifier instrument ``fold`` (:data:`_VERIFIER_FOLDS`), learning from and
    rescoring the whole frame, or with ``side`` (:data:`_SPATIAL`) one side of it, to rescore the other half."""
    suffix = f"-{side}" if side else ""
    name = f"verifier-{fold}{suffix}"
    regions = {"region": _SPATIAL[side][0], "rescores_region": _SPATIAL[side][1]} if side else {}
    return name, _verifier_recipe(
        f"head_verifier_{fold}{suffix.replace('-', '_')}.onnx",
        f"python -m spermtrack.training.recipes {name} --work WORK --visem ../shared/reference/visem_real "
        "--svia ../shared/reference/svia", **_VERIFIER_FOLDS[fold], **regions)


#: The recipes, with everything that decides the result.
RECIPES: dict[str, dict] = {
    "synth": {
        "checkpoint": "yolov5n_synth.pt",
        "command": "python -m spermtrack.training.recipes synth --work WORK --install",
        "synth": [{"name": "data", "n_videos": 50, "seconds": 0.8, "fps": 50.0, "seed": 2024}],
        "train": {"model": "yolov5n", "epochs": 30, "imgsz": 640, "batch": 4, "frame_step": 10, "seed": 0,
                  "workers": 2},
    },
    "blob": {
        "file": "blob_scores.json",
        "command": "python -m spermtrack.training.recipes blob --work WORK --visem ../shared/reference/visem_real "
                   "--svia ../shared/reference/svia --install",
        "bright": {"video": "11", "start": 0, "stop": 1029, "step": 10},
        # the dark look: real SVIA clips (dark heads with bright halos on light grey); their impurities and
        # unlabelled debris are the negatives; S_0003 is kept for validation. Object areas are relative to
        # each clip's own (90th percentile of its first frame's log areas): a head's size in px is the
        # microscope's, and absolute areas fitted on SVIA reject every head of the synthetic bright field
        "dark": {"clips": ["S_0001", "S_0002"], "validation": "S_0003", "step": 1, "area_percentile": 90.0},
        "max_dist": 10.0,
    },
    "visem": {
        "checkpoint": "yolov5n_visem.pt",
        "command": "python -m spermtrack.training.recipes visem --work WORK --visem ../shared/reference/visem_real --install",
        "start_from": "yolov5n_synth.pt",
        "real": _VIDEO_11,
        "synth": _SYNTH_BOTH_LOOKS,
        "train": {"epochs": 20, "imgsz": 640, "batch": 8, "seed": 0, "workers": 2, "scale": 0.3, "mosaic": 1.0,
                  "close_mosaic": 3, "flipud": 0.5, "fliplr": 0.5, "optimizer": "AdamW", "lr0": 0.001,
                  "warmup_epochs": 1.0, "warmup_bias_lr": 0.0},
        "photometric": {},
    },
    "looks": {
        # one checkpoint for both looks: the visem checkpoint fine-tuned with the real SVIA clips (dark heads
        # with bright halos on light grey) added to its own data; S_0003 and video 11 frames 1029-1469 stay out
        "checkpoint": "yolov5n_looks.pt",
        "command": "python -m spermtrack.training.recipes looks --work WORK --visem ../shared/reference/visem_real "
                   "--svia ../shared/reference/svia --install",
        "start_from": "yolov5n_visem.pt",
        "real": _VIDEO_11,
        "svia": _SVIA_LOOKS,
        "synth": _SYNTH_BOTH_LOOKS,
        "train": _LOOKS_TRAIN,
        "photometric": {},
    },
    # tuning instruments, never shipped: each trains on one part of video 11's tuning frames and detects the
    # other, so that trackers are tuned on detections of frames the detector never saw (crossfit_bench.py)
    **{name: {
        "checkpoint": f"yolov5n_{name.replace('-', '_')}.pt",
        "command": f"python -m spermtrack.training.recipes {name} --work WORK --visem ../shared/reference/visem_real "
                   "--svia ../shared/reference/svia",
        "start_from": "yolov5n_synth.pt",
        "real": {"video": "11", "train": {"start": train[0], "stop": train[1], "step": 4},
                 "val": {"start": val[0], "stop": val[1], "step": 4}, "held_out_from": 1029},
        "detects": {"video": "11", "start": detects[0], "stop": detects[1]},
        "svia": _SVIA_LOOKS,
        "synth": _SYNTH_BOTH_LOOKS,
        # from the synthetic checkpoint, so longer and at the visem recipe's learning rate and warm-up
        "train": {**_LOOKS_TRAIN, "epochs": 10, "lr0": 0.001, "warmup_epochs": 1.0},
        "photometric": {},
    } for name, train, val, detects in (("crossfit-a", (0, 480), (480, 520), (520, 1029)),
                                        ("crossfit-b", (560, 1029), (520, 560), (0, 520)))},
    "verifier": _verifier_recipe(
        "head_verifier.onnx", "python -m spermtrack.training.recipes verifier --work WORK "
        "--visem ../shared/reference/visem_real --svia ../shared/reference/svia --install",
        # patches at each crossfit checkpoint's detections of the video 11 frames it never trained on
        crossfit=["crossfit-a", "crossfit-b"], train=(0, 940), calibrate=(940, 1029)),
    # tuning instruments, never shipped: each trains on the other crossfit split only, so that
    # benchmarks/crossfit_bench.py --verify rescores each split with a verifier that never saw its frames; the
    # -left|-right ones also on one side of the frame only, to rescore the other half (--verify spatial)
    **dict(_instrument_verifier(fold, side) for fold in _VERIFIER_FOLDS for side in (None, "left", "right")),
    "trackpy": {
        "command": "python -m spermtrack.training.recipes trackpy --work WORK --visem ../shared/reference/visem_real",
        "real": {"video": "11", "start": 0, "stop": 1029, "step": 10}, "max_dist": 10.0,
    },
    "calibrate": {
        "command": "python -m spermtrack.training.recipes calibrate --checkpoint NAME --work WORK "
                   "--visem ../shared/reference/visem_real --install",
        "real": {"video": "11", "start": 940, "stop": 1029, "step": 8},
    },
}


def _versions() -> dict:
    import torch
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": str(torch.__version__)}


def _install(path: Path, name: str) -> str:
    """Copy a checkpoint into the package; the default one also gets its ONNX export beside it (never stale)."""
    import spermtrack.detectors
    from spermtrack.detectors.yolo import SHIPPED_WEIGHTS

    dest = Path(spermtrack.detectors.__file__).resolve().parent / "weights" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    if name == SHIPPED_WEIGHTS:  # the default runs through ONNX Runtime
        from spermtrack.detectors.train import export_onnx

        export_onnx(dest, dest.with_suffix(".onnx"))
    return str(dest)


def _make_synth(work: Path, recipe: dict, epochs: int | None) -> tuple[dict, dict]:
    from spermtrack.training.detector import train_detector
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    s = recipe["synth"][0]
    data = work / s["name"]
    if not (data / "synth_config.json").is_file():
        write_synthetic_dataset(data, n_videos=s["n_videos"], config=SynthConfig(seconds=s["seconds"], fps=s["fps"]),
                                seed=s["seed"], progress=False)
    train = dict(recipe["train"])
    if epochs is not None:
        train["epochs"] = int(epochs)
    report = train_detector(data, out_dir=work / "run", **train)
    info = {"trained_on": "SYNTHETIC VISEM-Tracking data only (spermtrack.synth); never a real frame",
            "recipe": {"synth": s, "train": train}}
    return report, info


def _svia_as_visem(svia: Path, clip: str, work: Path) -> Path:
    """The SVIA clip ``clip`` as a VISEM-Tracking video folder (its mp4 and ``labels/`` of the sperm boxes)."""
    import os

    from spermtrack.io.boxes import read_box_csv
    from spermtrack.io.video import probe_video
    from spermtrack.io.visem_write import write_frame_files

    folder = work / "svia" / clip
    if (folder / f"{clip}.mp4").is_file():
        return folder
    info = probe_video(svia / f"{clip}.mp4")
    boxes = read_box_csv(svia / f"{clip}_boxes.csv")
    sperm = boxes[boxes["class_id"] == 0].reset_index(drop=True)
    sperm = sperm.assign(gt_id=[f"box{i}" for i in range(len(sperm))])  # no identities: one id per box
    for frame in range(info.n_frames):
        write_frame_files(folder, clip, frame, sperm[sperm["frame"] == frame], width=info.width, height=info.height)
    os.symlink((svia / f"{clip}.mp4").resolve(), folder / f"{clip}.mp4")
    return folder


def _make_visem(work: Path, recipe: dict, epochs: int | None, visem: Path | None,
                svia: Path | None = None, device: str = "cpu") -> tuple[dict, dict]:
    from spermtrack.detectors.augment import PhotometricConfig
    from spermtrack.training.dataset import VideoSelection, write_yolo_dataset
    from spermtrack.detectors.train import TrainConfig, train_yolo
    from spermtrack.detectors.yolo import shipped_weights
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    if visem is None:
        raise InputError("the visem recipe needs --visem, the folder that holds VISEM-Tracking video 11 "
                         "(e.g. ../shared/reference/visem_real)")
    real = recipe["real"]
    folder = Path(visem) / real["video"]
    if not folder.is_dir():
        raise InputError(f"holds no video folder {real['video']}/", visem)
    selections = [VideoSelection(folder, split="train", prefix=f"real{real['video']}", **real["train"]),
                  VideoSelection(folder, split="val", prefix=f"real{real['video']}", **real["val"])]
    if max(real["train"]["stop"], real["val"]["stop"]) > real["held_out_from"]:
        raise InputError("the recipe would read held-out frames")  # guards edits of RECIPES
    if "svia" in recipe:
        if svia is None:
            raise InputError(f"the {recipe['checkpoint']} recipe needs --svia, the folder of the SVIA clips")
        if recipe["svia"]["held_out"] in recipe["svia"]["train"]:
            raise InputError("the recipe would train on the held-out SVIA clip")
        for clip in recipe["svia"]["train"]:
            selections.append(VideoSelection(_svia_as_visem(Path(svia), clip, work), split="train",
                                             step=recipe["svia"]["step"], prefix=f"svia{clip}"))
    for s in recipe["synth"]:
        data = work / s["name"]
        if not (data / "synth_config.json").is_file():
            write_synthetic_dataset(data, n_videos=s["n_videos"], seed=s["seed"], progress=False,
                                    config=SynthConfig(seconds=s["seconds"], fps=s["fps"], polarity=s["polarity"]))
        for i in range(1, s["n_videos"] + 1):
            split = "val" if i > s["n_videos"] - s["val_videos"] else "train"
            selections.append(VideoSelection(data / str(i), split=split, step=s["step"], prefix=f"{s['name']}{i}"))
    data_yaml = write_yolo_dataset(selections, work / "dataset", settings={"recipe": "visem"})

    train = dict(recipe["train"])
    if epochs is not None:
        train["epochs"] = int(epochs)
    config = TrainConfig(model=str(shipped_weights(recipe["start_from"])), device=device, **train)
    photometric = PhotometricConfig(**recipe["photometric"])
    report = train_yolo(data_yaml, out_dir=work / "run", config=config, photometric=photometric)

    # score calibration on the real validation frames (never on the held-out ones)
    calibration = calibrate_on_frames(report["weights"], folder, start=real["val"]["start"], stop=real["val"]["stop"],
                                      step=real["val"]["step"]).to_dict()
    svia_text = (f", the real SVIA clips {', '.join(recipe['svia']['train'])} (every frame; "
                 f"{recipe['svia']['held_out']} never used)" if "svia" in recipe else "")
    info = {"trained_on": f"real VISEM-Tracking video {real['video']} frames {real['train']['start']}-"
                          f"{real['train']['stop'] - 1} (every {real['train']['step']}th){svia_text} and synthetic "
                          "phase-contrast and bright-field frames; frames 1029-1469 of video 11 never used",
            "recipe": {k: v for k, v in recipe.items() if k not in ("checkpoint", "command")},
            "score_calibration": calibration}
    report["score_calibration"] = calibration
    return report, info


def calibrate_on_frames(weights: str | Path, folder: str | Path, *, start: int, stop: int, step: int = 1,
                        max_dist: float = 10.0):
    """Fit a YOLO checkpoint's score calibration on labelled frames of one VISEM-Tracking video.

    Detections at ``conf=0.01`` on frames ``start, start + step, ... < stop`` are matched to the
    labelled boxes one-to-one within ``max_dist`` px (:func:`~spermtrack.eval.detection.match_centres`);
    matched ones are true. Returns a :class:`~spermtrack.detectors.calibrate.ScoreCalibration`.
    """
    from spermtrack.detectors.calibrate import fit_score_calibration
    from spermtrack.detectors.yolo import YoloDetector
    from spermtrack.eval.detection import match_centres
    from spermtrack.io.visem import read_visem_video

    video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    keep = set(range(start, stop, step))
    detector = YoloDetector(weights=str(weights), conf=0.01, calibrate=False)
    dets = detector.detect_video(item for item in video.iter_frames(start=start, stop=stop) if item[0] in keep)
    truth = video.ground_truth[video.ground_truth["frame"].isin(keep)].reset_index(drop=True)
    matched = np.zeros(len(dets), dtype=bool)
    matched[match_centres(truth, dets, max_dist=max_dist)["pred_row"].to_numpy()] = True
    return fit_score_calibration(dets["score"].to_numpy(), matched,
                                 source=f"{Path(folder).name} frames {start}-{stop - 1} every {step}, "
                                        f"centre distance {max_dist:g} px")


def fit_blob_score_model(detections, truth, *, max_dist: float = 10.0, source: str = "",
                         features: Sequence[str] | None = None):
    """Fit the blob detector's score model on candidates with features and labelled truth.

    Parameters
    ----------
    detections : pandas.DataFrame
        Blob detections with ``min_score=0`` and the feature columns (``with_features=True``).
    truth : pandas.DataFrame
        Labelled boxes of the same frames.
    max_dist : float
        Centre gate, px: a candidate matched one-to-one within it is a labelled object.
    source : str
        Provenance text.
    features : sequence of str, optional
        Fit only these features (the others get weight 0); default all. Synthetic-only fits use
        the signal-to-noise ratio and the border, whose meaning does not depend on how the
        generator draws sizes and debris.

    Returns
    -------
    BlobScoreModel
        Logistic-regression weights, and ``min_score``: the threshold in 0.05 .. 0.95 (steps of
        0.05) with the highest F1 on these frames.
    """
    from spermtrack.detectors.blob import BLOB_FEATURES, BlobScoreModel
    from spermtrack.detectors.calibrate import fit_logistic
    from spermtrack.eval.detection import f1_by_threshold, match_centres

    detections = detections.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    used = [BLOB_FEATURES.index(name) for name in (features or BLOB_FEATURES)]
    values = detections[[f"f_{name}" for name in BLOB_FEATURES]].to_numpy(dtype=np.float64)
    matched = np.zeros(len(detections), dtype=bool)
    matched[match_centres(truth, detections, max_dist=max_dist)["pred_row"].to_numpy()] = True
    beta = fit_logistic(values[:, used], matched, l2=1e-3)
    weights = np.zeros(len(BLOB_FEATURES))
    weights[used] = beta[:-1]
    model = BlobScoreModel(features=BLOB_FEATURES, weights=tuple(weights), intercept=float(beta[-1]),
                           min_score=0.5, source=source)
    score = model.score(values)
    f1 = f1_by_threshold(truth, detections, score, max_dist=max_dist)
    best = max(f1, key=lambda t: (f1[t], -abs(t - 0.5)))
    return BlobScoreModel(features=BLOB_FEATURES, weights=model.weights, intercept=model.intercept,
                          min_score=float(best), source=f"{source}; F1 {f1[best]:.3f} at {best:.2f}")


def _make_blob(work: Path, recipe: dict, visem: Path | None, svia: Path | None) -> dict:
    import json

    import pandas as pd

    from spermtrack.detectors.blob import BLOB_FEATURES, MIN_REFERENCE_OBJECTS, BlobDetector, area_reference
    from spermtrack.eval.detection import detection_prf
    from spermtrack.io.boxes import read_box_csv
    from spermtrack.io.video import iter_frames
    from spermtrack.io.visem import read_visem_video

    if visem is None:
        raise InputError("the blob recipe needs --visem, the folder that holds VISEM-Tracking video 11")
    if svia is None:
        raise InputError("the blob recipe needs --svia, the folder that holds the SVIA clips S_0001-S_0003")
    models = {}
    b = recipe["bright"]
    video = read_visem_video(Path(visem) / b["video"], um_per_px=VISEM_UM_PER_PX)
    keep = set(range(b["start"], b["stop"], b["step"]))
    detector = BlobDetector(polarity="bright", score_model="contrast", min_score=0.0, with_features=True)
    dets = detector.detect_video(item for item in video.iter_frames(start=b["start"], stop=b["stop"])
                                 if item[0] in keep)
    truth = video.ground_truth[video.ground_truth["frame"].isin(keep)]
    models["bright"] = fit_blob_score_model(dets, truth, max_dist=recipe["max_dist"],
                                            source=f"VISEM-Tracking video {b['video']} frames {b['start']}-"
                                                   f"{b['stop'] - 1} every {b['step']}")
    d = recipe["dark"]

    def candidates(clip: str, offset: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        detector = BlobDetector(polarity="dark", score_model="contrast", min_score=0.0, with_features=True)
        found = detector.detect_video(item for item in iter_frames(Path(svia) / f"{clip}.mp4")
                                      if item[0] % d["step"] == 0)
        boxes = read_box_csv(Path(svia) / f"{clip}_boxes.csv")
        sperm = boxes[(boxes["class_id"] == 0) & (boxes["frame"] % d["step"] == 0)]
        return found.assign(frame=found["frame"] + offset), sperm.assign(frame=sperm["frame"] + offset)

    def relative(found: pd.DataFrame, offset: int) -> tuple[pd.DataFrame, float]:
        ref = area_reference(found.loc[found["frame"] == offset, "f_log_area"].to_numpy(), d["area_percentile"])
        if ref is None:
            raise InputError(f"the first frame of an SVIA clip has fewer than {MIN_REFERENCE_OBJECTS} objects")
        return found.assign(f_log_area=found["f_log_area"] - ref), ref

    # one table over all clips: distinct frame numbers
    parts = [candidates(clip, 100000 * i) for i, clip in enumerate(d["clips"])]
    rel = [relative(found, 100000 * i) for i, (found, _) in enumerate(parts)]
    fitted = fit_blob_score_model(pd.concat([r[0] for r in rel], ignore_index=True),
                                  pd.concat([p[1] for p in parts], ignore_index=True),
                                  max_dist=recipe["max_dist"],
                                  source=f"SVIA {', '.join(d['clips'])} (every frame; impurities and "
                                         f"unlabelled debris as negatives; areas relative to each clip's "
                                         f"{d['area_percentile']:g}th percentile)")
    models["dark"] = replace(fitted, area_percentile=d["area_percentile"],
                             area_reference=float(np.mean([r[1] for r in rel])))
    found, truth = candidates(d["validation"], 0)
    _, ref = relative(found, 0)
    score = models["dark"].score(found[[f"f_{name}" for name in BLOB_FEATURES]].to_numpy(np.float64), ref)
    validation = detection_prf(truth, found[score >= models["dark"].min_score], max_dist=recipe["max_dist"])
    out = work / recipe["file"]
    payload = {k: m.to_dict() for k, m in models.items()}
    payload["recipe"] = {k: v for k, v in recipe.items() if k != "file"}
    payload["validation"] = {"dark": {"clip": f"SVIA {d['validation']}",
                                      **{k: round(float(validation[k]), 4) for k in ("precision", "recall", "f1")}}}
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return {"file": str(out), **{k: m.to_dict() for k, m in models.items()}, "validation": payload["validation"]}


def _calibrate_installed(work: Path, recipe: dict, checkpoint: str, visem: Path | None) -> dict:
    """Calibrate an installed checkpoint on the real tuning frames and export it with the calibration."""
    import spermtrack.detectors
    from spermtrack.detectors.yolo import SHIPPED_CHECKPOINTS, load_yolo
    from spermtrack.training.detector import export_checkpoint

    if checkpoint not in SHIPPED_CHECKPOINTS:
        raise InputError(f"unknown checkpoint {checkpoint!r}; choose one of {', '.join(SHIPPED_CHECKPOINTS)}")
    if visem is None:
        raise InputError("the calibrate recipe needs --visem (the folder holding VISEM-Tracking video 11)")
    src = Path(spermtrack.detectors.__file__).resolve().parent / "weights" / checkpoint
    real = recipe["real"]
    calibration = calibrate_on_frames(src, visem / real["video"], start=real["start"], stop=real["stop"],
                                      step=real["step"])
    info = dict(getattr(load_yolo(src), "ckpt", {}).get("spermtrack") or {})
    info["score_calibration"] = calibration.to_dict()
    info["calibration_command"] = recipe["command"].replace("NAME", checkpoint)
    out = export_checkpoint(src, work / checkpoint, info=info)
    return {"score_calibration": calibration.to_dict(), "checkpoint": str(out),
            "size_mb": round(out.stat().st_size / 1e6, 2)}


def _verifier_candidates(work: Path, recipe: dict, visem: Path, svia: Path) -> dict[str, tuple]:
    """``{"train": (patches, is_true), "calibrate": (patches, is_true)}`` of the ``verifier`` recipe."""
    from spermtrack.detectors import make_detector
    from spermtrack.io.boxes import read_box_csv
    from spermtrack.io.video import iter_frames
    from spermtrack.io.visem import read_visem_video
    from spermtrack.synth import SynthConfig, write_synthetic_dataset
    from spermtrack.training.verifier import labelled_patches

    real, max_dist, margin = recipe["real"], recipe["max_dist"], recipe["margin"]
    video = read_visem_video(visem / real["video"], um_per_px=VISEM_UM_PER_PX)
    train, calibrate = [], []
    for name in real["crossfit"]:
        weights = work / name / RECIPES[name]["checkpoint"]
        if not weights.is_file():
            make_checkpoint(name, work / name, visem=visem, svia=svia)
        span = RECIPES[name]["detects"]
        frames = dict(video.iter_frames(start=span["start"], stop=span["stop"]))
        dets = make_detector("yolo", weights=str(weights), verify=False).detect_video(iter(frames.items()),
                                                                                      progress=True)
        dets = dets[in_region(dets["x"].to_numpy(), real.get("region"))]
        for part, span_of in ((train, real["train"]), (calibrate, real["calibrate"])):
            chosen = {f: frame for f, frame in frames.items() if span_of["start"] <= f < span_of["stop"]}
            if chosen:
                part.append(labelled_patches(chosen, dets, video.ground_truth, max_dist=max_dist, margin=margin))
    shipped = make_detector("yolo", verify=False)
    for clip in recipe["svia"]["train"]:
        boxes = read_box_csv(svia / f"{clip}_boxes.csv")
        frames = dict(iter_frames(svia / f"{clip}.mp4"))
        dets = shipped.detect_video(iter(frames.items()))
        train.append(labelled_patches(frames, dets, boxes[boxes["class_id"] == 0], max_dist=max_dist,
                                      margin=margin))
    for s in recipe["synth"]:
        data = work / s["name"]
        if not (data / "synth_config.json").is_file():
            write_synthetic_dataset(data, n_videos=s["n_videos"], seed=s["seed"], progress=False,
                                    config=SynthConfig(seconds=s["seconds"], fps=s["fps"], polarity=s["polarity"],
                                                       write_images=False))
        for i in range(1, s["n_videos"] + 1):
            synthetic = read_visem_video(data / str(i), um_per_px=VISEM_UM_PER_PX)
            frames = {f: frame for f, frame in synthetic.iter_frames() if f % s["step"] == 0}
            dets = shipped.detect_video(iter(frames.items()))
            train.append(labelled_patches(frames, dets, synthetic.ground_truth, max_dist=max_dist, margin=margin))
    return {key: (np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts]))
            for key, parts in (("train", train), ("calibrate", calibrate))}


def _make_verifier(work: Path, recipe: dict, visem: Path | None, svia: Path | None) -> dict:
    """The ``verifier`` recipe: patches, training, calibration on unseen frames, ONNX export."""
    import time

    from scipy.special import expit

    from spermtrack.detectors.calibrate import fit_score_calibration
    from spermtrack.eval.detection import roc_auc
    from spermtrack.training.verifier import VerifierTrainConfig, export_verifier, predict_logits, train_verifier

    if visem is None or svia is None:
        raise InputError("the verifier recipe needs --visem (folder of video 11) and --svia (the SVIA clips)")
    data = _verifier_candidates(work, recipe, visem, svia)
    config = VerifierTrainConfig(**recipe["train"])
    start = time.perf_counter()
    model = train_verifier(*data["train"], config, progress=True)
    seconds = time.perf_counter() - start
    patches_cal, true_cal = data["calibrate"]
    raw = expit(predict_logits(model, patches_cal))
    span = recipe["real"]["calibrate"]
    calibration = fit_score_calibration(raw, true_cal, source=f"head verifier: video 11 frames {span['start']}-"
                                                              f"{span['stop'] - 1}, crossfit detections")
    report = {"n": int(len(data["train"][1])), "matched": round(float(data["train"][1].mean()), 4),
              "validation": {"patches": int(len(true_cal)), "matched": round(float(true_cal.mean()), 4),
                             "auc": round(float(roc_auc(true_cal, raw)), 4)},
              "train_seconds": round(seconds, 1), "score_calibration": calibration.to_dict()}
    out = export_verifier(model, work / recipe["file"], calibration=calibration,
                          recipe={**{k: v for k, v in recipe.items() if k != "file"}, **report,
                                  "versions": _versions()})
    report["file"] = str(out)
    return report


def _fit_trackpy(recipe: dict, visem: Path | None) -> dict:
    """Fit the trackpy detector's score on labelled real frames (see the module notes)."""
    from spermtrack.detectors.calibrate import fit_logistic
    from spermtrack.detectors.peers import TrackpyLocator
    from spermtrack.eval.detection import match_centres
    from spermtrack.io.visem import read_visem_video

    if visem is None:
        raise InputError("the trackpy recipe needs --visem (the folder holding VISEM-Tracking video 11)")
    real = recipe["real"]
    video = read_visem_video(visem / real["video"], um_per_px=VISEM_UM_PER_PX)
    keep = set(range(real["start"], real["stop"], real["step"]))
    detector = TrackpyLocator(mass_half=1.0, mass_slope=1.0)  # score = mass / (mass + 1): mass is recoverable
    dets = detector.detect_video(item for item in video.iter_frames(start=real["start"], stop=real["stop"])
                                 if item[0] in keep)
    truth = video.ground_truth[video.ground_truth["frame"].isin(keep)].reset_index(drop=True)
    matched = np.zeros(len(dets), dtype=bool)
    matched[match_centres(truth, dets, max_dist=recipe["max_dist"])["pred_row"].to_numpy()] = True
    score = dets["score"].to_numpy()
    mass = score / (1.0 - score)
    w, b = fit_logistic(np.log(mass)[:, None], matched)
    return {"mass_half": float(np.exp(-b / w)), "mass_slope": float(w), "n": int(len(dets)),
            "matched": int(matched.sum())}


def make_checkpoint(name: str, work: str | Path, *, install: bool = False, epochs: int | None = None,
                    visem: str | Path | None = None, checkpoint: str = "yolov5n_synth.pt",
                    svia: str | Path | None = None, device: str = "cpu") -> dict:
    """Run one recipe in ``work``; return the training report (plus ``checkpoint``, ``size_mb``).

    Parameters
    ----------
    name : {'synth', 'visem'}
        The recipe (see the module docstring).
    work : str or Path
        Working folder (data, the ultralytics run and the exported checkpoint).
    install : bool
        Copy the exported checkpoint into ``spermtrack/detectors/weights/`` (the source tree of an
        editable install).
    epochs : int, optional
        Override the recipe's epochs (for a quick check; shipped checkpoints use the recipe).
    visem : str or Path, optional
        Folder holding the real VISEM-Tracking video folder (``visem``, ``blob`` and ``calibrate`` recipes).
    checkpoint : str
        ``calibrate`` recipe: the installed checkpoint to calibrate.
    svia : str or Path, optional
        ``blob`` and ``looks`` recipes: the folder of the SVIA clips (``S_0001.mp4``, ``S_0001_boxes.csv``, ...).
    device : str
        ``visem`` and ``looks`` recipes: ``"cpu"`` (the reference) or a CUDA device (``"0"``) to train on a
        GPU when one is available, e.g. with more ``epochs``.
    """
    from spermtrack.training.detector import export_checkpoint

    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    if install and ("detects" in recipe or "rescores" in recipe):
        raise InputError(f"the {name} checkpoint is a tuning instrument (benchmarks/crossfit_bench.py), not shipped: "
                         "run it without --install")
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if name == "trackpy":
        return _fit_trackpy(recipe, None if visem is None else Path(visem))
    if name == "calibrate":
        report = _calibrate_installed(work, recipe, checkpoint, None if visem is None else Path(visem))
        if install:
            report["installed"] = _install(Path(report["checkpoint"]), checkpoint)
        return report
    if name == "blob":
        report = _make_blob(work, recipe, None if visem is None else Path(visem), None if svia is None else Path(svia))
        if install:
            report["installed"] = _install(Path(report["file"]), recipe["file"])
        return report
    if name.startswith("verifier"):
        report = _make_verifier(work, recipe, None if visem is None else Path(visem),
                                None if svia is None else Path(svia))
        if install:
            report["installed"] = _install(Path(report["file"]), recipe["file"])
        return report
    if name == "synth":
        report, info = _make_synth(work, recipe, epochs)
    else:
        report, info = _make_visem(work, recipe, epochs, None if visem is None else Path(visem),
                                   None if svia is None else Path(svia), device=device)
    info.update({"command": recipe["command"], "epochs": epochs or recipe["train"]["epochs"],
                 "val_metrics": {k: report[k] for k in ("mAP50", "mAP50_95", "precision", "recall")},
                 "versions": _versions()})
    out = export_checkpoint(report["weights"], work / recipe["checkpoint"], info=info)
    report["checkpoint"] = str(out)
    report["size_mb"] = round(out.stat().st_size / 1e6, 2)
    if install:
        report["installed"] = _install(out, recipe["checkpoint"])
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m spermtrack.training.recipes",
                                     description="Reproduce a YOLOv5n checkpoint shipped with spermtrack.")
    parser.add_argument("recipe", choices=sorted(RECIPES), help="which checkpoint")
    parser.add_argument("--work", type=Path, required=True, help="working folder")
    parser.add_argument("--visem", type=Path, default=None,
                        help="visem recipe: folder holding VISEM-Tracking video folder 11")
    parser.add_argument("--svia", type=Path, default=None,
                        help="blob recipe: folder holding the SVIA clips S_0001-S_0003 and their box CSVs")
    parser.add_argument("--device", default="cpu",
                        help="visem/looks recipes: cpu (the reference) or a CUDA device such as 0 (with --epochs)")
    parser.add_argument("--install", action="store_true", help="copy the result into the package's weights/")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (quick check)")
    parser.add_argument("--checkpoint", default="yolov5n_synth.pt", help="calibrate recipe: the installed checkpoint")
    args = parser.parse_args(argv)
    try:
        report = make_checkpoint(args.recipe, args.work, install=args.install, epochs=args.epochs, visem=args.visem,
                                 checkpoint=args.checkpoint, svia=args.svia, device=args.device)
    except InputError as exc:
        print(f"python -m spermtrack.training.recipes: error: {exc}", file=sys.stderr)
        return 1
    for key in ("mass_half", "mass_slope", "n", "matched", "bright", "dark", "validation", "file", "mAP50", "mAP50_95", "precision", "recall", "epochs_run", "train_seconds",
                "score_calibration", "checkpoint", "size_mb", "installed"):
        if key in report:
            print(f"{key}: {report[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
