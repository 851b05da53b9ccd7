"""The frame timing a video container states, read from its header with plain :mod:`struct`.

OpenCV (through FFmpeg) reports a frame rate for every video, including the ones whose container
states none: FFmpeg falls back to 25 fps for an AVI whose stream rate is 0 and reports a figure
derived from the track duration for an MP4 whose sample durations are 0. It also reports a
variable-frame-rate MP4 at its average rate without saying that the rate varies. Speeds (um/s) and
so the WHO grades scale with the frame rate, so spermtrack reads the timing itself for the two
families of containers that microscope cameras write:

* ISO base media files (``.mp4``, ``.mov``, ``.m4v``, ``.3gp``): the first video track's media
  time scale (``moov/trak/mdia/mdhd``) and its sample durations (``stbl/stts``);
* AVI (RIFF ``AVI``): the first video stream's ``strh`` ``dwRate / dwScale``, else the main
  header's ``avih`` ``dwMicroSecPerFrame``.

A file of another kind (Matroska, WebM, MPEG streams, ...) or one whose header cannot be followed
gives ``None``: the caller keeps OpenCV's figure. Nothing here decodes a frame or imports OpenCV,
and only the header boxes are read (the media data of a large file is skipped).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

#: Two frame intervals count as the same rate when they differ by at most one tick of the container's
#: clock (the rounding of a constant rate to whole ticks) or by at most this fraction.
RATE_TOLERANCE = 0.01
#: A header larger than this is not read (a sample table of a few hours of video is a few MB).
_MAX_HEADER = 256 * 1024 * 1024
_BMFF_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"sidx", b"moof",
             b"mfra", b"meta", b"pdin", b"jP  "}


@dataclass(frozen=True)
class ContainerTiming:
    """The frame timing a container states.

    Attributes
    ----------
    fps : float
        Average frame rate over the intervals between frames; 0 when the container states no rate
        (a zero rate, time scale or frame interval).
    fps_min, fps_max : float
        The slowest and fastest rate between two consecutive frames (both equal ``fps`` for a
        constant rate; 0 when ``fps`` is 0).
    variable : bool
        The intervals differ by more than rounding (:data:`RATE_TOLERANCE`): a variable frame rate.
    """

    fps: float
    fps_min: float
    fps_max: float
    variable: bool = False


_UNKNOWN = ContainerTiming(fps=0.0, fps_min=0.0, fps_max=0.0)


def read_timing(path: str | os.PathLike) -> ContainerTiming | None:
    """Read the frame timing stated in the header of an ISO base media (MP4, MOV) or AVI file.

    Parameters
    ----------
    path : str or PathLike
        A video file.

    Returns
    -------
    ContainerTiming or None
        ``None`` when the file is of another kind, cannot be read, or its header cannot be followed
        (a fragmented MP4 whose samples are described in its fragments, a missing ``moov``): the
        caller then uses the decoder's figure. A :class:`ContainerTiming` with ``fps == 0`` when
        the header states no usable rate.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12:
                return None
            if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
                return _avi_timing(fh)
            if head[4:8] in _BMFF_TOP:
                return _bmff_timing(fh, Path(path).stat().st_size)
    except (OSError, struct.error, ValueError):
        return None
    return None


