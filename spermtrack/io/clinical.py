"""Read VISEM's clinical CSVs (semen analysis, participant data, hormones, fatty acids).

VISEM ships them in a European spreadsheet dialect: UTF-8 with a byte-order mark, ``;`` between
fields and ``,`` as the decimal mark (``97,0``). Neither is assumed here: the separator and the
decimal mark are detected from the file, so plain comma CSVs with ``.`` decimals read the same way.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.errors import InputError

__all__ = ["read_clinical_csv", "parse_clinical_text", "motility_columns", "detect_separator",
           "detect_decimal", "write_semen_analysis_csv"]

_SEPARATORS = (";", "\t", ",", "|")
_MISSING = {"", "na", "n/a", "nan", "none", "null", "-", "--", "?"}
_COMMA_DECIMAL = re.compile(r"^[+-]?\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+$")


def _rows(text: str, sep: str, *, path: str | os.PathLike | None = None) -> list[tuple[int, list[str]]]:
    """Split CSV text into ``(1-based line, fields)``, skipping blank lines; quotes are honoured.

    Raises
    ------
    InputError
        The csv module cannot parse a line (e.g. a bare carriage return inside a field).
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    out = []
    start = 1
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                out.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"cannot be parsed as CSV: {exc}", path, reader.line_num or None) from None
    return out


