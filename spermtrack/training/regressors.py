"""Training sets and recipes of the sample-level motility regressors (:mod:`spermtrack.regressors`).

The published models learnt from 85 real VISEM videos; here the data is what the generator makes,
without limit. Each video is rendered in memory (no mp4 is written), turned into every regressor's
inputs by the same code that prepares a user's video (:func:`spermtrack.crosscheck.inputs.frames_and_flow`
and the tracking path of :func:`spermtrack.pipeline.run_pipeline`), and cached as one ``.npz`` (frames,
flow, targets, settings) plus the tracking path's kinematics table, so training never decodes twice.

Training set (:data:`RECIPE` ``train``)
    ``n_videos`` videos of 4 s at 50 fps; grade mixtures drawn flat over the simplex (Dirichlet(1, 1,
    1, 1)), density log-uniform 4-60 sperm per frame, drift 0-4 um/s, blur 0.5-1.4 px, sensor noise
    1-4 grey levels, illumination 0-0.15, pixel size 0.30-0.42 um/px, 70 % phase contrast and 30 %
    bright field.
Validation set (:data:`RECIPE` ``val``; model choice and early stopping)
    Other seeds and generator settings the training set never used: 45 fps, 5 s, grade mixtures of the
    generator's VISEM-like prior (Dirichlet with mean 7 / 19 / 33 / 41 %).

Targets are the exact sample proportions of grades a, b, c, d (:func:`spermtrack.synth.write.true_percentages`).

Usage::

    python -m spermtrack.training.regressors data --work W [--jobs 2]
    python -m spermtrack.training.regressors fit --work W --model flow2d
    python -m spermtrack.training.regressors install --work W --model flow2d
    python -m spermtrack.training.regressors mean --work W      # cnnmean, once flow2d, r3d18, aefeat are shipped
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

__all__ = ["RECIPE", "RenderedVideo", "TrainingVideo", "draw_config", "load_set", "make_set", "prior_resample",
           "video_inputs"]

#: The data of the shipped regressors (see the module notes).
RECIPE = {
    "train": {"n_videos": 3840, "seed": 24000, "seconds": 4.0, "fps": 50.0, "mix": "flat"},
    "val": {"n_videos": 60, "seed": 24900, "seconds": 5.0, "fps": 45.0, "mix": "visem"},
    # held out from training and from model choice (benchmarks/regressors_bench.py): other seeds, 6 s at 45 fps
    "test": {"n_videos": 40, "seed": 24950, "seconds": 6.0, "fps": 45.0, "mix": "visem"},
    "ranges": {"density": (4.0, 60.0), "drift_um_s": (0.0, 4.0), "blur_px": (0.5, 1.4), "noise_sd": (1.0, 4.0),
               "illumination": (0.0, 0.15), "um_per_px": (0.30, 0.42), "bright_share": 0.3},
}
#: The generator's default prior of grade mixtures (Dirichlet concentration; mean 7 / 19 / 33 / 41 %).
VISEM_MIX_ALPHA = np.array([0.7, 1.9, 3.3, 4.1])


def draw_config(rng: np.random.Generator, *, seconds: float, fps: float, mix: str):
    """One video's generator settings, drawn over the recipe's ranges.

    Parameters
    ----------
    rng : numpy.random.Generator
    seconds, fps : float
        Length and frame rate of the video.
    mix : {'flat', 'visem'}
        Grade mixtures flat over the simplex, or from the VISEM-like prior.

    Returns
    -------
    spermtrack.synth.SynthConfig
    """
    from spermtrack.synth import SynthConfig

    r = RECIPE["ranges"]
    alpha = np.ones(4) if mix == "flat" else VISEM_MIX_ALPHA
    grade_mix = tuple(float(v) for v in rng.dirichlet(alpha))
    lo, hi = np.log(r["density"][0]), np.log(r["density"][1])
    return SynthConfig(seconds=seconds, fps=fps, write_images=False, grade_mix=grade_mix,
                       density=float(np.exp(rng.uniform(lo, hi))),
                       drift_um_s=float(rng.uniform(*r["drift_um_s"])), blur_px=float(rng.uniform(*r["blur_px"])),
                       noise_sd=float(rng.uniform(*r["noise_sd"])),
                       illumination=float(rng.uniform(*r["illumination"])),
                       um_per_px=float(rng.uniform(*r["um_per_px"])),
                       polarity="bright" if rng.random() < r["bright_share"] else "phase")


class RenderedVideo:
    """A synthetic video held in memory with the reading interface of :class:`~spermtrack.io.visem.VisemVideo`.

    Parameters
    ----------
    video : spermtrack.synth.SyntheticVideo
        Its frames are rendered once, on construction.
    """

    def __init__(self, video) -> None:
        import cv2

        from spermtrack.synth import render_frames

        self.video_id = video.video_id
        self.recording = video.recording
        self.frames = list(render_frames(video))
        self._gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in self.frames]

    def iter_frames(self, *, gray: bool = False, start: int = 0, stop: int | None = None):
        """Yield ``(index, image)`` like :func:`spermtrack.io.video.iter_frames`."""
        images = self._gray if gray else self.frames
        for i in range(start, len(images) if stop is None else min(stop, len(images))):
            yield i, images[i]


@dataclass
class TrainingVideo:
    """One cached training video: the regressor inputs and the exact proportions of grades a-d."""

    inputs: object
    """The :class:`~spermtrack.regressors.VideoInputs`."""
    targets: np.ndarray
    """``(4,)`` proportions of grades a, b, c, d."""
    settings: dict
    """The generator settings it was made with."""
    tracking_percent: dict
    """The tracking path's percentages (progressive, non_progressive, immotile)."""


