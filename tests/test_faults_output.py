"""Faults of the second robustness round (issue 17): the output never eats the input, archives see every
video and stop cleanly, options that do not apply are refused.

==============================================  ====================================================
input or fault                                  promise
==============================================  ====================================================
``--out`` equal to, above or inside an input    refused before any work; the input is untouched
``--out`` naming a data set                     refused: results never replace a data set
an archive with stray images or files           the videos are analysed, the strays listed as skipped
an earlier output or broken link in an archive  skipped with its reason / a ``failed`` row, not dropped
an input that became unreadable                 ``failed`` row, its old result folder removed
names with ``#`` or bytes that are not UTF-8    analysed; links in the index work
Ctrl-C / SIGTERM in an archive run              workers stop, no traceback, ``summary.csv`` describes
                                                exactly the folders present, nothing partial
SIGTERM in a single-video run                   no hidden temporary folder left
two archive runs into one ``--out``             the second is refused (a lock)
an unreachable ``--dask-scheduler``             nothing written
``benchmark`` with its default trackers         runs
an option that does not apply                   a usage error (exit 2), never silently ignored
a bad ``--tracker`` / ``--trackers`` name       a usage error (exit 2) naming the choices
a full disk whose error names no file           the line names the output
``--quiet``                                     no glyph warnings from matplotlib
==============================================  ====================================================
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from spermtrack.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A synthetic data set of three 1.2-s videos (160 x 120, 25 fps)."""
    root = tmp_path_factory.mktemp("outfaults") / "data"
    assert main(["synth", str(root), "--videos", "3", "--seconds", "1.2", "--fps", "25", "--seed", "5", "--density",
                 "8", "--width", "160", "--height", "120", "--no-images", "--quiet"]) == 0
    return root


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines and "Traceback" not in stderr, stderr
    return lines[-1]


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".partial-" in p.name or ".old-" in p.name)


