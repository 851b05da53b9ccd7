"""Read the VISEM-Tracking layout (and its synthetic twin) into contract tables.

One annotated video is a folder named by its id::

    11/11.mp4                                  the clip (fps is read from here)
    11/images/11_frame_<n>.jpg                 every frame, 0-based n
    11/labels/11_frame_<n>.txt                 "class cx cy w h"            (normalised to [0, 1])
    11/labels_ftid/11_frame_<n>_with_ftid.txt  "track_id class cx cy w h"   (the TRACK ID COMES FIRST)

``track_id`` in ``labels_ftid`` is a LabelBox feature id string (``ckz3v9nzv00033867jsekqdcl``); the
synthetic generator writes short strings (``"1"``, ``"2"``). Both are kept verbatim as ``gt_id``, and
each video gets integer ``track_id`` values 1..N numbered in order of first appearance (by frame, then by
line within the frame's file), so the numbering is stable across runs and machines.

A missing or empty label file is a frame with no objects. Label files are read with plain Python and
turned into numpy arrays once, so a 1,500-frame video (about 40,000 boxes) parses in a fraction of a
second. Every malformed line is an :class:`~spermtrack.errors.InputError` that names the file and the
1-based line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import LABEL_FILE_RE
from spermtrack.errors import InputError, printable
from spermtrack.io.video import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, frame_number, iter_frames, list_images, probe_video,
                                 read_image)
from spermtrack.schema import CLASS_NAMES, DETECTION_COLUMNS, GT_COLUMNS, Recording, empty_detections

__all__ = ["VisemVideo", "find_video_file", "is_video_folder", "list_videos", "read_visem_video", "read_labels_ftid",
           "read_labels", "parse_label_text", "COORD_TOLERANCE"]

#: How far (in normalised units) a centre may lie outside [0, 1] and a size above 1 before a line is
#: rejected. The release holds values such as 1.0000005 from rounding; 1e-3 is 0.6 px at 640 px.
COORD_TOLERANCE = 1e-3

_LABEL_FILE = LABEL_FILE_RE
_ANY_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_CLASS_TOKENS = {str(k): k for k in CLASS_NAMES}
_FTID_FORMAT = "'track_id class cx cy w h'"
_LABELS_FORMAT = "'class cx cy w h'"


@dataclass(frozen=True, eq=False)
class VisemVideo:
    """One VISEM-Tracking video folder, read.

    Attributes
    ----------
    video_id : str
        The folder name, e.g. ``"11"``.
    folder : pathlib.Path
        The video folder.
    recording : Recording
        ``fps`` from the container (or the ``fps`` argument), ``um_per_px``, frame size and
        ``n_frames``.
    ground_truth : pandas.DataFrame
        With ``labels_ftid/`` (or synthetic labels in that layout): a ground-truth table,
        columns ``frame, x, y, w, h, score, class_id, track_id, gt_id`` (centre and size in px,
        ``score`` 1.0, ``track_id`` 1..N by first appearance, ``gt_id`` the file's id string).
        With only ``labels/``: the same boxes without identities, columns ``frame, x, y, w, h,
        score, class_id`` (see ``label_source``). With no labels: an empty ground-truth table.
    video_path : pathlib.Path or None
        The clip, when there is one.
    images_dir : pathlib.Path or None
        ``images/``, when it holds images.
    label_source : str
        ``"labels_ftid"``, ``"labels"`` (boxes without identities) or ``"none"``.
    allow_truncated : bool
        Frames of a clip shorter than its container announces (or truncated JPEGs) are used with a
        warning instead of being an error (see :func:`spermtrack.io.video.iter_frames`).
    """

    video_id: str
    folder: Path
    recording: Recording
    ground_truth: pd.DataFrame
    video_path: Path | None
    images_dir: Path | None
    label_source: str = "labels_ftid"
    allow_truncated: bool = False

    @property
    def has_identities(self) -> bool:
        """True when ``ground_truth`` holds ``track_id``/``gt_id`` (tracking can be scored)."""
        return "track_id" in self.ground_truth.columns

    def iter_frames(self, **kw) -> Iterator[tuple[int, np.ndarray]]:
        """Stream ``(frame_index, image)`` from the clip, or from ``images/`` when there is no clip.

        Keyword arguments (``start``, ``stop``, ``gray``) go to :func:`spermtrack.io.video.iter_frames`,
        with the folder's ``allow_truncated``.

        Raises
        ------
        InputError
            The folder holds neither a video file nor images.
        """
        source = self.video_path if self.video_path is not None else self.images_dir
        if source is None:
            raise InputError("holds no video file and no images/ folder: there are no frames to read", self.folder)
        return iter_frames(source, **{"allow_truncated": self.allow_truncated, **kw})


# --------------------------------------------------------------------------------------------- folders
def readable_name(name: str) -> str:
    """A file name as text that can be printed and stored: bytes that are not UTF-8 become U+FFFD.

    POSIX file names are bytes; Python keeps undecodable ones as lone surrogates, which no UTF-8
    writer (CSV, JSON, Arrow, a terminal) accepts. The file itself is still opened by its real name.
    """
    return printable(name)


def is_video_folder(path: Path) -> bool:
    return ((path / "labels_ftid").is_dir() or (path / "labels").is_dir()
            or any((path / f"{path.name}{suffix}").is_file() for suffix in VIDEO_SUFFIXES))


def video_id_key(path: Path) -> tuple:
    name = path.name
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def list_videos(root: str | os.PathLike) -> list[Path]:
    """List the video folders of a VISEM-Tracking data set, sorted numerically by id.

    A video folder holds ``labels_ftid/``, ``labels/`` or ``<id>.mp4`` (or another video suffix).

    Parameters
    ----------
    root : str or PathLike
        A data set root (e.g. ``VISEM_Tracking_Train_v4/Train``) whose sub-folders are videos, or
        one video folder.

    Returns
    -------
    list of pathlib.Path
        The video folders (``[root]`` when ``root`` is itself a video folder), ordered 11, 12, ...,
        100 rather than 100, 11, 12; non-numeric names follow, alphabetically.

    Raises
    ------
    InputError
        ``root`` does not exist, is not a folder, or holds no video folder.
    """
    root = Path(root)
    if not root.exists():
        raise InputError("does not exist", root)
    if not root.is_dir():
        raise InputError("is not a folder (expected a VISEM-Tracking data set or video folder)", root)
    if is_video_folder(root):
        return [root]
    found = sorted((p for p in root.iterdir() if p.is_dir() and is_video_folder(p)), key=video_id_key)
    if not found:
        raise InputError("holds no VISEM-Tracking video folder (a folder with labels_ftid/, labels/ or "
                         "<id>.mp4)", root)
    return found


def find_video_file(folder: Path) -> Path | None:
    """The clip of a video folder: ``<folder name>.<ext>``, else its only video file, else None.

    Raises
    ------
    InputError
        Several video files and none named after the folder.
    """
    for suffix in VIDEO_SUFFIXES:
        candidate = folder / f"{folder.name}{suffix}"
        if candidate.is_file():
            return candidate
    others = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if len(others) == 1:
        return others[0]
    if len(others) > 1:
        raise InputError(f"holds several video files ({', '.join(p.name for p in others)}) and none is named "
                         f"{folder.name}.mp4: rename the clip of this video to {folder.name}.mp4", folder)
    return None


def _image_files(folder: Path) -> list[Path]:
    images = folder / "images"
    if not images.is_dir() or not any(p.suffix.lower() in IMAGE_SUFFIXES for p in images.iterdir()):
        return []
    return list_images(images)


def read_visem_video(folder: str | os.PathLike, *, um_per_px: float,
                     fps: float | None = None, allow_truncated: bool = False) -> VisemVideo:
    """Read one VISEM-Tracking video folder: calibration, frame size and ground truth.

    Parameters
    ----------
    folder : str or PathLike
        The video folder (``.../11``).
    um_per_px : float
        Pixel size in micrometres (required: the layout does not state it; VISEM-Tracking's community
        value is :data:`spermtrack.constants.VISEM_UM_PER_PX`, 0.351).
    fps : float, optional
        Frame rate. By default it is read from the container of ``<id>/<id>.mp4`` (VISEM clips run
        at 43-50 fps: it is never assumed to be 50). Required when the folder has no video file.

    Returns
    -------
    VisemVideo
        ``recording.n_frames`` is the container's frame count, else the highest image number + 1
        (the number of images in a complete folder), else the highest labelled frame + 1; it is
        raised to cover every labelled frame. Frame size comes from the video, else the first image.
        Ground truth is read from ``labels_ftid/``, else ``labels/`` (no identities; see
        :attr:`VisemVideo.label_source`).

    Raises
    ------
    InputError
        The folder does not exist; there is no video file and ``fps`` was not given; the frame size
        cannot be found (no video, no images); a label file is malformed (file and line named).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("does not exist" if not folder.exists() else "is not a folder", folder)
    video_path = find_video_file(folder)
    images = _image_files(folder)
    images_dir = folder / "images" if images else None

    n_frames = 0
    if video_path is not None:
        from spermtrack.io.video import frame_rate

        info = probe_video(video_path)
        width, height, n_frames = info.width, info.height, info.n_frames
        fps = frame_rate(video_path, info, fps)  # the container's rate, asked for when it states none
    elif images:
        first = read_image(images[0], allow_truncated=allow_truncated)
        height, width = int(first.shape[0]), int(first.shape[1])
        if fps is None:
            raise InputError(f"there is no video file ({folder.name}.mp4) to read the frame rate from: give it "
                             "(--fps on the command line, fps= in Python; frames per second; VISEM-Tracking clips "
                             "run at 43-50 fps)", folder)
    else:
        videos = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and is_video_folder(p)]
        if videos:
            raise InputError(f"is a data set of {len(videos)} video folder(s) ({', '.join(videos[:5])}"
                             f"{', ...' if len(videos) > 5 else ''}), not one video: give one video folder, e.g. "
                             f"{folder / videos[0]}", folder)
        raise InputError(f"holds no video file ({folder.name}.mp4) and no images/: there are no frames, so the "
                         "frame size is unknown", folder)
    if images and not n_frames:
        n_frames = frame_number(images[-1]) + 1

    if (folder / "labels_ftid").is_dir():
        truth, source = read_labels_ftid(folder, width=width, height=height), "labels_ftid"
    elif (folder / "labels").is_dir():
        truth, source = read_labels(folder, width=width, height=height), "labels"
    else:
        truth, source = empty_ground_truth(), "none"
    if len(truth):
        n_frames = max(n_frames, int(truth["frame"].max()) + 1)

    recording = Recording(fps=fps, um_per_px=um_per_px, width=width, height=height, n_frames=n_frames,
                          source=str(folder))
    return VisemVideo(video_id=readable_name(folder.name), folder=folder, recording=recording, ground_truth=truth,
                      video_path=video_path, images_dir=images_dir, label_source=source,
                      allow_truncated=bool(allow_truncated))


