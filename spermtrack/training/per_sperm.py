"""Training data and recipe of the per-sperm video model (:mod:`spermtrack.regressors.per_sperm`).

Synthetic clips (:func:`synthetic_clips`)
    Videos of the generator (:mod:`spermtrack.synth`) of both looks, with a balanced grade mix, cut
    along their true tracks (:mod:`spermtrack.regressors.clips`). Every sperm's grade is exact: a and b
    swim, c beats its tail in place, d does not beat. Labels are one-hot, softened where a cell's
    progression lies within ``soft_um_s`` of the a/b (25 um/s) or b/c (5 um/s) threshold
    (:func:`soft_targets`).

Real clips (:func:`real_clips`; ``--real DIR``, not in the shipped recipe)
    A real VISEM-Tracking video cut along its annotated sperm tracks (frames :data:`REAL` ``train``;
    video 11's frames 1029-1469 are never used), one clip per second of track. Labels are the kinematic grade
    of the annotated track under WHO's rule, kept only where no threshold is near
    (:func:`unambiguous_grades`): they teach the real look, not anything the kinematics cannot see.

Recipe (:func:`run_recipe`; ``python -m spermtrack.training.per_sperm --work W [--install]``)
    Train: 48 phase-contrast and 16 bright-field videos of 2 s (seeds from 7000 and 7100, 40 cells per
    frame). Validation (model choice and early stopping): 12 + 4 videos of other seeds (7200, 7300)
    and another density (25 per frame). Both architectures are trained; the one with the better
    validation balanced accuracy is installed as ``regressors/weights/per_sperm.pt`` with the recipe,
    the command and its validation metrics in the checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spermtrack.constants import GRADES, VISEM_11_HELD_OUT_FROM, VISEM_UM_PER_PX, WHO_A_UM_S, WHO_B_UM_S
from spermtrack.errors import InputError

__all__ = ["REAL", "RECIPE", "cell_metrics", "evaluate", "real_clips", "run_recipe", "soft_targets", "synthetic_clips",
           "unambiguous_grades"]
#: The shipped model's recipe (see the module docstring).
RECIPE = {
    "train": [{"polarity": "phase", "n_videos": 48, "seed": 7000, "density": 40.0},
              {"polarity": "bright", "n_videos": 16, "seed": 7100, "density": 40.0}],
    "val": [{"polarity": "phase", "n_videos": 12, "seed": 7200, "density": 25.0},
            {"polarity": "bright", "n_videos": 4, "seed": 7300, "density": 25.0}],
    "seconds": 2.0, "fps": 50.0, "grade_mix": (0.25, 0.25, 0.25, 0.25), "soft_um_s": 2.0,
    "epochs": 25, "batch_size": 64, "lr": 1e-3,
}
#: Real clips (``--real``, meant for video 11): its frames for training and for a look at real validation
#: clips, and how they are labelled (:func:`real_clips`). Frames from VISEM_11_HELD_OUT_FROM on are never used.
#: The validation frames show the same cells as the training frames: they check the real look, not
#: generalisation to other cells.
REAL = {"train": (0, 900), "val": (940, VISEM_11_HELD_OUT_FROM), "factor": 1.5, "preset": "who2021"}
WEIGHTS_NAME = "per_sperm.pt"


def soft_targets(grades: np.ndarray, progression_um_s: np.ndarray, *, soft_um_s: float = 2.0) -> np.ndarray:
    """Per-sperm target distributions over (a, b, c, d).

    Parameters
    ----------
    grades : numpy.ndarray of str
        The true grade of each sperm.
    progression_um_s : numpy.ndarray
        Its true progression (net speed of the average path), um/s.
    soft_um_s : float
        Within this distance of the a/b or b/c threshold the label is shared linearly between the two
        grades (0.5 / 0.5 at the threshold); c and d are told apart by the beat, so never mixed.

    Returns
    -------
    numpy.ndarray, shape (n, 4)
    """
    grades = np.asarray(grades)
    prog = np.asarray(progression_um_s, dtype=np.float64)
    out = np.zeros((len(grades), 4))
    out[np.arange(len(grades)), [GRADES.index(g) for g in grades]] = 1.0
    for upper, threshold in ((0, WHO_A_UM_S), (1, WHO_B_UM_S)):
        lower = upper + 1
        near = np.isin(grades, [GRADES[upper], GRADES[lower]]) & (np.abs(prog - threshold) < soft_um_s)
        share = np.clip(0.5 + (prog[near] - threshold) / (2 * soft_um_s), 0.0, 1.0)  # of the upper grade
        out[near] = 0.0
        out[near, upper] = share
        out[near, lower] = 1.0 - share
    return out


def synthetic_clips(n_videos: int, seed: int, *, polarity: str = "phase", seconds: float = 2.0, fps: float = 50.0,
                    density: float = 40.0, grade_mix=(0.25, 0.25, 0.25, 0.25), soft_um_s: float = 2.0,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clips of the sperm (class 0) of ``n_videos`` synthetic videos, with their targets and grades.

    Returns
    -------
    clips : numpy.ndarray, float32, shape (n, 16, 32, 32)
    targets : numpy.ndarray, shape (n, 4)
        :func:`soft_targets`.
    grades : numpy.ndarray of str
    """
    from tqdm import tqdm

    from spermtrack.regressors.clips import clip_plan, cut_clips
    from spermtrack.synth import SynthConfig, render_frames, simulate_video

    config = SynthConfig(seconds=seconds, fps=fps, density=density, polarity=polarity, grade_mix=tuple(grade_mix),
                         write_images=False)
    clips, targets, grades = [], [], []
    for k in tqdm(range(n_videos), desc=f"synthetic clips ({polarity})", disable=not progress):
        video = simulate_video(config, seed=seed + k, video_id=str(k))
        truth = video.truth[video.truth["class_id"] == 0]
        cut, ids = cut_clips(enumerate(render_frames(video)), clip_plan(truth, fps=fps),
                             um_per_px=config.um_per_px)
        objects = video.objects.set_index("track_id").loc[ids]
        clips.append(cut)
        grades.append(objects["grade"].to_numpy())
        targets.append(soft_targets(grades[-1], objects["progression_um_s"].to_numpy(), soft_um_s=soft_um_s))
    return np.concatenate(clips), np.concatenate(targets), np.concatenate(grades)


