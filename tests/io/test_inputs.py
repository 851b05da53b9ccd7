"""One input resolver: every command agrees on what a path is (spermtrack.io.inputs)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from spermtrack.cli import main
from spermtrack.errors import InputError
from spermtrack.io.inputs import IMAGE_FOLDER, VIDEO_FILE, VIDEO_FOLDER, open_video, resolve_video, scan_inputs
from spermtrack.io.video import write_video


def _frames(n: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 60, (48, 64, 3), dtype=np.uint8) for _ in range(n)]


def _clip(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, _frames(), 25.0, codec="mp4v")
    return path


def _images(folder: Path, prefix: str = "x") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(_frames()):
        cv2.imwrite(str(folder / f"{prefix}_frame_{i}.jpg"), frame)
    return folder


def test_each_kind_of_input_is_resolved_with_its_frames(tmp_path):
    clip = _clip(tmp_path / "a.mp4")
    assert resolve_video(clip) == resolve_video(str(clip))
    assert (resolve_video(clip).kind, resolve_video(clip).frames) == (VIDEO_FILE, clip)
    folder = tmp_path / "7"
    _images(folder / "images", "7")
    _clip(folder / "7.mp4")
    source = resolve_video(folder)
    assert (source.kind, source.frames, source.video_id) == (VIDEO_FOLDER, folder / "7.mp4", "7")
    frames = _images(tmp_path / "frames")
    assert (resolve_video(frames).kind, resolve_video(frames).frames) == (IMAGE_FOLDER, frames)
    assert resolve_video(frames).frame_count() == 6
    assert open_video(frames, um_per_px=0.4, fps=20.0).recording.n_frames == 6


def test_a_folder_with_images_and_a_clip_is_one_video_to_every_command(tmp_path):
    folder = tmp_path / "7"
    _images(folder / "images", "7")
    _clip(folder / "7.mp4")
    assert scan_inputs(folder).single
    assert main(["detect", str(folder), "--out", str(tmp_path / "d"), "--quiet"]) == 0
    assert main(["track", str(folder), "--detector", "blob", "--out", str(tmp_path / "t")]) == 0


def test_two_clips_are_refused_by_every_single_video_command(tmp_path, capsys):
    folder = tmp_path / "two"
    _clip(folder / "a.mp4")
    _clip(folder / "b.mp4")
    with pytest.raises(InputError, match=r"is a folder of 2 video\(s\) \(a\.mp4, b\.mp4\), not one video"):
        resolve_video(folder)
    for command in (["detect", str(folder)], ["track", str(folder), "--detector", "blob"]):
        assert main([*command, "--out", str(tmp_path / command[0])]) == 1
        assert "is a folder of 2 video(s)" in capsys.readouterr().err
        assert not (tmp_path / command[0]).exists()
    assert scan_inputs(folder).inputs == [folder / "a.mp4", folder / "b.mp4"]  # analyze: an archive of two


def test_a_folder_holding_one_clip_is_that_clip_to_a_single_video_command(tmp_path):
    folder = tmp_path / "exp1"
    clip = _clip(folder / "recording.avi")
    assert (resolve_video(folder).kind, resolve_video(folder).frames) == (VIDEO_FILE, clip)
    assert open_video(folder, um_per_px=0.351).video_id == "recording"
    assert main(["detect", str(folder), "--out", str(tmp_path / "d"), "--quiet"]) == 0
    assert not scan_inputs(folder).single  # analyze: an archive of one (OUT/recording/)


def test_the_pixel_size_is_required_to_open_a_video(tmp_path):
    with pytest.raises(TypeError, match="um_per_px"):
        open_video(_clip(tmp_path / "a.mp4"))
