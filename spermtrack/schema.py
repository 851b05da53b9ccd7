"""The data contract: long pandas tables with fixed columns, and recording metadata.

Every stage of spermtrack reads and writes these tables (see DESIGN.md).

detections
    ``frame`` (int, 0-based), ``x``, ``y`` (box centre in px; x to the right,
    y down), ``w``, ``h`` (box size in px), ``score`` (0-1), ``class_id``
    (0 sperm, 1 cluster, 2 pinhead). Extra columns are carried through untouched.
tracks
    detections + ``track_id`` (int). Measured ``x``, ``y`` are never
    overwritten; smoothed positions go in ``x_s``, ``y_s``; interpolated rows
    have ``interpolated == True``.
ground truth
    tracks + ``gt_id`` (the data set's own id string).

Validators return a copy with canonical dtypes and raise
:class:`~spermtrack.errors.InputError` (a ``ValueError``) naming the column
and the first offending row. The error also carries ``row`` (0-based position
of that row, ``None`` for a missing column), ``column`` and ``detail`` (the
message without table name and row), so that file readers can report
``file:line`` instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from spermtrack._validate import calibration
from spermtrack.constants import CLASS_NAMES as _CLASS_NAMES
from spermtrack.errors import InputError

DETECTION_COLUMNS: tuple[str, ...] = ("frame", "x", "y", "w", "h", "score", "class_id")
TRACK_COLUMNS: tuple[str, ...] = DETECTION_COLUMNS + ("track_id",)
GT_COLUMNS: tuple[str, ...] = TRACK_COLUMNS + ("gt_id",)

CLASS_NAMES = _CLASS_NAMES  # re-exported: the data contract's class ids
#: Largest coordinate or box size accepted, px: far beyond any camera, so a larger value is a corrupt entry
#: (such a value would turn into an absurd speed instead of an error).
MAX_COORDINATE_PX = 1e5
#: Largest frame index accepted (about 4 days at 1000 fps).
MAX_FRAME = 2**28

_INT_COLUMNS = {"frame", "class_id", "track_id"}
_FLOAT_COLUMNS = {"x", "y", "w", "h", "score"}


@dataclass(frozen=True)
class Recording:
    """Metadata of one video: its calibration and size.

    Parameters
    ----------
    fps : float
        Frames per second, as read from the container (VISEM-Tracking is 43-50 fps).
    um_per_px : float
        Pixel size in micrometres (VISEM-Tracking community value 100/285 = 0.351).
    width, height : int
        Frame size in pixels.
    n_frames : int
        Number of frames.
    source : str
        Where the recording came from (a path or ``"synthetic"``).
    """

    fps: float
    um_per_px: float
    width: int
    height: int
    n_frames: int
    source: str = ""

    def __post_init__(self) -> None:
        # numpy scalars are accepted and stored as plain int/float (JSON-friendly); booleans are rejected.
        fps, um_per_px = calibration(self.fps, self.um_per_px, owner="Recording")
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "um_per_px", um_per_px)
        for name, low in (("width", 1), ("height", 1), ("n_frames", 0)):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
                what = "a positive" if low else "a non-negative"
                raise InputError(f"Recording.{name} must be {what} integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "source", str(self.source))

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds, ``n_frames / fps``."""
        return self.n_frames / self.fps

    def to_dict(self) -> dict:
        """Plain-dict form, for JSON provenance."""
        return asdict(self)


def empty_detections() -> pd.DataFrame:
    """Return an empty detections table with the contract's columns and dtypes."""
    return _cast(pd.DataFrame({c: [] for c in DETECTION_COLUMNS}))


def empty_tracks() -> pd.DataFrame:
    """Return an empty tracks table with the contract's columns and dtypes."""
    return _cast(pd.DataFrame({c: [] for c in TRACK_COLUMNS}))


