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

from spermtrack.constants import GRADES
from spermtrack.errors import InputError
from spermtrack.eval.agreement import CATEGORIES, CATEGORY_LABELS, agreement

__all__ = ["grade_bars", "kinematic_histograms", "plot_agreement", "png_bytes", "trajectory_map", "vcl_lin_scatter"]


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
        _savefig(fig, tmp)
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


# --------------------------------------------------------------------------------------------- one video
def _figure(width: float, height: float, dpi: int = 110):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    """A matplotlib figure as PNG bytes (Agg backend, the bundled DejaVu font; nothing is downloaded)."""
    import io

    buffer = io.BytesIO()
    _savefig(fig, buffer)
    return buffer.getvalue()


def _savefig(fig, target) -> None:
    """Save ``fig`` as PNG. A title in a script the bundled font lacks (a video named in Chinese, say)
    draws those characters as boxes; matplotlib's warning about each missing glyph is not shown: the
    report's HTML shows the name itself."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        fig.savefig(target, format="png")


def _grade_of(kinematics: pd.DataFrame) -> np.ndarray:
    return kinematics["grade"].fillna("").astype(str).to_numpy() if len(kinematics) else np.zeros(0, str)


_GRADE_ORDER = (*GRADES, "")  # "" = ungraded

#: The motile grades: the kinematic plots show these only. The speeds of an immotile head are its
#: localisation noise (VCL of several um/s, a "BCF" of 10-15 Hz), which would read as motion.
_MOTILE = ("a", "b", "c")


def _immotile_note(grade: np.ndarray) -> str:
    n = int(np.count_nonzero(grade == "d"))
    return f" ({n} immotile track{'s' if n != 1 else ''} not shown: their speeds are localisation noise)" if n else ""


def trajectory_map(tracks: pd.DataFrame, kinematics: pd.DataFrame, *, width: int, height: int, um_per_px: float,
                   title: str = "") -> bytes:
    """PNG: every track's (smoothed) path over the field, coloured by WHO grade, axes in um."""
    from spermtrack.drawing import GRADE_NAMES, grade_colour_rgb, track_grades

    grades = track_grades(kinematics)
    fig = _figure(7.0, 7.0 * height / max(width, 1) + 0.6)
    ax = fig.subplots()
    t = tracks[tracks["track_id"].to_numpy() >= 0]
    xcol, ycol = ("x_s", "y_s") if {"x_s", "y_s"} <= set(t.columns) else ("x", "y")
    paths = {int(tid): grp[[xcol, ycol]].to_numpy() * um_per_px
             for tid, grp in t.sort_values(["track_id", "frame"]).groupby("track_id", sort=True)}
    seen = set()
    for grade in _GRADE_ORDER:  # draw ungraded first would hide graded ones: draw in grade order, ungraded last
        for tid, xy in paths.items():
            if grades.get(tid, "") != grade:
                continue
            label = GRADE_NAMES[grade] if grade not in seen else None
            seen.add(grade)
            ax.plot(xy[:, 0], xy[:, 1], color=grade_colour_rgb(grade), lw=1.0 if grade else 0.6,
                    alpha=1.0 if grade else 0.5, label=label)
            ax.plot(xy[-1, 0], xy[-1, 1], "o", ms=2.5, color=grade_colour_rgb(grade))
    ax.set_xlim(0, width * um_per_px)
    ax.set_ylim(height * um_per_px, 0)  # image axes: y down
    ax.set_aspect("equal")
    ax.set_xlabel("x (um)")
    ax.set_ylabel("y (um)")
    ax.set_facecolor("#f4f4f4")
    if seen:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title(title or "Trajectories (dot: last position)", fontsize=10)
    return png_bytes(fig)