def video_inputs(config, seed: int, video_id: str, settings) -> TrainingVideo:
    """Simulate, render and prepare one video (every regressor's inputs, the tracking path, the truth).

    Parameters
    ----------
    config : spermtrack.synth.SynthConfig
    seed : int
    video_id : str
    settings : spermtrack.crosscheck.inputs.InputSettings
        How frames and flow are prepared (the shipped checkpoints store it).
    """
    from spermtrack.crosscheck.inputs import frames_and_flow, tracking_path
    from spermtrack.regressors import VideoInputs
    from spermtrack.synth import simulate_video
    from spermtrack.synth.write import true_percentages

    video = simulate_video(config, seed=seed, video_id=video_id)
    pct = true_percentages(video.objects)
    targets = np.array([pct[g] for g in "abcd"], dtype=np.float64) / 100.0
    rendered = RenderedVideo(video)
    frames, flow = frames_and_flow(rendered, settings, True, True, False)
    kinematics, percent = tracking_path(rendered, settings)
    rec = video.recording
    step = max(1, round(settings.frame_step_s * rec.fps)) / rec.fps
    inputs = VideoInputs(video_id, frames=frames, frame_step_s=step, flow=flow, kinematics=kinematics)
    return TrainingVideo(inputs, targets, config.to_dict(), {k: percent[k] for k in
                                                            ("progressive", "non_progressive", "immotile")})


def _one(job: tuple) -> str:
    folder, kind, index, seed, seconds, fps, mix = job
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.io.atomic import atomic_path, write_csv

    stem = folder / f"{kind}_{index:04d}"
    if stem.with_suffix(".npz").is_file():
        return stem.name
    rng = np.random.default_rng([seed, index])
    config = draw_config(rng, seconds=seconds, fps=fps, mix=mix)
    item = video_inputs(config, int(rng.integers(0, 2**31 - 1)), f"{kind}{index}", InputSettings())
    write_csv(stem.with_suffix(".csv"), item.inputs.kinematics)
    meta = json.dumps({"settings": item.settings, "tracking_percent": item.tracking_percent})
    with atomic_path(stem.with_suffix(".npz")) as tmp:
        np.savez(tmp, frames=item.inputs.frames, flow=item.inputs.flow, targets=item.targets,
                 frame_step_s=item.inputs.frame_step_s, meta=np.array(meta))
    return stem.name


def make_set(work: Path, kind: str, *, jobs: int = 1, limit: int | None = None, progress: bool = True) -> list[str]:
    """Make (or complete) the ``train`` or ``val`` set of :data:`RECIPE` under ``work/kind``."""
    from tqdm.auto import tqdm

    spec = RECIPE[kind]
    folder = work / kind
    folder.mkdir(parents=True, exist_ok=True)
    n = spec["n_videos"] if limit is None else min(limit, spec["n_videos"])
    todo = [(folder, kind, i, spec["seed"], spec["seconds"], spec["fps"], spec["mix"]) for i in range(n)]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            return list(tqdm(pool.map(_one, todo), total=n, desc=kind, disable=not progress))
    return [_one(j) for j in tqdm(todo, desc=kind, disable=not progress)]