def _cast(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if col in _INT_COLUMNS:
            out[col] = out[col].astype(np.int64)
        elif col in _FLOAT_COLUMNS:
            out[col] = out[col].astype(np.float64)
    return out


def _first_bad(mask: np.ndarray, df: pd.DataFrame) -> str:
    pos = int(np.flatnonzero(mask)[0])
    return f"row {pos} (index {df.index[pos]!r})"


def _fail(name: str, detail: str, df: pd.DataFrame | None = None, mask: np.ndarray | None = None,
          column: str | None = None, value: object = None) -> InputError:
    """Build the InputError for a bad table; ``row``/``column``/``detail`` let file readers add a line number.

    The message reads ``"<name> <detail> at row <pos> (index <label>): <value>"``; the attributes hold the
    0-based position of the first offending row (``None`` for a table-level problem), the column and the
    message without the table name and row.
    """
    pos = None
    msg = f"{name} {detail}"
    if isinstance(value, np.generic):
        value = value.item()
    if df is not None and mask is not None:
        pos = int(np.flatnonzero(mask)[0])
        msg += f" at {_first_bad(mask, df)}: {value!r}"
        detail += f": {value!r}"
    err = InputError(msg)
    err.row = pos
    err.column = column
    err.detail = detail
    return err


def _check(df: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise _fail(name, f"is missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    doubled = [c for c in columns if list(df.columns).count(c) > 1]
    if doubled:
        raise _fail(name, f"has column(s) {', '.join(doubled)} more than once")
    out = df.copy()
    for col in columns:
        series = df[col]
        if col == "gt_id":
            bad = series.isna().to_numpy()
            if bad.any():
                raise _fail(name, "column 'gt_id' has a missing value", df, bad, col,
                            series.iloc[int(np.flatnonzero(bad)[0])])
            out[col] = series.astype(str)
            continue
        if pd.api.types.is_bool_dtype(series.dtype) and len(df):
            raise _fail(name, f"column '{col}' must be numeric, not boolean", df, np.ones(len(df), bool), col,
                        series.iloc[0])
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise _fail(name, f"column '{col}' has a missing or non-numeric value", df, bad, col,
                        series.iloc[int(np.flatnonzero(bad)[0])])
        if col in _INT_COLUMNS:
            bad = (values != np.round(values)) | (np.abs(values) > 2.0 ** 53)  # beyond 2^53 floats skip integers
            if bad.any():
                raise _fail(name, f"column '{col}' must hold integers of a sensible size", df, bad, col,
                            values[bad][0])
            out[col] = values.astype(np.int64)
        else:
            out[col] = values
    far = MAX_COORDINATE_PX
    checks = [
        ("frame", out["frame"].to_numpy() < 0, "must be >= 0 (frames are 0-based)"),
        ("frame", out["frame"].to_numpy() > MAX_FRAME, f"must be <= {MAX_FRAME} (not a frame index)"),
        ("x", np.abs(out["x"].to_numpy()) > far, f"must be within +/-{far:g} px (not a pixel coordinate)"),
        ("y", np.abs(out["y"].to_numpy()) > far, f"must be within +/-{far:g} px (not a pixel coordinate)"),
        ("w", out["w"].to_numpy() < 0, "must be >= 0"),
        ("h", out["h"].to_numpy() < 0, "must be >= 0"),
        ("w", out["w"].to_numpy() > far, f"must be <= {far:g} px"),
        ("h", out["h"].to_numpy() > far, f"must be <= {far:g} px"),
        ("score", (out["score"].to_numpy() < 0) | (out["score"].to_numpy() > 1), "must be within [0, 1]"),
        ("class_id", out["class_id"].to_numpy() < 0, "must be >= 0"),
    ]
    for col, bad, what in checks:
        if bad.any():
            raise _fail(name, f"column '{col}' {what}", out, bad, col, out[col].to_numpy()[bad][0])
    return out


def validate_detections(df: pd.DataFrame, *, name: str = "detections") -> pd.DataFrame:
    """Check a detections table and return a copy with canonical dtypes.

    Parameters
    ----------
    df : pandas.DataFrame
        Must hold ``frame, x, y, w, h, score, class_id``; extra columns are kept.
    name : str
        What to call the table in error messages (e.g. a file name).

    Returns
    -------
    pandas.DataFrame
        A copy with ``frame``/``class_id`` as int64 and the rest as float64.

    Raises
    ------
    InputError
        A column is missing or doubled, a value is NaN, infinite, boolean or non-numeric, an
        integer column holds a fraction, a frame is negative,
        a size is negative or a score is outside [0, 1]; the message names the
        column and the first bad row.
    """
    return _check(df, DETECTION_COLUMNS, name)


def validate_tracks(df: pd.DataFrame, *, name: str = "tracks") -> pd.DataFrame:
    """Check a tracks table (detections + ``track_id``) and return a typed copy.

    Besides the detection checks, a ``(frame, track_id)`` pair may occur only once
    among rows with ``track_id >= 0``. A negative ``track_id`` (the tracker's -1)
    marks a detection that is not part of a confirmed track; any number of those
    may share a frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Must hold ``frame, x, y, w, h, score, class_id, track_id``.
    name : str
        What to call the table in error messages.

    Returns
    -------
    pandas.DataFrame
        A copy with canonical dtypes.

    Raises
    ------
    InputError
        As :func:`validate_detections`, plus a duplicated ``(frame, track_id)``
        with ``track_id >= 0``.
    """
    out = _check(df, TRACK_COLUMNS, name)
    dup = out.duplicated(["frame", "track_id"]).to_numpy() & (out["track_id"].to_numpy() >= 0)
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        err = InputError(f"{name} has track_id {out['track_id'].iloc[pos]} twice in frame "
                         f"{out['frame'].iloc[pos]} ({_first_bad(dup, out)})")
        err.row, err.column = pos, "track_id"
        err.detail = f"track_id {out['track_id'].iloc[pos]} occurs twice in frame {out['frame'].iloc[pos]}"
        raise err
    return out


def validate_ground_truth(df: pd.DataFrame, *, name: str = "ground truth") -> pd.DataFrame:
    """Check a ground-truth table (tracks + ``gt_id``) and return a typed copy.

    Parameters
    ----------
    df : pandas.DataFrame
        Must hold the track columns plus ``gt_id`` (the data set's own id string).
    name : str
        What to call the table in error messages.

    Returns
    -------
    pandas.DataFrame
        A copy with canonical dtypes; ``gt_id`` as str.

    Raises
    ------
    InputError
        As :func:`validate_tracks`, plus a missing ``gt_id`` value.
    """
    out = _check(df, GT_COLUMNS, name)
    out = validate_tracks(out, name=name)
    out["gt_id"] = out["gt_id"].astype(str)
    return out
