"""A regression data set: the videos of a VISEM-Tracking root and their lab motility values.

Targets come from the root's semen-analysis CSV (``semen_analysis_data_Train.csv`` or another
``semen_analysis*.csv``; or the file given), read by :func:`spermtrack.io.clinical.read_clinical_csv`:
VISEM's own files (three columns: progressive, non-progressive, immotile %) or the synthetic ones
(seven: those and grades a-d). The four grades are used when every video has them, else the three
categories. Percentages become proportions (divided by their row sum, which must be 100 +/- 5).

Checks, each a one-line :class:`~spermtrack.errors.InputError`: no CSV; a video without a CSV row
(named); a video's row with a missing or non-numeric value; a row whose values do not sum to about
100. CSV rows of participants without a video are common (VISEM's CSV lists 85 participants for 20
videos): they are not an error and are counted in :attr:`RegressionData.notes`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

__all__ = ["RegressionData", "find_clinical_csv", "open_regression_data"]

_SUM_TOLERANCE = 5.0


@dataclass
class RegressionData:
    """Videos and their target proportions.

    Attributes
    ----------
    root : pathlib.Path
    folders : list of pathlib.Path
        The video folders, in id order.
    video_ids : list of str
    targets : pandas.DataFrame
        Indexed by video id; proportions (rows sum to 1) in the columns :attr:`categories`.
    categories : tuple of str
        :data:`~spermtrack.regressors.FOUR` or :data:`~spermtrack.regressors.THREE`.
    clinical_csv : pathlib.Path
    notes : list of str
    """

    root: Path
    folders: list[Path]
    video_ids: list[str]
    targets: pd.DataFrame
    categories: tuple[str, ...]
    clinical_csv: Path
    notes: list[str] = field(default_factory=list)

    def percent(self, three: bool = True) -> pd.DataFrame:
        """The targets in percent, as the three lab categories when ``three``."""
        from spermtrack.regressors import FOUR, THREE, three_from_four

        values = self.targets.to_numpy()
        if three and self.categories == FOUR:
            values = three_from_four(values)
        columns = THREE if three else self.categories
        return pd.DataFrame(100.0 * values, index=self.targets.index, columns=list(columns))


def find_clinical_csv(root: Path) -> Path | None:
    """The semen-analysis CSV at the root of a data set, if there is one."""
    preferred = root / "semen_analysis_data_Train.csv"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in root.glob("*.csv") if p.name.lower().startswith("semen_analysis"))
    return found[0] if found else None


def open_regression_data(root: str | os.PathLike, *, clinical_csv: str | os.PathLike | None = None) -> RegressionData:
    """Open a VISEM-Tracking-layout root and its semen-analysis CSV (see the module notes).

    Parameters
    ----------
    root : str or PathLike
        A folder of video folders (real VISEM-Tracking or ``spermtrack synth``).
    clinical_csv : str or PathLike, optional
        The semen-analysis CSV; default: found at the root.

    Returns
    -------
    RegressionData

    Raises
    ------
    InputError
        See the module notes.
    """
    from spermtrack.io.clinical import motility_columns, read_clinical_csv
    from spermtrack.io.visem import list_videos
    from spermtrack.regressors import FOUR, THREE

    root = Path(root)
    folders = list_videos(root)
    path = Path(clinical_csv) if clinical_csv is not None else find_clinical_csv(root)
    if path is None:
        raise InputError("has no semen-analysis CSV (semen_analysis_data_Train.csv): give one with --clinical", root)
    table = motility_columns(read_clinical_csv(path))
    ids = [f.name for f in folders]
    missing = [v for v in ids if v not in table.index]
    if missing:
        raise InputError(f"has no row for video(s) {', '.join(missing)} of {root}", path)
    rows = table.loc[ids]
    grades = [f"grade_{g}" for g in FOUR]
    four = all(c in rows.columns for c in grades) and rows[grades].notna().all().all()
    categories = FOUR if four else THREE
    columns = grades if four else list(THREE)
    values = rows[columns]
    for video, row in values.iterrows():
        empty = [c for c in columns if not np.isfinite(row[c])]
        if empty:
            raise InputError(f"ID {video}: no value in {', '.join(empty)}", path)
        if (row < 0).any():
            raise InputError(f"ID {video}: a negative percentage", path)
        total = float(row.sum())
        if abs(total - 100.0) > _SUM_TOLERANCE:
            raise InputError(f"ID {video}: {', '.join(columns)} sum to {total:.1f} %, not 100 %", path)
    proportions = values.div(values.sum(axis=1), axis=0)
    proportions.columns = list(categories)
    proportions.index = proportions.index.astype(str)
    notes = []
    extra = len(table.index.difference(pd.Index(ids)))
    if extra:
        notes.append(f"{extra} row(s) of {path.name} have no video in {root} (not used)")
    return RegressionData(root=root, folders=folders, video_ids=ids, targets=proportions, categories=categories,
                          clinical_csv=path, notes=notes)