# --------------------------------------------------------------------------------------------- ISO BMFF
def _boxes(data: bytes | memoryview, start: int, end: int):
    """Yield ``(type, payload_start, box_end)`` for the boxes in ``data[start:end]``."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, i)
        header = 8
        if size == 1:
            if i + 16 > end:
                return
            size = struct.unpack_from(">Q", data, i + 8)[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header or i + size > end:
            return
        yield kind, i + header, i + size
        i += size


def _child(data, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _read_moov(fh, size: int) -> bytes | None:
    """The payload of the top-level ``moov`` box, found by skipping from box header to box header."""
    pos = 0
    while pos + 8 <= size:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return None
        box, kind = struct.unpack_from(">I4s", header)
        skip = 8
        if box == 1:
            if len(header) < 16:
                return None
            box, skip = struct.unpack_from(">Q", header, 8)[0], 16
        elif box == 0:
            box = size - pos
        if box < skip:
            return None
        if kind == b"moov":
            if box > _MAX_HEADER:
                return None
            fh.seek(pos + skip)
            data = fh.read(box - skip)
            return data if len(data) == box - skip else None
        pos += box
    return None


def _bmff_timing(fh, size: int) -> ContainerTiming | None:
    moov = _read_moov(fh, size)
    if moov is None:
        return None
    for kind, ts, te in _boxes(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        mdia = _child(moov, ts, te, b"mdia")
        if mdia is None:
            continue
        hdlr = _child(moov, *mdia, b"hdlr")
        if hdlr is None or moov[hdlr[0] + 8:hdlr[0] + 12] != b"vide":
            continue
        mdhd = _child(moov, *mdia, b"mdhd")
        minf = _child(moov, *mdia, b"minf")
        stbl = None if minf is None else _child(moov, *minf, b"stbl")
        stts = None if stbl is None else _child(moov, *stbl, b"stts")
        if mdhd is None or stts is None:
            return None
        version = moov[mdhd[0]]
        timescale = struct.unpack_from(">I", moov, mdhd[0] + (20 if version == 1 else 12))[0]
        n_entries = struct.unpack_from(">I", moov, stts[0] + 4)[0]
        if stts[0] + 8 + 8 * n_entries > stts[1]:
            return None
        entries = [struct.unpack_from(">II", moov, stts[0] + 8 + 8 * k) for k in range(n_entries)]
        return _timing_from_deltas(timescale, entries)
    return None


def _timing_from_deltas(timescale: int, entries: list[tuple[int, int]]) -> ContainerTiming | None:
    """Timing from a media time scale and ``(sample_count, sample_delta)`` runs (``stts``).

    A sample's delta is the time to the next sample; the last sample's delta is only its display
    duration (often 0 or rounded), so it is left out when there are other samples.
    """
    entries = [(count, delta) for count, delta in entries if count > 0]
    n = sum(count for count, _ in entries)
    if n == 0:
        return None  # a fragmented file: the samples are in its fragments
    if n > 1:
        count, delta = entries[-1]
        entries = entries[:-1] + ([(count - 1, delta)] if count > 1 else [])
    if timescale == 0 or any(delta == 0 for _, delta in entries):
        return _UNKNOWN
    intervals = sum(count for count, _ in entries)
    total = sum(count * delta for count, delta in entries)
    shortest = min(delta for _, delta in entries)
    longest = max(delta for _, delta in entries)
    variable = longest - shortest > 1 and longest > shortest * (1 + RATE_TOLERANCE)
    return ContainerTiming(fps=intervals * timescale / total, fps_min=timescale / longest,
                           fps_max=timescale / shortest, variable=variable)


# --------------------------------------------------------------------------------------------- AVI
def _avi_timing(fh) -> ContainerTiming | None:
    """The rate of the first video stream of an AVI file (``hdrl`` list at the start of the file)."""
    header = fh.read(12)
    if len(header) < 12 or header[:4] != b"LIST" or header[8:12] != b"hdrl":
        return None
    size = struct.unpack_from("<I", header, 4)[0] - 4
    if size <= 0 or size > _MAX_HEADER:
        return None
    hdrl = fh.read(size)
    micro = 0
    for kind, start, end in _riff_chunks(hdrl, 0, len(hdrl)):
        if kind == b"avih" and end - start >= 4:
            micro = struct.unpack_from("<I", hdrl, start)[0]
        elif kind == b"LIST" and hdrl[start:start + 4] == b"strl":
            for sub, s, e in _riff_chunks(hdrl, start + 4, end):
                if sub == b"strh" and e - s >= 28 and hdrl[s:s + 4] == b"vids":
                    scale, rate = struct.unpack_from("<II", hdrl, s + 20)
                    if scale and rate:
                        fps = rate / scale
                    elif micro:
                        fps = 1e6 / micro
                    else:
                        return _UNKNOWN
                    return ContainerTiming(fps=fps, fps_min=fps, fps_max=fps)
    return None


def _riff_chunks(data: bytes, start: int, end: int):
    """Yield ``(id, payload_start, payload_end)`` for the RIFF chunks in ``data[start:end]``."""
    i = start
    while i + 8 <= end:
        kind, size = struct.unpack_from("<4sI", data, i)
        if i + 8 + size > end:
            return
        yield kind, i + 8, i + 8 + size
        i += 8 + size + (size & 1)
