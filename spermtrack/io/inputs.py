"""What an input path is: the one resolver of video inputs, archives and their frames.

Every command that reads video goes through here, so one set of rules and one set of messages decides
what a path is:

- a **video file** (a suffix of :data:`spermtrack.io.video.VIDEO_SUFFIXES`);
- a **VISEM-Tracking video folder** (``labels_ftid/``, ``labels/``, ``images/`` or ``<id>.mp4``; its clip
  is :func:`spermtrack.io.visem.find_video_file`, else its ``images/``);
- a **folder of frame images** (images and no video file);
- an **archive**: a folder that holds several of these (:func:`scan_inputs`); ``analyze`` runs each,
  the single-video commands (``detect``, ``track``) refuse it and name the videos in it;
- never an earlier spermtrack output.

:func:`resolve_video` says which of the first three a path is and where its frames are;
:func:`open_video` adds the calibration and the labels.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spermtrack.errors import InputError
from spermtrack.io.video import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, frame_number, iter_frames, list_images, probe_video,
                                 read_image)
from spermtrack.io.visem import (VisemVideo, empty_ground_truth, find_video_file, is_video_folder, read_visem_video,
                                 readable_name, video_id_key)
from spermtrack.schema import Recording

__all__ = ["IMAGE_FOLDER", "VIDEO_FILE", "VIDEO_FOLDER", "ArchiveScan", "VideoSource", "dataset_info", "is_video_input",
           "list_inputs", "open_video", "resolve_video", "scan_inputs"]


def _is_spermtrack_output(path: Path) -> bool:
    """An earlier result of spermtrack (its marker says results): never a video input.

    A data set written by ``spermtrack synth`` is marked too, but as a data set: that is an input.
    """
    from spermtrack.io.atomic import RESULTS, marker_kind

    return path.is_dir() and marker_kind(path) == RESULTS


def _is_image_folder(path: Path) -> bool:
    """A folder of frame images: it holds images, and no video file (a folder with videos is an archive)
    and no spermtrack output marker (an earlier result holds PNG plots, not frames)."""
    if not path.is_dir() or _is_spermtrack_output(path):
        return False
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    return (any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in entries)
            and not any(_is_video_file(p) for p in entries))


def _is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def is_video_input(path: str | os.PathLike) -> bool:
    """True for something :func:`open_video` reads: a video file, a VISEM-Tracking video folder, or a
    folder of frame images (that holds no video file)."""
    path = Path(path)
    return _is_video_file(path) or (path.is_dir() and (is_video_folder(path) or (path / "images").is_dir()
                                                        or _is_image_folder(path)))


@dataclass(frozen=True)
class ArchiveScan:
    """What a folder given to ``analyze`` holds (:func:`scan_inputs`).

    Attributes
    ----------
    inputs : list of pathlib.Path
        The video inputs to analyse, in order (numbers in numeric order); a broken link that names a
        video is listed too, so that it is reported as failed rather than dropped.
    skipped : list of (pathlib.Path, str)
        Everything else in the folder that is not hidden, with the reason it is not analysed
        (a stray image or text file, an earlier spermtrack output, a broken link).
    single : bool
        ``path`` itself is one video input (``inputs == [path]``), not an archive.
    """

    inputs: list[Path]
    skipped: list[tuple[Path, str]]
    single: bool

    def skipped_line(self, limit: int = 5) -> str | None:
        """One line naming what was skipped and why (the first ``limit`` entries), or None."""
        if not self.skipped:
            return None
        shown = "; ".join(f"{readable_name(p.name)} ({why})" for p, why in self.skipped[:limit])
        more = f"; and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
        one = len(self.skipped) == 1
        return (f"skipped {len(self.skipped)} entr{'y that is not a video' if one else 'ies that are not videos'}: "
                f"{shown}{more}")


#: Sub-folders of one VISEM-Tracking video folder.
_LAYOUT_DIRS = ("images", "labels", "labels_ftid")


def _holds_several(path: Path) -> bool:
    """A folder that holds two or more video files, or a video folder of its own: an archive, even when it
    also has a VISEM-Tracking sub-folder (``images/``, ``labels/``) that would make it look like one video."""
    try:
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        videos = sum(1 for p in entries if _is_video_file(p))
        folders = any(p.is_dir() and p.name not in _LAYOUT_DIRS and is_video_input(p) for p in entries)
    except OSError:
        return False
    return videos >= 2 or folders


def _why_not_a_video(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "a broken link"
    if _is_spermtrack_output(path):
        return "an earlier spermtrack output"
    if path.is_dir():
        return "a folder with no video, frames or labels"
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "a single image in a folder of videos"
    return "not a video file"


def scan_inputs(path: str | os.PathLike) -> ArchiveScan:
    """Decide what ``path`` is: one video input, or an archive of them (and what in it is not a video).

    - A video file (:data:`spermtrack.io.video.VIDEO_SUFFIXES`), a VISEM-Tracking video folder or a
      folder of frame images is one input.
    - A folder that holds video files or video folders is an archive, even when it also holds stray
      images or other files: those are listed in ``skipped`` with the reason, never analysed as frames.
    - An earlier output of spermtrack (a folder with the output marker) is never an input.
    - A broken link whose name ends in a video suffix is an input (it fails, loudly); other broken
      links are skipped with their reason.

    Raises
    ------
    InputError
        ``path`` does not exist, is an earlier spermtrack output, or holds no video input.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError("is a broken link: its target does not exist", path)
    if not path.exists():
        raise InputError("does not exist", path)
    if _is_spermtrack_output(path):
        raise InputError("is an earlier spermtrack output, not a video: give the video it was made from", path)
    if is_video_input(path) and not _holds_several(path):
        return ArchiveScan(inputs=[path], skipped=[], single=True)
    if not path.is_dir():
        raise InputError(f"is not a video file (video files end in {', '.join(VIDEO_SUFFIXES)}) nor a folder", path)
    found, skipped = [], []
    for entry in path.iterdir():
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir() and entry.name in _LAYOUT_DIRS:
                skipped.append((entry, "a VISEM-Tracking sub-folder beside several videos"))
                continue
            broken_video = entry.is_symlink() and not entry.exists() and entry.suffix.lower() in VIDEO_SUFFIXES
            if broken_video or (is_video_input(entry) and not _is_spermtrack_output(entry)):
                found.append(entry)
            else:
                skipped.append((entry, _why_not_a_video(entry)))
        except OSError as exc:  # an unreadable entry is listed, the others still run
            skipped.append((entry, f"cannot be read ({exc.strerror or exc})"))
    if not found:
        raise InputError("holds no video to analyse (a video file, a VISEM-Tracking video folder or a folder of "
                         f"images; video files end in {', '.join(VIDEO_SUFFIXES)})", path)
    found.sort(key=lambda p: video_id_key(p.with_suffix("") if not p.is_dir() else p))
    skipped.sort(key=lambda item: item[0].name)
    return ArchiveScan(inputs=found, skipped=skipped, single=False)


