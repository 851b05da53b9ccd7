"""Analyse an archive of videos: one output folder per video, a combined table and an index page.

:func:`analyze_archive` lists the video inputs of a folder (:func:`spermtrack.io.visem.scan_inputs`) and
runs :func:`spermtrack.analysis.analyze_video` on each, writing ``OUT/<video>/`` as a unit, then
``OUT/summary.csv`` (one row per video) and ``OUT/report.html`` (an index linking every report).

- A rerun skips a video whose folder holds a finished analysis of the same input with the same
  settings (same :meth:`~spermtrack.analysis.AnalyzeConfig.key`); anything else is analysed again.
- A video that cannot be analysed (unreadable, truncated, a broken link, ...) is reported in one line
  and in ``summary.csv`` (status ``failed``); the others still run. Its earlier result folder, if any,
  is removed: ``summary.csv`` always describes exactly the folders present.
- What an archive holds besides videos (stray images, text files, earlier outputs) is listed as
  skipped, with the reason, on the command line and in the index page.
- Ctrl-C or SIGTERM stops the run: no queued video starts, the videos in hand are abandoned (their
  output units leave nothing half-written), worker processes are stopped before the command exits,
  and ``summary.csv`` is written for the folders present (status ``not run`` for videos not reached).
- The output folder is locked while a run writes it: a second run into it is refused.
- ``jobs > 1`` analyses videos in parallel processes on this machine; ``dask_scheduler`` sends the same
  per-video work to an existing Dask distributed cluster (``pip install spermtrack[dask]``). The
  per-video work is deterministic, so every way gives the same ``summary.csv``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from spermtrack.analysis import AnalyzeConfig
from spermtrack.errors import InputError

__all__ = ["SUMMARY_COLUMNS", "analyze_archive", "analyze_one"]

#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT_S = 30.0

#: Columns of ``summary.csv``.
SUMMARY_COLUMNS = ("video", "status", "error", "progressive_pct", "non_progressive_pct", "immotile_pct", "a_pct",
                   "b_pct", "c_pct", "d_pct", "progressive_ci_low", "progressive_ci_high", "non_progressive_ci_low",
                   "non_progressive_ci_high", "immotile_ci_low", "immotile_ci_high", "graded", "ungraded",
                   "n_frames", "fps", "um_per_px", "notes", "report", "input_sha256")


def _name(path: Path) -> str:
    """The output folder name of an input: the video file's stem or the folder's name."""
    from spermtrack.io.video import VIDEO_SUFFIXES
    from spermtrack.io.visem import readable_name

    return readable_name(path.stem if not path.is_dir() and path.suffix.lower() in VIDEO_SUFFIXES else path.name)


def _row(video: str, status: str, record: dict | None = None, error: str = "") -> dict:
    row = dict.fromkeys(SUMMARY_COLUMNS, None)
    row.update(video=video, status=status, error=error)
    if record is not None:
        pct, counts, cal = record["percent"], record["counts"], record.get("calibration", {})
        row.update(progressive_pct=pct.get("progressive"), non_progressive_pct=pct.get("non_progressive"),
                   immotile_pct=pct.get("immotile"), a_pct=pct.get("a"), b_pct=pct.get("b"), c_pct=pct.get("c"),
                   d_pct=pct.get("d"), graded=counts.get("graded"), ungraded=counts.get("ungraded"),
                   n_frames=record.get("n_frames"), fps=cal.get("fps"), um_per_px=cal.get("um_per_px"),
                   notes=" | ".join(record.get("notes") or []),
                   report=f"{video}/report.html", input_sha256=record.get("input_sha256"))
        for key in ("progressive", "non_progressive", "immotile"):
            low_high = (record.get("interval_95") or {}).get(key)
            if low_high:
                row[f"{key}_ci_low"], row[f"{key}_ci_high"] = low_high
    return row


def _earlier(folder: Path) -> dict | None:
    """The ``summary.json`` record of a finished analysis in ``folder`` (any settings), else None."""
    from spermtrack.io.atomic import RESULTS, marker_kind

    summary = folder / "summary.json"
    if marker_kind(folder) != RESULTS or not summary.is_file():
        return None
    try:
        record = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "percent" in record and "counts" in record else None


def _finished(folder: Path, key: str) -> dict | None:
    """The summary of a finished analysis with this key in ``folder``, else None."""
    record = _earlier(folder)
    return record if record is not None and record.get("analysis_key") == key else None


def _remove_result(folder: Path) -> bool:
    """Remove an earlier result folder of spermtrack (never anything else); True when one was removed."""
    import shutil

    from spermtrack.io.atomic import RESULTS, marker_kind

    if not folder.is_dir() or marker_kind(folder) != RESULTS:
        return False
    doomed = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    os.rename(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return True


# ---------------------------------------------------------------------------------------------- workers and signals
#: Set in a worker process once it was told to stop: it takes no further video.
_STOPPED = False
#: True while a worker process analyses a video (a stop then interrupts it; otherwise the worker just exits).
_BUSY = False


def _worker_stop(signum, frame) -> None:
    """SIGTERM in a worker: interrupt the video in hand (its output unit cleans up), take no other."""
    global _STOPPED
    _STOPPED = True
    if _BUSY:
        from spermtrack.errors import Interrupted

        raise Interrupted(signum=signum)
    # idle: nothing to stop; the pool's shutdown ends this worker, and _STOPPED refuses any queued video


def _worker_init() -> None:
    """Worker processes leave Ctrl-C to the command (which stops them with SIGTERM): no tracebacks; their
    warnings are one line each, as in the command itself."""
    import signal
    import warnings

    from spermtrack.errors import Redelivery

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)
    sys.unraisablehook = Redelivery(sys.unraisablehook)  # a stop is never swallowed by a finalizer

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"spermtrack analyze: warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def analyze_one(path: str, out_dir: str, config: dict, progress: bool = False) -> dict:
    """Analyse one video into ``out_dir`` (or skip it when already done); return its ``summary.csv`` row.

    A plain function of plain arguments, so that it runs the same in this process, in a process pool
    and on a Dask worker. Errors a user can fix (an unreadable or truncated video, a bad option, a
    full disk) become a ``failed`` row with the one-line message, and an earlier result folder of
    that video is removed (it no longer describes a readable input); anything else is raised.
    """
    global _BUSY
    from spermtrack.analysis import analyze_video, input_checksum
    from spermtrack.io.atomic import describe_os_error
    from spermtrack.io.inputs import open_video

    cfg = AnalyzeConfig.from_dict(config)
    name = _name(Path(path))
    if _STOPPED:
        return _row(name, "not run", error="interrupted before this video")
    _BUSY = True
    input_read = False
    try:
        if Path(path).is_symlink() and not Path(path).exists():
            raise InputError("is a broken link: its target does not exist", path)
        video = open_video(path, um_per_px=cfg.um_per_px, fps=cfg.fps, allow_truncated=cfg.allow_truncated)
        checksum = input_checksum(video)
        input_read = True
        done = _finished(Path(out_dir), cfg.key(checksum))
        if done is not None:
            return _row(video.video_id, "skipped", done)
        analysis = analyze_video(video, cfg, progress=progress, checksum=checksum)
        analysis.write(out_dir, progress=progress)
        return _row(video.video_id, "done", {**analysis.summary, "input_sha256": checksum, "notes": analysis.notes})
    except (InputError, OSError) as exc:
        message = str(exc) if isinstance(exc, InputError) else describe_os_error(exc)
        if not input_read:  # the input itself is unreadable: an earlier result no longer describes it
            if _remove_result(Path(out_dir)):
                message += " (its earlier result folder was removed)"
            return _row(name, "failed", error=message)
        earlier = _earlier(Path(out_dir))  # the analysis or its writing failed: an earlier result stays
        return _row(name, "failed", earlier, error=message + ("; its earlier result folder is kept" if earlier else ""))
    finally:
        _BUSY = False


def _run_local(tasks: list[tuple], jobs: int, on_done: Callable[[int, dict], None]) -> None:
    if jobs <= 1:
        for i, task in enumerate(tasks):
            on_done(i, analyze_one(*task))
        return
    import concurrent.futures
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads (torch, BLAS)
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_init)
    futures = {}
    try:
        futures = {pool.submit(analyze_one, *task): i for i, task in enumerate(tasks)}
        for future in concurrent.futures.as_completed(futures):
            on_done(futures[future], future.result())
    except BaseException:
        # Ctrl-C, SIGTERM or an error: no queued video starts, the videos in hand stop (their output
        # units clean up), and the command waits for the workers so none outlives it; a second signal
        # does not interrupt this clean-up
        with _signals_ignored():
            for future in futures:
                future.cancel()
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                if process.is_alive():
                    with contextlib.suppress(OSError):
                        os.kill(process.pid, signal.SIGTERM)
            pool.shutdown(wait=True, cancel_futures=True)
            for future, i in futures.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    on_done(i, future.result())
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ctrl-C and SIGTERM are ignored within the block (the main thread only); the handlers are restored."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _connect_dask(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--dask-scheduler needs Dask distributed: pip install 'spermtrack[dask]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _run_dask(tasks: list[tuple], client, on_done: Callable[[int, dict], None]) -> None:
    from distributed import as_completed

    futures = [client.submit(analyze_one, *task, pure=False, key=f"spermtrack-{i}-{_name(Path(task[0]))}")
               for i, task in enumerate(tasks)]
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for future in as_completed(futures):
            on_done(index[future.key], future.result())
    except BaseException:
        client.cancel(futures)
        raise


def _present_rows(rows: list[dict | None], tasks: list[tuple]) -> list[dict]:
    """One row per input that describes its folder as it is now (a video not reached keeps an earlier one)."""
    out = []
    for row, (path, folder, _) in zip(rows, tasks):
        if row is None or row["status"] == "not run":
            earlier = _earlier(Path(folder))
            why = "interrupted before this video" + ("; its folder holds an earlier result" if earlier else "")
            row = _row(_name(Path(path)), "not run", earlier, error=why)
        out.append(row)
    return out


def analyze_archive(inputs: str | os.PathLike | Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                    config: AnalyzeConfig, *, jobs: int = 1, dask_scheduler: str | None = None,
                    progress: bool = True, skipped: Sequence[tuple[Path, str]] = (),
                    sources: Sequence[str | os.PathLike] = ()) -> pd.DataFrame:
    """Analyse every video of an archive into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    inputs : str, PathLike or sequence
        An archive folder (its video inputs are analysed, :func:`spermtrack.io.visem.scan_inputs`) or a
        list of video inputs.
    out_dir : str or PathLike
        Output folder: new, empty, or an earlier output of spermtrack (checked before any work); it
        may not hold or lie inside an input. It is locked for the run: a second run into it is refused.
    config : AnalyzeConfig
        What to run on every video.
    jobs : int
        Videos analysed in parallel on this machine (processes).
    dask_scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to send the per-video work to instead.
    progress : bool
        Show a progress bar over the videos.
    skipped : sequence of (Path, str)
        Entries of the archive that are not analysed, with the reason (listed in the index page);
        found by the scan when ``inputs`` is a folder.
    sources : sequence of str or PathLike
        The archive folder(s) the ``inputs`` list came from (the output may not hold or lie inside them).

    Returns
    -------
    pandas.DataFrame
        The ``summary.csv`` table (:data:`SUMMARY_COLUMNS`), in input order.

    Raises
    ------
    InputError
        The archive holds no video, the output folder cannot be used or is locked by another run, or
        the cluster cannot be reached (nothing is written then).
    KeyboardInterrupt
        Ctrl-C or SIGTERM (:class:`spermtrack.errors.Interrupted`): the videos in hand are stopped and
        left as they were, and ``summary.csv`` and the index describe exactly the folders present.
    """
    from tqdm.auto import tqdm

    from spermtrack.errors import Interrupted
    from spermtrack.io.atomic import check_output_folder, output_lock, write_marker
    from spermtrack.io.inputs import scan_inputs

    sources = [Path(p) for p in sources]
    if isinstance(inputs, (str, os.PathLike)):
        scan = scan_inputs(inputs)
        paths, skipped, sources = scan.inputs, list(skipped) + scan.skipped, [*sources, Path(inputs)]
    else:
        paths = [Path(p) for p in inputs]
    out = check_output_folder(out_dir, inputs=sources + paths)
    names = [_name(p) for p in paths]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InputError(f"two inputs would write the same output folder ({', '.join(doubled)}): rename one")
    from spermtrack.detectors import make_detector

    make_detector(config.stages.detector, **config.stages.detector_options)  # a bad option fails once, before any video
    client = _connect_dask(dask_scheduler) if dask_scheduler else None  # before anything is written
    try:
        out.mkdir(parents=True, exist_ok=True)
        with output_lock(out):
            write_marker(out)
            tasks = [(str(p), str(out / n), config.to_dict()) for p, n in zip(paths, names)]
            rows: list[dict | None] = [None] * len(tasks)
            bar = tqdm(total=len(tasks), unit="video", desc="analyze", disable=not progress, file=sys.stderr)

            def done(i: int, row: dict) -> None:
                rows[i] = row
                bar.update(1)
                if row["status"] == "failed":
                    bar.write(f"spermtrack analyze: {row['error']}", file=sys.stderr)

            try:
                if client is not None:
                    _run_dask(tasks, client, done)
                else:
                    _run_local(tasks, jobs, done)
            except KeyboardInterrupt as exc:
                bar.close()
                finished = sum(r is not None and r["status"] != "not run" for r in rows)
                with _signals_ignored():
                    _write_summary(out, _present_rows(rows, tasks), skipped)
                raise Interrupted(f"{finished} of {len(tasks)} video(s) finished; summary.csv describes the "
                                  "folders present", getattr(exc, "signal", 2)) from None
            finally:
                bar.close()
            return _write_summary(out, _present_rows(rows, tasks), skipped)
    finally:
        if client is not None:
            client.close()


def _write_summary(out: Path, rows: list[dict], skipped: Sequence[tuple[Path, str]]) -> pd.DataFrame:
    """Write ``summary.csv`` and the index ``report.html``; return the table."""
    from spermtrack.html import archive_index_html
    from spermtrack.io.atomic import write_csv, write_text
    from spermtrack.io.visem import readable_name

    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    write_csv(out / "summary.csv", table)
    write_text(out / "report.html", archive_index_html(
        table.to_dict("records"), title=f"spermtrack analysis of {len(table)} video(s)",
        skipped=[(readable_name(p.name), why) for p, why in skipped]))
    return table
