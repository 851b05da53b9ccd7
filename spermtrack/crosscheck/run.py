"""``spermtrack crosscheck``: the tracking path beside every regressor, against the truth, per video.

:func:`run_crosscheck` opens a data set (:func:`~spermtrack.crosscheck.data.open_regression_data`),
prepares every video once (tracking path and regressor inputs, cached), cross-validates each
regressor by video, and writes into ``out_dir`` as a unit:

``crosscheck.csv``       per video and category: truth, tracking path, each regressor (percent)
``errors.csv``           per source and category: n, MAE, RMSE, Pearson r and p, Bland-Altman bias, sd
                         and limits (percentage points), and the seconds the source took
``disagreements.csv``    videos where the tracking path and a regressor differ by more than their combined
                         uncertainty in a category (or by more than ``margin`` points, when given), with
                         both numbers, the threshold and the truth
``agreement_<source>.png``  correlation and Bland-Altman plots of each source against the truth
``crosscheck.md``, ``crosscheck.html``  the tables (and, in the page, the plots inlined)
``crosscheck.json``      settings, folds, notes, timings, versions

By default each regressor is its shipped checkpoint (:func:`~spermtrack.regressors.shipped_checkpoint`;
no training): it predicts every video, except videos whose pixel size lies outside the range it was trained
for (no number, a note). ``train=True`` cross-validates each model on the data set instead (folds split by
video). The combined uncertainty of a tracking percentage ``t`` and a model's ``m`` is
``sqrt(h_t^2 + h_m^2)``: ``h_t`` half the width of the tracking path's 95 % Wilson interval for that video,
``h_m = 1.96 * RMSE`` of the model in that category (on the shipped model's validation videos, or
out-of-fold with ``train``).

Time per source: the tracking path's is the time to run detector, tracker and kinematics on every
video (0 when cached); a regressor's is its cross-validation (fit and predict every fold) plus the
time to prepare its inputs (0 when cached).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX

__all__ = ["CROSSCHECK_MODELS", "CrosscheckResult", "crosscheck_markdown", "run_crosscheck"]

#: The default regressors: every one but cnnmean, whose members are already among them (with ``train`` it
#: would train them a second time).
CROSSCHECK_MODELS: tuple[str, ...] = ("zeror", "trackfeat", "flow2d", "r3d18", "aefeat", "trails")
TRACKING = "tracking"


@dataclass
class CrosscheckResult:
    """What :func:`run_crosscheck` computed (and wrote)."""

    table: pd.DataFrame
    """Per video: ``<source>_<category>`` columns in percent, ``truth_<category>`` included."""
    errors: pd.DataFrame
    """Per source and category: the agreement statistics and ``seconds``."""
    disagreements: pd.DataFrame
    """Videos where tracking and a regressor differ by more than the margin."""
    record: dict = field(default_factory=dict)
    """Settings, folds, notes, timings."""


def combined_uncertainty(tracking_half: float, model_rmse: float) -> float:
    """``sqrt(h_t^2 + (1.96 rmse)^2)``: the 95 % half-width of a tracking-minus-model difference, points."""
    return float(np.hypot(tracking_half, 1.96 * model_rmse))


def _disagreements(table: pd.DataFrame, sources: Sequence[str], categories: Sequence[str], margin: float | None,
                   model_rmse: dict) -> pd.DataFrame:
    rows = []
    for video, row in table.iterrows():
        for source in sources:
            for c in categories:
                t, m = row[f"{TRACKING}_{c}"], row[f"{source}_{c}"]
                if margin is not None:
                    limit = margin
                else:
                    half = (row[f"{TRACKING}_{c}_high"] - row[f"{TRACKING}_{c}_low"]) / 2.0
                    limit = combined_uncertainty(half, model_rmse.get((source, c), np.nan))
                if np.isfinite(t) and np.isfinite(m) and np.isfinite(limit) and abs(m - t) > limit:
                    rows.append({"video": video, "model": source, "category": c, "tracking_pct": t,
                                 "model_pct": m, "difference": m - t, "threshold": limit,
                                 "truth_pct": row[f"truth_{c}"]})
    return pd.DataFrame(rows, columns=["video", "model", "category", "tracking_pct", "model_pct", "difference",
                                       "threshold", "truth_pct"])


def run_crosscheck(dataset: str | os.PathLike, out_dir: str | os.PathLike, *,
                   models: Sequence[str] = CROSSCHECK_MODELS, folds: int = 5, margin: float | None = None,
                   train: bool = False, seed: int = 0,
                   quick: bool = False, clinical_csv: str | os.PathLike | None = None,
                   um_per_px: float = VISEM_UM_PER_PX, cache_dir: str | os.PathLike | None = None,
                   settings=None, progress: bool = True) -> CrosscheckResult:
    """Cross-check the tracking path against every regressor (see the module notes).

    Parameters
    ----------
    dataset : str or PathLike
        A VISEM-Tracking-layout root with a semen-analysis CSV.
    out_dir : str or PathLike
        Output folder (new, empty or an earlier spermtrack output; checked before any work).
    models : sequence of str
        Regressors to cross-validate.
    folds : int
        Folds, split by video (with ``train``).
    margin : float, optional
        A fixed disagreement threshold, percentage points; default the combined uncertainty (module notes).
    train : bool
        Cross-validate each model on ``dataset`` instead of using its shipped checkpoint.
    seed : int
        Seed of the split and the models.
    quick : bool
        Small inputs and short training (tests).
    clinical_csv : str or PathLike, optional
        The semen-analysis CSV (default: found at the root).
    um_per_px : float
        Pixel size of the videos.
    cache_dir : str or PathLike, optional
        Cache of prepared inputs (default :func:`~spermtrack.crosscheck.train.default_cache_dir`).
    settings : InputSettings, optional
        How videos become inputs, including the tracking path's detector, tracker and preset.
    progress : bool
        Show progress bars.

    Returns
    -------
    CrosscheckResult
    """
    from spermtrack._validate import number
    from spermtrack.crosscheck.cv import agreement_table, cross_validate, prepare_all, shipped_predictions
    from spermtrack.crosscheck.data import open_regression_data
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.crosscheck.train import default_cache_dir
    from spermtrack.eval.agreement import AGREEMENT_KEYS
    from spermtrack.io.atomic import check_output_folder
    from spermtrack.regressors import THREE, kfold_by_video, regressor_class

    margin = None if margin is None else number("crosscheck", "margin", margin, lo=0)
    classes = {m: regressor_class(m) for m in models}
    check_output_folder(out_dir, inputs=[p for p in (dataset, clinical_csv) if p is not None])
    data = open_regression_data(dataset, clinical_csv=clinical_csv)
    split = kfold_by_video(data.video_ids, folds, seed=seed) if train else []  # refuse before any work
    settings = settings or (InputSettings.quick() if quick else InputSettings())
    cache = default_cache_dir() if cache_dir is None else cache_dir
    needs = ({n for c in classes.values() for n in c.needs} - {"kinematics"}) if train else set()
    prepared = prepare_all(data, settings, needs | {"kinematics"}, um_per_px=um_per_px, cache_dir=cache,
                           progress=progress)
    seconds = {TRACKING: sum(p.seconds["kinematics"] for p in prepared.values())}
    inputs_s = sum(p.seconds["pixels"] for p in prepared.values())
    truth = data.percent()
    columns = {f"truth_{c}": truth[c] for c in THREE}
    tracking = pd.DataFrame({v: prepared[v].tracking_percent for v in data.video_ids}).T
    errors, per_video_all = [], {}
    sources = {TRACKING: tracking[list(THREE)].apply(pd.to_numeric, errors="coerce").astype(float)}
    intervals = {v: (prepared[v].tracking_percent or {}).get("interval_95") or {} for v in data.video_ids}
    for c in THREE:
        columns[f"{TRACKING}_{c}"] = sources[TRACKING][c]
        for side, k in (("low", 0), ("high", 1)):
            columns[f"{TRACKING}_{c}_{side}"] = pd.Series(
                {v: float(intervals[v][c][k]) if intervals[v].get(c) is not None else np.nan for v in data.video_ids})
    model_rmse, notes = {}, []
    for name, cls in classes.items():
        if train:
            cv = cross_validate(name, prepared, data, folds=folds, seed=seed, quick=quick, progress=progress)
            seconds[name] = cv.seconds + (inputs_s * len(set(cls.needs) & needs) / max(1, len(needs)))
        else:
            cv, info, model_notes = shipped_predictions(name, data, um_per_px=um_per_px, cache_dir=cache,
                                                        progress=progress)
            seconds[name] = cv.seconds
            notes += model_notes
            val = info.get("val_metrics") or {}
            model_rmse.update({(name, c): float(val[f"rmse_{c}"]) for c in THREE if f"rmse_{c}" in val})
        sources[name] = cv.percent()
        for c in THREE:
            columns[f"{name}_{c}"] = sources[name][c]
    table = pd.DataFrame(columns)
    table[f"{TRACKING}_note"] = pd.Series({v: " | ".join((prepared[v].tracking_percent or {}).get("notes") or [])
                                          for v in data.video_ids})
    table.index.name = "video"
    for source, pct in sources.items():
        per_video, summary = agreement_table(pct, truth)
        per_video_all[source] = per_video
        for category, stats in summary.iterrows():
            errors.append({"source": source, "category": category, **{k: stats[k] for k in AGREEMENT_KEYS},
                           "seconds": seconds[source]})
    errors = pd.DataFrame(errors)
    if train:  # out-of-fold errors are the models' uncertainty
        model_rmse = {(r.source, r.category): float(r.rmse) for r in errors.itertuples() if r.source != TRACKING}
    disagreements = _disagreements(table, [m for m in models if m != "zeror"], THREE, margin, model_rmse)
    record = {"dataset": str(data.root), "clinical_csv": str(data.clinical_csv), "videos": data.video_ids,
              "categories": list(data.categories), "models": list(models),
              "folds": [[data.video_ids[i] for i in test] for _, test in split], "n_folds": folds if train else 0,
              "train": train, "seed": seed, "margin": margin, "quick": quick, "inputs": settings.to_dict(), "um_per_px": um_per_px,
              "notes": list(data.notes) + notes + [f"video {v}, tracking path: {n}" for v in data.video_ids
                                           for n in ((prepared[v].tracking_percent or {}).get("notes") or [])],
              "seconds": {k: round(v, 2) for k, v in seconds.items()}}
    record.update(models_text=how_models(record), threshold_text=threshold_text(record))
    result = CrosscheckResult(table, errors, disagreements, record)
    _write(out_dir, result, per_video_all)
    return result


def how_models(record: dict) -> str:
    """How the regressors' numbers were made, in words."""
    if record.get("train"):
        return f"{record['n_folds']}-fold cross-validation split by video"
    return "the shipped checkpoints (no training on these videos)"