def detect_separator(text: str, *, path: str | os.PathLike | None = None) -> str:
    """Choose the field separator of CSV text.

    Tries ``;``, tab, ``,`` and ``|`` in that order and takes the first that splits the header into
    more than one field and gives every one of the first 50 rows the header's field count (a comma
    inside a header such as ``High DNA stainability, HDS (%)`` does not fool it). When none is
    consistent, the one that splits the header into most fields is returned, so that the parser
    reports the offending line.

    Raises
    ------
    InputError
        No candidate splits the header (a one-column file).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()][:51]
    if not lines:
        raise InputError("is empty", path)
    best, best_n = None, 1
    for sep in _SEPARATORS:
        rows = [fields for _, fields in _rows("\n".join(lines), sep, path=path)]
        n = len(rows[0]) if rows else 0
        if n > 1 and all(len(_trim(r, n)) == n for r in rows):
            return sep
        if n > best_n:
            best, best_n = sep, n
    if best is None:
        raise InputError("cannot find the field separator (tried ';', tab, ',' and '|'): the header has one field",
                         path, 1)
    return best


def detect_decimal(cells: list[str]) -> str:
    """Return ``","`` when more cells look like ``12,5`` than like ``12.5``, else ``"."``."""
    comma = sum(1 for c in cells if _COMMA_DECIMAL.match(c))
    dot = sum(1 for c in cells if _DOT_DECIMAL.match(c))
    return "," if comma > dot else "."


def _trim(fields: list[str], n: int) -> list[str]:
    """Drop empty trailing fields beyond ``n`` (spreadsheets often end lines with a separator)."""
    while len(fields) > n and not fields[-1].strip():
        fields = fields[:-1]
    return fields


def _to_number(cell: str, decimal: str) -> float | None:
    """Parse one cell; ``nan`` for a missing marker, ``None`` when it is not a number."""
    c = cell.strip()
    if c.lower() in _MISSING:
        return float("nan")
    if decimal == ",":
        c = c.replace(",", ".")
    try:
        return float(c)
    except ValueError:
        return None


def parse_clinical_text(text: str, *, path: str | os.PathLike = "<text>") -> pd.DataFrame:
    """Parse the text of a clinical CSV; see :func:`read_clinical_csv`. ``path`` is for messages only."""
    if text.startswith("\ufeff"):
        text = text[1:]
    sep = detect_separator(text, path=path)
    rows = _rows(text, sep, path=path)
    header_line, header = rows[0]
    header = [h.strip() for h in _trim(header, 1)]
    n = len(header)
    if "" in header:
        raise InputError(f"column {header.index('') + 1} has no name", path, header_line)
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise InputError(f"column name(s) {', '.join(map(repr, doubled))} occur more than once", path, header_line)
    id_col = next((h for h in header if h.lower() == "id"), None)
    if id_col is None:
        raise InputError(f"has no 'ID' column (columns: {', '.join(header)})", path, header_line)

    lines, data = [], []
    for line, fields in rows[1:]:
        fields = _trim(fields, n)
        if len(fields) != n:
            raise InputError(f"expected {n} fields separated by {sep!r} as in the header, got {len(fields)}",
                             path, line)
        lines.append(line)
        data.append([f.strip() for f in fields])
    if not data:
        raise InputError("has a header but no data rows", path)

    columns = {h: [r[i] for r in data] for i, h in enumerate(header)}
    decimal = detect_decimal([c for h, cells in columns.items() if h != id_col for c in cells])
    table: dict[str, object] = {}
    for name, cells in columns.items():
        if name == id_col:
            continue
        values = [_to_number(c, decimal) for c in cells]
        bad = [i for i, v in enumerate(values) if v is None]
        present = sum(1 for c in cells if c.lower() not in _MISSING)
        if not bad:
            table[name] = np.array(values, dtype=np.float64)
        elif len(bad) * 2 < present:
            i = bad[0]
            raise InputError(f"column {name!r} holds numbers but this row has {cells[i]!r}", path, lines[i])
        else:
            table[name] = pd.array(cells, dtype=str)

    ids = [r[header.index(id_col)] for r in data]
    for i, value in enumerate(ids):
        if value.lower() in _MISSING:
            raise InputError("the ID is empty", path, lines[i])
        if re.fullmatch(r"\d+[.,]0+", value):            # 11.0 -> "11" (a spreadsheet turned ids into floats)
            ids[i] = re.split(r"[.,]", value)[0]
    seen: dict[str, int] = {}
    for i, value in enumerate(ids):
        if value in seen:
            raise InputError(f"ID {value!r} occurs twice (first on line {seen[value]})", path, lines[i])
        seen[value] = lines[i]
    found = _match(list(table))
    numeric = {key: (cols[0], table[cols[0]]) for key, cols in found.items()
               if len(cols) == 1 and isinstance(table[cols[0]], np.ndarray)}
    clash = _disagreement({k: v for k, (_, v) in numeric.items()}, {k: c for k, (c, _) in numeric.items()})
    if clash is not None:
        raise InputError(clash[1], path, lines[clash[0]])
    out = pd.DataFrame(table, index=pd.Index(ids, name="ID", dtype=str))
    out.attrs["separator"] = sep
    out.attrs["decimal"] = decimal
    return out


def read_clinical_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read one of VISEM's clinical CSVs (one row per participant).

    The separator (``;``, tab, ``,`` or ``|``) and the decimal mark (``,`` or ``.``) are detected, a
    UTF-8 byte-order mark is dropped (files that are not UTF-8 are read as cp1252), trailing empty
    fields are ignored and ``NA``, ``n/a``, ``-`` or an empty cell mean missing.

    Parameters
    ----------
    path : str or PathLike
        E.g. ``semen_analysis_data_Train.csv``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``ID`` (str: the participant id, which is also the VISEM-Tracking video folder
        name). Every other column keeps its name from the file (e.g. ``Progressive motility (%)``);
        a column whose cells are all numbers or missing is float64, any other column is str.
        ``attrs['separator']`` and ``attrs['decimal']`` record what was detected.

    Raises
    ------
    InputError
        The file is missing, empty or has no ``ID`` column; a row has a different number of fields
        than the header; an ID is empty or repeated; a mostly numeric column holds a non-number.
        The message names the file and, for a row, its 1-based line (the header is line 1).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("does not exist" if not path.exists() else "is not a file", path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise InputError("is not a text file", path)
    try:
        return parse_clinical_text(text, path=path)
    except csv.Error as exc:
        raise InputError(f"cannot be parsed as CSV: {exc}", path) from None


#: Largest difference, in percentage points, allowed between the WHO grades and the lab's three categories
#: of one sample (a + b against progressive, c against non-progressive, d against immotile): rounding to
#: whole or half percents stays inside it.
AGREEMENT_TOLERANCE_POINTS = 1.0
_PAIRS = (("progressive", ("grade_a", "grade_b")), ("non_progressive", ("grade_c",)), ("immotile", ("grade_d",)))
_LABELS = {"progressive": "progressive motility", "non_progressive": "non-progressive motility",
           "immotile": "immotile sperm"}


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def _disagreement(values: dict[str, np.ndarray], names: dict[str, str]) -> tuple[int, str] | None:
    """The first row where grades a-d contradict progressive / non-progressive / immotile, and why.

    Parameters
    ----------
    values : dict
        Target (``progressive``, ``grade_a``, ...) -> float values, one per row, of the columns present.
    names : dict
        Target -> the column's name in the file.

    Returns
    -------
    (int, str) or None
        The 0-based row and a message naming both columns and values, or None when every row agrees
        within :data:`AGREEMENT_TOLERANCE_POINTS` (a missing value on either side agrees).
    """
    first = None
    for key, grades in _PAIRS:
        if key not in values or any(g not in values for g in grades):
            continue
        with np.errstate(invalid="ignore", over="ignore"):  # absurd values (1e308) are refused elsewhere
            total = np.sum([np.asarray(values[g], dtype=np.float64) for g in grades], axis=0)
            other = np.asarray(values[key], dtype=np.float64)
            bad = np.flatnonzero(np.abs(total - other) > AGREEMENT_TOLERANCE_POINTS)
        if len(bad) and (first is None or bad[0] < first[0]):
            row = int(bad[0])
            parts = " + ".join(f"{names[g]!r} {_number_text(values[g][row])}" for g in grades)
            sum_text = f" = {_number_text(total[row])}" if len(grades) > 1 else ""
            letters = " + ".join(g[-1] for g in grades)
            first = (row, f"grade{'s' if len(grades) > 1 else ''} {letters} contradict{'' if len(grades) > 1 else 's'} "
                          f"{_LABELS[key]}: {parts}{sum_text} %, but {names[key]!r} "
                          f"{_number_text(other[row])} %; they must agree within "
                          f"{AGREEMENT_TOLERANCE_POINTS:g} point")
    return first


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_GRADE = re.compile(r"(?:who)?grade([abcd])(?:rapid|slow|progressive|nonprogressive|non|immotile|motility|motile"
                    r"|sperm|percent|pct)*")


def _match(columns: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {k: [] for k in ("progressive", "non_progressive", "immotile",
                                                 "grade_a", "grade_b", "grade_c", "grade_d")}
    for col in columns:
        key = _norm(col)
        grade = _GRADE.fullmatch(key)
        if grade:
            found[f"grade_{grade.group(1)}"].append(col)
        elif "nonprogressive" in key:
            found["non_progressive"].append(col)
        elif "immotile" in key:
            found["immotile"].append(col)
        elif "progressive" in key and "motil" in key and "rapid" not in key and "slow" not in key:
            found["progressive"].append(col)
    return found


def motility_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Pick the WHO motility percentages out of a semen-analysis table.

    Column names are matched ignoring case, spaces and punctuation: ``Progressive motility (%)``
    -> ``progressive``, ``Non progressive sperm motility (%)`` (or ``Non-progressive ...``) ->
    ``non_progressive``, ``Immotile sperm (%)`` -> ``immotile``; columns named ``Grade a`` ...
    ``Grade d`` (WHO 1999/2010 a-d grades, any suffix) are added as ``grade_a`` ... ``grade_d``
    when present.

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by :func:`read_clinical_csv` (indexed by ID).

    Returns
    -------
    pandas.DataFrame
        Same index; float columns ``progressive``, ``non_progressive``, ``immotile`` (%) and any of
        ``grade_a`` ... ``grade_d`` found.

    Raises
    ------
    InputError
        A motility column is missing (named), two columns match one target, or a matched column
        is not numeric.
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(table).__name__}")
    found = _match([str(c) for c in table.columns])
    wanted = {"progressive": "Progressive motility (%)", "non_progressive": "Non progressive sperm motility (%)",
              "immotile": "Immotile sperm (%)"}
    missing = [label for key, label in wanted.items() if not found[key]]
    if missing:
        raise InputError(f"the semen-analysis table has no column {' / '.join(repr(m) for m in missing)} "
                         f"(columns: {', '.join(map(str, table.columns))})")
    out = {}
    for key, cols in found.items():
        if not cols:
            continue
        if len(cols) > 1:
            raise InputError(f"several columns match {key!r}: {', '.join(map(repr, cols))}")
        values = pd.to_numeric(table[cols[0]], errors="coerce")
        bad = values.isna() & table[cols[0]].notna()
        if bad.any():
            raise InputError(f"column {cols[0]!r} is not numeric: ID {bad.idxmax()!r} has "
                             f"{table[cols[0]][bad].iloc[0]!r}")
        out[key] = values.astype(np.float64)
    clash = _disagreement({k: v.to_numpy() for k, v in out.items()}, {k: found[k][0] for k in out})
    if clash is not None:
        raise InputError(f"ID {str(table.index[clash[0]])!r}: {clash[1]}")
    return pd.DataFrame(out, index=table.index)


def write_semen_analysis_csv(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a semen-analysis table in VISEM's own dialect, atomically: what :func:`read_clinical_csv` reads.

    UTF-8 with a byte-order mark, ``;`` separator, ``,`` decimal mark, two decimals, ``\n`` line ends
    (as ``semen_analysis_data_Train.csv`` of the VISEM release).
    """
    from spermtrack.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep=";", decimal=",", float_format="%.2f", index=False, encoding="utf-8-sig",
                     lineterminator="\n")
    return Path(path)
