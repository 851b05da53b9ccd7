"""The recipe of the checkpoint shipped in the package: synthetic data -> YOLOv5n -> ``weights/``.

Run::

    python -m spermtrack.detectors.recipe --work /tmp/yolo_synth            # writes WORK/yolov5n_synth.pt
    python -m spermtrack.detectors.recipe --work /tmp/yolo_synth --install  # ... and copies it into the package

Steps (all offline, CPU):

1. ``write_synthetic_dataset(WORK/data, n_videos=50, config=SynthConfig(seconds=0.8, fps=50), seed=2024)``:
   50 synthetic VISEM-Tracking videos of 40 frames, densities and annotator box styles drawn from
   the real data set's range (same as ``spermtrack synth WORK/data --videos 50 --seconds 0.8 --fps 50
   --seed 2024``).
2. ``train_detector(WORK/data, out_dir=WORK/run, model="yolov5n", epochs=30, imgsz=640, batch=4,
   frame_step=10, seed=0)``: every 10th frame (4 per video), a seeded video-level split (40 train
   and 10 validation videos), YOLOv5n from ultralytics' yaml with random weights, full 640 x 480
   frames at imgsz 640 (heads keep their 6-10 px), batch 4 with one optimizer step per batch (on
   two CPU cores the number of steps, not the image size, limits a from-scratch model).
3. :func:`~spermtrack.detectors.train.export_checkpoint` of ``best.pt`` to ``WORK/yolov5n_synth.pt``
   (half precision, no optimizer state, this recipe and the validation metrics embedded under the
   ``"spermtrack"`` key).

The checkpoint has never seen a real frame: it measures how well the synthetic twin transfers.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["RECIPE", "COMMAND", "make_shipped_checkpoint", "main"]

RECIPE: dict = {
    "synth": {"n_videos": 50, "seconds": 0.8, "fps": 50.0, "seed": 2024},
    "train": {"model": "yolov5n", "epochs": 30, "imgsz": 640, "batch": 4, "frame_step": 10, "seed": 0,
              "workers": 2},
}
COMMAND = "python -m spermtrack.detectors.recipe --work WORK --install"


def make_shipped_checkpoint(work: str | Path, *, install: bool = False, epochs: int | None = None) -> dict:
    """Run the recipe in ``work``; return the training report (plus ``checkpoint``, ``size_mb``).

    Parameters
    ----------
    work : str or Path
        Working folder (synthetic data, the ultralytics run and the exported checkpoint).
    install : bool
        Copy the exported checkpoint to ``spermtrack/detectors/weights/`` (the source tree of an
        editable install).
    epochs : int, optional
        Override the recipe's epochs (for a quick check; the shipped checkpoint uses the recipe).
    """
    from spermtrack.detectors.train import export_checkpoint, train_detector
    from spermtrack.detectors.yolo import SHIPPED_WEIGHTS
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    work = Path(work).resolve()
    data = work / "data"
    s = RECIPE["synth"]
    if not (data / "synth_config.json").is_file():
        write_synthetic_dataset(data, n_videos=s["n_videos"], config=SynthConfig(seconds=s["seconds"], fps=s["fps"]),
                                seed=s["seed"], progress=False)
    train = dict(RECIPE["train"])
    if epochs is not None:
        train["epochs"] = int(epochs)
    report = train_detector(data, out_dir=work / "run", **train)
    import torch
    import ultralytics

    info = {
        "trained_on": "SYNTHETIC VISEM-Tracking data only (spermtrack.synth); never a real frame",
        "recipe": {"synth": s, "train": train},
        "command": COMMAND,
        "val_metrics": {k: report[k] for k in ("mAP50", "mAP50_95", "precision", "recall")},
        "train_videos": report["train_videos"], "val_videos": report["val_videos"],
        "versions": {"ultralytics": ultralytics.__version__, "torch": torch.__version__},
    }
    out = export_checkpoint(report["weights"], work / SHIPPED_WEIGHTS, info=info)
    report["checkpoint"] = str(out)
    report["size_mb"] = round(out.stat().st_size / 1e6, 2)
    if install:
        dest = Path(__file__).resolve().parent / "weights" / SHIPPED_WEIGHTS
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, dest)
        report["installed"] = str(dest)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m spermtrack.detectors.recipe",
                                     description="Reproduce the YOLOv5n checkpoint shipped with spermtrack "
                                                 "(trained on synthetic data).")
    parser.add_argument("--work", type=Path, required=True, help="working folder")
    parser.add_argument("--install", action="store_true", help="copy the result into the package's weights/")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (quick check)")
    args = parser.parse_args(argv)
    report = make_shipped_checkpoint(args.work, install=args.install, epochs=args.epochs)
    keys = ("mAP50", "mAP50_95", "precision", "recall", "epochs_run", "train_seconds", "checkpoint", "size_mb",
            "installed")
    for key in keys:
        if key in report:
            print(f"{key}: {report[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
