"""Atomic writing: an interrupted run leaves no half-written file and no half-written output folder.

One file (:func:`atomic_path`, :func:`write_text`, :func:`write_json`, :func:`write_csv`) is written
to a temporary file beside it and renamed into place when complete (``os.replace`` is atomic on POSIX).

An output of several files (:func:`output_folder`) is written into a temporary sibling folder that
replaces the target folder only when everything is written: a reader sees the old output or the new
one, never a mix. The target must be absent, empty, or an earlier output of spermtrack (it holds
:data:`OUTPUT_MARKER`); anything else is refused before any work, so a user's folder is never
replaced. The marker says what the folder holds: results (a later run may replace them) or a data set
written by ``spermtrack synth`` (only a new data set may replace it). An output folder never equals,
holds or lies inside one of the command's inputs (``inputs=``), so an output can never eat its input.
Temporary folders left by a killed run are removed by the next run into the same place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from spermtrack.errors import InputError, printable

#: File written into every output folder of spermtrack; its presence lets a later run replace the folder.
OUTPUT_MARKER = ".spermtrack-output"
#: Lock file an archive run holds in its output folder (``fcntl.flock``) while it writes it.
OUTPUT_LOCK = ".spermtrack-lock"
#: Marker kinds: results of a command (a later run may replace them) and data sets (never replaced by results).
RESULTS, DATASET = "results", "dataset"
_PARTIAL, _OLD = ".partial-", ".old-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed
    and ``path`` is left as it was; an ``OSError`` about the temporary file (a full or read-only
    disk) is raised naming ``path``.

    Parameters
    ----------
    path : str or PathLike
        The final file name. Its folder is created if needed.

    Yields
    ------
    pathlib.Path
        Where to write; it keeps the final suffix so that writers that choose a
        format from the suffix (OpenCV, pandas compression) behave the same.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix="".join(path.suffixes) or ".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _usual_mode(tmp_path, 0o666)  # mkstemp makes files private (0600); a result is shared like any file
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if exc.filename and Path(exc.filename) == tmp_path:
            raise OSError(exc.errno, exc.strerror, str(path)) from None  # name the file, not its temporary
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_mode(path: Path, mode: int) -> None:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would: ``mode`` less the umask."""
    os.chmod(path, mode & ~_umask())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale(target: Path) -> None:
    """Remove temporary siblings of ``target`` left by runs that were killed (their process is gone)."""
    prefix = f".{target.name}"
    for sibling in target.parent.glob(f"{prefix}{_PARTIAL}*") if target.parent.is_dir() else ():
        pid = sibling.name[len(prefix) + len(_PARTIAL):].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)
    for sibling in target.parent.glob(f"{prefix}{_OLD}*") if target.parent.is_dir() else ():
        shutil.rmtree(sibling, ignore_errors=True)


def _real(path: str | os.PathLike) -> Path:
    """``path`` made absolute with symbolic links resolved (a missing tail is kept as written)."""
    return Path(os.path.realpath(os.fsencode(Path(path).absolute())).decode("utf-8", "surrogateescape"))


def marker_kind(folder: str | os.PathLike) -> str | None:
    """What ``folder``'s :data:`OUTPUT_MARKER` says it holds: :data:`RESULTS`, :data:`DATASET`, or None.

    ``None`` means there is no marker: spermtrack did not write the folder. A marker written before
    kinds existed holds no ``kind:`` line; it marks a data set when ``synth_config.json`` (which
    ``spermtrack synth`` always writes) is beside it, else results.
    """
    folder = Path(folder)
    marker = folder / OUTPUT_MARKER
    if not marker.is_file():
        return None
    try:
        text = marker.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("kind:"):
            return line.removeprefix("kind:").strip()
    return DATASET if (folder / "synth_config.json").is_file() else RESULTS


def check_output_folder(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = (),
                        kind: str = RESULTS) -> Path:
    """Check, before any work, that ``path`` can become an output folder; return it.

    Parameters
    ----------
    path : str or PathLike
        The output folder.
    inputs : iterable of str or PathLike
        What the command reads (video files and folders, tables, data sets). The output may not equal,
        contain or sit inside any of them: replacing the output folder would destroy its input.
    kind : str
        What is written: :data:`RESULTS` (results of a command, which a later run may replace) or
        :data:`DATASET` (a data set, which only a new data set may replace).

    Raises
    ------
    InputError
        ``path`` is a file; a non-empty folder that spermtrack did not write (no :data:`OUTPUT_MARKER`);
        a data set written by ``spermtrack synth`` while ``kind`` is not :data:`DATASET`; the same as,
        inside, or a folder above an input; or its parent cannot be created or written to.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder: choose a folder name for the output", path)
    if _real(path) == _real(Path.cwd()) or _real(path) in _real(Path.cwd()).parents:
        raise InputError("is the current folder or holds it: an output folder is replaced as a whole; choose a "
                         "subfolder such as results/", path)
    _check_apart(path, inputs)
    check_unlocked(path)
    if path.is_dir() and any(path.iterdir()):
        found = marker_kind(path)
        if found is None:
            raise InputError("is a folder that spermtrack did not write and it is not empty: choose a new or empty "
                             "folder (spermtrack replaces only its own outputs)", path)
        if found == DATASET and kind != DATASET:
            raise InputError("is a data set (written by spermtrack synth), not an earlier result: choose another "
                             "output folder (a data set is never replaced by results)", path)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output's folder: {exc.strerror or exc}", parent) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError("cannot write the output here: the folder is read-only or not writable", parent)
    return path


def _refuse_locked(lock, folder: str | os.PathLike) -> None:
    """Take ``lock`` (an open lock file) without waiting; raise the one-line refusal when a run holds it."""
    import fcntl

    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        raise InputError(f"another spermtrack run ({holder}) is writing this output folder: wait for it to finish "
                         "or choose another folder", folder) from None


def check_unlocked(folder: str | os.PathLike) -> None:
    """Refuse a folder that another spermtrack run holds locked (:data:`OUTPUT_LOCK`, :func:`output_lock`).

    Raises
    ------
    InputError
        Another process holds the lock; the message names it (``pid N``) when it said so.
    """
    import fcntl

    lock_path = Path(folder) / OUTPUT_LOCK
    if not lock_path.is_file():
        return
    try:
        with open(lock_path, "r+", encoding="utf-8") as lock:
            _refuse_locked(lock, folder)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        return  # an unreadable lock file locks nothing


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold ``folder``'s lock for the block: any other run into it is refused (:func:`check_unlocked`),
    not mixed in. The lock file names this process (``pid N``) for the refusal message."""
    lock = open(Path(folder) / OUTPUT_LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (held for the block)
    try:
        _refuse_locked(lock, folder)
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}")
        lock.flush()
        yield
    finally:
        lock.close()