# --------------------------------------------------------------------------------------------- parsing
@dataclass
class _Parsed:
    """Raw fields of label lines, gathered over many files before one conversion to numpy."""

    ids: list[str]
    classes: list[str]
    coords: list[str]          # 4 per box, flat: cx cy w h
    lines: list[int]           # 1-based line of each box in its file
    counts: list[int]          # boxes per file
    frames: list[int]          # frame of each file
    paths: list[Path]          # each file


def _new_parsed() -> _Parsed:
    return _Parsed([], [], [], [], [], [], [])


def _looks_numeric(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_label_text(text: str, *, with_id: bool, path: str | os.PathLike = "<text>",
                     into: _Parsed | None = None, frame: int = 0) -> _Parsed:
    """Split the lines of one label file into raw fields (no numeric conversion yet).

    Parameters
    ----------
    text : str
        The file's contents. Blank lines are skipped (line numbers still count them).
    with_id : bool
        ``True`` for ``labels_ftid`` lines ``track_id class cx cy w h``; ``False`` for ``labels``
        lines ``class cx cy w h``.
    path : str or PathLike
        Used in error messages only.
    into : _Parsed, optional
        Accumulator to append to (one per video); a new one when omitted.
    frame : int
        The frame this file describes.

    Returns
    -------
    _Parsed
        The accumulator.

    Raises
    ------
    InputError
        A line has the wrong number of fields, has id and class swapped, or repeats an id of the
        same file; the message names ``path`` and the 1-based line.
    """
    acc = into if into is not None else _new_parsed()
    n_fields = 6 if with_id else 5
    if text.startswith("\ufeff"):
        text = text[1:]
    n_before = len(acc.lines)
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != n_fields:
            raise InputError(_field_count_message(parts, with_id), path, number)
        if with_id:
            track, cls = parts[0], parts[1]
            if cls not in _CLASS_TOKENS and parts[0] in _CLASS_TOKENS and not _looks_numeric(cls):
                raise InputError(f"id and class are swapped: this line reads 'class track_id ...' but "
                                 f"labels_ftid lines are {_FTID_FORMAT} (the track id comes first): "
                                 f"{line.strip()!r}", path, number)
            if track in seen:
                raise InputError(f"track id {track!r} occurs twice in this frame (first on line {seen[track]})",
                                 path, number)
            seen[track] = number
            acc.ids.append(track)
            acc.classes.append(cls)
            acc.coords.extend(parts[2:])
        else:
            acc.classes.append(parts[0])
            acc.coords.extend(parts[1:])
        acc.lines.append(number)
    acc.counts.append(len(acc.lines) - n_before)
    acc.frames.append(frame)
    acc.paths.append(Path(path))
    return acc


def _field_count_message(parts: list[str], with_id: bool) -> str:
    got = f"got {len(parts)} field(s)"
    if with_id:
        msg = f"expected 6 fields {_FTID_FORMAT}, {got}"
        if len(parts) == 5 and all(_looks_numeric(p) for p in parts):
            msg += f"; this looks like a labels/ line {_LABELS_FORMAT} without the track id"
        return msg
    msg = f"expected 5 fields {_LABELS_FORMAT}, {got}"
    if len(parts) == 6 and not _looks_numeric(parts[0]):
        msg += f"; this looks like a labels_ftid/ line {_FTID_FORMAT}"
    return msg


def _to_arrays(acc: _Parsed, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Convert gathered fields to (frame, class_id, coords[n, 4], row->file index), checking every value."""
    n = len(acc.lines)
    file_of_row = np.repeat(np.arange(len(acc.paths)), acc.counts)
    frames = np.repeat(np.asarray(acc.frames, dtype=np.int64), acc.counts)

    def where(row: int) -> tuple[Path, int]:
        return acc.paths[int(file_of_row[row])], acc.lines[row]

    try:
        coords = np.array(acc.coords, dtype=np.float64).reshape(n, 4)
    except ValueError:
        for i, token in enumerate(acc.coords):
            if not _looks_numeric(token):
                path, line = where(i // 4)
                name = ("cx", "cy", "w", "h")[i % 4]
                raise InputError(f"{name} is not a number: {token!r}", path, line) from None
        raise InputError("a box value is not a number", acc.paths[0]) from None  # pragma: no cover

    classes = np.fromiter((_CLASS_TOKENS.get(c, -1) for c in acc.classes), dtype=np.int64, count=n)
    for row in np.flatnonzero(classes < 0):
        token = acc.classes[row]
        value = float(token) if _looks_numeric(token) else math.nan
        if value in CLASS_NAMES:             # e.g. "0.0"
            classes[row] = int(value)
            continue
        path, line = where(int(row))
        known = ", ".join(f"{k} {v}" for k, v in CLASS_NAMES.items())
        hint = ""
        if kind == "labels_ftid" and not _looks_numeric(token):
            hint = f" (labels_ftid lines are {_FTID_FORMAT})"
        raise InputError(f"unknown class {token!r}; expected {known}{hint}", path, line)

    lo, hi = -COORD_TOLERANCE, 1.0 + COORD_TOLERANCE
    centre, size = coords[:, :2], coords[:, 2:]
    problems = [
        (~np.isfinite(coords).all(axis=1), "has a NaN or infinite value"),
        (((centre < lo) | (centre > hi)).any(axis=1), "centre is outside [0, 1]: coordinates must be normalised "
                                                      "by the frame width and height"),
        ((size <= 0).any(axis=1), "width and height must be positive"),
        ((size > hi).any(axis=1), "width or height is above 1: sizes must be normalised by the frame size"),
    ]
    bad_any = np.zeros(n, dtype=bool)
    for mask, _ in problems:
        bad_any |= mask
    if bad_any.any():
        row = int(np.flatnonzero(bad_any)[0])
        what = next(msg for mask, msg in problems if mask[row])
        path, line = where(row)
        values = " ".join(acc.coords[4 * row: 4 * row + 4])
        raise InputError(f"{what}: cx cy w h = {values}", path, line)
    return frames, classes, coords, file_of_row


def _label_files(folder: Path, sub: str, suffix_re: re.Pattern | None = None) -> list[tuple[int, Path]]:
    """``(frame, path)`` of every ``*.txt`` label file in ``folder/sub`` (or ``folder`` itself), in frame order.

    The frame is the number after ``_frame_`` (else the last number in the name); ``.txt`` files whose
    name holds no number (``classes.txt``, notes) are skipped.
    """
    labels = folder / sub if (folder / sub).is_dir() else folder
    if not labels.is_dir():
        raise InputError(f"does not exist (expected a video folder with {sub}/)", folder)
    found: list[tuple[int, Path]] = []
    with os.scandir(labels) as it:
        for entry in it:
            if not entry.name.endswith(".txt") or not entry.is_file():
                continue
            stem = entry.name[:-4]
            m = _LABEL_FILE.search(stem) or _ANY_NUMBER.search(stem.removesuffix("_with_ftid"))
            if m is None:
                continue
            found.append((int(m.group(1)), Path(entry.path)))
    found.sort(key=lambda fp: (fp[0], fp[1].name))
    for (fa, pa), (fb, pb) in zip(found, found[1:]):
        if fa == fb:
            raise InputError(f"two label files describe frame {fa}: {pa.name} and {pb.name}", labels)
    return found


def _read_text(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"is not a UTF-8 text file ({exc.reason} at byte {exc.start})", path) from None
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror}", path) from None


def check_frame_size(width: int, height: int) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise InputError(f"{name} must be a positive integer (frame size in px), got {value!r}")
    return int(width), int(height)


def empty_ground_truth() -> pd.DataFrame:
    out = empty_detections()
    out["track_id"] = np.zeros(0, dtype=np.int64)
    out["gt_id"] = pd.Series([], dtype=str)
    return out


def _boxes_table(frames: np.ndarray, classes: np.ndarray, coords: np.ndarray, width: int,
                 height: int) -> dict[str, np.ndarray]:
    return {
        "frame": frames,
        "x": coords[:, 0] * width,
        "y": coords[:, 1] * height,
        "w": coords[:, 2] * width,
        "h": coords[:, 3] * height,
        "score": np.ones(len(frames)),
        "class_id": classes,
    }


def read_labels_ftid(folder: str | os.PathLike, *, width: int, height: int) -> pd.DataFrame:
    """Read ground truth with identities from ``labels_ftid/<id>_frame_<n>_with_ftid.txt``.

    Each line is ``track_id class cx cy w h`` -- the string track id comes FIRST (reading these
    lines in the ``labels`` order silently swaps id and class; a line that looks swapped is rejected).

    Parameters
    ----------
    folder : str or PathLike
        A video folder holding ``labels_ftid/``, or the ``labels_ftid`` folder itself.
    width, height : int
        Frame size in px; the normalised boxes are multiplied by them.

    Returns
    -------
    pandas.DataFrame
        Ground truth, one row per box, sorted by frame then line: ``frame`` (int, 0-based, from the
        file name), ``x``, ``y`` (box centre, px), ``w``, ``h`` (px), ``score`` (1.0), ``class_id``
        (0 sperm, 1 cluster, 2 pinhead), ``track_id`` (int 1..N in order of first appearance),
        ``gt_id`` (the id string from the file).

    Raises
    ------
    InputError
        Naming the file and 1-based line: wrong number of fields, id and class swapped, a
        non-numeric, NaN or infinite value, a centre outside [0, 1] (beyond
        :data:`COORD_TOLERANCE`), a non-positive or above-1 size, an unknown class, or one id twice
        in a frame. Also when the folder does not exist or two files describe the same frame.
    """
    width, height = check_frame_size(width, height)
    acc = _new_parsed()
    for frame, path in _label_files(Path(folder), "labels_ftid"):
        parse_label_text(_read_text(path), with_id=True, path=path, into=acc, frame=frame)
    if not acc.lines:
        return empty_ground_truth()
    frames, classes, coords, _ = _to_arrays(acc, "labels_ftid")
    codes, _uniques = pd.factorize(np.asarray(acc.ids, dtype=object), sort=False)
    table = _boxes_table(frames, classes, coords, width, height)
    table["track_id"] = codes.astype(np.int64) + 1
    table["gt_id"] = pd.array(acc.ids, dtype=str)
    return pd.DataFrame(table, columns=list(GT_COLUMNS))


def read_labels(folder: str | os.PathLike, *, width: int, height: int) -> pd.DataFrame:
    """Read boxes without identities from ``labels/<id>_frame_<n>.txt`` (YOLO ``class cx cy w h``).

    Use it when ``labels_ftid/`` is missing, e.g. to score a detector.

    Parameters
    ----------
    folder : str or PathLike
        A video folder holding ``labels/``, or the ``labels`` folder itself.
    width, height : int
        Frame size in px.

    Returns
    -------
    pandas.DataFrame
        A detections table sorted by frame then line: ``frame`` (int, 0-based), ``x``, ``y``
        (centre, px), ``w``, ``h`` (px), ``score`` (1.0), ``class_id``.

    Raises
    ------
    InputError
        As :func:`read_labels_ftid` (file and 1-based line), for 5-field lines.
    """
    width, height = check_frame_size(width, height)
    acc = _new_parsed()
    for frame, path in _label_files(Path(folder), "labels"):
        parse_label_text(_read_text(path), with_id=False, path=path, into=acc, frame=frame)
    if not acc.lines:
        return empty_detections()
    frames, classes, coords, _ = _to_arrays(acc, "labels")
    return pd.DataFrame(_boxes_table(frames, classes, coords, width, height), columns=list(DETECTION_COLUMNS))


def read_csv_file(path: Path, dtype: dict | None = None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"gt_id": str, **(dtype or {})})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(f"cannot be read as CSV: {exc}", path) from None