def unambiguous_grades(table, config, *, factor: float = 1.5) -> np.ndarray:
    """The kinematic grade of each track where no threshold is near, else None.

    A track keeps its grade when its grading speed (``config.grade_metric``) is ``factor`` times beyond the
    a/b and b/c thresholds (a: at least ``factor`` x ``a_threshold_um_s``; b: from ``factor`` x
    ``b_threshold_um_s`` to ``a_threshold_um_s`` / ``factor``; c and d: at most ``b_threshold_um_s`` /
    ``factor``; 37.5, 7.5-16.7 and 3.3 um/s under ``who2021``) and, for c and d, its head motion is
    ``factor`` squared times past the motile test (c: at least that many times the larger of the noise floor
    and ``motile_min_um``; d: at most ``motile_min_um`` over ``factor`` squared).

    Parameters
    ----------
    table : pandas.DataFrame
        Kinematics table (:func:`spermtrack.kinematics.analyze_tracks`) with ``graded``, ``grade``, the
        grading speed (``progression_um_s`` or ``vap_um_s``), ``motion_um`` and ``noise_floor_um``.
    config : spermtrack.kinematics.KinematicsConfig
        The preset it was graded with: one that grades on speed alone (no STR or LIN gate).
    factor : float
        Distance from every threshold, as a ratio (> 1).

    Returns
    -------
    numpy.ndarray of object
        ``"a"``-``"d"`` or None, one per row.

    Raises
    ------
    InputError
        The preset gates progressive cells on STR or LIN, which this distance does not measure.
    """
    if config.str_min > 0 or config.lin_min > 0:
        raise InputError(f"preset {config.name!r} gates progressive cells on STR / LIN: unambiguous grades need "
                         "a preset that grades on speed alone (e.g. who2021)")
    speed = table["vap_um_s" if config.grade_metric == "vap" else "progression_um_s"].to_numpy(np.float64)
    a_at, b_at = config.a_threshold_um_s, config.b_threshold_um_s
    motion = table["motion_um"].to_numpy(np.float64)
    floor = np.nan_to_num(table["noise_floor_um"].to_numpy(np.float64), nan=0.0)
    grade = table["grade"].to_numpy(object)
    still = speed <= b_at / factor
    with np.errstate(invalid="ignore"):
        sure = {"a": speed >= factor * a_at,
                "b": (speed >= factor * b_at) & (speed <= a_at / factor),
                "c": still & (motion >= factor ** 2 * np.maximum(floor, config.motile_min_um)),
                "d": still & (motion <= config.motile_min_um / factor ** 2)}
    keep = table["graded"].to_numpy(bool) & np.array([g in sure and bool(sure[g][i]) for i, g in enumerate(grade)])
    return np.where(keep, grade, None)