def _check_apart(path: Path, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output folder that equals, contains or sits inside one of ``inputs``."""
    out = _real(path)
    for item in inputs:
        if item is None:
            continue
        source = _real(item)
        if out == source:
            raise InputError(f"is the input {item}: the output would replace it; choose another output folder",
                             path)
        if out in source.parents:
            raise InputError(f"holds the input {item}: the output would replace it; choose another output folder",
                             path)
        if source in out.parents:
            raise InputError(f"lies inside the input {item}: spermtrack does not write into its inputs; choose an "
                             "output folder outside it", path)


@contextlib.contextmanager
def output_folder(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = (),
                  kind: str = RESULTS) -> Iterator[Path]:
    """Write a multi-file output as a unit (see the module docstring).

    Parameters
    ----------
    path : str or PathLike
        The output folder.
    inputs : iterable of str or PathLike
        What the command reads; see :func:`check_output_folder`.
    kind : str
        :data:`RESULTS` or :data:`DATASET`; written into the folder's marker.

    Yields
    ------
    pathlib.Path
        A new temporary folder beside ``path`` to write everything into. When the block ends without
        an exception it becomes ``path`` (an earlier output there is replaced); on any exception,
        KeyboardInterrupt included, it is deleted and ``path`` is left as it was.

    Raises
    ------
    InputError
        As :func:`check_output_folder`, before the block runs.
    """
    path = _real(check_output_folder(path, inputs=inputs, kind=kind))  # a linked output: replace its target
    _remove_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{_PARTIAL}{os.getpid()}-", dir=path.parent))
    old = None
    try:
        _usual_mode(tmp, 0o777)  # mkdtemp makes folders private (0700)
        yield tmp
        write_marker(tmp, kind)
        with _signals_blocked():  # the two renames are one step: a signal waits until both are done
            if path.exists():
                old = path.parent / f".{path.name}{_OLD}{os.getpid()}"
                os.rename(path, old)
            os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not path.exists():
            os.rename(old, path)  # the swap did not finish: the previous output goes back in place
        raise


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM within the block (delivered when it ends); the main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_marker(folder: str | os.PathLike, kind: str = RESULTS) -> Path:
    """Write :data:`OUTPUT_MARKER` into ``folder``, saying what kind of output the folder holds."""
    if kind not in (RESULTS, DATASET):
        raise ValueError(f"kind must be {RESULTS!r} or {DATASET!r}, got {kind!r}")
    marker = Path(folder) / OUTPUT_MARKER
    what = ("a later run may replace this folder" if kind == RESULTS
            else "a data set: only a new data set may replace this folder, never results")
    marker.write_text(f"written by spermtrack; {what}\nkind: {kind}\n", encoding="utf-8")
    return marker


def describe_os_error(exc: OSError) -> str:
    """One line for a failed write: the file and what the system said (a full disk, a read-only disk, ...)."""
    what = {errno.ENOSPC: "no space left on the disk", errno.EROFS: "the disk is read-only",
            errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}.get(exc.errno)
    where = ""
    if exc.filename:
        # name the output, not the temporary folder or file it is being written through
        parts = []
        for part in Path(str(exc.filename)).parts:
            for marker in (_PARTIAL, _OLD):
                if part.startswith(".") and marker in part:
                    part = part[1:].partition(marker)[0]
            parts.append(part)
        where = f"{Path(*parts)}: "
    return f"{where}{what or exc.strerror or exc}"


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically and return the path.

    Undecodable bytes of file names inside ``text`` (lone surrogates) are written as U+FFFD
    (:func:`spermtrack.errors.printable`), so a path that is not UTF-8 never breaks a result file.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(printable(text), encoding=encoding)
    return Path(path)


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as indented, standard JSON to ``path`` atomically and return the path.

    NaN and infinities (anywhere in nested dicts and lists) are written as ``null``; numpy
    scalars and arrays as their Python values.
    """
    text = json.dumps(_finite(obj), indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    return write_text(path, text + "\n")


def write_csv(path: str | os.PathLike, table: pd.DataFrame, **kwargs) -> Path:
    """Write a table as CSV (gzip when the name ends in ``.gz``) atomically.

    Parameters
    ----------
    path : str or PathLike
        Target file.
    table : pandas.DataFrame
        The table; its index is not written.
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv`.
    """
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **kwargs)
    return Path(path)


def _finite(value: object) -> object:
    """Replace NaN and infinities in nested dicts/lists by None, so the JSON is standard."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
