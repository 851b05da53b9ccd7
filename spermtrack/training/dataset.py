"""Turn a VISEM-Tracking data set (or its synthetic twin) into an ultralytics YOLO data set.

The split is by video, never by frame: consecutive frames of one video are near copies, so a
frame-level split would leak the validation set into training. The validation videos are, in
order of preference, the ones the caller names; the paper's validation videos 52, 54, 60 and 82
(those present, when at least one is present and at least one other video is left for
training); else a seeded random choice of ``round(val_fraction * n)`` videos (at least one).

Written layout (ultralytics finds a label by replacing ``/images/`` with ``/labels/``)::

    OUT/data.yaml                       path, train, val, names {0: sperm, 1: cluster, 2: pinhead}
    OUT/split.json                      videos per split, frames and boxes per class, settings
    OUT/images/{train,val}/<id>_frame_<n>.jpg   hard links to the source frames (copies across file systems)
    OUT/labels/{train,val}/<id>_frame_<n>.txt   "class cx cy w h", normalised

Label files are the data set's own ``labels/`` files, byte for byte, when every value lies in
[0, 1]; a value slightly outside (VISEM holds values such as 1.0000005 from rounding) is clipped
to [0, 1], because ultralytics drops a whole image with an out-of-range value. Without
``labels/``, lines of ``labels_ftid/`` are written without their leading track id. Frames without a
label file (or with an empty one) are kept as background images with an empty label file. When a
video folder has no ``images/``, the selected frames are decoded from its video file and written
as JPEG (quality 95).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spermtrack._validate import Config
from spermtrack.constants import CLASS_NAMES, VISEM_VAL_VIDEOS
from spermtrack.errors import InputError
from spermtrack.io.video import IMAGE_SUFFIXES, frame_number, iter_frames, list_images, probe_video
from spermtrack.io.visem import find_video_file, list_videos, read_labels, read_labels_ftid

__all__ = ["PAPER_VAL_VIDEOS", "ConvertConfig", "VideoSelection", "choose_val_videos", "convert_visem_to_yolo",
           "write_yolo_dataset", "yolo_label_text"]

#: Validation videos of the VISEM-Tracking paper (official repository, sample_YOLO_models yaml).
PAPER_VAL_VIDEOS: tuple[str, ...] = VISEM_VAL_VIDEOS
_MARKER = "split.json"

@dataclass(frozen=True)
class ConvertConfig(Config):
    """Settings of :func:`convert_visem_to_yolo`; validated on construction.

    Parameters
    ----------
    val_videos : tuple of str or None
        Video ids (folder names) for validation; ``None`` chooses as the module docstring says.
    seed : int
        Seed of the random split (used only when no validation videos are named or found).
    val_fraction : float
        Fraction of videos held out by the random split, in (0, 1).
    frame_step : int
        Keep frames whose index is a multiple of ``frame_step`` (neighbouring frames are near
        copies; VISEM-Tracking has about 1,450 per video).
    max_frames_per_video : int or None
        After ``frame_step``, keep at most this many frames per video, evenly spaced.
    include_background : bool
        Keep frames without labels as background images (empty label file).
    """

    val_videos: tuple[str, ...] | None = None
    seed: int = 0
    val_fraction: float = 0.2
    frame_step: int = 1
    max_frames_per_video: int | None = None
    include_background: bool = True

    def __post_init__(self) -> None:
        if self.val_videos is not None:
            if isinstance(self.val_videos, (str, bytes)) or not isinstance(self.val_videos, Sequence):
                raise self._fail("val_videos", "a list of video ids")
            if not self._set("val_videos", tuple(str(v) for v in self.val_videos)):
                raise self._fail("val_videos", "at least one video id (or None)")
        self._integer("seed", lo=0)
        self._number("val_fraction", lo=0, lo_open=True, hi=0.99)
        self._integer("frame_step", lo=1)
        self._optional_integer("max_frames_per_video", lo=1)
        self._boolean("include_background")


def choose_val_videos(video_ids: Sequence[str], *, val_videos: Sequence[str] | None = None, seed: int = 0,
                      val_fraction: float = 0.2) -> list[str]:
    """Choose the validation videos of a video-level split.

    Parameters
    ----------
    video_ids : sequence of str
        All video ids of the data set (at least two).
    val_videos : sequence of str, optional
        Ids to use; each must be in ``video_ids`` and at least one video must remain for training.
    seed : int
        Seed of the random choice.
    val_fraction : float
        Fraction of videos chosen at random (rounded, at least 1, at most ``n - 1``).

    Returns
    -------
    list of str
        Validation ids, in the order of ``video_ids``.

    Raises
    ------
    InputError
        Fewer than two videos, an unknown id in ``val_videos``, or no video left for training.
    """
    ids = [str(v) for v in video_ids]
    if len(ids) < 2:
        raise InputError(f"a video-level split needs at least two videos, the data set has {len(ids)} "
                         f"({', '.join(ids) or 'none'}): add videos (e.g. 'spermtrack synth OUT --videos 4')")
    if val_videos is not None:
        wanted = [str(v) for v in val_videos]
        unknown = [v for v in wanted if v not in ids]
        if unknown:
            raise InputError(f"validation video(s) {', '.join(unknown)} not in the data set (videos: "
                             f"{', '.join(ids)})")
        chosen = set(wanted)
    else:
        paper = [v for v in PAPER_VAL_VIDEOS if v in ids]
        if paper and len(paper) < len(ids):
            chosen = set(paper)
        else:
            n_val = min(max(1, int(round(val_fraction * len(ids)))), len(ids) - 1)
            rng = np.random.default_rng(seed)
            chosen = {ids[i] for i in rng.choice(len(ids), size=n_val, replace=False)}
    if len(chosen) >= len(ids):
        raise InputError("every video is a validation video: leave at least one for training")
    return [v for v in ids if v in chosen]


def yolo_label_text(text: str, *, with_id: bool) -> str:
    """Rewrite the text of one VISEM label file as a YOLO label file.

    Parameters
    ----------
    text : str
        Contents of a ``labels/`` (``class cx cy w h``) or ``labels_ftid/`` (``track_id class cx cy w
        h``) file, already validated.
    with_id : bool
        The lines start with a track id (``labels_ftid``), which is dropped.

    Returns
    -------
    str
        ``class cx cy w h`` lines; original number tokens are kept unless the value is outside
        [0, 1], which is clipped. Blank lines are dropped. Unchanged text (a ``labels/`` file with
        all values in range and a final newline) is returned identical.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    out_lines = []
    changed = with_id
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            changed = True
            continue
        if with_id:
            parts = parts[1:]
        coords = []
        for token in parts[1:]:
            value = float(token)
            if 0.0 <= value <= 1.0:
                coords.append(token)
            else:
                coords.append(repr(min(max(value, 0.0), 1.0)))
                changed = True
        new_line = " ".join([parts[0], *coords])
        changed |= new_line != line
        out_lines.append(new_line)
    if not changed and text.endswith("\n"):
        return text
    return "".join(f"{line}\n" for line in out_lines)


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()):
        if not (out / _MARKER).is_file():
            raise InputError(f"is not empty and holds no {_MARKER} (it was not written by convert_visem_to_yolo): "
                             "choose a new or empty folder", out)
        for sub in ("images", "labels"):
            if (out / sub).is_dir():
                shutil.rmtree(out / sub)
        for name in ("data.yaml", _MARKER):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _label_texts(folder: Path) -> tuple[dict[int, str], str]:
    """Validated YOLO label text per labelled frame of one video folder, and the source kind."""
    if (folder / "labels").is_dir():
        sub, with_id = "labels", False
        read_labels(folder, width=1, height=1)  # validates every file (errors name file and line)
    elif (folder / "labels_ftid").is_dir():
        sub, with_id = "labels_ftid", True
        read_labels_ftid(folder, width=1, height=1)
    else:
        return {}, "none"
    texts = {}
    for path in (folder / sub).glob("*.txt"):
        texts[frame_number(path)] = yolo_label_text(path.read_text(encoding="utf-8-sig"), with_id=with_id)
    return texts, sub


