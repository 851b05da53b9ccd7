"""WHO 2021 motility grades a-d from a kinematics table, under a configurable rule.

WHO laboratory manual, 6th edition (2021), section 2.4.5, grades each spermatozoon as

* a, rapidly progressive: "moving actively, either linearly or in a large circle, covering a distance,
  from the starting point to the end point, of at least 25 um (or 1/2 tail length) in one second";
* b, slowly progressive: "... covering a distance of 5 to < 25 um (or 1 to < 1/2 tail length) in one
  second";
* c, non-progressive: "all other patterns of active tail movement with an absence of progression, i.e.
  ... the head moving less than 5 um (one head length) from the start to the end point";
* d, immotile: "no active tail movement".

Here the distance covered in one second is the mean net progression over sliding 1-s windows
(``progression_um_s``, drift removed). A commercial-CASA rule (preset ``casa``) thresholds VAP instead and
also requires STR >= 0.80 for a and b. The c-versus-d split depends on tail movement, which a head
tracker cannot see: the proxy used is frame-to-frame head motion above the measured noise floor
(``motion_um > noise_floor_um`` and ``motion_um >= motile_min_um``; see
:func:`spermtrack.kinematics.noise.motion_statistic`). It is an approximation: a live cell whose head
does not move is called d, a dead cell jostled by its neighbours c.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spermtrack.constants import GRADES
from spermtrack.errors import InputError
from spermtrack.kinematics.config import KinematicsConfig

__all__ = ["GRADES", "grade_table", "classify"]

#: Reasons a track is ungraded that grading itself does not decide (set when the kinematics are computed).
_FIXED_REASONS = ("class",)
_NEEDED = ("duration_s", "progression_um_s", "vap_um_s", "str", "lin", "motion_um", "noise_floor_um")


def classify(speed: np.ndarray, motion: np.ndarray, floor: np.ndarray, *, a_threshold: float,
             b_threshold: float, motile_min: float, gate: np.ndarray | None = None) -> np.ndarray:
    """Grade arrays: ``a`` if ``speed >= a_threshold`` and the gate passes, ``b`` if ``speed >= b_threshold``
    and the gate passes, else ``c`` if ``motion > floor`` and ``motion >= motile_min``, else ``d``.

    NaN speed or motion count as failing the test they appear in. Returns an object array of "a".."d".
    """
    speed = np.asarray(speed, dtype=np.float64)
    gate = np.ones(len(speed), bool) if gate is None else np.asarray(gate, bool)
    motion = np.asarray(motion, dtype=np.float64)
    floor = np.nan_to_num(np.asarray(floor, dtype=np.float64), nan=0.0)
    with np.errstate(invalid="ignore"):
        a = (speed >= a_threshold) & gate
        b = ~a & (speed >= b_threshold) & gate
        motile = (motion > floor) & (motion >= motile_min)
    return np.select([a, b, motile], ["a", "b", "c"], default="d").astype(object)


def _cut_by_gaps(table: pd.DataFrame, short: np.ndarray) -> np.ndarray:
    """Tracks the ``"gap"`` reason applies to: nothing measured, or a long gap cut off and too ``short`` a rest."""
    n = len(table)
    unmeasured = table["n_measured"].to_numpy() == 0 if "n_measured" in table.columns else np.zeros(n, bool)
    trimmed = table["n_trimmed"].to_numpy() > 0 if "n_trimmed" in table.columns else np.zeros(n, bool)
    return unmeasured | (trimmed & short)


def grade_table(table: pd.DataFrame, config: KinematicsConfig) -> pd.DataFrame:
    """(Re)grade a kinematics table under ``config``; returns a copy with ``grade``, ``graded``,
    ``ungraded_reason`` set.

    Ungraded (``grade`` None): the reason ``"class"`` already in the table is kept; ``"gap"`` if nothing of
    the track was measured (``n_measured == 0``), or if a long gap was cut off (``n_trimmed > 0``) and the
    stretch left is too short; ``"too_short"`` if ``duration_s < min_duration_s`` or no full progression
    window. A table without ``n_trimmed`` (written before spermtrack measured the longest stretch of such
    tracks) keeps its ``"gap"`` reasons. The rule uses
    ``grade_metric`` (``progression_um_s`` or ``vap_um_s``), the a/b thresholds, the STR/LIN gates and
    ``motile_min_um`` of ``config``. Noise settings (``motile_z``, ``noise_margin``, ``noise_px``) are
    baked into ``noise_floor_um`` when the kinematics are computed, so changing them needs a recompute.

    Raises
    ------
    InputError
        A column the rule needs is missing.
    """
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise InputError(f"kinematics table is missing column(s) {', '.join(missing)}")
    out = table.copy()
    n = len(out)
    old = out["ungraded_reason"].to_numpy(dtype=object) if "ungraded_reason" in out.columns else np.full(n, "")
    fixed = _FIXED_REASONS if "n_trimmed" in out.columns else (*_FIXED_REASONS, "gap")
    reason = np.where(np.isin(old, fixed), old, "").astype(object)
    duration = out["duration_s"].to_numpy(dtype=np.float64)
    prog = out["progression_um_s"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        short = ~(duration >= config.min_duration_s - 1e-9) | ~np.isfinite(prog)
    reason[(reason == "") & _cut_by_gaps(out, short)] = "gap"
    reason[(reason == "") & short] = "too_short"
    speed = out["progression_um_s" if config.grade_metric == "progression" else "vap_um_s"].to_numpy(np.float64)
    gate = np.ones(n, bool)
    with np.errstate(invalid="ignore"):
        if config.str_min > 0:
            gate &= out["str"].to_numpy(np.float64) >= config.str_min
        if config.lin_min > 0:
            gate &= out["lin"].to_numpy(np.float64) >= config.lin_min
    grade = classify(speed, out["motion_um"].to_numpy(np.float64), out["noise_floor_um"].to_numpy(np.float64),
                     a_threshold=config.a_threshold_um_s, b_threshold=config.b_threshold_um_s,
                     motile_min=config.motile_min_um, gate=gate)
    graded = reason == ""
    grade[~graded] = None
    out["grade"] = pd.Series(grade, index=out.index, dtype=object)
    out["graded"] = graded
    out["ungraded_reason"] = pd.Series(reason, index=out.index, dtype=object)
    return out