def load_set(work: Path, kind: str,
             needs: tuple[str, ...] = ("frames", "flow", "kinematics")) -> list[TrainingVideo]:
    """The cached videos of ``work/kind``, in index order.

    Only the inputs in ``needs`` are read (a model's ``needs``); the others are None, so that a large
    set of one kind of input fits in memory (3,840 training videos: 7 GB of frames, 4 GB of flow).
    """
    from spermtrack.regressors import VideoInputs

    out = []
    for path in sorted((work / kind).glob(f"{kind}_*.npz")):
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            kin = pd.read_csv(path.with_suffix(".csv")) if "kinematics" in needs else None
            inputs = VideoInputs(path.stem, frames=data["frames"] if "frames" in needs else None,
                                 frame_step_s=float(data["frame_step_s"]),
                                 flow=data["flow"] if "flow" in needs else None, kinematics=kin)
            out.append(TrainingVideo(inputs, data["targets"], meta["settings"], meta["tracking_percent"]))
    return out


#: Per model: its settings for the recipe, the most epochs, and the patience of early stopping (epochs
#: without a better validation MAE).
MODEL_RECIPES: dict[str, dict] = {
    "zeror": {"options": {}},
    "trackfeat": {"options": {}},
    "flow2d": {"options": {"epochs": 40, "batch": 32, "lr": 1e-3, "ema": 0.999}, "patience": 12},
    # clips the downsized frame's full height (120 x 120 of 160 x 120): a 48-px crop holds too few cells for its
    # video's proportions (validation MAE 13-23 and no correlation), 112 px validated 7.43, 120 px 6.75
    "r3d18": {"options": {"epochs": 14, "batch": 8, "clips_per_video": 2, "eval_clips": 6, "crop": 120},
              "patience": 8},
    "aefeat": {"options": {"epochs": 20, "batch": 32, "ae_epochs": 3, "ae_windows": 2, "ema": 0.999}, "patience": 8},
    # on the first 600 training videos (20 epochs): validation 6.19 with the counting head, 9.62 with global pooling
    "trails": {"options": {"epochs": 30, "batch": 32, "lr": 1e-3, "ema": 0.999}, "patience": 8},
}
WEIGHTS = Path(__file__).resolve().parents[2] / "regressors" / "weights"


def val_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """MAE and RMSE (points) per lab category, MAE over all three, and Pearson r on progressive.

    Parameters
    ----------
    predicted, truth : numpy.ndarray
        ``(n, 4)`` proportions of grades a-d.
    """
    from spermtrack.regressors import THREE, three_from_four

    p, t = 100.0 * three_from_four(predicted), 100.0 * three_from_four(truth)
    err = np.abs(p - t).mean(axis=0)
    rmse = np.sqrt(((p - t) ** 2).mean(axis=0))
    out = {c: round(float(e), 3) for c, e in zip(THREE, err)}
    out["all"] = round(float(err.mean()), 3)
    out.update({f"rmse_{c}": round(float(e), 3) for c, e in zip(THREE, rmse)})
    out["pearson_r_progressive"] = round(float(np.corrcoef(p[:, 0], t[:, 0])[0, 1]), 4) if np.std(p[:, 0]) > 0 else 0.0
    return out


def prior_resample(train: list[TrainingVideo], power: float, *, seed: int = 0) -> list[TrainingVideo]:
    """Draw as many training videos again, with replacement, leaning toward the VISEM-like grade mixtures.

    The training mixtures are flat over the simplex, but patients' are not (the VISEM-like prior
    :data:`VISEM_MIX_ALPHA`, mean 7 / 19 / 33 / 41 %, as the lab values of the 16 shared videos). Video
    ``i`` is drawn with probability proportional to ``q(m_i) ** power``, where ``q`` is that prior's
    density and ``m_i`` the mixture the video was generated with: ``power`` 1 is importance sampling to
    the prior, smaller powers temper it (fewer repeats of the same videos).

    Parameters
    ----------
    train : list of TrainingVideo
    power : float
        0 returns ``train`` unchanged.
    seed : int

    Returns
    -------
    list of TrainingVideo
    """
    if not power >= 0:
        raise ValueError(f"prior_power must be >= 0 (0: no resampling), got {power}")
    if power == 0:
        return train
    if any(v.settings.get("grade_mix") is None for v in train):
        raise ValueError("prior_power needs the grade mixture each training video was made with (settings['grade_mix'])")
    mix = np.clip(np.array([v.settings["grade_mix"] for v in train], dtype=float), 1e-6, None)
    log_q = np.log(mix / mix.sum(axis=1, keepdims=True)) @ (VISEM_MIX_ALPHA - 1.0)
    w = np.exp(power * (log_q - log_q.max()))
    idx = np.random.default_rng(seed).choice(len(train), size=len(train), p=w / w.sum())
    return [train[i] for i in idx]


