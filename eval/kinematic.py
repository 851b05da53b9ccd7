"""Kinematic accuracy: how close the CASA parameters of predicted tracks are to the truth.

Three steps, each a small function over tables:

1. :func:`match_tracks` pairs every true object with at most one predicted track (and vice versa);
2. :func:`kinematic_errors` compares the kinematics of each pair, parameter by parameter;
3. :func:`summarize_kinematic_errors` turns the pairs into medians (one row of a leaderboard).

The reference kinematics are either the exact truth of a synthetic video (:func:`truth_reference`, from
the ``<id>_objects.csv`` that :mod:`spermtrack.synth` writes) or the kinematics of ground-truth tracks
of a real data set computed with the same settings as the predictions (any kinematics table indexed by
the ground truth's ``track_id``).

Matching (majority overlap)
---------------------------
A predicted track ``p`` and a true track ``g`` share a frame when, in that frame, a row of ``p`` is
assigned to the box of ``g``. Two ways to tell, chosen by ``method``:

``"labels"``
    The predicted rows carry the true identity of the detection they came from (``gt_track_id``, which
    the ``gt`` detector adds and every tracker carries through). Rows without a label (``NaN``: rows the
    tracker interpolated) do not vote; ``-1`` (a false-positive detection) votes for no object.
``"distance"``
    Per frame, predicted and true boxes are paired one-to-one by the Hungarian algorithm on centre
    distance, at most ``gate`` px apart (:func:`spermtrack.eval.detection.match_centres`, the same
    gated assignment as the MOT metrics).
``"auto"`` (default)
    ``"labels"`` when the predictions hold a ``gt_track_id`` column with at least one label >= 0,
    otherwise ``"distance"``.

With ``n_common(p, g)`` the number of shared frames and ``n_pred(p)`` the number of voting rows of ``p``,
each ``p`` votes for ``g* = argmax_g n_common(p, g)`` and the vote counts when
``n_common(p, g*) / n_pred(p) >= min_overlap`` (default 0.5: most of ``p`` is ``g*``). Each ``g`` then keeps
the voting ``p`` with the largest ``n_common`` (ties: the smaller id), so the matching is one-to-one: a
true track split into fragments is compared with its longest fragment only, and the other fragments
and spurious tracks are unmatched.

Errors
------
For a speed-like parameter (VCL, VSL, VAP, net progression, ALH, BCF) the error of a pair is relative,
``e = (x_pred - x_ref) / x_ref``, and undefined (NaN) when ``|x_ref| < min_reference`` (default 1 um/s,
1 um or 1 Hz), since relative errors of near-zero references (immotile cells) are meaningless. For the
ratios LIN = VSL / VCL, STR = VSL / VAP and WOB = VAP / VCL (in [0, 1]) it is absolute,
``e = x_pred - x_ref``. Summaries are medians over pairs: the median absolute percentage error
``MdAPE = 100 median |e|`` and the median percentage error ``MdPE = 100 median e`` (its sign is the
bias), and for ratios the median absolute error ``MdAE = median |e|`` and ``MdE = median e``.

References
----------
World Health Organization (2021). WHO laboratory manual for the examination and processing of human
semen, 6th ed., section 2.4.5 (definitions of VCL, VSL, VAP, LIN, STR, WOB, ALH, BCF).

Mortimer, S. T. (2000). CASA - practical aspects. J. Androl. 21(4), 515-524.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

from .detection import match_centres

__all__ = ["MATCH_COLUMNS", "PARAMETERS", "Parameter", "kinematic_accuracy", "kinematic_errors", "match_tracks",
           "summarize_kinematic_errors", "summary_keys", "truth_reference"]

#: Columns of :func:`match_tracks`' result.
MATCH_COLUMNS: tuple[str, ...] = ("track_id", "gt_track_id", "n_common", "n_pred", "n_gt", "overlap", "coverage")
_METHODS = ("auto", "labels", "distance")


@dataclass(frozen=True)
class Parameter:
    """One compared kinematic parameter.

    Attributes
    ----------
    column : str
        Column of the kinematics tables (e.g. ``vcl_um_s``).
    stem : str
        Short name used in summary keys (e.g. ``vcl`` -> ``vcl_mdape``).
    relative : bool
        True: relative error ``(pred - ref) / ref``; False: absolute error ``pred - ref``.
    """

    column: str
    stem: str
    relative: bool


#: The compared parameters, in order (a parameter missing from either table is skipped).
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("vcl_um_s", "vcl", True),
    Parameter("vsl_um_s", "vsl", True),
    Parameter("vap_um_s", "vap", True),
    Parameter("progression_um_s", "prog", True),
    Parameter("lin", "lin", False),
    Parameter("str", "str", False),
    Parameter("wob", "wob", False),
    Parameter("alh_mean_um", "alh", True),
    Parameter("bcf_hz", "bcf", True),
)


# ----------------------------------------------------------------------------------------------------------------------
# Matching
# ----------------------------------------------------------------------------------------------------------------------
def _int_column(df: pd.DataFrame, col: str, name: str) -> np.ndarray:
    if col not in df.columns:
        raise InputError(f"{name} is missing column '{col}'")
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError(f"{name} column '{col}' must hold integers; row {pos} is {df[col].iloc[pos]!r}")
    return values.astype(np.int64)


def _has_labels(pred: pd.DataFrame) -> bool:
    if "gt_track_id" not in pred.columns:
        return False
    labels = pd.to_numeric(pred["gt_track_id"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return bool((labels >= 0).any())


def _label_votes(pred: pd.DataFrame, pid: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """``(track_id, gt_track_id, n_common)`` from the rows' own labels, and voting rows per track."""
    labels = pd.to_numeric(pred["gt_track_id"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    votes = np.isfinite(labels)
    n_pred = pd.Series(pid[votes]).value_counts()
    hit = votes & (labels >= 0)
    pairs = pd.DataFrame({"track_id": pid[hit], "gt_track_id": labels[hit].astype(np.int64)})
    common = pairs.groupby(["track_id", "gt_track_id"], sort=True).size().rename("n_common").reset_index()
    return common, n_pred


def _distance_votes(gt: pd.DataFrame, gid: np.ndarray, pred: pd.DataFrame, pid: np.ndarray,
                    gate: float) -> tuple[pd.DataFrame, pd.Series]:
    """``(track_id, gt_track_id, n_common)`` from per-frame gated Hungarian matching of centres."""
    m = match_centres(gt, pred, max_dist=gate)
    pairs = pd.DataFrame({"track_id": pid[m["pred_row"].to_numpy()], "gt_track_id": gid[m["gt_row"].to_numpy()]})
    common = pairs.groupby(["track_id", "gt_track_id"], sort=True).size().rename("n_common").reset_index()
    return common, pd.Series(pid).value_counts()


def _one_to_one(common: pd.DataFrame, n_pred: pd.Series, min_overlap: float) -> pd.DataFrame:
    """Majority vote of each predicted track, then the strongest voter per true track."""
    if common.empty:
        return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in ("track_id", "gt_track_id", "n_common", "n_pred")})
    best = common.sort_values(["track_id", "n_common", "gt_track_id"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("track_id", keep="first").copy()
    best["n_pred"] = n_pred.reindex(best["track_id"].to_numpy()).to_numpy(np.int64)
    best = best[best["n_common"] >= min_overlap * best["n_pred"]]
    best = best.sort_values(["gt_track_id", "n_common", "track_id"], ascending=[True, False, True], kind="stable")
    return best.drop_duplicates("gt_track_id", keep="first")


def match_tracks(ground_truth: pd.DataFrame, pred: pd.DataFrame, *, gate: float = 10.0, min_overlap: float = 0.5,
                 method: str = "auto") -> pd.DataFrame:
    """Pair true tracks with predicted tracks one-to-one by majority overlap (see the module notes).

    Parameters
    ----------
    ground_truth : pandas.DataFrame
        True tracks: ``frame``, ``track_id``, ``x``, ``y`` (box centre, px).
    pred : pandas.DataFrame
        Predicted tracks: ``frame``, ``track_id``, ``x``, ``y`` and, for ``method="labels"``,
        ``gt_track_id``. Rows with ``track_id < 0`` (in no confirmed track) are ignored.
    gate : float
        ``"distance"`` method: largest centre distance in px that may pair (default 10).
    min_overlap : float
        Smallest fraction of a predicted track's voting rows that must belong to its true track,
        in (0, 1] (default 0.5).
    method : {"auto", "labels", "distance"}
        How shared frames are found (see the module notes).

    Returns
    -------
    pandas.DataFrame
        One row per matched pair, sorted by ``gt_track_id``: ``track_id`` (predicted), ``gt_track_id``
        (the ground truth's ``track_id``), ``n_common`` (shared frames), ``n_pred`` (voting rows of the
        predicted track), ``n_gt`` (rows of the true track), ``overlap = n_common / n_pred`` and
        ``coverage = n_common / n_gt``. ``attrs["method"]`` records the method used.

    Raises
    ------
    InputError
        A required column is missing or not integer, an option is invalid, or ``method="labels"``
        without a ``gt_track_id`` column.
    """
    if method not in _METHODS:
        raise InputError(f"method must be one of {', '.join(_METHODS)}, got {method!r}")
    if not (isinstance(min_overlap, (int, float)) and 0 < min_overlap <= 1):
        raise InputError(f"min_overlap must be in (0, 1], got {min_overlap!r}")
    if not (isinstance(gate, (int, float)) and math.isfinite(gate) and gate > 0):
        raise InputError(f"gate must be a positive number of px, got {gate!r}")
    for name, df in (("ground truth", ground_truth), ("predicted tracks", pred)):
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if method == "auto":
        method = "labels" if _has_labels(pred) else "distance"
    if method == "labels" and "gt_track_id" not in pred.columns:
        raise InputError("method='labels' needs a 'gt_track_id' column in the predicted tracks (the gt detector "
                         "adds it); use method='distance'")
    pid_all = _int_column(pred, "track_id", "predicted tracks")
    keep = pid_all >= 0
    pred = pred[keep]
    pid = pid_all[keep]
    gid = _int_column(ground_truth, "track_id", "ground truth")
    if method == "labels":
        common, n_pred = _label_votes(pred, pid)
    else:
        common, n_pred = _distance_votes(ground_truth, gid, pred, pid, float(gate))
    best = _one_to_one(common, n_pred, float(min_overlap))
    n_gt = pd.Series(gid).value_counts()
    out = pd.DataFrame({
        "track_id": best["track_id"].to_numpy(np.int64),
        "gt_track_id": best["gt_track_id"].to_numpy(np.int64),
        "n_common": best["n_common"].to_numpy(np.int64),
        "n_pred": best["n_pred"].to_numpy(np.int64),
        "n_gt": n_gt.reindex(best["gt_track_id"].to_numpy()).fillna(0).to_numpy(np.int64),
    })
    out["overlap"] = out["n_common"] / out["n_pred"]
    out["coverage"] = out["n_common"] / out["n_gt"].where(out["n_gt"] > 0)
    out = out.sort_values("gt_track_id", kind="stable").reset_index(drop=True)
    out.attrs["method"] = method
    return out


# ----------------------------------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------------------------------
def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def truth_reference(objects: pd.DataFrame, ground_truth: pd.DataFrame | None = None, *, alh_factor: float = 2.0,
                    class_ids: Sequence[int] = (0,)) -> pd.DataFrame:
    """Reference kinematics from the exact truth of a synthetic video.

    Parameters
    ----------
    objects : pandas.DataFrame
        The ``<id>_objects.csv`` table of :mod:`spermtrack.synth`: ``track_id``, ``gt_id``, ``class_id``,
        ``grade`` and the true ``vcl_um_s``, ``vsl_um_s``, ``vap_um_s``, ``progression_um_s``, ``bcf_hz``
        and ``alh_um`` (the amplitude of the lateral head oscillation).
    ground_truth : pandas.DataFrame, optional
        The ground truth the predictions are matched to (e.g. read from ``labels_ftid``), with
        ``track_id`` and ``gt_id``; objects are renumbered to its ``track_id`` through ``gt_id``
        (objects without labelled boxes are dropped). Without it the objects' own ``track_id`` is kept.
    alh_factor : float
        Convention of the predicted ALH (:class:`spermtrack.kinematics.KinematicsConfig.alh_factor`:
        2 = peak-to-peak, as CASA reports it); the reference is ``alh_mean_um = alh_factor * alh_um``.
    class_ids : sequence of int
        Classes kept (default sperm only, the graded class).

    Returns
    -------
    pandas.DataFrame
        One row per true track: ``track_id``, ``gt_id``, ``grade``, ``vcl_um_s``, ``vsl_um_s``,
        ``vap_um_s``, ``progression_um_s``, ``lin = VSL / VCL``, ``str = VSL / VAP``,
        ``wob = VAP / VCL`` (NaN when the denominator is 0), ``alh_mean_um``, ``bcf_hz``.

    Raises
    ------
    InputError
        A required column is missing.
    """
    needed = ("track_id", "gt_id", "class_id", "grade", "vcl_um_s", "vsl_um_s", "vap_um_s", "progression_um_s")
    missing = [c for c in needed if c not in objects.columns]
    if missing:
        raise InputError(f"synthetic objects table is missing column(s) {', '.join(missing)}")
    obj = objects[np.isin(objects["class_id"].to_numpy(), list(class_ids))]
    vcl, vsl, vap = (obj[c].to_numpy(np.float64) for c in ("vcl_um_s", "vsl_um_s", "vap_um_s"))
    out = pd.DataFrame({
        "track_id": obj["track_id"].to_numpy(np.int64),
        "gt_id": obj["gt_id"].astype(str).to_numpy(),
        "grade": [g if isinstance(g, str) and g else None for g in obj["grade"].to_numpy(dtype=object)],
        "vcl_um_s": vcl, "vsl_um_s": vsl, "vap_um_s": vap,
        "progression_um_s": obj["progression_um_s"].to_numpy(np.float64),
        "lin": _ratio(vsl, vcl), "str": _ratio(vsl, vap), "wob": _ratio(vap, vcl),
        "alh_mean_um": alh_factor * obj["alh_um"].to_numpy(np.float64) if "alh_um" in obj.columns else np.nan,
        "bcf_hz": obj["bcf_hz"].to_numpy(np.float64) if "bcf_hz" in obj.columns else np.nan,
    })
    if ground_truth is not None:
        for col in ("track_id", "gt_id"):
            if col not in ground_truth.columns:
                raise InputError(f"ground truth is missing column '{col}' (needed to map objects to it)")
        first = ground_truth.drop_duplicates("gt_id")
        ids = pd.Series(first["track_id"].to_numpy(np.int64), index=first["gt_id"].astype(str).to_numpy())
        mapped = ids.reindex(out["gt_id"].to_numpy()).to_numpy(np.float64)
        found = np.isfinite(mapped)
        out = out[found].copy()
        out["track_id"] = mapped[found].astype(np.int64)
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------------------------
def _parameters(predicted: pd.DataFrame, reference: pd.DataFrame,
                parameters: Sequence[Parameter] | None) -> list[Parameter]:
    chosen = PARAMETERS if parameters is None else tuple(parameters)
    return [p for p in chosen if p.column in predicted.columns and p.column in reference.columns]


def kinematic_errors(predicted: pd.DataFrame, reference: pd.DataFrame, matches: pd.DataFrame, *,
                     parameters: Sequence[Parameter] | None = None, min_reference: float = 1.0) -> pd.DataFrame:
    """Per matched pair: predicted and reference values of each parameter and the error.

    Parameters
    ----------
    predicted : pandas.DataFrame
        Kinematics of the predicted tracks (:func:`spermtrack.kinematics.analyze_tracks` ``.table``):
        ``track_id``, parameter columns, optionally ``grade``.
    reference : pandas.DataFrame
        Reference kinematics indexed by the ground truth's track ids in its ``track_id`` column (e.g.
        :func:`truth_reference`, or the kinematics of the ground-truth tracks).
    matches : pandas.DataFrame
        :func:`match_tracks`' result.
    parameters : sequence of Parameter, optional
        Default :data:`PARAMETERS`; parameters missing from either table are skipped.
    min_reference : float
        Relative errors of references with ``|x_ref| < min_reference`` are NaN (default 1).

    Returns
    -------
    pandas.DataFrame
        One row per pair whose two tracks are both in their kinematics tables (pairs with a
        non-sperm track drop out): ``track_id``, ``gt_track_id``, ``overlap``, ``coverage``, then per
        parameter ``<column>_pred``, ``<column>_ref`` and ``<stem>_err`` (relative or absolute, see the
        module notes), then ``grade_pred`` and ``grade_ref`` (None when ungraded or absent).

    Raises
    ------
    InputError
        ``track_id`` is missing from a table, or repeated in ``predicted`` or ``reference``.
    """
    for name, df in (("predicted kinematics", predicted), ("reference kinematics", reference),
                     ("matches", matches)):
        if "track_id" not in df.columns:
            raise InputError(f"{name} is missing column 'track_id'")
    for name, df in (("predicted kinematics", predicted), ("reference kinematics", reference)):
        if df["track_id"].duplicated().any():
            raise InputError(f"{name} has track_id {df['track_id'][df['track_id'].duplicated()].iloc[0]} twice")
    params = _parameters(predicted, reference, parameters)
    pred = predicted.set_index(predicted["track_id"].to_numpy(np.int64))
    ref = reference.set_index(reference["track_id"].to_numpy(np.int64))
    pid = matches["track_id"].to_numpy(np.int64)
    gid = matches["gt_track_id"].to_numpy(np.int64)
    ok = np.isin(pid, pred.index.to_numpy()) & np.isin(gid, ref.index.to_numpy())
    pid, gid = pid[ok], gid[ok]
    out = pd.DataFrame({"track_id": pid, "gt_track_id": gid,
                        "overlap": matches["overlap"].to_numpy(np.float64)[ok],
                        "coverage": matches["coverage"].to_numpy(np.float64)[ok]})
    for p in params:
        xp = pred.loc[pid, p.column].to_numpy(np.float64)
        xr = ref.loc[gid, p.column].to_numpy(np.float64)
        out[f"{p.column}_pred"] = xp
        out[f"{p.column}_ref"] = xr
        if p.relative:
            with np.errstate(divide="ignore", invalid="ignore"):
                out[f"{p.stem}_err"] = np.where(np.abs(xr) >= min_reference, (xp - xr) / xr, np.nan)
        else:
            out[f"{p.stem}_err"] = xp - xr
    out["grade_pred"] = _grades(pred, pid)
    out["grade_ref"] = _grades(ref, gid)
    return out


def _grades(table: pd.DataFrame, ids: np.ndarray) -> list[str | None]:
    if "grade" not in table.columns:
        return [None] * len(ids)
    return [g if isinstance(g, str) and g else None for g in table.loc[ids, "grade"].to_numpy(dtype=object)]


def summary_keys(parameters: Sequence[Parameter] = PARAMETERS) -> tuple[str, ...]:
    """Keys of :func:`summarize_kinematic_errors`' result, in order."""
    keys = ["n_reference", "n_matched", "matched_pct"]
    for p in parameters:
        keys += [f"{p.stem}_mdape", f"{p.stem}_mdpe"] if p.relative else [f"{p.stem}_mdae", f"{p.stem}_mde"]
    return tuple(keys + ["n_graded_pairs", "grade_accuracy_pct"])


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def summarize_kinematic_errors(errors: pd.DataFrame, *, n_reference: int,
                               parameters: Sequence[Parameter] = PARAMETERS) -> dict[str, float]:
    """Medians of the per-pair errors: one leaderboard row.

    Parameters
    ----------
    errors : pandas.DataFrame
        :func:`kinematic_errors`' result (pairs of one video, or of several videos pooled).
    n_reference : int
        Number of reference tracks (the denominator of ``matched_pct``).
    parameters : sequence of Parameter
        Parameters to summarise (those absent from ``errors`` give NaN).

    Returns
    -------
    dict
        ``n_reference``, ``n_matched`` (pairs), ``matched_pct = 100 n_matched / n_reference``; per relative
        parameter ``<stem>_mdape = 100 median |e|`` and ``<stem>_mdpe = 100 median e`` (%); per ratio
        ``<stem>_mdae = median |e|`` and ``<stem>_mde = median e``; ``n_graded_pairs`` (pairs graded on
        both sides) and ``grade_accuracy_pct`` (% of those with the same WHO grade). Medians skip NaN
        errors and are NaN when no error is defined.
    """
    out: dict[str, float] = {"n_reference": int(n_reference), "n_matched": int(len(errors)),
                             "matched_pct": 100.0 * len(errors) / n_reference if n_reference else math.nan}
    for p in parameters:
        col = f"{p.stem}_err"
        e = errors[col].to_numpy(np.float64) if col in errors.columns else np.zeros(0)
        if p.relative:
            out[f"{p.stem}_mdape"] = 100.0 * _median(np.abs(e))
            out[f"{p.stem}_mdpe"] = 100.0 * _median(e)
        else:
            out[f"{p.stem}_mdae"] = _median(np.abs(e))
            out[f"{p.stem}_mde"] = _median(e)
    if {"grade_pred", "grade_ref"} <= set(errors.columns) and len(errors):
        gp = errors["grade_pred"].to_numpy(dtype=object)
        gr = errors["grade_ref"].to_numpy(dtype=object)
        both = np.array([isinstance(a, str) and isinstance(b, str) for a, b in zip(gp, gr)], dtype=bool)
        n_graded = int(both.sum())
        same = int(np.sum(gp[both] == gr[both]))
    else:
        n_graded, same = 0, 0
    out["n_graded_pairs"] = n_graded
    out["grade_accuracy_pct"] = 100.0 * same / n_graded if n_graded else math.nan
    return out


def kinematic_accuracy(ground_truth: pd.DataFrame, pred_tracks: pd.DataFrame, predicted: pd.DataFrame,
                       reference: pd.DataFrame, *, gate: float = 10.0, min_overlap: float = 0.5,
                       method: str = "auto", min_reference: float = 1.0) -> tuple[pd.DataFrame, dict[str, float]]:
    """Match, compare and summarise in one call (one video).

    Parameters
    ----------
    ground_truth, pred_tracks : pandas.DataFrame
        True and predicted tracks tables, as in :func:`match_tracks`.
    predicted, reference : pandas.DataFrame
        Kinematics tables of the predicted tracks and of the true tracks (see :func:`kinematic_errors`).
    gate, min_overlap, method
        As in :func:`match_tracks`.
    min_reference : float
        As in :func:`kinematic_errors`.

    Returns
    -------
    errors : pandas.DataFrame
        :func:`kinematic_errors`' result (``attrs["method"]`` holds the matching method).
    summary : dict
        :func:`summarize_kinematic_errors` with ``n_reference = len(reference)``.
    """
    matches = match_tracks(ground_truth, pred_tracks, gate=gate, min_overlap=min_overlap, method=method)
    errors = kinematic_errors(predicted, reference, matches, min_reference=min_reference)
    errors.attrs["method"] = matches.attrs["method"]
    return errors, summarize_kinematic_errors(errors, n_reference=len(reference))
