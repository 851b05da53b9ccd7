"""Analyse an archive of videos: one output folder per video, a combined table and an index page.

:func:`analyze_archive` lists the video inputs of a folder (:func:`spermtrack.io.visem.list_inputs`) and
runs :func:`spermtrack.analysis.analyze_video` on each, writing ``OUT/<video>/`` as a unit, then
``OUT/summary.csv`` (one row per video) and ``OUT/report.html`` (an index linking every report).

- A rerun skips a video whose folder holds a finished analysis of the same input with the same
  settings (same :meth:`~spermtrack.analysis.AnalyzeConfig.key`); anything else is analysed again.
- A video that cannot be analysed (unreadable, truncated, ...) is reported in one line and in
  ``summary.csv`` (status ``failed``); the others still run.
- ``jobs > 1`` analyses videos in parallel processes on this machine; ``dask_scheduler`` sends the same
  per-video work to an existing Dask distributed cluster (``pip install spermtrack[dask]``). The
  per-video work is deterministic, so every way gives the same ``summary.csv``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from spermtrack.analysis import AnalyzeConfig
from spermtrack.errors import InputError

__all__ = ["SUMMARY_COLUMNS", "analyze_archive", "analyze_one"]

#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT_S = 30.0

#: Columns of ``summary.csv``.
SUMMARY_COLUMNS = ("video", "status", "error", "progressive_pct", "non_progressive_pct", "immotile_pct", "a_pct",
                   "b_pct", "c_pct", "d_pct", "graded", "ungraded", "n_frames", "fps", "um_per_px", "report",
                   "input_sha256")


def _name(path: Path) -> str:
    """The output folder name of an input: the video file's stem or the folder's name."""
    from spermtrack.io.visem import readable_name

    return readable_name(path.stem if path.is_file() else path.name)


def _row(video: str, status: str, record: dict | None = None, error: str = "") -> dict:
    row = dict.fromkeys(SUMMARY_COLUMNS, None)
    row.update(video=video, status=status, error=error)
    if record is not None:
        pct, counts, cal = record["percent"], record["counts"], record.get("calibration", {})
        row.update(progressive_pct=pct.get("progressive"), non_progressive_pct=pct.get("non_progressive"),
                   immotile_pct=pct.get("immotile"), a_pct=pct.get("a"), b_pct=pct.get("b"), c_pct=pct.get("c"),
                   d_pct=pct.get("d"), graded=counts.get("graded"), ungraded=counts.get("ungraded"),
                   n_frames=record.get("n_frames"), fps=cal.get("fps"), um_per_px=cal.get("um_per_px"),
                   report=f"{video}/report.html", input_sha256=record.get("input_sha256"))
    return row


def _finished(folder: Path, key: str) -> dict | None:
    """The summary of a finished analysis with this key in ``folder``, else None."""
    from spermtrack.io.atomic import OUTPUT_MARKER

    summary = folder / "summary.json"
    if not (folder / OUTPUT_MARKER).is_file() or not summary.is_file():
        return None
    try:
        record = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("analysis_key") == key else None


def analyze_one(path: str, out_dir: str, config: dict, progress: bool = False) -> dict:
    """Analyse one video into ``out_dir`` (or skip it when already done); return its ``summary.csv`` row.

    A plain function of plain arguments, so that it runs the same in this process, in a process pool
    and on a Dask worker. Errors a user can fix (an unreadable or truncated video, a bad option, a
    full disk) become a ``failed`` row with the one-line message; anything else is raised.
    """
    from spermtrack.analysis import analyze_video, input_checksum
    from spermtrack.io.atomic import describe_os_error
    from spermtrack.io.visem import open_video

    cfg = AnalyzeConfig.from_dict(config)
    name = _name(Path(path))
    try:
        video = open_video(path, um_per_px=cfg.um_per_px, fps=cfg.fps, allow_truncated=cfg.allow_truncated)
        checksum = input_checksum(video)
        done = _finished(Path(out_dir), cfg.key(checksum))
        if done is not None:
            return _row(video.video_id, "skipped", done)
        analysis = analyze_video(video, cfg, progress=progress, checksum=checksum)
        analysis.write(out_dir, progress=progress)
        return _row(video.video_id, "done", {**analysis.summary, "input_sha256": checksum})
    except InputError as exc:
        return _row(name, "failed", error=str(exc))
    except OSError as exc:
        return _row(name, "failed", error=describe_os_error(exc))


def _run_local(tasks: list[tuple], jobs: int, on_done: Callable[[int, dict], None]) -> None:
    if jobs <= 1:
        for i, task in enumerate(tasks):
            on_done(i, analyze_one(*task))
        return
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads (torch, BLAS)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(analyze_one, *task): i for i, task in enumerate(tasks)}
        for future in concurrent.futures.as_completed(futures):
            on_done(futures[future], future.result())


def _run_dask(tasks: list[tuple], address: str, on_done: Callable[[int, dict], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--dask-scheduler needs Dask distributed: pip install 'spermtrack[dask]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = [client.submit(analyze_one, *task, pure=False, key=f"spermtrack-{i}-{Path(task[0]).name}")
                   for i, task in enumerate(tasks)]
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            on_done(index[future.key], future.result())
    finally:
        client.close()


def analyze_archive(inputs: str | os.PathLike | Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                    config: AnalyzeConfig, *, jobs: int = 1, dask_scheduler: str | None = None,
                    progress: bool = True) -> pd.DataFrame:
    """Analyse every video of an archive into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    inputs : str, PathLike or sequence
        An archive folder (its video inputs are analysed) or a list of video inputs.
    out_dir : str or PathLike
        Output folder: new, empty, or an earlier output of spermtrack (checked before any work).
    config : AnalyzeConfig
        What to run on every video.
    jobs : int
        Videos analysed in parallel on this machine (processes).
    dask_scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to send the per-video work to instead.
    progress : bool
        Show a progress bar over the videos.

    Returns
    -------
    pandas.DataFrame
        The ``summary.csv`` table (:data:`SUMMARY_COLUMNS`), in input order.

    Raises
    ------
    InputError
        The archive holds no video, the output folder cannot be used, or the cluster cannot be reached.
    """
    from tqdm.auto import tqdm

    from spermtrack.html import archive_index_html
    from spermtrack.io.atomic import OUTPUT_MARKER, check_output_folder, write_csv, write_text
    from spermtrack.io.visem import list_inputs

    if isinstance(inputs, (str, os.PathLike)):
        paths = list_inputs(inputs)
    else:
        paths = [Path(p) for p in inputs]
    out = check_output_folder(out_dir)
    names = [_name(p) for p in paths]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InputError(f"two inputs would write the same output folder ({', '.join(doubled)}): rename one")
    out.mkdir(parents=True, exist_ok=True)
    (out / OUTPUT_MARKER).write_text("written by spermtrack; a later run may replace this folder\n",
                                     encoding="utf-8")
    tasks = [(str(p), str(out / n), config.to_dict()) for p, n in zip(paths, names)]
    rows: list[dict | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), unit="video", desc="analyze", disable=not progress, file=sys.stderr)

    def done(i: int, row: dict) -> None:
        rows[i] = row
        bar.update(1)
        if row["status"] == "failed":
            bar.write(f"spermtrack analyze: {row['error']}", file=sys.stderr)

    try:
        if dask_scheduler:
            _run_dask(tasks, dask_scheduler, done)
        else:
            _run_local(tasks, jobs, done)
    finally:
        bar.close()
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    write_csv(out / "summary.csv", table)
    write_text(out / "report.html", archive_index_html(table.to_dict("records"),
                                                        title=f"spermtrack analysis of {len(table)} video(s)"))
    return table
