"""What a person sees: a video frame annotated with tracks coloured by WHO grade, and a summary panel.

Drawing uses OpenCV's built-in Hershey fonts only (nothing is downloaded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: BGR colour per WHO grade; ungraded tracks are grey.
GRADE_COLOURS: dict[str, tuple[int, int, int]] = {"a": (80, 220, 80), "b": (60, 220, 240), "c": (40, 140, 255),
                                                  "d": (80, 80, 240), "": (170, 170, 170)}
GRADE_NAMES = {"a": "a rapid progressive", "b": "b slow progressive", "c": "c non-progressive",
               "d": "d immotile", "": "ungraded"}


def _cv2():
    import cv2

    return cv2


def track_grades(kinematics: pd.DataFrame | None) -> dict[int, str]:
    """Map ``track_id`` to its grade letter ('' when ungraded or unknown)."""
    if kinematics is None or not len(kinematics):
        return {}
    grades = kinematics["grade"].fillna("").astype(str)
    return dict(zip(kinematics["track_id"].astype(int), grades))


def annotate_frame(frame: np.ndarray, tracks: pd.DataFrame, frame_index: int, *,
                   grades: dict[int, str] | None = None, trail: int = 50, scale: int = 2) -> np.ndarray:
    """Draw every track visible in ``frame_index`` with its trail of the last ``trail`` frames.

    Parameters
    ----------
    frame : numpy.ndarray
        The video frame, grayscale or BGR uint8.
    tracks : pandas.DataFrame
        Tracks table (``frame, x, y, w, h, track_id``; ``x_s, y_s`` used for trails when present).
    frame_index : int
        Which frame ``frame`` is (0-based).
    grades : dict, optional
        ``track_id -> grade`` (see :func:`track_grades`); colours the boxes and trails.
    trail : int
        Length of the drawn trail in frames.
    scale : int
        Up-scaling of the output, so that 20-px heads stay visible.

    Returns
    -------
    numpy.ndarray
        BGR uint8 image of size ``scale * frame`` size.
    """
    cv2 = _cv2()
    grades = grades or {}
    img = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    t = tracks[(tracks["track_id"] >= 0) & (tracks["frame"] <= frame_index) &
               (tracks["frame"] > frame_index - trail)]
    xcol, ycol = ("x_s", "y_s") if {"x_s", "y_s"} <= set(t.columns) else ("x", "y")
    for tid, grp in t.sort_values("frame").groupby("track_id"):
        colour = GRADE_COLOURS.get(grades.get(int(tid), ""), GRADE_COLOURS[""])
        pts = np.round(grp[[xcol, ycol]].to_numpy() * scale).astype(np.int32)
        if len(pts) > 1:
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
        last = grp.iloc[-1]
        if int(last["frame"]) == frame_index:
            x0, y0 = int((last["x"] - last["w"] / 2) * scale), int((last["y"] - last["h"] / 2) * scale)
            x1, y1 = int((last["x"] + last["w"] / 2) * scale), int((last["y"] + last["h"] / 2) * scale)
            cv2.rectangle(img, (x0, y0), (x1, y1), colour, 1, cv2.LINE_AA)
            cv2.putText(img, str(int(tid)), (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                        cv2.LINE_AA)
    return img


def summary_panel(summary: dict, *, height: int, width: int = 420, title: str = "") -> np.ndarray:
    """Render the sample summary (grade percentages, counts, noise, calibration) as a BGR panel.

    Parameters
    ----------
    summary : dict
        The sample summary of :func:`spermtrack.kinematics.summarize`.
    height, width : int
        Panel size in px.
    title : str
        First line (e.g. the video id).

    Returns
    -------
    numpy.ndarray
        BGR uint8 image.
    """
    cv2 = _cv2()
    panel = np.full((height, width, 3), 30, np.uint8)
    pct = summary.get("percent", {}) or {}
    counts = summary.get("counts", {}) or {}
    y = 34
    cv2.putText(panel, title or "spermtrack", (16, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (240, 240, 240), 1, cv2.LINE_AA)
    y += 40
    bar_w = width - 250
    for g in ("a", "b", "c", "d"):
        value = pct.get(g)
        share = 0.0 if value is None else float(value)
        cv2.putText(panel, GRADE_NAMES[g], (16, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, GRADE_COLOURS[g], 1, cv2.LINE_AA)
        end = 180 + int(bar_w * share / 100.0)
        cv2.rectangle(panel, (180, y - 14), (end, y + 2), GRADE_COLOURS[g], -1)
        label = "n/a" if value is None else f"{share:.1f} %"
        cv2.putText(panel, label, (end + 6, y - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1, cv2.LINE_AA)
        y += 30
    lines = []
    for key, name in (("progressive", "progressive (a+b)"), ("non_progressive", "non-progressive (c)"),
                      ("immotile", "immotile (d)")):
        if pct.get(key) is not None:
            lines.append(f"{name}: {float(pct[key]):.1f} %")
    if counts:
        lines.append(f"graded {counts.get('graded', '?')}, ungraded {counts.get('ungraded', '?')}")
    noise = summary.get("noise") or {}
    if noise.get("sigma_px") is not None:
        lines.append(f"localisation noise {float(noise['sigma_px']):.2f} px")
    cal = summary.get("calibration", {}) or {}
    if cal:
        lines.append(f"{cal.get('um_per_px', '?')} um/px, {float(cal.get('fps', 0)):.1f} fps")
    preset = (summary.get("config", {}) or {}).get("name")
    if preset:
        lines.append(f"grading preset: {preset}")
    y += 10
    for line in lines:
        cv2.putText(panel, line, (16, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (220, 220, 220), 1, cv2.LINE_AA)
        y += 26
    return panel


def report_image(frame: np.ndarray, tracks: pd.DataFrame, frame_index: int, summary: dict, *,
                 kinematics: pd.DataFrame | None = None, title: str = "", trail: int = 50) -> np.ndarray:
    """An annotated frame beside the summary panel: the picture ``spermtrack demo`` writes as PNG."""
    left = annotate_frame(frame, tracks, frame_index, grades=track_grades(kinematics), trail=trail)
    right = summary_panel(summary, height=left.shape[0], title=title)
    return np.hstack([left, right])