def _frame_sources(folder: Path) -> tuple[dict[int, Path], Path | None]:
    """Image file per frame (from ``images/``), and the video file to decode when there is none."""
    images = folder / "images"
    if images.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in images.iterdir()):
        return {frame_number(p): p for p in list_images(images)}, None
    return {}, find_video_file(folder)


def _write_video_frames(video: Path, wanted: list[int], folder_id: str, dest: Path) -> dict[int, Path]:
    import cv2

    wanted_set = set(wanted)
    written = {}
    if not wanted:
        return written
    for index, frame in iter_frames(video, stop=max(wanted) + 1):
        if index in wanted_set:
            path = dest / f"{folder_id}_frame_{index}.jpg"
            if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                raise InputError("cannot write a frame image", path)
            written[index] = path
    return written


def _yaml_names() -> str:
    return "".join(f"  {k}: {name}\n" for k, name in CLASS_NAMES.items())


@dataclass(frozen=True)
class VideoSelection(Config):
    """Which frames of one video folder go into which split of a YOLO data set.

    Parameters
    ----------
    folder : str or PathLike
        A VISEM-Tracking video folder (``images/`` or only its video file; ``labels/`` or
        ``labels_ftid/``).
    split : {'train', 'val'}
        The split the frames go to.
    start, stop : int
        Frame range ``start <= n < stop`` (``stop=None``: to the end). Keep a video's validation
        frames out of training by giving the training selection a ``stop``.
    step : int
        Keep every ``step``-th frame of the range (counted from ``start``).
    prefix : str or None
        Written file names start with ``<prefix>_frame_<n>``; ``None`` uses the folder name. Give
        distinct prefixes when two data sets hold videos with the same id.
    include_background : bool
        Keep frames without labels as background images.
    """

    folder: Path
    split: str = "train"
    start: int = 0
    stop: int | None = None
    step: int = 1
    prefix: str | None = None
    include_background: bool = True

    def __post_init__(self) -> None:
        self._set("folder", Path(self.folder))
        self._choice("split", ("train", "val"))
        self._integer("start", lo=0)
        if self._optional_integer("stop", lo=0) is not None and self.stop <= self.start:
            raise self._fail("stop", f"larger than start ({self.start})")
        self._integer("step", lo=1)
        self._boolean("include_background")
        if self.prefix is not None and (not isinstance(self.prefix, str) or not self.prefix
                                        or any(c in self.prefix for c in "/\\")):
            raise self._fail("prefix", "a plain file-name prefix")

    @property
    def name(self) -> str:
        """The file-name prefix of this selection's frames."""
        return self.prefix or self.folder.name

    def frames(self, available: list[int]) -> list[int]:
        """The selected frame indices among ``available`` (sorted)."""
        stop = self.stop if self.stop is not None else (max(available) + 1 if available else 0)
        return [f for f in available if self.start <= f < stop and (f - self.start) % self.step == 0]

    def to_dict(self) -> dict:
        """Plain-dict form, for JSON provenance."""
        return {**super().to_dict(), "folder": str(self.folder)}


