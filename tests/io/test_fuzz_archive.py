"""Fuzzing the archive scanner: whatever a folder holds, :func:`scan_inputs` answers or raises the one-line
InputError, and every entry that is not hidden is either an input or skipped with its reason.

Hypothesis builds folders from a mix of video files, stray images, text files, sub-folders (VISEM video
folders, frame folders, earlier outputs, data sets, empty ones), broken links and names with spaces, ``#``
or bytes that are not UTF-8.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spermtrack.errors import InputError
from spermtrack.io.atomic import DATASET, RESULTS, write_marker
from spermtrack.io.inputs import scan_inputs

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = st.sampled_from([b"v1", b"11", b"2", b"a b", b"v#1", b"caf\xe9", b"IMG_0001", b"thumbnail", b"x.y", b"-"])
KINDS = st.sampled_from(["video", "image", "text", "visem", "frames", "results", "dataset", "empty", "broken",
                         "broken_video"])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    import cv2
    import numpy as np

    path = tmp_path_factory.mktemp("fuzzarc") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (32, 24))
    for _ in range(3):
        writer.write(np.full((24, 32, 3), 80, np.uint8))
    writer.release()
    return path


def _make(root: bytes, name: bytes, kind: str, clip: Path) -> None:
    import cv2
    import numpy as np

    target = root + b"/" + name
    png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    if kind == "video":
        shutil.copy(clip, target + b".mp4")
    elif kind == "image":
        Path(os.fsdecode(target + b".jpg")).write_bytes(png)
    elif kind == "text":
        Path(os.fsdecode(target + b".txt")).write_text("notes\n")
    elif kind == "broken":
        os.symlink(root + b"/nowhere", target)
    elif kind == "broken_video":
        os.symlink(root + b"/nowhere.mp4", target + b".mp4")
    else:
        os.makedirs(target)
        folder = Path(os.fsdecode(target))
        if kind == "visem":
            (folder / "labels").mkdir()
        elif kind == "frames":
            (folder / "frame_0.png").write_bytes(png)
        elif kind in ("results", "dataset"):
            (folder / "frame.png").write_bytes(png)
            write_marker(folder, RESULTS if kind == "results" else DATASET)


@FUZZ
@given(entries=st.lists(st.tuples(NAMES, KINDS), max_size=6, unique_by=lambda e: e[0]))
def test_any_folder_is_scanned_or_refused_in_one_line(clip, entries):
    with tempfile.TemporaryDirectory() as tmp:
        root = os.fsencode(tmp) + b"/arc"
        os.makedirs(root)
        for name, kind in entries:
            if not os.path.lexists(root + b"/" + name):
                _make(root, name, kind, clip)
        try:
            scan = scan_inputs(os.fsdecode(root))
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        visible = {p for p in Path(os.fsdecode(root)).iterdir() if not p.name.startswith(".")}
        if scan.single:
            assert scan.inputs == [Path(os.fsdecode(root))] and not scan.skipped
            return
        listed = set(scan.inputs) | {p for p, _ in scan.skipped}
        assert listed == visible and not set(scan.inputs) & {p for p, _ in scan.skipped}
        assert all(why for _, why in scan.skipped)
        kinds = dict(entries)
        for path in scan.inputs:  # nothing that is a stray, an output or a plain folder is taken as a video
            stem = os.fsencode(path.name).rsplit(b".", 1)[0] if not path.is_dir() else os.fsencode(path.name)
            assert kinds.get(stem, kinds.get(os.fsencode(path.name))) in ("video", "visem", "frames", "dataset",
                                                                            "broken_video")
        line = scan.skipped_line()
        assert (line is None) == (not scan.skipped) and (line is None or "\n" not in line)