def threshold_text(record: dict) -> str:
    """The disagreement threshold, in words."""
    margin = record.get("margin")
    return (f"{margin:g} points" if margin is not None else
            "their combined 95 % uncertainty: the tracking path's Wilson interval and the model's 1.96 RMSE")


def crosscheck_markdown(result: CrosscheckResult) -> str:
    """``crosscheck.md``: the MAE table, the full statistics, the disagreements and the per-video values."""
    errors = result.errors
    lines = ["# Cross-check: tracking path and motility regressors against the truth", "",
             f"Data set: `{result.record['dataset']}` ({len(result.table)} videos), {how_models(result.record)}; "
             "tracking path: "
             f"{result.record['inputs']['stages']['detector']} + {result.record['inputs']['stages']['tracker']} + "
             f"{result.record['inputs']['stages']['preset']}. Values in percentage points.", "",
             "## MAE per category (lower is better)", "",
             "| source | progressive | non-progressive | immotile | all | seconds |", "|---|---|---|---|---|---|"]
    for source, g in errors.groupby("source", sort=False):
        mae = g.set_index("category")["mae"]
        lines.append(f"| {source} | " + " | ".join(_fmt(mae.get(c)) for c in
                                                    ("progressive", "non_progressive", "immotile", "all"))
                     + f" | {g['seconds'].iloc[0]:.1f} |")
    lines += ["", "## Agreement statistics", "", _md_table(errors.round(4)), "",
              f"## Disagreements (tracking vs a regressor by more than {threshold_text(result.record)})", ""]
    lines.append(_md_table(result.disagreements.round(1)) if len(result.disagreements) else "None.")
    lines += ["", "## Per video (percent)", "", _md_table(result.table.round(1).reset_index()), ""]
    if result.record["notes"]:
        lines += ["## Notes", "", *[f"- {n}" for n in result.record["notes"]], ""]
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _md_table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join("" if (isinstance(v, float) and np.isnan(v)) else str(v) for v in row) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _write(out_dir, result: CrosscheckResult, per_video: dict[str, pd.DataFrame]) -> Path:
    from spermtrack.html import crosscheck_html
    from spermtrack.io.atomic import output_folder, write_csv, write_json, write_text
    from spermtrack.plots import plot_agreement
    from spermtrack.provenance import provenance

    with output_folder(out_dir, inputs=[p for p in (result.record.get("dataset"),) if p]) as out:
        write_csv(out / "crosscheck.csv", result.table.reset_index())
        write_csv(out / "errors.csv", result.errors)
        write_csv(out / "disagreements.csv", result.disagreements)
        images = {}
        for source, table in per_video.items():
            path = plot_agreement(table, out / f"agreement_{source}.png", title=f"{source} against the truth",
                                  reference_label="truth (%)", predicted_label=f"{source} (%)")
            images[source] = path.read_bytes()
        markdown = crosscheck_markdown(result)
        write_text(out / "crosscheck.md", markdown)
        write_text(out / "crosscheck.html", crosscheck_html(result.errors, result.disagreements, result.table,
                                                             images, result.record))
        write_json(out / "crosscheck.json", provenance(crosscheck=result.record))
    return Path(out_dir)
