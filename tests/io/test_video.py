"""Frame I/O: probing, streaming from videos and image folders, writing videos."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest

from spermtrack.errors import InputError
from spermtrack.io.video import frame_number, iter_frames, list_images, probe_video, write_video

LEVELS = [0, 40, 80, 120, 160, 200, 240]


def flat_frames(n: int, width: int = 64, height: int = 48, color: bool = False):
    for i in range(n):
        frame = np.full((height, width), LEVELS[i % len(LEVELS)], np.uint8)
        yield np.dstack([frame] * 3) if color else frame


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    assert write_video(path, flat_frames(7), fps=48.5) == 7
    return path


def test_probe_reads_container(clip):
    info = probe_video(clip)
    assert info.fps == pytest.approx(48.5)
    assert (info.width, info.height, info.n_frames) == (64, 48, 7)


def test_iter_video_in_order(clip):
    frames = list(iter_frames(clip))
    assert [i for i, _ in frames] == list(range(7))
    assert frames[0][1].shape == (48, 64, 3) and frames[0][1].dtype == np.uint8
    means = [float(f.mean()) for _, f in frames]
    np.testing.assert_allclose(means, LEVELS, atol=6)                 # lossy mp4v, flat frames


def test_iter_video_range_and_gray(clip):
    frames = list(iter_frames(clip, start=2, stop=5, gray=True))
    assert [i for i, _ in frames] == [2, 3, 4]
    assert frames[0][1].shape == (48, 64)
    np.testing.assert_allclose([f.mean() for _, f in frames], LEVELS[2:5], atol=6)   # start is frame-exact
    assert list(iter_frames(clip, start=10)) == []
    assert [i for i, _ in iter_frames(clip, start=5, stop=100)] == [5, 6]


@pytest.mark.heavy
def test_streaming_does_not_keep_frames(tmp_path):
    path = tmp_path / "long.mp4"
    write_video(path, flat_frames(15, 32, 24), fps=50)
    alive = []
    for _, frame in iter_frames(path):
        alive.append(weakref.ref(frame))
        del frame
        gc.collect()
        assert sum(ref() is not None for ref in alive) <= 1             # only the current frame exists


def test_iter_image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in (10, 0, 2, 1):                                            # numeric, not lexical, order
        cv2.imwrite(str(folder / f"11_frame_{i}.png"), np.full((6, 8), i, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    assert [p.name for p in list_images(folder)] == [f"11_frame_{i}.png" for i in (0, 1, 2, 10)]
    frames = list(iter_frames(folder, gray=True))
    assert [i for i, _ in frames] == [0, 1, 2, 10]
    assert [int(f[0, 0]) for _, f in frames] == [0, 1, 2, 10] and frames[0][1].shape == (6, 8)
    assert [i for i, _ in iter_frames(folder, start=1, stop=10)] == [1, 2]
    assert next(iter_frames(folder))[1].shape == (6, 8, 3)


def test_image_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no image files"):
        iter_frames(empty)                                              # raised at the call, not at next()
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "11_frame_0.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=r"11_frame_0\.jpg: cannot be decoded as an image"):
        list(iter_frames(folder))
    cv2.imwrite(str(folder / "11_frame_1.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(folder / "11_frame_01.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="two images hold frame number 1"):
        list_images(folder)
    with pytest.raises(InputError, match="does not exist"):
        list_images(tmp_path / "missing")


def test_missing_and_corrupt_sources(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        iter_frames(tmp_path / "missing.mp4")                          # eager: no iteration needed
    with pytest.raises(InputError, match="does not exist"):
        probe_video(tmp_path / "missing.mp4")
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match=r"corrupt\.mp4: cannot be decoded as a video"):
        probe_video(bad)
    with pytest.raises(InputError, match="cannot be decoded"):
        iter_frames(bad)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="cannot be decoded"):
        iter_frames(empty)
    with pytest.raises(InputError, match="is not a video file"):
        probe_video(tmp_path)
    with pytest.raises(InputError, match="start must be"):
        iter_frames(tmp_path, start=-1)


def test_write_video_is_atomic_and_checks_frames(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(InputError, match="no frames to write"):
        write_video(path, [], fps=50)
    assert not path.exists()

    def growing():
        yield np.zeros((48, 64), np.uint8)
        yield np.zeros((50, 64), np.uint8)

    with pytest.raises(InputError, match="frame 1 is 64x50 px but frame 0 is 64x48 px"):
        write_video(path, growing(), fps=50)
    with pytest.raises(InputError, match="must be a uint8"):
        write_video(path, [np.zeros((4, 4), np.float32)], fps=50)
    with pytest.raises(InputError, match="fps must be a positive number"):
        write_video(path, flat_frames(2), fps=0)
    assert not path.exists() and list(tmp_path.iterdir()) == []        # no temporary files left behind

    def interrupted():
        yield from flat_frames(2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(path, interrupted(), fps=50)
    assert list(tmp_path.iterdir()) == []
    assert write_video(path, flat_frames(3, color=True), fps=25) == 3
    assert probe_video(path).n_frames == 3


@pytest.mark.parametrize("name, number", [
    ("11_frame_42.jpg", 42),
    ("11_frame_0_with_ftid.txt", 0),
    ("video.v2_frame_7.png", 7),
    ("frame0012.png", 12),
])
def test_frame_number(name, number):
    assert frame_number(name) == number


def test_frame_number_needs_a_number():
    with pytest.raises(InputError, match="holds no frame number"):
        frame_number("background.png")


def test_probe_states_a_constant_rate(clip):
    info = probe_video(clip)
    assert not info.variable_rate and info.fps_min == info.fps_max == pytest.approx(48.5)


def test_write_video_reads_its_file_back(tmp_path, monkeypatch):
    real = cv2.VideoWriter

    class DroppingWriter:  # an encoder that loses the last frame without saying so
        def __init__(self, *args):
            self._writer, self._held = real(*args), None

        def isOpened(self):  # noqa: N802 - OpenCV's name
            return self._writer.isOpened()

        def write(self, frame):
            if self._held is not None:
                self._writer.write(self._held)
            self._held = frame

        def release(self):
            self._writer.release()

    monkeypatch.setattr(cv2, "VideoWriter", DroppingWriter)
    path = tmp_path / "out.avi"
    with pytest.raises(OSError, match="the video could not be written whole: 4 of its 5 frames can be read back") \
            as caught:
        write_video(path, flat_frames(5), fps=25)
    assert caught.value.filename == str(path) and list(tmp_path.iterdir()) == []


def test_mp4_is_h264_with_even_sides_and_avi_or_asked_is_mp4v(tmp_path):
    import av

    frames = [np.full((25, 33, 3), 40 * k, np.uint8) for k in range(4)]
    assert write_video(tmp_path / "a.mp4", frames, fps=29.97) == 4
    with av.open(str(tmp_path / "a.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (34, 26)
    assert write_video(tmp_path / "b.mp4", frames, fps=25, codec="mp4v") == 4
    with av.open(str(tmp_path / "b.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
    with pytest.raises(InputError, match="codec must be 'h264' or 'mp4v'"):
        write_video(tmp_path / "c.mp4", frames, fps=25, codec="vp9")
    assert not (tmp_path / "c.mp4").exists()
