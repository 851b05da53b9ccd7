"""What a person sees on a frame: tracks coloured by WHO grade, their trailing paths, a legend, a time stamp.

Colours are the Okabe-Ito palette (readable with the common colour-vision deficiencies): grade a
bluish green, b sky blue, c orange, d vermillion, ungraded grey. Drawing uses OpenCV's built-in
Hershey fonts only (nothing is downloaded).

:class:`TrackPainter` prepares a tracks table once and draws any frame of the video in time
proportional to the tracks visible in it, so a whole annotated video is written in one streaming
pass (:func:`spermtrack.analysis.write_annotated_video`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spermtrack.constants import GRADES

#: BGR colour per WHO grade (Okabe-Ito); ungraded tracks are grey.
GRADE_COLOURS: dict[str, tuple[int, int, int]] = {"a": (115, 158, 0), "b": (233, 180, 86), "c": (0, 159, 230),
                                                  "d": (0, 94, 213), "": (170, 170, 170)}
#: Font scale of the track ids (OpenCV's Hershey font: about 11 px tall at 0.5), outlined to read on any background.
_ID_SIZE = 0.5
#: How reports name each grade.
GRADE_NAMES = {"a": "a rapid progressive", "b": "b slow progressive", "c": "c non-progressive",
               "d": "d immotile", "": "ungraded (too short, gap, not sperm)"}


def _cv2():
    import cv2

    return cv2


def grade_colour_rgb(grade: str) -> str:
    """The grade's colour as a ``#rrggbb`` string (for plots and HTML)."""
    b, g, r = GRADE_COLOURS.get(grade, GRADE_COLOURS[""])
    return f"#{r:02x}{g:02x}{b:02x}"


def track_grades(kinematics: pd.DataFrame | None) -> dict[int, str]:
    """Map ``track_id`` to its grade letter ('' when ungraded or unknown)."""
    if kinematics is None or not len(kinematics):
        return {}
    grades = kinematics["grade"].fillna("").astype(str)
    return dict(zip(kinematics["track_id"].astype(int), grades))


def disagreeing_tracks(kinematics: pd.DataFrame | None) -> set[int]:
    """Tracks whose per-sperm video grade differs from the kinematic one (``grade_disagrees``; empty without it)."""
    if kinematics is None or "grade_disagrees" not in kinematics.columns:
        return set()
    flagged = kinematics["grade_disagrees"].fillna(False).astype(bool)
    return set(kinematics.loc[flagged, "track_id"].astype(int))