def vcl_lin_scatter(kinematics: pd.DataFrame, *, title: str = "") -> bytes:
    """PNG: curvilinear velocity against linearity per graded track, coloured by WHO grade."""
    from spermtrack.drawing import GRADE_NAMES, grade_colour_rgb

    fig = _figure(6.0, 4.4)
    ax = fig.subplots()
    grade = _grade_of(kinematics)
    for g in _MOTILE:
        rows = kinematics[grade == g]
        if len(rows):
            ax.scatter(rows["vcl_um_s"], rows["lin"], s=14, color=grade_colour_rgb(g), label=f"{GRADE_NAMES[g]} "
                       f"(n = {len(rows)})", alpha=0.85, edgecolors="none")
    ax.set_xlabel("VCL, curvilinear velocity (um/s)")
    ax.set_ylabel("LIN = VSL / VCL")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, color="0.9")
    if len(kinematics) and np.isin(grade, _MOTILE).any():
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(0.5, 0.5, "no motile track", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_title(title or f"Speed and straightness of motile tracks{_immotile_note(grade)}", fontsize=10)
    return png_bytes(fig)


#: Kinematic parameters shown in the histograms: column, label.
HISTOGRAMS = (("vcl_um_s", "VCL (um/s)"), ("vsl_um_s", "VSL (um/s)"), ("vap_um_s", "VAP (um/s)"),
              ("progression_um_s", "1-s net progression (um/s)"), ("lin", "LIN"), ("str", "STR"),
              ("alh_mean_um", "ALH mean (um)"), ("bcf_hz", "BCF (Hz)"))


def kinematic_histograms(kinematics: pd.DataFrame, *, title: str = "") -> bytes:
    """PNG: histograms of the CASA parameters over graded tracks, stacked by WHO grade."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from spermtrack.drawing import GRADE_NAMES, grade_colour_rgb

    fig = _figure(11.0, 5.2)
    axes = fig.subplots(2, 4).ravel()
    grade = _grade_of(kinematics)
    graded = kinematics[np.isin(grade, _MOTILE)] if len(kinematics) else kinematics
    g = grade[np.isin(grade, _MOTILE)] if len(kinematics) else grade
    for ax, (col, label) in zip(axes, HISTOGRAMS):
        values = graded[col].to_numpy(np.float64) if len(graded) else np.zeros(0)
        ok = np.isfinite(values)
        if ok.sum():
            bins = np.histogram_bin_edges(values[ok], bins=20)
            data = [values[ok & (g == k)] for k in _MOTILE]
            ax.hist(data, bins=bins, stacked=True, histtype="stepfilled",
                    color=[grade_colour_rgb(k) for k in _MOTILE])
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_xlabel(label, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("tracks")
    axes[4].set_ylabel("tracks")
    fig.legend(handles=[Patch(color=grade_colour_rgb(k), label=GRADE_NAMES[k]) for k in _MOTILE],
               loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle(title or f"Kinematics of motile tracks, stacked by grade{_immotile_note(grade)}", fontsize=10)
    return png_bytes(fig)


def grade_bars(summary: dict, *, title: str = "") -> bytes:
    """PNG: WHO grade percentages, and progressive / total motility against the WHO 2021 reference limits."""
    from spermtrack.constants import WHO_REFERENCE_LIMITS
    from spermtrack.drawing import GRADE_NAMES, grade_colour_rgb

    pct = summary.get("percent", {}) or {}
    fig = _figure(8.0, 3.4)
    left, right = fig.subplots(1, 2, width_ratios=(1.4, 1.0))
    values = [pct.get(g) for g in _GRADE_ORDER[:-1]]
    heights = [0.0 if v is None else float(v) for v in values]
    bars = left.bar(range(4), heights, color=[grade_colour_rgb(g) for g in _GRADE_ORDER[:-1]])
    for bar, v in zip(bars, values):
        left.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 1, "n/a" if v is None else f"{v:.1f} %",
                  ha="center", fontsize=9)
    left.set_xticks(range(4), [GRADE_NAMES[g].replace(" ", "\n", 1) for g in _GRADE_ORDER[:-1]], fontsize=8)
    left.set_ylabel("% of graded sperm")
    left.set_ylim(0, 105)
    counts = summary.get("counts", {}) or {}
    left.set_title(f"WHO 2021 grades ({counts.get('graded', 0)} graded tracks)", fontsize=10)
    prog, motile = pct.get("progressive"), pct.get("motile")
    names = ["progressive\n(a + b)", "total motile\n(a + b + c)"]
    vals = [0.0 if prog is None else prog, 0.0 if motile is None else motile]
    limits = [WHO_REFERENCE_LIMITS["progressive_pct"], WHO_REFERENCE_LIMITS["motile_pct"]]
    right.bar(range(2), vals, color=["#4d4d4d", "#8c8c8c"])
    for k, (v, lim) in enumerate(zip(vals, limits)):
        right.plot([k - 0.4, k + 0.4], [lim, lim], color="#d55e00", lw=2)
        right.text(k, v + 1, f"{v:.1f} %", ha="center", fontsize=9)
    right.text(1.45, limits[1], "WHO 2021\nlower reference\nlimit", color="#d55e00", fontsize=7, va="center")
    right.set_xticks(range(2), names, fontsize=8)
    right.set_ylim(0, 105)
    right.set_xlim(-0.6, 2.2)
    right.set_title("Against the WHO reference limits", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return png_bytes(fig)
