"""The benchmark's outputs: ``leaderboard.csv/.md/.png``, error tables, plots and ``benchmark.json``."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from spermtrack.io.atomic import atomic_path

if TYPE_CHECKING:
    from spermtrack.scoring.data import BenchmarkData

__all__ = ["ANCHORS", "LEADERBOARD_COLUMNS", "PERCENT_METRICS", "REFERENCE_LABELS", "REFERENCE_ORDER",
           "anchors_paragraph", "leaderboard_markdown", "percent_metrics", "plot_leaderboard", "write_outputs"]

#: Ratio metrics reported in percent.
PERCENT_METRICS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr", "MOTA",
                                    "MODA", "IDF1", "IDP", "IDR", "precision", "recall")
#: Columns of ``leaderboard.csv``, in order.
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "video", "detector", "tracker", "HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDSW",
    "FP", "FN", "TP", "MT", "PT", "ML", "FRAG", "num_gt", "num_pred", "num_gt_ids", "num_pred_ids", "n_frames",
    "tracker_s", "tracker_fps", "detector_fps")
#: Published results on real VISEM-Tracking, shown for context in ``leaderboard.md``.
ANCHORS: dict[str, dict[str, Any]] = {
    "HOTA": {"value": 74.3, "method": "YOLOv8 variant + DeepOCSORT variant", "source": "Sensors 2024, 24(11):3493"},
    "MOTA": {"value": 71.2, "method": "YOLOv8 variant + DeepOCSORT variant", "source": "Sensors 2024, 24(11):3493"},
    "IDF1": {"value": 84.8, "method": "EKF-BoT-SORT (BoT-SORT 80.3)", "source": "Sensors 2025, 25(24):7539"},
}
#: Grade references, in order of preference, and how reports name them.
REFERENCE_ORDER: tuple[str, ...] = ("truth", "lab", "gt_tracks")
REFERENCE_LABELS: dict[str, str] = {"truth": "synthetic truth", "lab": "lab (semen analysis CSV)",
                                    "gt_tracks": "ground-truth tracks"}


def percent_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """A copy with the ratio metrics (:data:`PERCENT_METRICS`) in percent."""
    out = table.copy()
    for c in PERCENT_METRICS:
        if c in out.columns:
            out[c] = 100.0 * out[c]
    return out


def _overall(board: pd.DataFrame) -> pd.DataFrame:
    over = board[board["video"] == "OVERALL"]
    return over.sort_values(["HOTA", "IDF1"], ascending=False, kind="stable", na_position="last")


def _num(value: float, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "n/a"
    return format(float(value), spec)


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header)))
             + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def anchors_paragraph() -> str:
    """The published VISEM-Tracking anchors, with the caveat that they are context, not a comparison."""
    a = ANCHORS
    return (f"Published results on the real VISEM-Tracking data set, for context: HOTA {a['HOTA']['value']} % and "
            f"MOTA {a['MOTA']['value']} % ({a['HOTA']['method']}; {a['HOTA']['source']}), and IDF1 "
            f"{a['IDF1']['value']} % ({a['IDF1']['method']}; {a['IDF1']['source']}). They were measured on real "
            "VISEM-Tracking videos with trained real detectors, their own choice of videos and their own matching "
            "criterion (box IoU), so they are context, not a like-for-like comparison with the numbers above "
            "(other data, other detections, a centre-distance gate).")


def leaderboard_markdown(board: pd.DataFrame, *, title: str, description: str, kinematics: pd.DataFrame | None = None,
                         grades: pd.DataFrame | None = None, notes: Sequence[str] = (),
                         settings: str = "") -> str:
    """The ``leaderboard.md`` text.

    Parameters
    ----------
    board : pandas.DataFrame
        The leaderboard (:data:`LEADERBOARD_COLUMNS`).
    title, description, settings : str
        Heading, one line about the data set, one line about the settings.
    kinematics, grades : pandas.DataFrame, optional
        ``kinematics_error.csv`` and ``grade_error.csv`` tables; their ``OVERALL`` rows are summarised.
    notes : sequence of str
        Skipped items and other remarks, listed at the end.

    Returns
    -------
    str
        Markdown: the ``OVERALL`` rows sorted by HOTA, HOTA per video, kinematic and grade summaries,
        the anchors paragraph and the notes.
    """
    over = _overall(board)
    lines = [f"# {title}", "", description, ""]
    if settings:
        lines += [settings, ""]
    lines += ["## Overall, all videos pooled (sorted by HOTA; ratios in %)", ""]
    lines += _md_table(
        ["detector", "tracker", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN", "tracker fps"],
        ([r.detector, r.tracker, _num(r.HOTA), _num(r.DetA), _num(r.AssA), _num(r.MOTA), _num(r.IDF1),
          _num(r.IDSW, ".0f"), _num(r.FP, ".0f"), _num(r.FN, ".0f"), _num(r.tracker_fps, ".0f")]
         for r in over.itertuples(index=False)))
    videos = [v for v in dict.fromkeys(board["video"]) if v != "OVERALL"]
    if len(videos) > 1:
        lines += ["", "## HOTA per video (%)", ""]
        hota = board.set_index(["detector", "tracker", "video"])["HOTA"]
        lines += _md_table(["detector", "tracker", *videos],
                           ([r.detector, r.tracker, *(_num(hota.get((r.detector, r.tracker, v), math.nan))
                                                      for v in videos)] for r in over.itertuples(index=False)))
    order = [(r.detector, r.tracker) for r in over.itertuples(index=False)]
    if kinematics is not None and len(kinematics):
        lines += ["", "## Kinematic accuracy of matched tracks (all videos pooled)", "",
                  "MdAPE: median absolute percentage error; MdAE: median absolute error; grade: % of matched "
                  "graded tracks with the reference's WHO grade.", ""]
        k = kinematics[kinematics["video"] == "OVERALL"].set_index(["detector", "tracker"])
        rows = []
        for key in order:
            if key not in k.index:
                continue
            r = k.loc[key]
            rows.append([*key, str(r["reference"]), _num(r["matched_pct"]), _num(r["vcl_mdape"]), _num(r["vsl_mdape"]),
                         _num(r["vap_mdape"]), _num(r["prog_mdape"]), _num(r["lin_mdae"], ".3f"),
                         _num(r["grade_accuracy_pct"])])
        lines += _md_table(["detector", "tracker", "reference", "matched %", "VCL MdAPE %", "VSL MdAPE %",
                            "VAP MdAPE %", "progression MdAPE %", "LIN MdAE", "grade agreement %"], rows)
    if grades is not None and len(grades):
        lines += ["", "## Motility percentages vs reference (per video; percentage points)", "",
                  "MAE and Bland-Altman bias [95 % limits of agreement] over the videos (Bland & Altman 1986); "
                  "r: Pearson correlation.", ""]
        g = grades[grades["video"] == "OVERALL"].set_index(["detector", "tracker", "reference", "category"])
        rows = []
        for key in order:
            for kind in REFERENCE_ORDER:
                if (*key, kind, "progressive") not in g.index:
                    continue
                cells = [*key, REFERENCE_LABELS[kind]]
                for cat in ("progressive", "non_progressive", "immotile"):
                    r = g.loc[(*key, kind, cat)]
                    cells.append(f"{_num(r['mae'])} / {_num(r['bias'], '+.1f')} "
                                 f"[{_num(r['loa_low'], '+.1f')}, {_num(r['loa_high'], '+.1f')}]")
                cells.append(_num(g.loc[(*key, kind, "progressive")]["pearson_r"], ".2f"))
                rows.append(cells)
        lines += _md_table(["detector", "tracker", "reference", "progressive MAE / bias [LoA]",
                            "non-progressive MAE / bias [LoA]", "immotile MAE / bias [LoA]", "r (progressive)"], rows)
    lines += ["", "## Published anchors (context, not a comparison)", "", anchors_paragraph()]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot_leaderboard(board: pd.DataFrame, path: str | os.PathLike, *, title: str = "", dpi: int = 110) -> Path:
    """Write a PNG of the ``OVERALL`` rows: HOTA, MOTA and IDF1 bars (left) and tracker speed (right).

    Rows are sorted by HOTA (best on top). Rendered with matplotlib's Agg backend and its bundled
    DejaVu Sans font; written atomically.

    Parameters
    ----------
    board : pandas.DataFrame
        The leaderboard.
    path : str or PathLike
        The PNG to write.
    title : str
        Figure title.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure


    over = _overall(board).iloc[::-1]
    labels = [f"{d} / {t}" for d, t in zip(over["detector"], over["tracker"])]
    n = max(len(over), 1)
    fig = Figure(figsize=(11.0, 1.6 + 0.5 * n), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_fps = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    y = np.arange(len(over))
    height = 0.26
    for k, (metric, colour) in enumerate((("HOTA", "tab:blue"), ("MOTA", "tab:orange"), ("IDF1", "tab:green"))):
        values = over[metric].to_numpy(np.float64)
        pos = y + (1 - k) * height
        ax.barh(pos, np.nan_to_num(values, nan=0.0), height=height, color=colour, label=metric)
        for yy, v in zip(pos, values):
            ax.text(max(v, 0) + 0.8 if np.isfinite(v) else 1, yy, _num(v), va="center", fontsize=7.5)
    lows = over[["HOTA", "MOTA", "IDF1"]].to_numpy(np.float64)
    low = float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0
    ax.set_xlim(min(0.0, low - 5), 108)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel("%  (all videos pooled)")
    ax.grid(True, axis="x", color="0.92")
    ax.set_axisbelow(True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8.5, ncols=3, frameon=False)
    fps = over["tracker_fps"].to_numpy(np.float64)
    ax_fps.barh(y, np.nan_to_num(fps, nan=0.0), height=0.6, color="0.55")
    for yy, v in zip(y, fps):
        ax_fps.text(v * 1.1 if np.isfinite(v) and v > 0 else 1, yy, _num(v, ".0f"), va="center", fontsize=7.5)
    if np.isfinite(fps).any() and np.nanmax(fps) > 0:
        ax_fps.set_xscale("log")
        ax_fps.set_xlim(max(np.nanmin(fps[fps > 0]) / 3, 0.1), np.nanmax(fps) * 6)
    ax_fps.set_xlabel("tracker frames / s (log)")
    ax_fps.grid(True, axis="x", color="0.92")
    ax_fps.set_axisbelow(True)
    if title:
        fig.suptitle(title, fontsize=11)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_outputs(out: Path, data: BenchmarkData, board: pd.DataFrame, kin: pd.DataFrame, grades: pd.DataFrame,
                   grade_videos: Mapping[tuple[str, str, str], pd.DataFrame], notes: list[str],
                   settings: dict) -> list[Path]:
    """Write every output file into ``out`` (a folder that exists and is empty; see :func:`run_benchmark`)."""
    from spermtrack.io.atomic import write_csv, write_json, write_text
    from spermtrack.plots import plot_agreement
    from spermtrack.provenance import provenance

    title = f"Tracking benchmark: {data.source.name}"
    noise = settings["det_noise"]
    gate_text = (f"centre distance <= {settings['gate']:g} px" if settings["metric"] == "centre"
                 else f"IoU >= {settings['gate']:g}")
    settings_line = (f"Scoring: boxes pair when {gate_text} (HOTA, CLEAR MOT and IDF1 via TrackEval and "
                     f"py-motmetrics, all classes together); tracker fps counts the tracker alone."
                     + (f" gt+noise = ground-truth boxes with {_noise_text(noise)}." if noise else "")
                     + (f" Kinematics preset: {settings['kinematics']['name']}." if settings["kinematics"] else ""))
    written = [write_csv(out / "leaderboard.csv", board),
               write_csv(out / "kinematics_error.csv", kin),
               write_csv(out / "grade_error.csv", grades)]
    written.append(plot_leaderboard(board, out / "leaderboard.png", title=f"{title} ({len(data.sequences)} videos)"))
    best = _overall(board).iloc[0]
    for kind in REFERENCE_ORDER:
        key = (best["detector"], best["tracker"], kind)
        if key in grade_videos:
            written.append(plot_agreement(
                grade_videos[key], out / "bland_altman.png", reference_label=f"{REFERENCE_LABELS[kind]} (%)",
                predicted_label=f"{key[0]} / {key[1]} (%)",
                title=f"Motility % per video: {key[0]} / {key[1]} vs {REFERENCE_LABELS[kind]} "
                      f"(best overall HOTA)"))
            break
    files = [p.name for p in written] + ["leaderboard.md", "benchmark.json"]
    text = leaderboard_markdown(board, title=title, description=data.describe() + ".", kinematics=kin,
                                grades=grades, notes=notes, settings=settings_line)
    written.append(write_text(out / "leaderboard.md", text))
    record = provenance(
        dataset={"kind": data.kind, "source": str(data.source), "synthetic": data.synthetic,
                 "videos": [s.name for s in data.sequences],
                 "recordings": {s.name: s.recording.to_dict() for s in data.sequences},
                 "clinical_csv": None if data.clinical_path is None else str(data.clinical_path)},
        **settings, notes=notes, files=files)
    written.append(write_json(out / "benchmark.json", record))
    return written


def _noise_text(noise: Mapping[str, Any]) -> str:
    return (f"centre jitter {noise['jitter_px']:g} px, {100 * noise['miss_rate']:g} % missed, "
            f"{noise['fp_per_frame']:g} false positives per frame (seed {noise['seed']})")