def fit_model(name: str, train: list[TrainingVideo], val: list[TrainingVideo], *, seed: int = 0,
              progress: bool = True, **overrides):
    """Train ``name`` on ``train`` with early stopping on the validation MAE; return the model and its history.

    The training videos are first drawn again toward the VISEM-like mixtures by the recipe's
    ``prior_power`` (:func:`prior_resample`; ``overrides`` may set it). After each epoch the validation
    set is predicted; the weights of the epoch with the lowest MAE over the three lab categories are kept
    (models fitted in closed form are fitted once).
    """
    import copy

    from spermtrack.crosscheck.cv import seeded_regressor
    from spermtrack.regressors import FOUR

    recipe = MODEL_RECIPES[name]
    train = prior_resample(train, overrides.pop("prior_power", recipe.get("prior_power", 0.0)), seed=seed)
    model = seeded_regressor(name, FOUR, seed=seed, **{**recipe["options"], **overrides})
    x_val, y_val = [v.inputs for v in val], np.stack([v.targets for v in val])
    history, best = [], {"mae": np.inf, "weights": None, "epoch": -1}

    def on_epoch(epoch: int, loss: float) -> bool:
        metrics = val_metrics(model.predict(x_val), y_val)
        history.append({"epoch": epoch, "loss": round(loss, 5), **metrics})
        if progress:
            print(f"  {name} epoch {epoch}: loss {loss:.4f}, val MAE {metrics['all']:.2f} "
                  f"(prog {metrics['progressive']:.2f}, r {metrics['pearson_r_progressive']:.3f})", flush=True)
        if metrics["all"] < best["mae"]:
            best.update(mae=metrics["all"], epoch=epoch, weights=copy.deepcopy(model.net_.state_dict()))
        return epoch - best["epoch"] >= recipe.get("patience", 10**9)

    model.fit([v.inputs for v in train], np.stack([v.targets for v in train]), progress=progress, on_epoch=on_epoch)
    if best["weights"] is not None:
        model.net_.load_state_dict(best["weights"])
        model.net_.eval()
    return model, history, best["epoch"]


def run_fit(work: Path, name: str, *, install: bool = False, progress: bool = True, threads: int | None = None,
            **overrides) -> dict:
    """Fit one model of the recipe on the cached sets; report (and with ``install`` ship) it."""
    import torch

    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.regressors import regressor_class

    if threads is not None:
        torch.set_num_threads(threads)
    needs = regressor_class(name).needs
    train, val = load_set(work, "train", needs), load_set(work, "val", needs)
    start = time.perf_counter()
    model, history, best_epoch = fit_model(name, train, val, progress=progress, **overrides)
    seconds = time.perf_counter() - start
    metrics = val_metrics(model.predict([v.inputs for v in val]), np.stack([v.targets for v in val]))
    flags = "".join(f" --{k.replace('_', '-')} {overrides[k]}" for k in ("epochs", "prior_power") if k in overrides)
    command = f"python -m spermtrack.training.regressors fit --work W --model {name}{flags}" + (
        " --install" if install else "")
    ranges = RECIPE["ranges"]
    info = {"recipe": {"data": RECIPE, "model": MODEL_RECIPES[name], "overrides": overrides},
            "command": "python -m spermtrack.training.regressors data --work W --jobs 2 && " + command,
            "train_videos": len(train), "val_videos": len(val), "val_metrics": metrics, "best_epoch": best_epoch,
            "history": history, "train_seconds": round(seconds, 1),
            "trained_for": {"um_per_px": list(ranges["um_per_px"]), "looks": ["phase", "bright"],
                            "fps": [RECIPE["train"]["fps"]]}}
    print(f"{name}: validation MAE {metrics} (best epoch {best_epoch}, {seconds / 60:.1f} min)", flush=True)
    out = work / "models" / f"{name}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out, inputs={**InputSettings().to_dict(), "um_per_px": 0.351}, info=info)
    if install:
        import shutil

        shutil.copyfile(out, WEIGHTS / f"{name}.pt")
        print(f"installed {WEIGHTS / f'{name}.pt'}")
    return info