def list_inputs(path: str | os.PathLike) -> list[Path]:
    """The videos to analyse in ``path``: ``[path]`` when it is one video input, else the video inputs in it.

    See :func:`scan_inputs`, which also says what in an archive is not analysed and why.

    Raises
    ------
    InputError
        ``path`` does not exist, or holds no video input.
    """
    return scan_inputs(path).inputs


#: What :func:`resolve_video` calls each kind of single video input.
VIDEO_FILE, VIDEO_FOLDER, IMAGE_FOLDER = "video file", "video folder", "image folder"


@dataclass(frozen=True)
class VideoSource:
    """One video input, resolved: what it is and where its frames are (no calibration, no labels read).

    Attributes
    ----------
    path : pathlib.Path
        The input as given.
    kind : str
        ``"video file"``, ``"video folder"`` (VISEM-Tracking layout) or ``"image folder"``.
    frames : pathlib.Path or None
        The clip or image folder that holds the frames; ``None`` for a video folder with labels only.
    video_id : str
        The file's stem or the folder's name, printable.
    """

    path: Path
    kind: str
    frames: Path | None
    video_id: str

    def iter_frames(self, *, allow_truncated: bool = False, **kw) -> Iterator[tuple[int, np.ndarray]]:
        """Stream ``(frame_index, image)`` (:func:`spermtrack.io.video.iter_frames`).

        Raises
        ------
        InputError
            A video folder that holds no clip and no images.
        """
        if self.frames is None:
            raise InputError("holds no video file and no images/ folder: there are no frames to read", self.path)
        return iter_frames(self.frames, allow_truncated=allow_truncated, **kw)

    def frame_count(self) -> int | None:
        """Frames the container announces, or the number of images; ``None`` when the container says nothing."""
        if self.frames is None:
            return 0
        if self.frames.is_dir():
            return len(list_images(self.frames))
        return probe_video(self.frames).n_frames or None


def _not_one_video(path: Path, scan: ArchiveScan) -> InputError:
    names = [readable_name(p.name) for p in scan.inputs]
    shown = f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''}"
    if all(p.is_dir() for p in scan.inputs):
        what = f"is a data set of {len(names)} video folder(s) ({shown}), not one video: give one video folder"
    else:
        what = f"is a folder of {len(names)} video(s) ({shown}), not one video: give one of them"
    return InputError(f"{what}, e.g. {scan.inputs[0]} (analyze reads them all)", path)


