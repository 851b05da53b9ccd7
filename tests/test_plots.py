"""PNG plots: the agreement plot (correlation and Bland-Altman panels)."""

from __future__ import annotations

import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.eval.agreement import grade_agreement, percentages_table
from spermtrack.plots import plot_agreement


def test_plot_agreement_writes_a_png(tmp_path, agreement_tables):
    pred, ref = agreement_tables
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


def _kinematics(n: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(0)
    grades = np.array(list("abcd") + [""])[rng.integers(0, 5, n)]
    return pd.DataFrame({"track_id": np.arange(n), "grade": grades, "graded": grades != "",
                         "vcl_um_s": rng.uniform(0, 120, n), "vsl_um_s": rng.uniform(0, 60, n),
                         "vap_um_s": rng.uniform(0, 80, n), "lin": rng.uniform(0, 1, n), "str": rng.uniform(0, 1, n),
                         "wob": rng.uniform(0, 1, n), "alh_mean_um": rng.uniform(0, 5, n),
                         "alh_max_um": rng.uniform(0, 8, n), "bcf_hz": rng.uniform(0, 20, n),
                         "mad_deg": rng.uniform(0, 90, n), "progression_um_s": rng.uniform(0, 60, n)})


def _tracks(kin: pd.DataFrame) -> pd.DataFrame:
    rows = [{"frame": f, "track_id": t, "x": 10.0 + t * 5 + f, "y": 20.0 + f, "x_s": 10.0 + t * 5 + f,
             "y_s": 20.0 + f} for t in kin["track_id"] for f in range(5)]
    return pd.DataFrame(rows, columns=["frame", "track_id", "x", "y", "x_s", "y_s"])


@pytest.mark.parametrize("n", [0, 1, 40])
def test_the_report_plots_are_pngs_for_any_number_of_tracks(n):
    import cv2
    import numpy as np

    from spermtrack.plots import grade_bars, kinematic_histograms, trajectory_map, vcl_lin_scatter

    kin = _kinematics(n)
    pct = {g: (100.0 / 4 if n else None) for g in "abcd"}
    pct.update(progressive=50.0 if n else None, non_progressive=25.0 if n else None, immotile=25.0 if n else None)
    summary = {"percent": pct, "counts": {"graded": n, "ungraded": 0, **{g: n // 4 for g in "abcd"}}}
    for png in (trajectory_map(_tracks(kin), kin, width=640, height=480, um_per_px=0.351), vcl_lin_scatter(kin),
                kinematic_histograms(kin), grade_bars(summary, title="t")):
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and min(img.shape[:2]) > 200
