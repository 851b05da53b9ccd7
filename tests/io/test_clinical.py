"""Clinical CSVs in VISEM's own dialect (BOM, ';', decimal ',') and plain CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.io.clinical import detect_decimal, detect_separator, motility_columns, read_clinical_csv



@pytest.fixture
def REAL(reference):  # noqa: N802 - reads like the constant it replaces
    return reference / "visem_real" / "semen_analysis_data_Train.csv"

VISEM_STYLE = (
    "\ufeffID;Sperm concentration (x10\u2076/mL);Progressive motility (%);Non progressive sperm motility (%);"
    "Immotile sperm (%);High DNA stainability, HDS (%)\n"
    "11;97,0;11;17;72;6\n"
    "12;29,4;33;54;13;10\n"
)
PLAIN = (
    "ID,Sperm concentration (x10\u2076/mL),Progressive motility (%),Non progressive sperm motility (%),"
    "Immotile sperm (%),\"High DNA stainability, HDS (%)\"\n"
    "11,97.0,11,17,72,6\n"
    "12,29.4,33,54,13,10\n"
)


def write(tmp_path: Path, text: str, name: str = "semen.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_real_semen_analysis(REAL):
    table = read_clinical_csv(REAL)
    assert len(table) == 16 and table.index.name == "ID"
    assert table.index.tolist()[:3] == ["11", "12", "13"] and all(isinstance(i, str) for i in table.index)
    assert table.attrs == {"separator": ";", "decimal": ","}
    assert all(dtype == np.float64 for dtype in table.dtypes)
    assert table.loc["11", "Sperm concentration (x10\u2076/mL)"] == 97.0
    assert table.loc["11", "Ejaculate volume (mL)"] == 1.3                # "1,3"
    assert table.loc["11", "Teratozoospermia index"] == 1.45
    assert "High DNA stainability, HDS (%)" in table.columns             # a comma inside a ';' header
    mot = motility_columns(table)
    assert list(mot.columns) == ["progressive", "non_progressive", "immotile"]
    assert mot.loc["11"].tolist() == [11.0, 17.0, 72.0]
    assert mot.loc["47"].tolist() == [12.0, 42.0, 46.0]
    np.testing.assert_allclose(mot.sum(axis=1), 100.0)


@pytest.mark.parametrize("text, sep, decimal", [
    (VISEM_STYLE, ";", ","),
    (PLAIN, ",", "."),
    (PLAIN.replace(",", "\t").replace('"High DNA stainability\t HDS (%)"', "High DNA stainability, HDS (%)"),
     "\t", "."),
    (VISEM_STYLE.replace("\n", "\r\n"), ";", ","),
    (VISEM_STYLE.replace("\n", ";\n"), ";", ","),                         # spreadsheet trailing separators
])
def test_dialects_read_the_same(tmp_path, text, sep, decimal):
    table = read_clinical_csv(write(tmp_path, text))
    assert table.attrs == {"separator": sep, "decimal": decimal}
    assert table.index.tolist() == ["11", "12"]
    assert table["Sperm concentration (x10\u2076/mL)"].tolist() == [97.0, 29.4]
    assert table["High DNA stainability, HDS (%)"].tolist() == [6.0, 10.0]
    assert motility_columns(table).loc["12"].tolist() == [33.0, 54.0, 13.0]


def test_cp1252_missing_values_and_text_columns(tmp_path):
    text = "ID;Comment;Volume (mL)\n1;na\u00efve;1,5\n2;ok;NA\n3;;\n"
    table = read_clinical_csv(write(tmp_path, text, encoding="cp1252"))
    assert table["Comment"].tolist()[:2] == ["na\u00efve", "ok"]
    assert table["Volume (mL)"].tolist()[0] == 1.5 and table["Volume (mL)"].isna().tolist() == [False, True, True]


def test_float_ids_from_spreadsheets(tmp_path):
    table = read_clinical_csv(write(tmp_path, "ID,x\n11.0,1\n12.0,2\n"))
    assert table.index.tolist() == ["11", "12"]


@pytest.mark.parametrize("text, line, message", [
    ("ID;a;b\n1;2;3\n2;3\n", 3, "expected 3 fields"),
    ("ID;a;b\n1;2;3\n2;3;4;5\n", 3, "expected 3 fields"),
    ("ID;a\n1;2\n1;3\n", 3, "ID '1' occurs twice (first on line 2)"),
    ("ID;a\n1;2\n;3\n", 3, "the ID is empty"),
    ("ID;a\n1;2,5\n2;3,5\n3;abc\n4;1\n", 4, "column 'a' holds numbers but this row has 'abc'"),
    ("Participant;a\n1;2\n", 1, "has no 'ID' column"),
    ("ID;a;a\n1;2;3\n", 1, "occur more than once"),
    ("ID;;b\n1;2;3\n", 1, "column 2 has no name"),
    ("ID;a\n\n1;2\n2;x;y\n", 4, "expected 2 fields"),                  # blank lines keep the numbering
])
def test_malformed_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_clinical_csv(path)
    assert err.value.path == str(path) and err.value.line == line, str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    ("ID;a\n", "has a header but no data rows"),
    ("just one column\n1\n", "cannot find the field separator"),
])
def test_empty_files(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as err:
        read_clinical_csv(path)
    assert err.value.path == str(path)


def test_missing_or_binary_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_clinical_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is not a text file"):
        read_clinical_csv(write(tmp_path, "ID;a\x00\n1;2\n"))


def test_detectors():
    assert detect_separator("ID;High DNA stainability, HDS (%)\n1;2,5\n") == ";"
    assert detect_separator("a,b\n1,2\n") == ","
    assert detect_decimal(["1,5", "2", "3,25"]) == ","
    assert detect_decimal(["1.5", "2", "x"]) == "."


def test_motility_columns_names_and_grades():
    table = pd.DataFrame({
        "Progressive motility (%)": [40.0], "Non-progressive sperm motility (%)": [10.0],
        "Immotile sperm (%)": [50.0], "Grade A (%)": [25.0], "grade b": [15.0], "Grade c": [10.0],
        "Grade D (%)": [50.0], "Sperm vitality (%)": [80.0],
    }, index=pd.Index(["5"], name="ID"))
    mot = motility_columns(table)
    assert list(mot.columns) == ["progressive", "non_progressive", "immotile", "grade_a", "grade_b", "grade_c",
                                 "grade_d"]
    assert mot.loc["5"].tolist() == [40.0, 10.0, 50.0, 25.0, 15.0, 10.0, 50.0]


def test_motility_columns_errors():
    table = pd.DataFrame({"Progressive motility (%)": [1.0], "Immotile sperm (%)": [2.0]})
    with pytest.raises(InputError, match="no column 'Non progressive sperm motility \\(%\\)'"):
        motility_columns(table)
    table["Non progressive (%)"] = [3.0]
    table["Non-progressive motility"] = [3.0]
    with pytest.raises(InputError, match="several columns match 'non_progressive'"):
        motility_columns(table)
    table = pd.DataFrame({"Progressive motility (%)": ["x"], "Immotile sperm (%)": [2.0],
                          "Non progressive (%)": [1.0]}, index=pd.Index(["9"]))
    with pytest.raises(InputError, match="'Progressive motility \\(%\\)' is not numeric: ID '9'"):
        motility_columns(table)


BOTH = ("ID;Progressive motility (%);Non progressive sperm motility (%);Immotile sperm (%);Grade a (%);Grade b (%);"
        "Grade c (%);Grade d (%)\n")


@pytest.mark.parametrize("rows", [
    "1;40;10;50;25;15;10;50\n",
    "1;40,5;10;49,5;25;14,6;10,9;49\n",          # rounding: every pair within 1 point
    "1;40;10;50;NA;15;10;50\n2;40;;50;25;15;10;50\n",  # a missing value on either side cannot contradict
])
def test_grades_that_agree_with_the_three_categories_are_read(tmp_path, rows):
    table = read_clinical_csv(write(tmp_path, BOTH + rows))
    assert len(motility_columns(table).columns) == 7


@pytest.mark.parametrize("rows, line, words", [
    ("1;40;10;50;25;15;10;50\n2;60;10;30;0;33,33;10;30\n", 3,
     "grades a + b contradict progressive motility: 'Grade a (%)' 0 + 'Grade b (%)' 33.33 = 33.33 %, but "
     "'Progressive motility (%)' 60 %; they must agree within 1 point"),
    ("1;40;10;50;25;15;10;50\n\n2;40;25;35;25;15;10;50\n", 4,
     "grade c contradicts non-progressive motility: 'Grade c (%)' 10 %, but 'Non progressive sperm motility (%)' 25 %"),
    ("1;40;10;50;25;15;10;51,5\n", 2, "grade d contradicts immotile sperm: 'Grade d (%)' 51.5 %, but "
                                      "'Immotile sperm (%)' 50 %"),
])
def test_grades_that_contradict_the_three_categories_name_file_line_and_values(tmp_path, rows, line, words):
    path = write(tmp_path, BOTH + rows)
    with pytest.raises(InputError) as err:
        read_clinical_csv(path)
    assert err.value.path == str(path) and err.value.line == line, str(err.value)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_motility_columns_refuses_contradicting_grades_of_a_table():
    table = pd.DataFrame({"Progressive motility (%)": [40.0, 40.0], "Non progressive sperm motility (%)": [10.0, 10.0],
                          "Immotile sperm (%)": [50.0, 50.0], "Grade a": [25.0, 5.0], "Grade b": [15.0, 5.0]},
                         index=pd.Index(["5", "6"], name="ID"))
    with pytest.raises(InputError, match="^ID '6': grades a \\+ b contradict progressive motility"):
        motility_columns(table)
