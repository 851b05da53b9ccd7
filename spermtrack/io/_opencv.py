"""OpenCV for the video readers and the writer: imported with its backend's logs silenced, and paths it can open.

:func:`_cv2` imports OpenCV once per process with FFmpeg's and OpenCV's own log lines turned off (spermtrack
reports problems itself, in one line); :func:`_openable` hands OpenCV a path it can open even when the file
name is not valid UTF-8. Shared by :mod:`spermtrack.io.video` (reading) and :mod:`spermtrack.io.video_writer`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: FFmpeg's log level inside OpenCV (``AV_LOG_QUIET``): FFmpeg reads it when OpenCV opens its first video.
_FFMPEG_QUIET = "-8"
_quiet_done = False


def _cv2():
    """Import OpenCV with the logs of its video backend silenced (once per process).

    FFmpeg prints its own diagnostics straight to stderr (hundreds of lines such as ``[mpeg4 @ 0x..]
    header damaged`` for one corrupt file), and OpenCV adds ``[ WARN ]`` lines (``Failed to write
    frame``); spermtrack checks what it reads and writes itself and reports a problem as one line.
    OpenCV's FFmpeg backend reads ``OPENCV_FFMPEG_LOGLEVEL`` when it opens its first video, so every
    video spermtrack opens goes through this function. A user's own ``OPENCV_FFMPEG_LOGLEVEL``,
    ``OPENCV_FFMPEG_DEBUG`` or ``OPENCV_LOG_LEVEL`` is left in force.
    """
    global _quiet_done
    if not _quiet_done and "OPENCV_FFMPEG_LOGLEVEL" not in os.environ and "OPENCV_FFMPEG_DEBUG" not in os.environ:
        os.environ["OPENCV_FFMPEG_LOGLEVEL"] = _FFMPEG_QUIET
    import cv2

    if not _quiet_done:
        _quiet_done = True
        logging = getattr(getattr(cv2, "utils", None), "logging", None)
        if "OPENCV_LOG_LEVEL" not in os.environ and logging is not None \
                and logging.getLogLevel() == logging.LOG_LEVEL_WARNING:
            logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    return cv2


@contextlib.contextmanager
def _openable(path: Path) -> Iterator[str]:
    """A path string OpenCV's video reader can open.

    OpenCV takes paths as UTF-8 and crashes (a segmentation fault) on a name that is not valid
    UTF-8; such a file is opened through a temporary symbolic link with a plain name.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="spermtrack-") as tmp:
            link = Path(tmp) / f"video{path.suffix.encode('ascii', 'ignore').decode() or '.mp4'}"
            os.symlink(os.fsencode(path.resolve()), os.fsencode(link))
            yield str(link)
        return
    yield str(path)