def _plan(selection: VideoSelection, max_frames: int | None = None) -> tuple:
    texts, kind = _label_texts(selection.folder)
    images, video = _frame_sources(selection.folder)
    if not images and video is None:
        raise InputError("holds no images/ and no video file: there are no frames to train on", selection.folder)
    if images:
        available = sorted(images)
    elif video is not None and kind != "none":
        n = probe_video(video).n_frames
        available = list(range(n)) if n else sorted(texts)
    else:
        available = sorted(texts)
    if not selection.include_background:
        available = [f for f in available if texts.get(f, "").strip()]
    frames = selection.frames(available)
    if max_frames is not None and len(frames) > max_frames:
        pick = np.unique(np.round(np.linspace(0, len(frames) - 1, max_frames)).astype(int))
        frames = [frames[i] for i in pick]
    return selection, texts, kind, images, video, frames


def write_yolo_dataset(selections: Sequence[VideoSelection], out: str | os.PathLike, *,
                       settings: dict | None = None) -> Path:
    """Write an ultralytics data set from explicit per-video frame selections.

    Every label file and frame source is read and checked before anything is written.

    Parameters
    ----------
    selections : sequence of VideoSelection
        Frames and split per video folder; several selections may name the same folder (e.g.
        frames 0-949 for training and 950-1028 for validation), never the same frame twice.
    out : str or PathLike
        Output folder: new, empty, or written before by this module (then replaced).
    settings : dict, optional
        Extra provenance stored in ``split.json``.

    Returns
    -------
    pathlib.Path
        ``OUT/data.yaml``.

    Raises
    ------
    InputError
        No selection; a folder without frames; a malformed label line (file and line named); two
        selections writing the same file; a split without any labelled box; ``out`` is a non-empty
        folder this module did not write.
    """
    selections = list(selections)
    if not selections:
        raise InputError("no video selected for the data set")
    for sel in selections:
        if not isinstance(sel, VideoSelection):
            raise InputError(f"selections must be VideoSelection objects, got {type(sel).__name__}")
    return _write_plans([_plan(sel) for sel in selections], Path(out), settings or {})


