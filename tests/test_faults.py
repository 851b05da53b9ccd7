"""Every fault a lab user can hit, and what spermtrack promises for it: one line, a non-zero exit, nothing half-written.

Each test reproduces one fault of the robustness review (issue 11) the way a user meets it: through the
command line, often in a subprocess (an interrupt, a killed process, a crash of a native library must not
take the test run down with it). Faults that need a full or read-only disk are produced by a writer that
raises the real ``OSError`` (the tests run as root, for whom permissions do not apply).

============================================  ======================================================
input or fault                                promise
============================================  ======================================================
Ctrl-C while an output folder is written      the previous output stays whole; nothing partial
Ctrl-C during ``synth``                       no partial data set appears
SIGKILL mid-run                               the next run removes the temporary folder it left
a full or read-only disk                      one line naming the output, exit 1, nothing partial
a recording of a second or less               graded as too short, never a crash
a folder name that is not UTF-8               read like any other (no crash in OpenCV)
``--out`` naming an existing file             refused before any work
a truncated video / JPEG                      an error with both frame counts, or a warning with
                                              ``--allow-truncated``
absurd or off-frame coordinates               refused with file:line
``--detections gt`` without labels            an error, not empty results
implausible ``--fps`` / ``--um-per-px``       refused, the message gives the physical range
misleading messages                           the right hint (fps before detecting, one video
                                              folder not a data set, a text file as weights, ...)
``ULTRALYTICS_SAFE_LOAD=0``                    checkpoints still load safely: nothing is executed
============================================  ======================================================
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermtrack.cli import main


def _run(code: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a small Python program (``code`` then ``spermtrack <args>``) in a fresh interpreter.

    Ctrl-C raises KeyboardInterrupt there even when this suite runs in the background of a shell (which starts
    its children with SIGINT ignored).
    """
    program = textwrap.dedent(code) + "\nfrom spermtrack.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    start = "import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    return subprocess.run([sys.executable, "-c", start + program, *args], capture_output=True, text=True,
                          errors="replace",
                          timeout=timeout, env={**os.environ, **(env or {})})


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines and "Traceback" not in stderr, stderr
    return lines[-1]


@pytest.fixture(scope="module")
def clip(fault_clip) -> Path:
    return fault_clip


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


# --------------------------------------------------------------------------------------------- interrupts
INTERRUPT_AFTER_FIRST_CSV = """
import os, signal
import spermtrack.io.atomic as atomic
_write = atomic.write_csv
def write_csv(*a, **k):
    out = _write(*a, **k)
    os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C right after the first file of the output
    return out
atomic.write_csv = write_csv
"""


def test_ctrl_c_while_benchmark_writes_keeps_the_previous_output_whole(clip, tmp_path):
    out = tmp_path / "bench"
    assert main(["benchmark", str(clip), "--detectors", "gt", "--trackers", "sort", "--out", str(out),
                 "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".csv", ".md", ".json")}
    result = _run(INTERRUPT_AFTER_FIRST_CSV, "benchmark", str(clip), "--detectors", "gt", "--trackers", "sperm",
                  "--out", str(out), "--quiet")
    assert result.returncode == 130 and "interrupted; no partial output was kept" in _one_line(result.stderr)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".csv", ".md", ".json")}
    assert after == before and not _partials(tmp_path)


def test_ctrl_c_during_synth_leaves_no_partial_data_set(tmp_path):
    code = """
    import os, signal
    import spermtrack.io.visem_write as visem_write
    _write, calls = visem_write.write_frame_files, []
    def write_frame_files(*a, **k):
        calls.append(1)
        if len(calls) == 10:
            os.kill(os.getpid(), signal.SIGINT)
        return _write(*a, **k)
    visem_write.write_frame_files = write_frame_files
    import spermtrack.synth.write as w
    w.write_frame_files = write_frame_files
    """
    result = _run(code, "synth", str(tmp_path / "data"), "--videos", "2", "--seconds", "1", "--fps", "25",
                  "--width", "160", "--height", "120", "--quiet")
    assert result.returncode == 130
    assert not (tmp_path / "data").exists() and not _partials(tmp_path)


def test_track_commits_its_three_files_as_a_unit(clip, tmp_path):
    out = tmp_path / "trk"
    assert main(["track", str(clip / "1"), "--tracker", "sort", "--out", str(out)]) == 0
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    code = """
    import os, signal
    import spermtrack.io.mot as mot
    _write = mot.write_mot
    def write_mot(*a, **k):
        _write(*a, **k)
        os.kill(os.getpid(), signal.SIGINT)   # between tracks_mot.txt and tracks.json
    mot.write_mot = write_mot
    """
    result = _run(code, "track", str(clip / "1"), "--tracker", "sperm", "--out", str(out))
    assert result.returncode == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old and not _partials(tmp_path)


