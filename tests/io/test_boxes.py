"""Per-frame box CSVs of other data sets (SVIA): pixels to the contract's centre and size, one-line errors."""

from __future__ import annotations

import pytest

from spermtrack.errors import InputError
from spermtrack.io.boxes import read_box_csv


def test_boxes_become_centres_and_sizes(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("frame,class,xmin,ymin,xmax,ymax\n1,sperm,10,20,20,40\n0,impurity,0,0,21,21\n")
    table = read_box_csv(path)
    assert table["frame"].tolist() == [0, 1] and table["class_id"].tolist() == [-1, 0]
    row = table.iloc[1]
    assert (row["x"], row["y"], row["w"], row["h"]) == (15.0, 30.0, 10.0, 20.0)
    assert table["class_name"].tolist() == ["impurity", "sperm"]


@pytest.mark.parametrize("text, message", [
    ("frame,class,xmin,ymin,xmax\n", "missing column\\(s\\) ymax"),
    ("frame,class,xmin,ymin,xmax,ymax\n0,sperm,a,0,1,1\n", "b.csv:2: xmin is not a number"),
    ("frame,class,xmin,ymin,xmax,ymax\n0,sperm,0,0,1,1\n-1,sperm,0,0,1,1\n", "b.csv:3: frame must be"),
    ("frame,class,xmin,ymin,xmax,ymax\n0,sperm,5,0,5,1\n", "b.csv:2: a box's xmax/ymax must be above"),
])
def test_bad_rows_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "b.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_box_csv(path)


def test_the_svia_clips_read(reference):
    table = read_box_csv(reference / "svia" / "S_0003_boxes.csv")
    assert len(table) > 900 and set(table["class_name"]) == {"sperm", "impurity"}
    assert ((table["class_id"] == 0) == (table["class_name"] == "sperm")).all()