def _write_plans(plans: list[tuple], out: Path, settings: dict) -> Path:
    seen: dict[tuple[str, int], str] = {}
    counts = {split: np.zeros(len(CLASS_NAMES), dtype=np.int64) for split in ("train", "val")}
    for sel, texts, _, _, _, frames in plans:
        for f in frames:
            key = (sel.name, f)
            if key in seen:
                raise InputError(f"frame {f} of {sel.name} is selected twice ({seen[key]} and {sel.split}): "
                                 "selections of one video must not overlap", sel.folder)
            seen[key] = sel.split
            for line in texts.get(f, "").splitlines():
                counts[sel.split][int(line.split()[0])] += 1
    for split in ("train", "val"):
        if counts[split].sum() == 0:
            videos = sorted({sel.name for sel, *_ in plans if sel.split == split})
            raise InputError(f"no labelled box in the selected frames of the {split} video(s) "
                             f"{', '.join(videos) or '(none)'}: a detector cannot be trained or validated without "
                             "labels (check labels/ or labels_ftid/ and the frame selection)")

    _prepare_out(out)
    summary = {**settings, "selections": [sel.to_dict() for sel, *_ in plans], "splits": {}}
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True)
        (out / "labels" / split).mkdir(parents=True)
        summary["splits"][split] = {"videos": [], "frames": 0, "background_frames": 0,
                                    "boxes": {name: int(counts[split][k]) for k, name in CLASS_NAMES.items()}}
    for sel, texts, kind, images, video, frames in plans:
        img_dir = out / "images" / sel.split
        lab_dir = out / "labels" / sel.split
        if images:
            sources = {f: images[f] for f in frames}
            for f, src in sources.items():
                _link_or_copy(src, img_dir / f"{sel.name}_frame_{f}{src.suffix.lower()}")
        else:
            sources = _write_video_frames(video, frames, sel.name, img_dir)
            missing = sorted(set(frames) - set(sources))
            if missing:
                raise InputError(f"the video ends before frame {missing[0]} ({len(sources)} of {len(frames)} "
                                 "selected frames could be decoded)", video)
        for f in sources:
            (lab_dir / f"{sel.name}_frame_{f}.txt").write_text(texts.get(f, ""), encoding="utf-8")
        info = summary["splits"][sel.split]
        if sel.name not in info["videos"]:
            info["videos"].append(sel.name)
        info["frames"] += len(sources)
        info["background_frames"] += sum(1 for f in sources if not texts.get(f, "").strip())
        info.setdefault("label_source", {})[sel.name] = kind
    data_yaml = out / "data.yaml"
    data_yaml.write_text("# written by spermtrack.training.dataset (split by video or frame range)\n"
                         f"path: {json.dumps(str(out.resolve()))}\n"
                         "train: images/train\n"
                         "val: images/val\n"
                         f"nc: {len(CLASS_NAMES)}\n"
                         f"names:\n{_yaml_names()}", encoding="utf-8")
    (out / _MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return data_yaml


def convert_visem_to_yolo(root: str | os.PathLike, out: str | os.PathLike, *,
                          val_videos: Sequence[str | int] | None = None, seed: int = 0, val_fraction: float = 0.2,
                          frame_step: int = 1, max_frames_per_video: int | None = None,
                          include_background: bool = True) -> Path:
    """Write an ultralytics data set from a VISEM-Tracking root, split by video.

    Parameters
    ----------
    root : str or PathLike
        A VISEM-Tracking data set root (sub-folders ``11/``, ``12/``, ...) or its synthetic twin.
    out : str or PathLike
        Output folder: new, empty, or written before by this function (then replaced).
    val_videos, seed, val_fraction, frame_step, max_frames_per_video, include_background
        See :class:`ConvertConfig` (keyword-only).

    Returns
    -------
    pathlib.Path
        ``OUT/data.yaml``, to pass to ultralytics (``YOLO(...).train(data=...)``).

    Raises
    ------
    InputError
        ``root`` holds no video folder or fewer than two; a label line is malformed (file and
        line named); a named validation video is missing; no frame of the training (or
        validation) videos holds a labelled box; ``out`` is a non-empty folder this function did
        not write.
    """
    cfg = ConvertConfig(val_videos=None if val_videos is None else tuple(str(v) for v in val_videos), seed=seed,
                        val_fraction=val_fraction, frame_step=frame_step,
                        max_frames_per_video=max_frames_per_video, include_background=include_background)
    root = Path(root)
    folders = list_videos(root)
    ids = [f.name for f in folders]
    val = set(choose_val_videos(ids, val_videos=cfg.val_videos, seed=cfg.seed, val_fraction=cfg.val_fraction))
    plans = [_plan(VideoSelection(folder, split="val" if folder.name in val else "train", step=cfg.frame_step,
                                  include_background=cfg.include_background), cfg.max_frames_per_video)
             for folder in folders]
    return _write_plans(plans, Path(out), {"source": str(root.resolve()), "config": cfg.to_dict()})
