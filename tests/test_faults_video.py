"""Video faults a lab user can hit, and what spermtrack promises for them (issue 17, "nothing lost, nothing silent").

============================================  ======================================================
input or fault                                promise
============================================  ======================================================
a video that cannot be written whole          the command fails with one line naming the video and
(file size limit, full disk)                  keeps no output (OpenCV's writer reports nothing)
a container that states no frame rate         ``--fps`` is asked for, naming the file; never FFmpeg's
(MP4 frame intervals or time scale of 0,      25 fps fallback
AVI rate 0)
a variable-frame-rate MP4                     one warning naming the file, the average rate used and
                                              the range; none when ``--fps`` is given
a corrupt MP4                                 our one error line on stderr, none of FFmpeg's
a ``.webm`` (or ``.mpg``, ``.ts``, ...) file  read like an ``.mp4``
============================================  ======================================================

The bad inputs are made here: a small clip written with OpenCV whose container bytes are patched.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from spermtrack.cli import main
from spermtrack.errors import InputError
from spermtrack.io.container import read_timing
from spermtrack.io.video import VIDEO_SUFFIXES, VideoInfo, frame_rate, probe_video
from spermtrack.io.video_writer import _H264Writer

NEEDS_FPS = "the video container stores no frame rate: give it (--fps"


def _env() -> dict:
    """The environment of a child run, without the OpenCV log settings spermtrack set in this process."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}


