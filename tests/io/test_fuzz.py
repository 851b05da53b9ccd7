"""Fuzzing every reader: whatever a file holds, it parses or raises the one-line InputError, nothing else.

Hypothesis writes label files (``labels/`` and ``labels_ftid/``), clinical CSVs in any dialect (and
ones that carry both the WHO grades a-d and the three lab categories, which must agree), MOTChallenge
files and tracks tables from a mix of valid and broken tokens, and feeds them to the real readers. Run with ``python -m pytest tests/io/test_fuzz.py --hypothesis-show-statistics`` to see how
many examples ran.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spermtrack.errors import InputError
from spermtrack.io.clinical import parse_clinical_text
from spermtrack.io.mot import read_mot
from spermtrack.io.tables import read_detections_csv, read_tracks_csv
from spermtrack.io.visem import read_labels, read_labels_ftid

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NUMBERS = st.sampled_from(["0", "1", "2", "0.5", "0.25", "1.0000005", "-1", "-0.5", "1e9", "1e308", "nan", "inf",
                           "-inf", "0x10", "1,5", "3.", ".5", "+1", "00007"])
WORDS = st.sampled_from(["ckz3v9nzv00033867jsekqdcl", "a", "sperm", "", " ", "\t", ",", ";", "x y", "\u00e9",
                         "\ufeff", "\x00", "\U0001f642", "True", "None"])
TOKENS = st.one_of(NUMBERS, WORDS, st.text(max_size=6))


def _lines(separator: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    line = st.builds(lambda toks, sep: sep.join(toks), st.lists(TOKENS, max_size=9), separator)
    return st.builds(lambda ls, end: "\n".join(ls) + end, st.lists(line, max_size=8), st.sampled_from(["", "\n",
                                                                                                       "\r\n"]))


def _expect_input_error_or_table(read, *args, **kwargs):
    try:
        out = read(*args, **kwargs)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc).strip()  # one line
        return None
    assert isinstance(out, pd.DataFrame)
    return out


@FUZZ
@given(texts=st.lists(_lines(st.sampled_from([" ", "  ", "\t"])), min_size=1, max_size=3), with_id=st.booleans())
def test_visem_label_files(texts, with_id):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "11"
        sub = folder / ("labels_ftid" if with_id else "labels")
        sub.mkdir(parents=True)
        for frame, text in enumerate(texts):
            name = f"11_frame_{frame}_with_ftid.txt" if with_id else f"11_frame_{frame}.txt"
            (sub / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        read = read_labels_ftid if with_id else read_labels
        _expect_input_error_or_table(read, folder, width=640, height=480)


@FUZZ
@given(text=_lines(st.sampled_from([";", ",", "\t", "|"])), bom=st.booleans())
def test_clinical_csv_dialects(text, bom):
    _expect_input_error_or_table(parse_clinical_text, ("\ufeff" if bom else "") + text, path="fuzz.csv")


MOTILITY_HEADERS = {"progressive": "Progressive motility (%)", "non_progressive": "Non progressive sperm motility (%)",
                    "immotile": "Immotile sperm (%)", "grade_a": "Grade a (%)", "grade_b": "Grade b (%)",
                    "grade_c": "Grade c (%)", "grade_d": "Grade d (%)"}
PERCENT = st.one_of(st.integers(0, 100).map(str), st.floats(0, 100, allow_nan=False).map(lambda v: f"{v:.2f}"),
                    st.sampled_from(["", "NA", "nan", "inf", "-1", "1e308", "x", "33,33", "50.5"]))


@st.composite
def _motility_csv(draw) -> tuple[str, str]:
    """A clinical CSV carrying both the grades a-d and progressive / non-progressive / immotile.

    Rows are drawn as four grades, then the three categories either derived from them (agreeing, maybe
    off by a rounding step) or drawn freely (mostly contradicting); any cell may be a broken token.
    """
    sep = draw(st.sampled_from([";", ",", "\t"]))
    keys = draw(st.permutations(list(MOTILITY_HEADERS)))
    rows = []
    for i in range(draw(st.integers(1, 5))):
        grades = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=4, max_size=4))
        values = dict(zip(("grade_a", "grade_b", "grade_c", "grade_d"), grades))
        if draw(st.booleans()):
            off = draw(st.sampled_from([0.0, 0.5, -0.5, 0.99, 1.5, -3.0]))
            values.update(progressive=grades[0] + grades[1] + off, non_progressive=grades[2], immotile=grades[3])
            cells = {k: f"{v:.2f}" for k, v in values.items()}
        else:
            cells = {k: draw(PERCENT) for k in MOTILITY_HEADERS}
        if sep != ",":  # ';' and tab files often use the decimal comma
            cells = {k: c.replace(".", ",") if draw(st.booleans()) else c for k, c in cells.items()}
        rows.append(sep.join([str(i + 1), *(cells[k] for k in keys)]))
    header = sep.join(["ID", *(MOTILITY_HEADERS[k] for k in keys)])
    return "\n".join([header, *rows]) + "\n", sep


@FUZZ
@given(csv=_motility_csv())
def test_clinical_csv_with_grades_and_categories(csv):
    """Both families present: a table comes back only when every row agrees within the tolerance."""
    import numpy as np

    from spermtrack.io.clinical import AGREEMENT_TOLERANCE_POINTS, motility_columns

    table = _expect_input_error_or_table(parse_clinical_text, csv[0], path="fuzz.csv")
    if table is None:
        return
    motility = _expect_input_error_or_table(motility_columns, table)
    if motility is None:
        return
    slack = AGREEMENT_TOLERANCE_POINTS + 1e-9
    for key, grades in (("progressive", ["grade_a", "grade_b"]), ("non_progressive", ["grade_c"]),
                        ("immotile", ["grade_d"])):
        with np.errstate(invalid="ignore", over="ignore"):
            gap = (motility[grades].sum(axis=1, skipna=False) - motility[key]).abs().to_numpy()
        assert not (gap > slack).any(), (key, motility)


@FUZZ
@given(text=_lines(st.sampled_from([",", ", ", " "])), kind=st.sampled_from(["auto", "det", "gt", "result"]))
def test_motchallenge_files(text, kind):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("gt.txt" if kind == "gt" else "res.txt")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _expect_input_error_or_table(read_mot, path, kind=kind)


TRACK_HEADER = st.sampled_from(["frame,x,y,w,h,score,class_id,track_id", "frame,x,y,w,h,score,class_id",
                                "frame,x,y,w,h,score,class_id,track_id,gt_id", "x,y", ""])


@FUZZ
@given(header=TRACK_HEADER, body=_lines(st.just(",")), tracks=st.booleans())
def test_tracks_and_detections_tables(header, body, tracks):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_text(header + "\n" + body, encoding="utf-8", errors="surrogatepass")
        read = read_tracks_csv if tracks else read_detections_csv
        _expect_input_error_or_table(read, path)