def _archive(data: Path, folder: Path, n: int = 3) -> Path:
    """``n`` plain video files in one folder (an archive as a lab would hold it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        shutil.copy(data / str((i - 1) % 3 + 1) / f"{(i - 1) % 3 + 1}.mp4", folder / f"v{i}.mp4")
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _summary_matches_folders(out: Path) -> pd.DataFrame:
    """summary.csv has one row per video and a row has a report exactly when its folder is there."""
    table = pd.read_csv(out / "summary.csv", dtype={"video": str}, keep_default_na=False)
    for row in table.itertuples():
        assert (out / row.video).is_dir() == bool(row.report), row
    folders = {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert folders <= set(table["video"])
    return table


# --------------------------------------------------------------------------------------------- output vs input
def test_an_output_that_would_replace_its_input_is_refused(data, tmp_path, capsys):
    copy = tmp_path / "data1"
    shutil.copytree(data, copy)
    before = _tree(copy)
    assert main(["analyze", str(copy / "1" / "1.mp4"), "--um-per-px", "0.351", "--out", str(copy), "--quiet"]) == 1
    assert "holds the input" in _one_line(capsys.readouterr().err)
    assert main(["track", str(copy / "1"), "--out", str(copy)]) == 1
    assert "holds the input" in _one_line(capsys.readouterr().err)
    assert main(["analyze", str(copy / "1"), "--um-per-px", "0.351", "--out", str(copy / "1"), "--quiet"]) == 1
    assert "is the input" in _one_line(capsys.readouterr().err)
    assert main(["analyze", str(copy / "1"), "--um-per-px", "0.351", "--out", str(copy / "1" / "res"),
                 "--quiet"]) == 1
    assert "lies inside the input" in _one_line(capsys.readouterr().err)
    assert _tree(copy) == before


def test_results_never_replace_a_data_set(data, tmp_path, capsys):
    copy = tmp_path / "data1"
    shutil.copytree(data, copy)
    before = _tree(copy)
    assert main(["analyze", str(data / "2" / "2.mp4"), "--um-per-px", "0.351", "--out", str(copy), "--quiet",
                 "--no-video"]) == 1
    assert "is a data set" in _one_line(capsys.readouterr().err)
    assert _tree(copy) == before
    # a new data set may replace a data set
    assert main(["synth", str(copy), "--videos", "1", "--seconds", "0.4", "--width", "64", "--height", "48",
                 "--quiet"]) == 0


@pytest.mark.parametrize("command", [["regress", "train", "--model", "zeror"], ["crosscheck"], ["benchmark"]])
def test_commands_over_a_data_set_never_write_into_it(data, tmp_path, capsys, command):
    copy = tmp_path / "data1"
    shutil.copytree(data, copy)
    before = _tree(copy)
    assert main([*command, str(copy), "--out", str(copy / "results"), "--quiet"]) == 1
    assert "lies inside the input" in _one_line(capsys.readouterr().err) and _tree(copy) == before


def test_kinematics_may_not_replace_the_folder_of_its_tracks(data, tmp_path, capsys):
    out = tmp_path / "trk"
    assert main(["track", str(data / "1"), "--out", str(out)]) == 0
    assert main(["kinematics", str(out / "tracks.csv"), "--um-per-px", "0.351", "--fps", "25", "--out",
                 str(out)]) == 1
    assert "holds the input" in _one_line(capsys.readouterr().err) and (out / "tracks.csv").is_file()


# --------------------------------------------------------------------------------------------- archive scanning
def test_stray_images_do_not_hide_an_archive(data, tmp_path, capsys):
    import cv2
    import numpy as np

    arc = _archive(data, tmp_path / "arc", 2)
    for name in ("IMG_0001.jpg", "thumbnail.jpg"):
        cv2.imwrite(str(arc / name), np.zeros((20, 20, 3), np.uint8))
    (arc / "notes.txt").write_text("lab notes\n")
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    captured = capsys.readouterr()
    assert "skipped 3 entries that are not videos" in captured.err and "IMG_0001.jpg" in captured.err
    table = _summary_matches_folders(out)
    assert list(table["video"]) == ["v1", "v2"] and set(table["status"]) == {"done"}
    assert "thumbnail.jpg" in (out / "report.html").read_text(encoding="utf-8")


def test_an_earlier_output_in_an_archive_is_skipped_not_read_as_frames(data, tmp_path, capsys):
    arc = _archive(data, tmp_path / "arc", 1)
    shutil.copytree(_single_output(data, tmp_path), arc / "v1_results")
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    assert "v1_results (an earlier spermtrack output)" in capsys.readouterr().err
    assert list(_summary_matches_folders(out)["video"]) == ["v1"]
    assert main(["analyze", str(arc / "v1_results"), "--um-per-px", "0.351", "--out", str(tmp_path / "o2"),
                 "--quiet"]) == 1
    assert "is an earlier spermtrack output" in _one_line(capsys.readouterr().err)


def _single_output(data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "single"
    assert main(["analyze", str(data / "1" / "1.mp4"), "--um-per-px", "0.351", "--out", str(out), "--quiet"]) == 0
    return out


def test_a_dangling_link_in_an_archive_is_a_failed_row(data, tmp_path, capsys):
    arc = _archive(data, tmp_path / "arc", 1)
    (arc / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (arc / "dangling").symlink_to(tmp_path / "nowhere")
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 1
    captured = capsys.readouterr()
    assert "gone.mp4: is a broken link" in captured.err and "dangling (a broken link)" in captured.err
    assert "1 failed" in captured.out
    table = _summary_matches_folders(out).set_index("video")
    assert table.loc["gone", "status"] == "failed" and table.loc["v1", "status"] == "done"


def test_an_input_that_became_unreadable_loses_its_old_folder_and_links_stay_valid(data, tmp_path, capsys):
    arc = _archive(data, tmp_path / "arc", 2)
    (arc / "v2.mp4").rename(arc / "v#2.mp4")
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    assert (out / "v#2" / "report.html").is_file()
    (arc / "v#2.mp4").write_bytes(b"not a video any more")
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 1
    capsys.readouterr()
    table = _summary_matches_folders(out).set_index("video")
    assert table.loc["v#2", "status"] == "failed" and "earlier result folder was removed" in table.loc["v#2", "error"]
    assert not (out / "v#2").exists() and table.loc["v1", "status"] == "skipped"
    index = (out / "report.html").read_text(encoding="utf-8")
    assert 'href="nan"' not in index and 'href="v1/report.html"' in index
    # a '#' in a name is escaped in the link
    assert main(["analyze", str(arc / "v1.mp4"), "--um-per-px", "0.351", "--out", str(tmp_path / "x"),
                 "--quiet", "--no-video"]) == 0
    shutil.copy(data / "2" / "2.mp4", arc / "v#2.mp4")
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    assert 'href="v%232/report.html"' in (out / "report.html").read_text(encoding="utf-8")


def test_names_that_are_not_utf8_are_analysed_alone_and_in_an_archive(data, tmp_path, capsys):
    raw = os.fsencode(tmp_path)
    os.makedirs(raw + b"/arc")
    for name in (b"caf\xe9.mp4", b"v\xff2.mp4"):
        shutil.copy(data / "1" / "1.mp4", raw + b"/arc/" + name)
    single = os.fsdecode(raw + b"/arc/caf\xe9.mp4")
    assert main(["analyze", single, "--um-per-px", "0.351", "--out", str(tmp_path / "one"), "--quiet"]) == 0
    assert "caf\ufffd" in capsys.readouterr().out
    assert "caf\ufffd" in (tmp_path / "one" / "report.html").read_text(encoding="utf-8")
    assert main(["analyze", os.fsdecode(raw + b"/arc"), "--um-per-px", "0.351", "--out", str(tmp_path / "all"),
                 "--quiet", "--no-video"]) == 0
    table = pd.read_csv(tmp_path / "all" / "summary.csv", keep_default_na=False)
    assert sorted(table["video"]) == ["caf\ufffd", "v\ufffd2"] and set(table["status"]) == {"done"}


# --------------------------------------------------------------------------------------------- interrupts
def _run_and_signal(tmp_path: Path, args: list[str], signum: int, *, group: bool, after: str) -> tuple:
    """Run ``spermtrack ARGS`` in its own session; send ``signum`` once the text ``after`` names is done.

    ``after`` is ``"first video"`` (once the first video's row is in) or ``"first csv"`` (once the first
    result file of a single-video output is written).
    """
    hook = {
        "first video": """
            import spermtrack.archive as archive
            _run = archive._run_local
            def run_local(tasks, jobs, on_done):
                def done(i, row):
                    on_done(i, row)
                    os.killpg(os.getpgid(0), SIGNUM) if GROUP else os.kill(os.getpid(), SIGNUM)
                return _run(tasks, jobs, done)
            archive._run_local = run_local
            """,
        "first csv": """
            import spermtrack.io.atomic as atomic
            _write = atomic.write_csv
            def write_csv(*a, **k):
                out = _write(*a, **k)
                os.kill(os.getpid(), SIGNUM)
                return out
            atomic.write_csv = write_csv
            import spermtrack.io.tables as tables
            tables.write_csv = write_csv
            """}[after]
    # Ctrl-C raises KeyboardInterrupt even when this suite runs in the background of a shell (SIGINT ignored)
    program = (f"import os, signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
               f"SIGNUM, GROUP = {int(signum)}, {bool(group)}\n" + textwrap.dedent(hook)
               + "\nfrom spermtrack.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, errors="replace",
                          timeout=300, start_new_session=True)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.heavy
@pytest.mark.parametrize("jobs, signum, group", [(1, signal.SIGINT, True), (2, signal.SIGINT, True),
                                                 (2, signal.SIGTERM, False)])
def test_an_interrupted_archive_stops_its_workers_and_describes_what_is_there(data, tmp_path, jobs, signum, group):
    arc = _archive(data, tmp_path / "arc", 6)
    out = tmp_path / "out"
    code, _, err = _run_and_signal(tmp_path, ["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out),
                                              "--jobs", str(jobs), "--quiet"], signum, group=group,
                                   after="first video")
    assert code == (130 if signum == signal.SIGINT else 143), err
    line = _one_line(err)
    assert "of 6 video(s) finished; summary.csv describes the folders present" in line
    listing = sorted(p.name for p in out.rglob("*"))
    time.sleep(1.5)  # no worker outlives the command: nothing changes after it exited
    assert sorted(p.name for p in out.rglob("*")) == listing and not _partials(out)
    table = _summary_matches_folders(out)
    assert len(table) == 6 and "not run" in set(table["status"]) and "done" in set(table["status"])


def test_sigterm_in_a_single_video_run_leaves_no_temporary_folder(data, tmp_path):
    out = tmp_path / "one"
    code, _, err = _run_and_signal(tmp_path, ["analyze", str(data / "1" / "1.mp4"), "--um-per-px", "0.351",
                                              "--out", str(out), "--quiet"], signal.SIGTERM, group=False,
                                   after="first csv")
    assert code == 143 and "terminated; no partial output was kept" in _one_line(err)
    assert not out.exists() and not _partials(tmp_path)


def test_a_second_run_into_a_locked_archive_output_is_refused(data, tmp_path, capsys):
    arc = _archive(data, tmp_path / "arc", 1)
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    with open(out / ".spermtrack-lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.seek(0)
        held.truncate()
        held.write("pid 4242")
        held.flush()
        assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet"]) == 1
    assert "another spermtrack run (pid 4242) is writing this output folder" in _one_line(capsys.readouterr().err)


def test_an_unreachable_scheduler_writes_nothing(data, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import spermtrack.archive

    monkeypatch.setattr(spermtrack.archive, "CONNECT_TIMEOUT_S", 1.0)
    arc = _archive(data, tmp_path / "arc", 1)
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(tmp_path / "out"), "--quiet",
                 "--dask-scheduler", "tcp://127.0.0.1:9"]) == 1
    assert "cannot reach the Dask scheduler" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------- options
def test_benchmark_runs_with_its_default_trackers(data, tmp_path, capsys):
    from spermtrack.scoring.grid import DEFAULT_TRACKERS
    from spermtrack.tracker import tracker_names

    assert set(DEFAULT_TRACKERS) <= set(tracker_names())
    assert main(["benchmark", str(data), "--videos", "1", "--out", str(tmp_path / "bench"), "--quiet"]) == 0
    board = pd.read_csv(tmp_path / "bench" / "leaderboard.csv")
    assert set(DEFAULT_TRACKERS) <= set(board["tracker"])


@pytest.mark.parametrize("args, words", [
    (["analyze", "{clip}", "--um-per-px", "0.351", "--weights", "missing.pt"], "--weights applies to --detector yolo"),
    (["analyze", "{clip}", "--um-per-px", "0.351", "--detector", "yolo", "--polarity", "dark"],
     "--polarity applies to --detector blob or --detector trackpy"),
    (["detect", "{clip}", "--weights", "missing.pt"], "--weights applies to --detector yolo"),
    (["detect", "{clip}", "--imgsz", "320"], "--imgsz applies to --detector yolo"),
    (["detect", "{clip}", "--no-verify"], "--no-verify applies to --detector yolo"),
    (["analyze", "{clip}", "--um-per-px", "0.351", "--backend", "torch"], "--backend applies to --detector yolo"),
    (["detect", "{clip}", "--detector", "trackpy", "--um-per-px", "0.5"],
     "--um-per-px applies to --detector blob or --detector yolo"),
    (["track", "{folder}", "--detector", "blob", "--det-noise", "jitter=1"], "--det-noise applies to --detections gt"),
    (["track", "{folder}", "--weights", "missing.pt"], "--weights applies to --detector yolo"),
    (["track", "--detections", "{det}", "--fps", "25", "--det-noise", "miss=0.1"],
     "--det-noise applies to --detections gt"),
])
def test_an_option_that_does_not_apply_is_a_usage_error(data, tmp_path, capsys, args, words):
    (tmp_path / "det.txt").write_text("1,-1,10,10,5,5,0.9,-1,-1,-1\n")
    args = [a.format(clip=data / "1" / "1.mp4", folder=data / "1", det=tmp_path / "det.txt") for a in args]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    assert words in _one_line(capsys.readouterr().err) and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["analyze", "x.mp4", "--um-per-px", "0.351", "--tracker", "deepsort"],
                                  ["benchmark", "x", "--trackers", "sperm,deepsort"],
                                  ["benchmark", "x", "--detectors", "gt,ssd"],
                                  ["kinematics", "t.csv", "--um-per-px", "0.351", "--fps", "25", "--preset", "who"]])
def test_a_bad_stage_name_is_a_usage_error_naming_the_choices(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "choose" in err and "Config" not in err


def test_a_full_disk_that_names_no_file_names_the_output(data, tmp_path, capsys, monkeypatch):
    import spermtrack.io.atomic as atomic

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as some writers raise it: no file name

    monkeypatch.setattr(atomic, "write_json", full)
    assert main(["track", str(data / "1"), "--out", str(tmp_path / "trk")]) == 1
    assert _one_line(capsys.readouterr().err) == \
        f"spermtrack track: error: {tmp_path / 'trk'}: no space left on the disk"


def test_quiet_means_no_glyph_warnings(data, tmp_path, capsys):
    shutil.copy(data / "1" / "1.mp4", tmp_path / "视频.mp4")
    assert main(["analyze", str(tmp_path / "视频.mp4"), "--um-per-px", "0.351", "--out", str(tmp_path / "o"),
                 "--quiet", "--no-video"]) == 0
    assert "Glyph" not in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- review round
def test_a_bad_option_in_an_archive_rerun_keeps_the_earlier_results(data, tmp_path, capsys):
    arc = _archive(data, tmp_path / "arc", 2)
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    before = _tree(out / "v1")
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--detector", "yolo",
                 "--weights", str(tmp_path / "typo.pt")]) == 1
    assert "typo.pt" in _one_line(capsys.readouterr().err)
    assert _tree(out / "v1") == before and (out / "v2" / "report.html").is_file()


def test_the_current_folder_is_refused_before_any_work(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(data / "1" / "1.mp4"), "--um-per-px", "0.351", "--out", ".", "--quiet"]) == 1
    assert "is the current folder or holds it" in _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_a_linked_output_folder_is_written_through_its_link(data, tmp_path):
    (tmp_path / "scratch").mkdir()
    (tmp_path / "res").symlink_to(tmp_path / "scratch")
    assert main(["analyze", str(data / "1" / "1.mp4"), "--um-per-px", "0.351", "--out", str(tmp_path / "res"),
                 "--quiet", "--no-video"]) == 0
    assert (tmp_path / "res").is_symlink() and (tmp_path / "scratch" / "report.html").is_file()
    assert not _partials(tmp_path)


def test_a_locked_output_refuses_every_command(data, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".spermtrack-output").write_text("kind: results\n")
    with open(out / ".spermtrack-lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 77")
        held.flush()
        assert main(["analyze", str(data / "1" / "1.mp4"), "--um-per-px", "0.351", "--out", str(out),
                     "--quiet"]) == 1
        assert "another spermtrack run (pid 77)" in _one_line(capsys.readouterr().err)
        assert main(["track", str(data / "1"), "--out", str(out)]) == 1
        assert "another spermtrack run (pid 77)" in _one_line(capsys.readouterr().err)


def test_several_videos_beside_an_images_folder_are_an_archive(data, tmp_path, capsys):
    import cv2
    import numpy as np

    arc = _archive(data, tmp_path / "arc", 2)
    (arc / "images").mkdir()
    cv2.imwrite(str(arc / "images" / "frame_0.png"), np.zeros((20, 20, 3), np.uint8))
    out = tmp_path / "out"
    assert main(["analyze", str(arc), "--um-per-px", "0.351", "--out", str(out), "--quiet", "--no-video"]) == 0
    assert "images (a VISEM-Tracking sub-folder beside several videos)" in capsys.readouterr().err
    assert list(_summary_matches_folders(out)["video"]) == ["v1", "v2"]