def _run(code: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a small Python program (``code`` then ``spermtrack <args>``) in a fresh interpreter."""
    program = textwrap.dedent(code) + "\nfrom spermtrack.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", "import sys\n" + program, *args], capture_output=True, text=True,
                          errors="replace", timeout=timeout, env=_env())


def _lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.strip()]


def _write_clip(path: Path, *, n: int = 30, fps: float = 25.0, fourcc: str = "mp4v") -> Path:
    """A 160x120 clip of a bright dot moving right 3 px a frame, written by OpenCV itself."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (160, 120))
    assert writer.isOpened()
    for i in range(n):
        frame = np.full((120, 160, 3), 40, np.uint8)
        cv2.circle(frame, (20 + 3 * i, 60), 5, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


# --------------------------------------------------------------------------------------------- container bytes
_TRACK = (b"moov", b"trak", b"mdia")
_STTS = _TRACK + (b"minf", b"stbl", b"stts")


def _find(data: bytes, path: tuple[bytes, ...]) -> tuple[list[int], int, int]:
    """Offsets of the boxes along ``path`` (first match at each level), its payload start and end."""
    start, end, chain = 0, len(data), []
    for name in path:
        i = start
        while i + 8 <= end:
            size, kind = struct.unpack_from(">I4s", data, i)
            if kind == name:
                chain.append(i)
                start, end = i + 8, i + size
                break
            i += size
        else:
            raise KeyError(name)
    return chain, start, end


def _with_stts(data: bytes, entries: list[tuple[int, int]]) -> bytes:
    """The MP4 with its video track's sample durations replaced (the boxes around it resized).

    ``moov`` follows ``mdat`` in OpenCV's files, so no chunk offset moves.
    """
    chain, _, end = _find(data, _STTS)
    body = struct.pack(">II", 0, len(entries)) + b"".join(struct.pack(">II", *e) for e in entries)
    box = struct.pack(">I4s", 8 + len(body), b"stts") + body
    out = bytearray(data[:chain[-1]] + box + data[end:])
    for offset in chain[:-1]:
        struct.pack_into(">I", out, offset, struct.unpack_from(">I", out, offset)[0] + len(box) - (end - chain[-1]))
    return bytes(out)


def _with_timescale(data: bytes, timescale: int) -> bytes:
    _, start, _ = _find(data, _TRACK + (b"mdhd",))
    out = bytearray(data)
    struct.pack_into(">I", out, start + 12, timescale)  # version 0: flags, creation, modification, time scale
    return bytes(out)


def _avi_without_rate(data: bytes) -> bytes:
    """The AVI with its stream rate (``strh`` dwScale, dwRate) and frame duration (``avih``) set to 0."""
    out = bytearray(data)
    avih, strh = data.index(b"avih"), data.index(b"strh")
    struct.pack_into("<I", out, avih + 8, 0)
    struct.pack_into("<II", out, strh + 8 + 20, 0, 0)
    return bytes(out)


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> bytes:
    return _write_clip(tmp_path_factory.mktemp("clip") / "c.mp4").read_bytes()


@pytest.fixture(scope="module")
def clip(fault_clip) -> Path:
    return fault_clip


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


# --------------------------------------------------------------------------------------------- item 3: the writer
def _cut_close(self):
    """The H.264 writer on a disk that fills up: the file stops at 4 KiB and no error is reported."""
    _REAL_CLOSE(self)
    os.truncate(self.tmp, 4096)


_REAL_CLOSE = _H264Writer.close


def test_a_video_that_is_not_written_whole_fails_the_whole_output(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_H264Writer, "close", _cut_close)
    out = tmp_path / "o"
    assert main(["analyze", str(clip / "1" / "1.mp4"), "--um-per-px", "0.351", "--out", str(out), "--quiet"]) == 1
    lines = _lines(capsys.readouterr().err)  # warnings about the tiny clip may come first
    assert lines[-1] == (
        f"spermtrack analyze: error: {out / 'annotated.mp4'}: the video could not be written whole: 0 of its 30 "
        "frames can be read back (an error of the disk or the video encoder)")
    assert all(": warning: " in line for line in lines[:-1])
    assert not out.exists() and not _partials(tmp_path)


def test_a_video_cut_by_the_file_size_limit_is_an_error_naming_it(tmp_path):
    """``ulimit -f``: Python ignores SIGXFSZ, so OpenCV's writes fail with EFBIG, which OpenCV does not report."""
    code = f"""
    import errno, resource
    import numpy as np
    from spermtrack.io.video import write_video
    rng = np.random.default_rng(0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        write_video({str(tmp_path / 'noise.mp4')!r}, (rng.integers(0, 256, (120, 160), np.uint8) for _ in range(30)),
                    25.0)
    except OSError as exc:
        print(exc.errno == errno.EFBIG, exc.filename, exc.strerror)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120, env=_env())
    assert result.stdout.startswith(f"True {tmp_path / 'noise.mp4'} the video could not be written whole"), result
    assert "file size limit was reached: ulimit -f allows 20000 bytes" in result.stdout
    assert result.stderr == ""  # nor OpenCV's "[ WARN ] ... Failed to write frame"
    assert list(tmp_path.iterdir()) == []  # neither the target nor its temporary file


# --------------------------------------------------------------------------------------------- item 12: frame rate
def test_opencv_reports_a_rate_where_the_container_states_none(tmp_path, mp4):
    """Why spermtrack reads the container: FFmpeg's figures for these files are not the container's."""
    avi = _write_clip(tmp_path / "c.avi", fourcc="MJPG")
    (tmp_path / "zero.avi").write_bytes(_avi_without_rate(avi.read_bytes()))
    (tmp_path / "zero.mp4").write_bytes(_with_stts(mp4, [(30, 0)]))
    for name in ("zero.avi", "zero.mp4"):
        cap = cv2.VideoCapture(str(tmp_path / name))
        assert cap.get(cv2.CAP_PROP_FPS) > 0  # 25 (FFmpeg's fallback) and 0.83 with opencv-python 5.1
        cap.release()
        assert probe_video(tmp_path / name).fps == 0


@pytest.mark.parametrize("make", [lambda d: _with_stts(d, [(30, 0)]), lambda d: _with_stts(d, [(29, 0), (1, 512)]),
                                  lambda d: _with_timescale(d, 0)],
                         ids=["intervals-0", "intervals-0-last-not", "timescale-0"])
def test_an_mp4_that_states_no_rate_asks_for_fps(tmp_path, mp4, capsys, make):
    video = tmp_path / "norate.mp4"
    video.write_bytes(make(mp4))
    assert probe_video(video).fps == 0
    assert main(["analyze", str(video), "--um-per-px", "0.351", "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert _lines(capsys.readouterr().err) == [f"spermtrack analyze: error: {video}: {NEEDS_FPS} on the command "
                                               "line, fps= in Python; frames per second)"]
    assert not (tmp_path / "o").exists()


def test_an_avi_with_rate_0_asks_for_fps_instead_of_running_at_25(tmp_path, capsys):
    video = tmp_path / "norate.avi"
    video.write_bytes(_avi_without_rate(_write_clip(tmp_path / "c.avi", fourcc="MJPG").read_bytes()))
    assert main(["analyze", str(video), "--um-per-px", "0.351", "--out", str(tmp_path / "o"), "--quiet"]) == 1
    line, = _lines(capsys.readouterr().err)
    assert line.startswith(f"spermtrack analyze: error: {video}: {NEEDS_FPS}")
    assert main(["analyze", str(video), "--um-per-px", "0.351", "--fps", "25", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    assert main(["track", str(video), "--detector", "blob", "--out", str(tmp_path / "t")]) == 1
    assert str(video) in _lines(capsys.readouterr().err)[-1]


def test_a_visem_folder_whose_clip_states_no_rate_asks_for_fps(clip, tmp_path, capsys):
    folder = tmp_path / "1"
    shutil.copytree(clip / "1", folder)
    video = folder / "1.mp4"
    video.write_bytes(_with_stts(video.read_bytes(), [(30, 0)]))
    assert main(["track", str(folder), "--out", str(tmp_path / "t")]) == 1
    line, = _lines(capsys.readouterr().err)
    assert line.startswith(f"spermtrack track: error: {video}: {NEEDS_FPS}")
    assert main(["track", str(folder), "--fps", "25", "--out", str(tmp_path / "t")]) == 0


def test_a_variable_frame_rate_mp4_is_one_warning_naming_the_rates(tmp_path, mp4, capsys):
    video = tmp_path / "vfr.mp4"
    video.write_bytes(_with_stts(mp4, [(15, 384), (15, 640)]))  # 33.3 fps, then 20 fps (time scale 12800)
    info = probe_video(video)
    assert info.variable_rate and (info.fps_min, info.fps_max) == (20.0, pytest.approx(100 / 3))
    assert info.fps == pytest.approx(29 * 12800 / (15 * 384 + 14 * 640))  # the mean interval between frames
    assert main(["analyze", str(video), "--um-per-px", "0.351", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    rate_lines = [line for line in _lines(capsys.readouterr().err) if "frame rate" in line]
    assert rate_lines == [
        f"spermtrack analyze: warning: {video}: the video has a variable frame rate (20 to 33.33 fps between frames); "
        "its average 25.22 fps is used: give the true rate with --fps (fps= in Python) if the camera recorded at a "
        "fixed rate"]
    assert main(["analyze", str(video), "--um-per-px", "0.351", "--fps", "25", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    assert not [line for line in _lines(capsys.readouterr().err) if "frame rate" in line]


@pytest.mark.parametrize("entries, variable", [
    ([(30, 512)], False),
    ([(1, 511), (1, 513)] * 15, False),   # jitter of a tick or two: rounding, not a variable rate
    ([(1, 512), (1, 513)] * 15, False),
    ([(29, 512), (1, 0)], False),         # the last sample's duration is no interval between frames
    ([(1, 384), (1, 640)] * 15, True),
])
def test_container_timing_tells_rounding_from_a_variable_rate(tmp_path, mp4, entries, variable):
    video = tmp_path / "v.mp4"
    video.write_bytes(_with_stts(mp4, entries))
    timing = read_timing(video)
    assert timing is not None and timing.variable is variable and timing.fps == pytest.approx(25, rel=0.02)


@pytest.mark.parametrize("fps", [25.0, 29.97, 43.0, 47.5, 50.0])
@pytest.mark.parametrize("suffix, fourcc", [(".mp4", "mp4v"), (".mov", "mp4v"), (".avi", "MJPG"), (".mkv", "mp4v")])
def test_a_constant_rate_reads_as_opencv_reads_it(tmp_path, fps, suffix, fourcc):
    video = _write_clip(tmp_path / f"c{suffix}", n=5, fps=fps, fourcc=fourcc)
    cap = cv2.VideoCapture(str(video))
    expected = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    info = probe_video(video)
    assert info.fps == pytest.approx(expected, rel=1e-9) and not info.variable_rate
    assert (read_timing(video) is None) is (suffix == ".mkv")  # Matroska: OpenCV's figure


def test_read_timing_leaves_what_it_cannot_follow_to_opencv(tmp_path, mp4):
    (tmp_path / "cut.mp4").write_bytes(mp4[:len(mp4) // 2])            # no moov
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "short.mp4").write_bytes(b"\x00\x00")
    assert [read_timing(tmp_path / n) for n in ("cut.mp4", "text.mp4", "short.mp4", "missing.mp4")] == [None] * 4


def test_frame_rate_is_the_one_policy():
    steady = VideoInfo(fps=50.0, width=8, height=8, n_frames=3, fps_min=50.0, fps_max=50.0)
    assert frame_rate("a.mp4", steady) == 50.0 and frame_rate("a.mp4", steady, 25.0) == 25.0
    with pytest.raises(InputError, match=r"^a\.mp4: the video container stores no frame rate"):
        frame_rate("a.mp4", VideoInfo(fps=0.0, width=8, height=8, n_frames=3))
    assert frame_rate("a.mp4", VideoInfo(fps=0.0, width=8, height=8, n_frames=3), 30.0) == 30.0
    varying = VideoInfo(fps=25.0, width=8, height=8, n_frames=3, variable_rate=True, fps_min=20.0, fps_max=33.3)
    with pytest.warns(UserWarning, match=r"a\.mp4: the video has a variable frame rate \(20 to 33\.3 fps"):
        assert frame_rate("a.mp4", varying) == 25.0
    assert frame_rate("a.mp4", varying, 30.0) == 30.0  # no warning: warnings are errors in the tests


# --------------------------------------------------------------------------------------------- item 17: FFmpeg's log
def test_a_corrupt_mp4_prints_our_line_and_nothing_of_ffmpeg(clip, tmp_path):
    data = bytearray((clip / "1" / "1.mp4").read_bytes())
    mdat = data.index(b"mdat")
    rng = np.random.default_rng(1)
    for start in range(mdat + 2000, data.index(b"moov") - 400, 1500):  # damage every few frames
        data[start:start + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    video = tmp_path / "corrupt.mp4"
    video.write_bytes(bytes(data))
    result = _run("", "analyze", str(video), "--um-per-px", "0.351", "--out", str(tmp_path / "o"), "--quiet")
    assert result.returncode == 1
    line, = _lines(result.stderr)
    assert line.startswith(f"spermtrack analyze: error: {video}: the video ends after ")
    assert "FFMPEG" not in result.stdout and "@ 0x" not in result.stdout


def test_a_user_can_still_ask_for_ffmpegs_log(clip, tmp_path):
    video = tmp_path / "cut.mp4"
    data = (clip / "1" / "1.mp4").read_bytes()
    video.write_bytes(data[:data.index(b"moov") - 4])  # no index: FFmpeg logs an error
    result = subprocess.run([sys.executable, "-c", f"from spermtrack.io.video import probe_video\n"
                                                   f"try: probe_video({str(video)!r})\nexcept ValueError: pass"],
                            capture_output=True, text=True, timeout=120,
                            env={**_env(), "OPENCV_FFMPEG_LOGLEVEL": "16"})
    assert "OPENCV:FFMPEG" in result.stdout + result.stderr


# --------------------------------------------------------------------------------------------- low items
@pytest.mark.parametrize("suffix", [".webm", ".mpg", ".ts"])
def test_common_video_suffixes_are_read(clip, tmp_path, suffix):
    assert suffix in VIDEO_SUFFIXES
    video = tmp_path / f"clip{suffix}"
    shutil.copyfile(clip / "1" / "1.mp4", video)  # FFmpeg reads the content whatever the name says
    assert main(["analyze", str(video), "--um-per-px", "0.351", "--fps", "25", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0


def test_a_real_webm(tmp_path):
    video = tmp_path / "clip.webm"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"VP80"), 25.0, (160, 120))
    if not writer.isOpened():
        pytest.skip("this OpenCV build writes no WebM")
    for i in range(10):
        writer.write(np.full((120, 160, 3), 20 * i, np.uint8))
    writer.release()
    info = probe_video(video)
    assert (info.fps, info.width, info.height) == (25.0, 160, 120)