def test_a_killed_run_leaves_a_temporary_folder_that_the_next_run_removes(clip, tmp_path):
    code = """
    import os, signal
    import spermtrack.io.mot as mot
    def write_mot(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    mot.write_mot = write_mot
    """
    result = _run(code, "track", str(clip / "1"), "--out", str(tmp_path / "trk"))
    assert result.returncode == -9 and _partials(tmp_path)  # what a SIGKILL leaves
    assert main(["track", str(clip / "1"), "--out", str(tmp_path / "trk")]) == 0
    assert not _partials(tmp_path) and (tmp_path / "trk" / "tracks.json").is_file()


# --------------------------------------------------------------------------------------------- disks
@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left on the disk"),
                                         (errno.EROFS, "the disk is read-only")])
def test_a_full_or_read_only_disk_is_one_line_naming_the_output(clip, tmp_path, capsys, monkeypatch, code, words):
    import spermtrack.io.atomic as atomic

    def failing(path, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(atomic, "write_json", failing)
    import spermtrack.cli  # noqa: F401 - the command imports write_json from spermtrack.io.atomic at run time

    assert main(["track", str(clip / "1"), "--out", str(tmp_path / "trk")]) == 1
    line = _one_line(capsys.readouterr().err)
    assert words in line and str(tmp_path / "trk" / "tracks.json") in line and ".partial" not in line
    assert not (tmp_path / "trk").exists() and not _partials(tmp_path)


def test_synth_on_a_full_disk_leaves_no_partial_folder(tmp_path, capsys, monkeypatch):
    import spermtrack.synth.write as write

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "data" / "x"))

    monkeypatch.setattr(write, "write_semen_analysis_csv", full)
    assert main(["synth", str(tmp_path / "data"), "--videos", "1", "--seconds", "0.4", "--width", "64", "--height",
                 "48", "--quiet"]) == 1
    assert "no space left" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "data").exists() and not _partials(tmp_path)


# --------------------------------------------------------------------------------------------- short clips
def test_a_one_second_demo_and_benchmark(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seconds", "1", "--quiet"]) == 0
    assert main(["benchmark", str(tmp_path / "demo" / "data"), "--detectors", "gt,blob", "--trackers", "sperm",
                 "--out", str(tmp_path / "bench"), "--quiet"]) == 0


@pytest.mark.parametrize("fps", [1.0, 25.0, 1000.0])
def test_a_single_row_track_and_extreme_frame_rates(tmp_path, fps):
    table = pd.DataFrame({"frame": [0], "x": [10.0], "y": [10.0], "w": [20.0], "h": [20.0], "score": [1.0],
                          "class_id": [0], "track_id": [1]})
    table.to_csv(tmp_path / "t.csv", index=False)
    assert main(["kinematics", str(tmp_path / "t.csv"), "--um-per-px", "0.351", "--fps", str(fps), "--out",
                 str(tmp_path / "k")]) == 0
    summary = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert summary["counts"]["ungraded"] == 1 and summary["counts"]["graded"] == 0


# --------------------------------------------------------------------------------------------- paths
def test_a_folder_name_that_is_not_utf8(clip, tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(raw)
    for name in os.listdir(clip / "1"):
        source = os.fsencode(clip / "1" / name)
        target = raw + b"/" + os.fsencode(name)
        os.symlink(source, target)
    folder = os.fsdecode(raw)
    for args in (["info", folder], ["detect", folder, "--out", str(tmp_path / "det"), "--quiet"],
                 ["track", folder, "--detector", "blob", "--out", str(tmp_path / "trk")]):
        result = _run("", *args)
        assert result.returncode == 0, (args, result.returncode, result.stderr[-500:])


def test_an_existing_file_as_output_is_refused_before_any_work(clip, tmp_path, capsys, monkeypatch):
    import spermtrack.detectors as detectors

    monkeypatch.setattr(detectors, "make_detector", lambda *a, **k: pytest.fail("work started"))
    (tmp_path / "out").write_text("a file")
    for command in (["detect", str(clip / "1")], ["track", str(clip / "1"), "--detector", "blob"]):
        assert main([*command, "--out", str(tmp_path / "out")]) == 1
        assert "exists and is not a folder" in _one_line(capsys.readouterr().err)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    assert main(["detect", str(clip / "1"), "--out", str(tmp_path / "mine")]) == 1
    assert "did not write" in _one_line(capsys.readouterr().err)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "a user's file"


# --------------------------------------------------------------------------------------------- truncation
@pytest.fixture
def truncated_avi(tmp_path) -> Path:
    import cv2

    path = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(150):
        writer.write(np.full((48, 64, 3), i, np.uint8))
    writer.release()
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])   # the header (frame count) survives, half the frames do not
    return cut