def resolve_video(path: str | os.PathLike) -> VideoSource:
    """Say what one video input is and where its frames are.

    A folder that holds exactly one video file (a clip not named after the folder, say) and no other video
    input is that clip: ``analyze`` takes the same folder as an archive of one, and writes it as such.

    Raises
    ------
    InputError
        ``path`` does not exist, is an earlier spermtrack output, holds no video, or holds several
        (an archive: the message names them).
    """
    path = Path(path)
    scan = scan_inputs(path)
    if not scan.single and len(scan.inputs) == 1 and _is_video_file(scan.inputs[0]):
        return resolve_video(scan.inputs[0])
    if not scan.single:
        raise _not_one_video(path, scan)
    name = readable_name(path.stem if path.is_file() else path.name)
    if _is_video_file(path):
        return VideoSource(path, VIDEO_FILE, path, name)
    if is_video_folder(path) or (path / "images").is_dir():
        clip = find_video_file(path)
        images = path / "images"
        has_images = images.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in images.iterdir())
        return VideoSource(path, VIDEO_FOLDER, clip if clip is not None else (images if has_images else None), name)
    return VideoSource(path, IMAGE_FOLDER, path, name)


def open_video(path: str | os.PathLike, *, um_per_px: float, fps: float | None = None,
               allow_truncated: bool = False) -> VisemVideo:
    """Open one video input (:func:`resolve_video`) as a :class:`~spermtrack.io.visem.VisemVideo`.

    A video file gets the id of its stem and no labels; an image folder (frames named with a frame
    number) needs ``fps``; a VISEM-Tracking video folder is read by
    :func:`~spermtrack.io.visem.read_visem_video` (labels included).

    Parameters
    ----------
    path : str or PathLike
        A video file, a VISEM-Tracking video folder or a folder of frame images.
    um_per_px : float
        Pixel size of the recording, um (required: it is never guessed).
    fps : float, optional
        Frame rate; read from the container when there is one (an image folder needs it).
    allow_truncated : bool
        Use the frames of a video that ends before its container says (with a warning).

    Raises
    ------
    InputError
        The input is none of these, cannot be decoded, or has no frame rate to read and none given.
    """
    source = resolve_video(path)
    path = source.path  # the input itself, or the one video a folder holds
    if source.kind == VIDEO_FILE:
        from spermtrack.io.video import frame_rate

        info = probe_video(path)
        rate = frame_rate(path, info, fps)  # the container's rate, asked for when it states none
        recording = Recording(fps=rate, um_per_px=um_per_px, width=info.width, height=info.height,
                              n_frames=max(info.n_frames, 1), source=str(path))
        return VisemVideo(video_id=source.video_id, folder=path.parent, recording=recording,
                          ground_truth=empty_ground_truth(), video_path=path, images_dir=None, label_source="none",
                          allow_truncated=bool(allow_truncated))
    if source.kind == IMAGE_FOLDER:
        images = list_images(path)
        if fps is None:
            raise InputError("is a folder of images, which stores no frame rate: give it with --fps (fps= in Python)",
                             path)
        first = read_image(images[0], allow_truncated=allow_truncated)
        recording = Recording(fps=fps, um_per_px=um_per_px, width=int(first.shape[1]), height=int(first.shape[0]),
                              n_frames=frame_number(images[-1]) + 1, source=str(path))
        return VisemVideo(video_id=source.video_id, folder=path, recording=recording,
                          ground_truth=empty_ground_truth(), video_path=None, images_dir=path, label_source="none",
                          allow_truncated=bool(allow_truncated))
    return read_visem_video(path, um_per_px=um_per_px, fps=fps, allow_truncated=allow_truncated)


def dataset_info(root: str | os.PathLike, *, um_per_px: float, fps: float | None = None):
    """Summarise every video of a VISEM-Tracking data set.

    Parameters
    ----------
    root : str or PathLike
        A data set root or a single video folder.
    um_per_px : float
        Pixel size in um.
    fps : float, optional
        Frame rate for folders without a video file.

    Returns
    -------
    pandas.DataFrame
        One row per video: ``video, frames, fps, width, height, sperm, cluster,
        pinhead, tracks, labels`` (boxes per class; distinct track ids, or None
        when the folder has no ``labels_ftid``; which label folder was read).
    """
    import pandas as pd

    from spermtrack.io.visem import list_videos
    from spermtrack.schema import CLASS_NAMES

    rows = []
    for folder in list_videos(root):
        video = read_visem_video(folder, um_per_px=um_per_px, fps=fps)
        gt = video.ground_truth
        rec = video.recording
        counts = gt["class_id"].value_counts()
        row = {"video": video.video_id, "frames": rec.n_frames, "fps": round(rec.fps, 3),
               "width": rec.width, "height": rec.height, "seconds": round(rec.duration_s, 2)}
        for cid, name in CLASS_NAMES.items():
            row[name] = int(counts.get(cid, 0))
        row["tracks"] = int(gt["track_id"].nunique()) if video.has_identities else None
        row["labels"] = video.label_source
        rows.append(row)
    return pd.DataFrame(rows)