class TrackPainter:
    """Draw the tracks of one video on its frames, one frame at a time.

    Parameters
    ----------
    tracks : pandas.DataFrame
        Tracks table (``frame, x, y, w, h, track_id``; the smoothed ``x_s, y_s`` draw the trails when
        present). Rows with ``track_id < 0`` are not drawn.
    grades : dict, optional
        ``track_id -> grade`` (see :func:`track_grades`): the colour of each track.
    fps : float, optional
        Frame rate, for the time stamp.
    trail : int
        Frames of trailing path drawn behind each head.
    flagged : set of int, optional
        Tracks whose id is drawn with a ``?`` (the per-sperm video model disagrees with the kinematic
        grade: :func:`disagreeing_tracks`); the legend then explains the mark.
    """

    def __init__(self, tracks: pd.DataFrame, grades: dict[int, str] | None = None, *, fps: float | None = None,
                 trail: int = 25, flagged: set[int] | None = None) -> None:
        t = tracks[tracks["track_id"].to_numpy() >= 0].sort_values(["track_id", "frame"], kind="stable")
        xcol, ycol = ("x_s", "y_s") if {"x_s", "y_s"} <= set(t.columns) else ("x", "y")
        self.fps = fps
        self.trail = int(trail)
        self._frame = t["frame"].to_numpy(np.int64)
        self._path = t[[xcol, ycol]].to_numpy(np.float64)
        self._box = t[["x", "y", "w", "h"]].to_numpy(np.float64)
        tid = t["track_id"].to_numpy(np.int64)
        starts = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]]) if len(tid) else np.zeros(0, np.int64)
        self._starts = starts
        self._ends = np.r_[starts[1:], len(tid)].astype(np.int64)
        self._ids = tid[starts] if len(tid) else tid
        self._first = self._frame[starts] if len(tid) else tid
        self._last = self._frame[self._ends - 1] if len(tid) else tid
        grades = grades or {}
        self._colour = [GRADE_COLOURS.get(grades.get(int(i), ""), GRADE_COLOURS[""]) for i in self._ids]
        self._flagged = set(flagged or ())
        self._label = [f"{int(i)}?" if int(i) in self._flagged else str(int(i)) for i in self._ids]

    def draw(self, frame: np.ndarray, index: int, *, scale: int = 1, legend: bool = True,
             stamp: bool = True) -> np.ndarray:
        """The frame (``index``) with boxes, ids and trails, a legend and a time stamp.

        Parameters
        ----------
        frame : numpy.ndarray
            Grayscale or BGR uint8 frame.
        index : int
            Its 0-based frame number.
        scale : int
            Up-scaling of the output (2 keeps 20-px heads readable in a still).
        legend, stamp : bool
            Draw the grade legend (top left) and ``frame n, t s`` (bottom left).

        Returns
        -------
        numpy.ndarray
            BGR uint8 image of ``scale`` times the frame size.
        """
        cv2 = _cv2()
        img = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale != 1 else img.copy()
        alive = np.flatnonzero((self._first <= index) & (self._last > index - self.trail))
        for k in alive:
            s, e = self._starts[k], self._ends[k]
            frames = self._frame[s:e]
            lo = s + np.searchsorted(frames, index - self.trail + 1)
            hi = s + np.searchsorted(frames, index, side="right")
            if hi <= lo:
                continue
            colour = self._colour[k]
            pts = np.round(self._path[lo:hi] * scale).astype(np.int32)
            if len(pts) > 1:
                cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
            if self._frame[hi - 1] == index:
                x, y, w, h = self._box[hi - 1] * scale
                x0, y0, x1, y1 = int(x - w / 2), int(y - h / 2), int(x + w / 2), int(y + h / 2)
                cv2.rectangle(img, (x0, y0), (x1, y1), colour, 1, cv2.LINE_AA)
                _label(img, self._label[k], (x0, max(12, y0 - 3)), colour, _ID_SIZE * max(1, scale) ** 0.5)
        if legend:
            draw_legend(img, flagged=bool(self._flagged))
        if stamp:
            text = f"frame {index}" + (f"   {index / self.fps:6.2f} s" if self.fps else "")
            _label(img, text, (6, img.shape[0] - 8))
        return img


def _label(img: np.ndarray, text: str, origin: tuple[int, int], colour=(235, 235, 235), size: float = 0.42) -> None:
    """Text with a dark outline, readable on any background."""
    cv2 = _cv2()
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, (20, 20, 20), 3, cv2.LINE_AA)
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, colour, 1, cv2.LINE_AA)


def draw_legend(img: np.ndarray, *, flagged: bool = False) -> np.ndarray:
    """Draw the grade legend in the top-left corner (in place) and return the image.

    ``flagged``: add a line explaining the ``?`` after an id (video model and kinematics disagree).
    """
    cv2 = _cv2()
    rows = [*GRADES, ""]
    note = "id? video model disagrees"
    text_width = [cv2.getTextSize(GRADE_NAMES[g], cv2.FONT_HERSHEY_SIMPLEX, 0.36, 1)[0][0] + 24 for g in rows]
    if flagged:
        text_width.append(cv2.getTextSize(note, cv2.FONT_HERSHEY_SIMPLEX, 0.36, 1)[0][0] + 6)
    width, height = max(text_width) + 8, 14 * (len(rows) + flagged) + 10
    patch = img[4:4 + height, 4:4 + width]
    patch[:] = (0.35 * patch).astype(np.uint8)  # darken behind the text
    for i, grade in enumerate(rows):
        y = 4 + 14 * (i + 1)
        cv2.rectangle(img, (10, y - 8), (22, y + 1), GRADE_COLOURS[grade], -1)
        cv2.putText(img, GRADE_NAMES[grade], (28, y), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (235, 235, 235), 1,
                    cv2.LINE_AA)
    if flagged:
        cv2.putText(img, note, (10, 4 + 14 * (len(rows) + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.36,
                    (235, 235, 235), 1, cv2.LINE_AA)
    return img
