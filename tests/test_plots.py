"""PNG plots: the agreement plot (correlation and Bland-Altman panels)."""

from __future__ import annotations

import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.eval.agreement import grade_agreement, percentages_table
from spermtrack.plots import plot_agreement


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    pred = percentages_table({
        "52": {"progressive": 30.0, "non_progressive": 20.0, "immotile": 50.0},
        "54": {"progressive": 10.0, "non_progressive": 40.0, "immotile": 50.0},
        "60": {"progressive": None, "non_progressive": None, "immotile": None},  # nothing graded
    })
    ref = pd.DataFrame({"progressive": [25.0, 15.0, 40.0, 99.0], "non_progressive": [25.0, 35.0, 30.0, 0.0],
                        "immotile": [50.0, 50.0, 30.0, 1.0]}, index=[52, 54, 60, 82])
    return pred, ref


def test_plot_agreement_writes_a_png(tmp_path):
    pred, ref = _tables()
    per_video, _ = grade_agreement(pred, ref)
    path = plot_agreement(per_video, tmp_path / "ba.png", title="test", reference_label="lab (%)",
                          predicted_label="spermtrack (%)")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 900 and height > 600
    assert not list(tmp_path.glob(".ba*"))  # the atomic writer left no temporary file


def test_plot_agreement_handles_one_point_and_rejects_empty(tmp_path):
    per_video, _ = grade_agreement(percentages_table({"1": {"progressive": 10, "non_progressive": 20,
                                                            "immotile": 70}}),
                                   pd.DataFrame({"progressive": [12.0], "non_progressive": [20.0],
                                                 "immotile": [68.0]}, index=["1"]))
    assert plot_agreement(per_video, tmp_path / "one.png").is_file()  # n = 1: no limits, still a plot
    with pytest.raises(InputError, match="empty"):
        plot_agreement(per_video.iloc[:0], tmp_path / "none.png")
    with pytest.raises(InputError, match="lacks column"):
        plot_agreement(per_video.drop(columns="reference"), tmp_path / "bad.png")