def test_a_truncated_video_is_an_error_with_both_counts(truncated_avi, tmp_path, capsys):
    assert main(["detect", str(truncated_avi), "--out", str(tmp_path / "d"), "--quiet"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "of the 150 frames its container announces" in line and "--allow-truncated" in line
    assert not (tmp_path / "d").exists()
    assert main(["detect", str(truncated_avi), "--out", str(tmp_path / "d"), "--quiet", "--allow-truncated"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "of the 150 frames" in err


def test_a_truncated_jpeg_names_its_file(clip, tmp_path, capsys):
    import shutil

    folder = tmp_path / "frames"
    shutil.copytree(clip / "1" / "images", folder)
    jpg = sorted(folder.iterdir())[3]
    jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    assert main(["detect", str(folder), "--out", str(tmp_path / "d"), "--quiet"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert jpg.name in line and "truncated JPEG" in line


# --------------------------------------------------------------------------------------------- values
def test_absurd_and_off_frame_coordinates_are_refused_with_file_and_line(clip, tmp_path, capsys):
    assert main(["track", str(clip / "1"), "--out", str(tmp_path / "trk")]) == 0
    tracks = pd.read_csv(tmp_path / "trk" / "tracks.csv")
    for value, size, words in ((1e308, None, "not a pixel coordinate"), (99999.0, "160x120", "outside the 160 x 120")):
        bad = tracks.copy()
        bad.loc[4, "x"] = value
        bad.to_csv(tmp_path / "bad.csv", index=False)
        args = ["kinematics", str(tmp_path / "bad.csv"), "--um-per-px", "0.351", "--fps", "25", "--out",
                str(tmp_path / "k")] + (["--frame-size", size] if size else [])
        assert main(args) == 1
        line = _one_line(capsys.readouterr().err)
        assert "bad.csv:6: " in line and words in line


def test_gt_detections_of_a_folder_without_labels_are_an_error(clip, tmp_path, capsys):
    import shutil

    folder = tmp_path / "7"
    folder.mkdir()
    shutil.copy(clip / "1" / "1.mp4", folder / "7.mp4")
    assert main(["track", str(folder), "--detections", "gt", "--out", str(tmp_path / "t")]) == 1
    assert "has no labelled boxes" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("flag, value", [("--fps", "5000"), ("--fps", "1e308"), ("--um-per-px", "1e-300"),
                                         ("--um-per-px", "1e308")])
def test_implausible_calibration_is_refused_with_its_range(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exc:
        main(["kinematics", str(tmp_path / "t.csv"), "--um-per-px", "0.351", "--fps", "50", flag, value,
              "--out", str(tmp_path / "k")])
    assert exc.value.code == 2
    assert "must be between" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- messages
def test_the_frame_rate_of_a_video_file_comes_from_its_container(clip, tmp_path, capsys):
    assert main(["track", str(clip / "1" / "1.mp4"), "--detector", "blob", "--out", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "tracks.json").read_text())["fps"] == 25.0


def test_a_folder_of_images_needs_fps_before_any_detection(clip, tmp_path, capsys, monkeypatch):
    import spermtrack.detectors as detectors

    monkeypatch.setattr(detectors, "make_detector", lambda *a, **k: pytest.fail("detection started"))
    assert main(["track", str(clip / "1" / "images"), "--detector", "blob", "--out", str(tmp_path / "t")]) == 1
    assert "give it with --fps" in _one_line(capsys.readouterr().err)


def test_a_data_set_root_is_not_one_video(clip, tmp_path, capsys):
    assert main(["track", str(clip), "--out", str(tmp_path / "t")]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "is a data set of 1 video folder" in line and "give one video folder" in line and "(" in line


def test_a_text_file_as_weights_says_what_it_is(clip, tmp_path, capsys):
    (tmp_path / "w.pt").write_text("these are not weights\n")
    assert main(["detect", str(clip / "1"), "--detector", "yolo", "--weights", str(tmp_path / "w.pt"), "--out",
                 str(tmp_path / "d")]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "not a PyTorch checkpoint (it is a text file)" in line and "download" not in line


def test_train_detector_on_bad_input_leaves_no_output_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train-detector", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 1
    capsys.readouterr()
    assert not (tmp_path / "run").exists()


def test_checkpoints_load_safely_whatever_the_environment_says(tmp_path):
    """A pickle that would run code when unpickled unsafely is refused, even with ULTRALYTICS_SAFE_LOAD=0."""
    marker = tmp_path / "owned"
    evil = tmp_path / "evil.pt"
    make = f"""
import pickle, torch
class Evil:
    def __reduce__(self):
        return (open, ({str(marker)!r}, "w"))
torch.save({{"model": Evil()}}, {str(evil)!r}, pickle_protocol=2)
"""
    subprocess.run([sys.executable, "-c", make], check=True, timeout=120)
    (tmp_path / "frames").mkdir()
    result = _run("", "detect", str(tmp_path / "frames"), "--detector", "yolo", "--weights", str(evil), "--out",
                  str(tmp_path / "d"), env={"ULTRALYTICS_SAFE_LOAD": "0"})
    assert result.returncode == 1 and "cannot be loaded" in _one_line(result.stderr)
    assert not marker.exists()
