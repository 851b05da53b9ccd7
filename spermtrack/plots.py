"""Plots written as PNG files: agreement (correlation and Bland-Altman) of motility percentages.

Rendered with matplotlib's Agg backend and its bundled DejaVu Sans font (nothing is downloaded);
written atomically. The statistics come from :mod:`spermtrack.eval.agreement`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.eval.agreement import CATEGORIES, CATEGORY_LABELS, agreement

__all__ = ["plot_agreement"]


def plot_agreement(per_video: pd.DataFrame, path: str | os.PathLike, *, title: str = "",
                   reference_label: str = "reference", predicted_label: str = "predicted",
                   categories: Sequence[str] | None = None, dpi: int = 110) -> Path:
    """Write a PNG: predicted vs reference (top) and Bland-Altman plots (bottom), one column per category.

    The top row shows each video as a point with the identity line ``predicted = reference``; the
    bottom row shows the difference ``predicted - reference`` against the mean of the two, with the
    bias (solid) and the 95 % limits of agreement ``bias -/+ 1.96 sd`` (dashed) (Bland & Altman 1986).
    Each panel states n, MAE, r, bias and limits. Rendered with matplotlib's Agg backend and its bundled
    DejaVu Sans font (nothing is downloaded); written atomically.

    Parameters
    ----------
    per_video : pandas.DataFrame
        The first result of :func:`grade_agreement` (``video, category, predicted, reference``).
    path : str or PathLike
        The PNG to write.
    title : str
        Figure title.
    reference_label, predicted_label : str
        Axis names, e.g. ``"lab (%)"`` and ``"spermtrack (%)"``.
    categories : sequence of str, optional
        Panels, in order; default the categories present, in :data:`CATEGORIES` order.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        ``per_video`` lacks a column, or there is no category to plot.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from spermtrack.io.atomic import atomic_path

    needed = ("video", "category", "predicted", "reference")
    missing = [c for c in needed if c not in per_video.columns]
    if missing:
        raise InputError(f"per-video agreement table lacks column(s) {', '.join(missing)}")
    present = list(dict.fromkeys(per_video["category"].astype(str)))
    if categories is None:
        categories = [c for c in CATEGORIES if c in present] + [c for c in present if c not in CATEGORIES]
    categories = list(categories)
    if not categories:
        raise InputError("nothing to plot: the per-video agreement table is empty")
    n_col = len(categories)
    fig = Figure(figsize=(4.2 * n_col, 8.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, n_col, squeeze=False)
    for k, cat in enumerate(categories):
        rows = per_video[per_video["category"].astype(str) == cat]
        p = rows["predicted"].to_numpy(np.float64)
        r = rows["reference"].to_numpy(np.float64)
        stats = agreement(p, r)
        ok = np.isfinite(p) & np.isfinite(r)
        _scatter_panel(axes[0, k], p[ok], r[ok], stats, CATEGORY_LABELS.get(cat, cat), reference_label,
                       predicted_label)
        _bland_altman_panel(axes[1, k], p[ok], r[ok], stats, reference_label, predicted_label)
    if title:
        fig.suptitle(title, fontsize=12)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _fmt(value: float, spec: str = ".1f") -> str:
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def _scatter_panel(ax, p: np.ndarray, r: np.ndarray, stats: dict, label: str, ref_label: str,
                   pred_label: str) -> None:
    hi = max(100.0, float(np.max(np.concatenate([p, r]), initial=0.0)))
    ax.plot([0, hi], [0, hi], color="0.6", lw=1, ls="--", label="identity")
    ax.scatter(r, p, s=36, color="tab:blue", edgecolor="white", linewidth=0.6, zorder=3)
    ax.set_xlim(-2, hi + 2)
    ax.set_ylim(-2, hi + 2)
    ax.set_aspect("equal")
    ax.set_title(label, fontsize=11)
    ax.set_xlabel(ref_label)
    ax.set_ylabel(pred_label)
    ax.grid(True, color="0.92")
    ax.text(0.03, 0.97, f"n = {stats['n']}\nMAE = {_fmt(stats['mae'])} pts\nr = {_fmt(stats['pearson_r'], '.2f')}",
            transform=ax.transAxes, va="top", ha="left", fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.8"})


def _bland_altman_panel(ax, p: np.ndarray, r: np.ndarray, stats: dict, ref_label: str, pred_label: str) -> None:
    mean = (p + r) / 2
    diff = p - r
    ax.axhline(0.0, color="0.75", lw=1)
    ax.scatter(mean, diff, s=36, color="tab:blue", edgecolor="white", linewidth=0.6, zorder=3)
    bias, lo, hi = stats["bias"], stats["loa_low"], stats["loa_high"]
    if math.isfinite(bias):
        ax.axhline(bias, color="tab:red", lw=1.5, label=f"bias {bias:+.1f}")
    if math.isfinite(lo) and math.isfinite(hi):
        ax.axhline(lo, color="tab:red", lw=1, ls="--", label=f"95% limits {lo:+.1f} / {hi:+.1f}")
        ax.axhline(hi, color="tab:red", lw=1, ls="--")
    span = max(10.0, float(np.max(np.abs(np.concatenate([diff, [lo, hi] if math.isfinite(lo) else []])),
                                  initial=0.0)) * 1.25)
    ax.set_ylim(-span, span)
    ax.set_xlim(-2, 102)
    ax.set_xlabel(f"mean of {pred_label.split(' (')[0]} and {ref_label.split(' (')[0]} (%)")
    ax.set_ylabel("difference, predicted - reference (pts)")
    ax.grid(True, color="0.92")
    if math.isfinite(bias):
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
