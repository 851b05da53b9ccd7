"""Archives: one folder per video, summary.csv and an index; reruns, bad videos, processes and Dask."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from spermtrack.analysis import AnalyzeConfig
from spermtrack.archive import SUMMARY_COLUMNS, analyze_archive
from spermtrack.cli import main
from spermtrack.errors import InputError
from spermtrack.synth import SynthConfig, write_synthetic_dataset

CONFIG = AnalyzeConfig(um_per_px=0.351, annotate=False)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Three 1.2-s synthetic videos in VISEM-Tracking layout (plus the generator's CSV and config)."""
    out = tmp_path_factory.mktemp("archive")
    write_synthetic_dataset(out, n_videos=3, config=SynthConfig(seconds=1.2, fps=25.0, density=8.0), seed=21,
                            progress=False)
    return out


@pytest.fixture(scope="module")
def local(archive, tmp_path_factory):
    """The archive analysed in this process, one video after the other."""
    out = tmp_path_factory.mktemp("local") / "out"
    table = analyze_archive(archive, out, CONFIG, progress=False)
    return out, table


def test_every_video_gets_its_folder_a_row_and_a_link(local):
    out, table = local
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    assert list(table["video"]) == ["1", "2", "3"] and set(table["status"]) == {"done"}
    for video in table["video"]:
        assert (out / video / "report.html").is_file() and (out / video / "tracks.parquet").is_file()
    written = pd.read_csv(out / "summary.csv", dtype={"video": str})
    assert list(written.columns) == list(SUMMARY_COLUMNS) and list(written["video"]) == ["1", "2", "3"]
    for column in ("progressive_pct", "immotile_pct", "graded", "n_frames"):
        assert written[column].tolist() == pytest.approx(table[column].astype(float).tolist())
    index = (out / "report.html").read_text(encoding="utf-8")
    assert all(f'href="{v}/report.html"' in index for v in table["video"])


def test_two_processes_give_the_same_summary(archive, local, tmp_path):
    table = analyze_archive(archive, tmp_path / "jobs2", CONFIG, jobs=2, progress=False)
    assert (tmp_path / "jobs2" / "summary.csv").read_bytes() == (local[0] / "summary.csv").read_bytes()
    assert list(table["status"]) == ["done"] * 3


@pytest.mark.heavy
def test_a_dask_cluster_gives_the_same_summary(archive, local, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        analyze_archive(archive, tmp_path / "dask", CONFIG, dask_scheduler=cluster.scheduler_address,
                        progress=False)
    assert (tmp_path / "dask" / "summary.csv").read_bytes() == (local[0] / "summary.csv").read_bytes()


def test_an_unreachable_scheduler_is_one_clear_error(archive, tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    import spermtrack.archive

    monkeypatch.setattr(spermtrack.archive, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        analyze_archive(archive, tmp_path / "x", CONFIG, dask_scheduler="tcp://127.0.0.1:9", progress=False)


def test_a_rerun_skips_finished_videos_and_redoes_changed_settings(archive, tmp_path):
    out = tmp_path / "rerun"
    analyze_archive(archive, out, CONFIG, progress=False)
    before = (out / "2" / "tracks.csv").stat().st_mtime_ns
    again = analyze_archive(archive, out, CONFIG, progress=False)
    assert list(again["status"]) == ["skipped"] * 3
    assert (out / "2" / "tracks.csv").stat().st_mtime_ns == before
    changed = analyze_archive(archive, out, CONFIG.replace(stages=CONFIG.stages.replace(preset="casa")), progress=False)
    assert list(changed["status"]) == ["done"] * 3


def test_one_bad_video_is_reported_and_the_others_still_run(archive, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    shutil.copytree(archive, mixed)
    (mixed / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    out = tmp_path / "out"
    code = main(["analyze", str(mixed), "--um-per-px", "0.351", "--out", str(out), "--no-video", "--quiet"])
    assert code == 1
    captured = capsys.readouterr()
    table = pd.read_csv(out / "summary.csv", dtype={"video": str})
    assert list(table["status"]) == ["done", "done", "done", "failed"]
    bad = table.iloc[3]
    assert bad["video"] == "broken" and "broken.mp4" in bad["error"]
    assert captured.err.count("broken.mp4") == 1 and "Traceback" not in captured.err
    assert "3 analysed, 0 already done, 1 failed" in captured.out
    assert not (out / "broken").exists()


def test_a_folder_without_videos_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no video here")
    with pytest.raises(InputError, match="holds no video to analyse"):
        analyze_archive(tmp_path, tmp_path / "out", CONFIG, progress=False)


def test_two_inputs_with_one_name_are_refused(archive, tmp_path):
    shutil.copytree(archive / "1", tmp_path / "a" / "1")
    shutil.copy(archive / "1" / "1.mp4", tmp_path / "a" / "1.avi")
    with pytest.raises(InputError, match=r"same output folder \(1\)"):
        analyze_archive(tmp_path / "a", tmp_path / "out", CONFIG, progress=False)