def install(work: Path, name: str) -> Path:
    """Ship ``work/models/<name>.pt``: its validation metrics measured again (MAE, RMSE, r), into the package."""
    from spermtrack.regressors import load_regressor
    from spermtrack.regressors.torchfit import read_checkpoint, save_checkpoint

    source = work / "models" / f"{name}.pt"
    model, _ = load_regressor(source, expect=name)
    val = load_set(work, "val")
    payload = read_checkpoint(source, "spermtrack regressor checkpoint")
    payload["info"]["val_metrics"] = val_metrics(model.predict([v.inputs for v in val]),
                                                 np.stack([v.targets for v in val]))
    step = f" && python -m spermtrack.training.regressors install --work W --model {name}"
    command = payload["info"]["command"].replace(" --install", "")
    payload["info"]["command"] = command if command.endswith(step) else command + step
    out = save_checkpoint(payload, WEIGHTS / f"{name}.pt")
    print(f"installed {out}: validation {payload['info']['val_metrics']}")
    return out


def install_mean(work: Path) -> Path:
    """Ship ``cnnmean``, the mean of the shipped CNN checkpoints (by reference), with its validation metrics."""
    from spermtrack.regressors import load_regressor, packaged_checkpoint
    from spermtrack.regressors.cnnmean import CNN_MEMBERS, CNNMean, shipped_reference
    from spermtrack.regressors.torchfit import read_checkpoint

    infos = {m: read_checkpoint(packaged_checkpoint(m), "spermtrack regressor checkpoint") for m in CNN_MEMBERS}
    first = infos[CNN_MEMBERS[0]]
    for m, payload in infos.items():
        if payload["inputs"] != first["inputs"] or payload["categories"] != first["categories"]:
            raise InputError(f"the shipped {m} prepares its inputs or predicts its categories unlike "
                             f"{CNN_MEMBERS[0]}: its mean cannot be shipped")
    model = CNNMean(tuple(first["categories"]), members=CNN_MEMBERS)
    model._load_state(shipped_reference(CNN_MEMBERS))
    model.fitted = True
    val = load_set(work, "val")
    metrics = val_metrics(model.predict([v.inputs for v in val]), np.stack([v.targets for v in val]))
    info = {"recipe": {"members": list(CNN_MEMBERS), "member_commands": {m: infos[m]["info"].get("command")
                                                                          for m in CNN_MEMBERS}},
            "command": "python -m spermtrack.training.regressors data --work W --jobs 2 && "
                       "python -m spermtrack.training.regressors mean --work W",
            "train_videos": min(int(infos[m]["info"].get("train_videos", 0)) for m in CNN_MEMBERS),
            "val_videos": len(val), "val_metrics": metrics, "trained_for": first["info"].get("trained_for")}
    out = model.save(WEIGHTS / "cnnmean.pt", inputs=first["inputs"], info=info)
    print(f"installed {out}: validation {metrics}")
    load_regressor(out, expect="cnnmean")  # it loads back
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="make the training and validation sets")
    d.add_argument("--work", type=Path, required=True)
    d.add_argument("--jobs", type=int, default=1)
    d.add_argument("--limit", type=int, default=None, help="at most this many videos per set (a quick look)")
    f = sub.add_parser("fit", help="train one model on the made sets")
    f.add_argument("--work", type=Path, required=True)
    f.add_argument("--model", required=True, choices=sorted(MODEL_RECIPES))
    f.add_argument("--install", action="store_true", help=f"copy the checkpoint to {WEIGHTS}")
    f.add_argument("--epochs", type=int, default=None)
    f.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's)")
    f.add_argument("--prior-power", type=float, default=None,
                   help="draw the training videos toward the VISEM-like mixtures (prior_resample; 0: off)")
    i = sub.add_parser("install", help="ship a fitted model (validation metrics measured again)")
    i.add_argument("--work", type=Path, required=True)
    i.add_argument("--model", required=True, choices=sorted(MODEL_RECIPES))
    m = sub.add_parser("mean", help="ship cnnmean, the mean of the shipped CNNs (validation metrics measured)")
    m.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.cmd == "mean":
        install_mean(args.work)
    if args.cmd == "install":
        install(args.work, args.model)
    if args.cmd == "fit":
        overrides = {"epochs": args.epochs, "prior_power": args.prior_power}
        run_fit(args.work, args.model, install=args.install, threads=args.threads,
                **{k: v for k, v in overrides.items() if v is not None})
    if args.cmd == "data":
        start = time.perf_counter()
        for kind in ("val", "train"):
            make_set(args.work, kind, jobs=args.jobs, limit=args.limit)
        print(f"sets made in {(time.perf_counter() - start) / 60:.1f} min under {args.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