def real_clips(folder: str | Path, start: int, stop: int, *, um_per_px: float = VISEM_UM_PER_PX,
               preset: str = "who2021", factor: float = 1.5, progress: bool = False):
    """Clips of a real VISEM-Tracking video cut along its annotated sperm tracks, labelled where unambiguous.

    Only frames ``start`` to ``stop - 1`` are read. Each annotated sperm track is graded by its kinematics
    over those frames (``preset``), and kept only where :func:`unambiguous_grades` finds no threshold
    near; its label is that grade, one-hot. A kept track gives one clip per whole :data:`CLIP_SPAN_S`
    window of its rows (a track's last, shorter window gives none). Every clip of a track carries the grade
    of the whole track in the range, not of its own second, and the clips of one cell are alike: they are
    not independent samples.

    Parameters
    ----------
    folder : str or Path
        The video folder (``.../visem_real/11``).
    start, stop : int
        Frame range.
    um_per_px : float
    preset : str
        Kinematics preset of the labels.
    factor : float
        :func:`unambiguous_grades`.
    progress : bool

    Returns
    -------
    clips, targets, grades
        As :func:`synthetic_clips`.
    """
    from spermtrack.io.visem import read_visem_video
    from spermtrack.kinematics import analyze_tracks, get_preset, measured_rows
    from spermtrack.regressors.clips import CLIP_SPAN_S, clip_plan, cut_clips

    video = read_visem_video(folder, um_per_px=um_per_px)
    fps = video.recording.fps
    gt = video.ground_truth
    sperm = gt[(gt["class_id"] == 0) & (gt["frame"] >= start) & (gt["frame"] < stop) & (gt["track_id"] >= 0)]
    config = get_preset(preset)
    table = analyze_tracks(sperm.assign(score=1.0), um_per_px, fps, config).table
    label = dict(zip(table["track_id"], unambiguous_grades(table, config, factor=factor)))
    kept = measured_rows(sperm, table)                      # the stretch each label was measured on
    kept = kept[kept["track_id"].map(label).notna()].sort_values(["track_id", "frame"])
    span = max(1, round(CLIP_SPAN_S * fps))
    window = (kept["frame"] - kept.groupby("track_id")["frame"].transform("min")) // span
    frames_in = kept.assign(window=window).groupby(["track_id", "window"])["frame"]
    whole = (frames_in.transform("max") - frames_in.transform("min") + 1) >= span
    per_track = int(window.max()) + 1 if len(kept) else 1  # one clip id per window of a track
    kept = kept.assign(track_id=kept["track_id"].to_numpy(np.int64) * per_track + window.to_numpy(np.int64))[whole]
    frames = video.iter_frames(start=start, stop=stop, gray=True)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=stop - start, desc=f"real clips ({video.video_id})")
    clips, ids = cut_clips(frames, clip_plan(kept, fps=fps), um_per_px=um_per_px)
    grades = np.array([label[i // per_track] for i in ids], dtype=object)
    targets = np.eye(4)[[GRADES.index(g) for g in grades]] if len(ids) else np.zeros((0, 4))
    return clips, targets, grades


def _clip_sets(parts: list[dict], recipe: dict, progress: bool):
    made = [synthetic_clips(p["n_videos"], p["seed"], polarity=p["polarity"], seconds=recipe["seconds"],
                            fps=recipe["fps"], density=p["density"], grade_mix=recipe["grade_mix"],
                            soft_um_s=recipe["soft_um_s"], progress=progress) for p in parts]
    return tuple(np.concatenate([m[i] for m in made]) for i in range(3))


def cell_metrics(proba: np.ndarray, targets: np.ndarray, true: np.ndarray) -> dict:
    """Per-sperm scores of predicted distributions against soft ``targets`` and true grade indices (0-3 = a-d).

    ``balanced_accuracy`` of the most likely grade, ``c_vs_d_accuracy`` among the true c and d cells (c when
    ``p_c >= p_d``), ``mse`` and ``js`` (Jensen-Shannon divergence) against the targets.
    """
    from spermtrack.regressors.per_sperm import balanced_accuracy, js_divergence, mse

    true = np.asarray(true)
    cd = np.isin(true, (2, 3))
    cd_pred = np.where(proba[cd, 2] >= proba[cd, 3], 2, 3)
    return {"balanced_accuracy": float(balanced_accuracy(true, proba.argmax(axis=1))),
            "c_vs_d_accuracy": float(np.mean(cd_pred == true[cd])) if cd.any() else float("nan"),
            "mse": float(mse(proba, targets)), "js": float(js_divergence(proba, targets))}


def evaluate(model, clips: np.ndarray, targets: np.ndarray, grades: np.ndarray) -> dict:
    """A model's :func:`cell_metrics` on labelled clips, with ``n`` and the sample-level error per grade (points)."""
    proba = model.predict_proba(clips)
    true = np.array([GRADES.index(g) for g in grades])
    sample_true = np.bincount(true, minlength=4) / max(1, len(true))
    return {"n": int(len(true)), **cell_metrics(proba, targets, true),
            "sample_error_points": dict(zip(GRADES, np.round(100 * (proba.mean(axis=0) - sample_true), 2).tolist()))}


def run_recipe(work: str | Path, *, install: bool = False, epochs: int | None = None, progress: bool = True,
               real: str | Path | None = None, architectures: Sequence[str] | None = None) -> dict:
    """Make the clips, train the architectures, keep the better one; return the report.

    With ``real`` (a VISEM-Tracking video folder, e.g. ``visem_real/11``), its unambiguous clips of
    :data:`REAL` ``train`` frames join the training clips (:func:`real_clips`), and those of the ``val``
    frames are scored beside the synthetic validation set (the model choice stays synthetic).
    """
    from spermtrack.provenance import provenance
    from spermtrack.regressors.per_sperm import ARCHITECTURES, PerSpermModel

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    recipe = dict(RECIPE, epochs=epochs or RECIPE["epochs"])
    train = _clip_sets(recipe["train"], recipe, progress)
    val = _clip_sets(recipe["val"], recipe, progress)
    cut = {}  # the real clips, "train" and "val"
    if real is not None:
        recipe["real"] = dict(REAL, video=str(real))
        cut = {k: real_clips(real, *REAL[k], factor=REAL["factor"], preset=REAL["preset"], progress=progress)
               for k in ("train", "val")}
        train = tuple(np.concatenate([a, b]) for a, b in zip(train, cut["train"]))
    report = {"train_clips": int(len(train[0])), "val_clips": int(len(val[0])), "models": {}}
    if cut:
        report["real_clips"] = {k: {str(g): int(n) for g, n in zip(*np.unique(v[2], return_counts=True))}
                                for k, v in cut.items()}
    best = None
    for arch in architectures or ARCHITECTURES:
        model = PerSpermModel(arch, seed=0)
        start = time.perf_counter()
        history = model.fit(train[0], train[1], val_clips=val[0], val_targets=val[1], epochs=recipe["epochs"],
                            batch_size=recipe["batch_size"], lr=recipe["lr"], progress=progress)
        metrics = evaluate(model, *val)
        report["models"][arch] = {"val": metrics, "best_epoch": history["best_epoch"],
                                  "train_s": round(time.perf_counter() - start, 1)}
        if cut and len(cut["val"][0]):
            report["models"][arch]["real_val"] = evaluate(model, *cut["val"])
        print(f"{arch}: {metrics}", flush=True)
        if best is None or metrics["balanced_accuracy"] > best[1]["balanced_accuracy"]:
            best = (model, metrics, arch)
    model, metrics, arch = best
    model.info = {"recipe": recipe, "command": " ".join(["python -m spermtrack.training.per_sperm", *sys.argv[1:]]),
                  "val": metrics, "chosen_from": {a: r["val"]["balanced_accuracy"] for a, r in report["models"].items()},
                  "provenance": provenance()}
    path = work / WEIGHTS_NAME
    model.save(path)
    report.update(chosen=arch, checkpoint=str(path))
    if install:
        import shutil

        target = Path(__file__).resolve().parents[2] / "regressors" / "weights" / WEIGHTS_NAME
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, target)
        report["installed"] = str(target)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m spermtrack.training.per_sperm --work W [--install] [--epochs N]``."""
    import json

    from spermtrack.regressors.per_sperm import ARCHITECTURES

    parser = argparse.ArgumentParser(description="Train the per-sperm video model (see the module docstring).")
    parser.add_argument("--work", type=Path, required=True, help="working folder")
    parser.add_argument("--install", action="store_true", help="copy the chosen checkpoint into the package")
    parser.add_argument("--epochs", type=int, default=None, help=f"epochs (default {RECIPE['epochs']})")
    parser.add_argument("--real", type=Path, default=None,
                        help="a VISEM-Tracking video folder whose unambiguous clips join the training (see REAL)")
    parser.add_argument("--arch", action="append", default=None, choices=ARCHITECTURES,
                        help="train only this architecture (repeatable)")
    args = parser.parse_args(argv)
    report = run_recipe(args.work, install=args.install, epochs=args.epochs, real=args.real, architectures=args.arch)
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
