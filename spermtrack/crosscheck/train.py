"""``spermtrack regress``: cross-validate and train one regressor on a data set, and predict a video.

:func:`train_regressor` prepares the inputs of every video (cached), cross-validates the model by
video, fits it once more on every video, and writes into ``out_dir`` as a unit:

``model.pt``               the model fitted on every video, with its input settings (weights_only-loadable)
``cv_predictions.csv``     per video: the out-of-fold prediction and the truth, percent
``metrics.csv``            per category: n, MAE, RMSE, Pearson r and p, Bland-Altman bias, sd, limits
``agreement.png``          correlation and Bland-Altman plots of the out-of-fold predictions
``regress.json``           settings, data set, folds, timings, versions
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError

__all__ = ["MIN_CONTRAST", "default_cache_dir", "frame_contrast", "frames_needed", "predict_video",
           "train_regressor"]


def default_cache_dir() -> Path:
    """Where prepared inputs are cached: ``$XDG_CACHE_HOME/spermtrack/regressors`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spermtrack" / "regressors"


def train_regressor(dataset: str | os.PathLike, out_dir: str | os.PathLike, *, model: str, folds: int = 5,
                    seed: int = 0, quick: bool = False, clinical_csv: str | os.PathLike | None = None,
                    um_per_px: float = VISEM_UM_PER_PX, cache_dir: str | os.PathLike | None = None,
                    settings=None, progress: bool = True, **options) -> dict:
    """Cross-validate ``model`` on ``dataset``, fit it on every video and write the outputs (module notes).

    Parameters
    ----------
    dataset : str or PathLike
        A VISEM-Tracking-layout root with a semen-analysis CSV.
    out_dir : str or PathLike
        Output folder (new, empty or an earlier spermtrack output; checked before any work).
    model : str
        A name of :data:`spermtrack.regressors.REGRESSORS`.
    folds : int
        Cross-validation folds (split by video).
    seed : int
        Seed of the split and of the model.
    quick : bool
        Small inputs and short training (tests).
    clinical_csv : str or PathLike, optional
        The semen-analysis CSV (default: found at the root).
    um_per_px : float
        Pixel size of the videos.
    cache_dir : str or PathLike, optional
        Cache of prepared inputs (default :func:`default_cache_dir`).
    settings : InputSettings, optional
        How videos become inputs (default: :class:`~spermtrack.crosscheck.inputs.InputSettings`, or its
        ``quick()`` variant).
    progress : bool
        Show progress bars.
    **options
        Settings of the model.

    Returns
    -------
    dict
        The ``regress.json`` record (with ``metrics``).
    """
    from spermtrack.crosscheck.cv import agreement_table, cross_validate, prepare_all, seeded_regressor
    from spermtrack.crosscheck.data import open_regression_data
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.io.atomic import check_output_folder, output_folder, write_csv, write_json
    from spermtrack.plots import plot_agreement
    from spermtrack.provenance import provenance
    from spermtrack.regressors import kfold_by_video, regressor_class

    cls = regressor_class(model)
    inputs = [p for p in (dataset, clinical_csv) if p is not None]
    check_output_folder(out_dir, inputs=inputs)
    data = open_regression_data(dataset, clinical_csv=clinical_csv)
    kfold_by_video(data.video_ids, folds, seed=seed)  # fewer videos than folds: refuse before any work
    settings = settings or (InputSettings.quick() if quick else InputSettings())
    cache = default_cache_dir() if cache_dir is None else cache_dir
    start = time.perf_counter()
    prepared = prepare_all(data, settings, set(cls.needs), um_per_px=um_per_px, cache_dir=cache, progress=progress)
    prepare_s = time.perf_counter() - start
    cv = cross_validate(model, prepared, data, folds=folds, seed=seed, quick=quick, progress=progress, **options)
    truth = data.percent()
    per_video, metrics = agreement_table(cv.percent(), truth)
    start = time.perf_counter()
    final = seeded_regressor(model, data.categories, seed=seed, quick=quick, **options)
    final.fit([prepared[v].inputs for v in data.video_ids], data.targets.to_numpy(), progress=progress)
    fit_s = time.perf_counter() - start
    record = {"model": model, "dataset": str(data.root), "clinical_csv": str(data.clinical_csv),
              "videos": data.video_ids, "categories": list(data.categories), "folds": cv.folds, "seed": seed,
              "quick": quick, "model_config": final.config.to_dict(), "inputs": settings.to_dict(),
              "um_per_px": um_per_px, "notes": data.notes,
              "seconds": {"prepare": round(prepare_s, 2), "cross_validation": round(cv.seconds, 2),
                          "final_fit": round(fit_s, 2)},
              "metrics": metrics.reset_index().to_dict("records")}
    cv_table = cv.percent().add_suffix("_pred").join(truth.add_suffix("_true"))
    with output_folder(out_dir, inputs=inputs) as out:
        final.save(out / "model.pt", inputs={**settings.to_dict(), "um_per_px": um_per_px},
                   info={k: record[k] for k in ("dataset", "videos", "folds", "seed", "metrics")})
        write_csv(out / "cv_predictions.csv", cv_table.reset_index())
        write_csv(out / "metrics.csv", metrics.reset_index())
        plot_agreement(per_video, out / "agreement.png", title=f"{model}: {folds}-fold cross-validation",
                       reference_label="truth (%)", predicted_label=f"{model} (%)")
        write_json(out / "regress.json", provenance(regress=record))
    return record


#: Below this median standard deviation of a frame's gray levels (0-255) a video has no contrast: nothing in
#: it can be seen to move, so a regressor's prediction means nothing (an all-black or all-grey recording,
#: a capture with the lamp off or the lens cap on). Synthetic and real sperm videos lie well above (4-30).
MIN_CONTRAST = 1.0
#: Frames read, from the start, to measure the contrast.
CONTRAST_FRAMES = 25


def frames_needed(model, settings, fps: float) -> tuple[int, str]:
    """The fewest frames of a video a model's prediction can use, and why (for the message).

    Parameters
    ----------
    model : spermtrack.regressors.Regressor
        Its :attr:`~spermtrack.regressors.Regressor.needs` decide: ``frames`` need
        :meth:`~spermtrack.regressors.Regressor.frames_needed` kept frames, ``frame_step_s`` apart;
        ``flow`` needs one frame pair ``flow_long_gap_s`` apart; ``kinematics`` needs a track as long as the
        grading preset's ``min_duration_s``.
    settings : InputSettings
        How the model's inputs are prepared.
    fps : float
        Frame rate of the video.

    Returns
    -------
    (int, str)
        The number of frames (1 for a model that reads nothing of the video) and what it is for.
    """
    import math

    from spermtrack.kinematics import get_preset

    best = (1, "one frame")
    if "frames" in model.needs:
        from spermtrack.crosscheck.inputs import kept_frame_positions

        k = model.frames_needed()
        last = kept_frame_positions(k, fps, settings.frame_step_s)[-1]
        best = max(best, (math.ceil(last) + 1, f"{k} frames taken {settings.frame_step_s:g} s apart at {fps:g} fps"))
    if "flow" in model.needs:
        gap = max(1, round(settings.flow_gap_s * fps), round(settings.flow_long_gap_s * fps))
        seconds = max(settings.flow_gap_s, settings.flow_long_gap_s)
        best = max(best, (gap + 1, f"a pair of frames {seconds:g} s apart for optical flow at {fps:g} fps"))
    if "kinematics" in model.needs:
        seconds = get_preset(settings.stages.preset).min_duration_s
        best = max(best, (math.ceil(seconds * fps - 1e-9) + 1,
                          f"a track of {seconds:g} s at {fps:g} fps to grade ({settings.stages.preset})"))
    return best


def frame_contrast(video, *, n_frames: int = CONTRAST_FRAMES) -> float:
    """Median, over the first ``n_frames`` frames, of the standard deviation of a frame's gray levels (0-255)."""
    import numpy as np

    spread = [float(img.std()) for _, img in video.iter_frames(gray=True, stop=min(n_frames, video.recording.n_frames))]
    return float(np.median(spread)) if spread else 0.0


def predict_video(path: str | os.PathLike, model_path: str | os.PathLike, *, um_per_px: float | None = None,
                  fps: float | None = None, progress: bool = False) -> tuple[str, dict[str, float], list[str]]:
    """Predict the WHO proportions of one video with a model written by :func:`train_regressor`.

    Parameters
    ----------
    path : str or PathLike
        A video file, a VISEM-Tracking video folder or a folder of frames.
    model_path : str or PathLike
        ``model.pt``, the folder holding it, or the name of a model whose checkpoint is shipped
        (:func:`~spermtrack.regressors.shipped_checkpoint`).
    um_per_px, fps : float, optional
        Calibration (default: the pixel size the model was trained with; fps from the container).
    progress : bool
        Show a progress bar.

    Returns
    -------
    (str, dict, list of str)
        The model name, the prediction in percent per category (the three lab categories, and
        ``a``-``d`` when the model predicts grades) and warnings about it: a video without contrast
        (median frame standard deviation below :data:`MIN_CONTRAST` gray levels), or, for a model that
        reads the tracking path, a video in which no track could be graded. A prediction with warnings
        means little.

    Raises
    ------
    InputError
        The model file is malformed (:func:`~spermtrack.regressors.load_regressor`); the video cannot be
        read; the video is shorter than the model's input (:func:`frames_needed`; the message gives both
        frame counts).
    """
    from spermtrack.crosscheck.cv import checkpoint_info, outside_training
    from spermtrack.crosscheck.inputs import InputSettings, prepare_inputs
    from spermtrack.io.inputs import open_video
    from spermtrack.regressors import FOUR, THREE, load_regressor, shipped_checkpoint, three_from_four

    model_path = shipped_checkpoint(model_path)
    model, inputs = load_regressor(model_path)
    try:
        trained_um = float(inputs.pop("um_per_px", VISEM_UM_PER_PX))
        settings = InputSettings.from_dict(inputs)
    except (InputError, TypeError, ValueError) as exc:
        raise InputError(f"has input settings this spermtrack cannot use ({exc})", model_path) from None
    video = open_video(path, um_per_px=trained_um if um_per_px is None else um_per_px, fps=fps)
    rec = video.recording
    needed, why = frames_needed(model, settings, rec.fps)
    if rec.n_frames < needed:
        raise InputError(f"is too short for the {model.name} model: it needs at least {needed} frames ({why}), the "
                         f"video has {rec.n_frames}", path)
    notes = []
    outside = outside_training(checkpoint_info(model_path), model.name, rec.um_per_px)
    if outside is not None:
        notes.append(f"{path}: {outside}; the prediction means little")
    contrast = frame_contrast(video)
    if contrast < MIN_CONTRAST:
        notes.append(f"{path}: the video has no contrast (its frames are nearly uniform: gray-level standard "
                     f"deviation {contrast:.2g} of 255, below {MIN_CONTRAST:g}); the prediction means nothing")
    prepared = prepare_inputs(video, settings, set(model.needs), progress=progress)
    kinematics = prepared.inputs.kinematics
    if "kinematics" in model.needs and kinematics is not None and not (
            len(kinematics) and kinematics["graded"].astype(bool).any()):
        notes.append(f"{path}: the tracking path graded no sperm track in the video, so the {model.name} model had "
                     "no kinematics to read; the prediction means nothing")
    p = model.predict([prepared.inputs])[0]
    out = {}
    if model.categories == FOUR:
        out.update({g: 100.0 * float(v) for g, v in zip(FOUR, p)})
        p = three_from_four(p)
    out.update({c: 100.0 * float(v) for c, v in zip(THREE, p)})
    return model.name, out, notes
