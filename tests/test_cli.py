"""The spermtrack command line: subcommands, one-line user errors, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spermtrack.cli import build_parser, main



def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    names = list(parser._subparsers._group_actions[0].choices)
    assert {"synth", "info", "track", "demo"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: spermtrack" in capsys.readouterr().out


def test_missing_path_is_one_line_error_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "spermtrack.cli", "info", str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope" in lines[0] and "Traceback" not in result.stderr


def test_bad_option_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "out", "--fps", "-3"])
    assert exc.value.code == 2
    assert "must be a positive number" in capsys.readouterr().err


def test_info_on_the_real_frame_of_video_13(capsys, reference):
    assert main(["info", str(reference / "visem_real" / "13"), "--fps", "49"]) == 0
    out = capsys.readouterr().out
    header, row = out.strip().splitlines()
    cells = dict(zip(header.split(), row.split()))
    assert cells["video"] == "13" and cells["sperm"] == "43" and cells["tracks"] == "43" and cells["frames"] == "1"


def test_info_without_fps_on_a_folder_without_video_says_what_to_do(capsys, reference):
    real13 = reference / "visem_real" / "13"
    assert main(["info", str(real13)]) == 1
    err = capsys.readouterr().err
    assert "fps" in err and str(real13) in err


def test_synth_then_info_report_the_generated_counts(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "data"
    assert main(["synth", str(out), "--videos", "2", "--seconds", "1", "--fps", "20", "--seed", "3",
                 "--density", "8", "--quiet"]) == 0
    assert main(["info", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    table = pd.read_csv(pd.io.common.StringIO("\n".join(lines[1:])), sep=r"\s+")
    assert list(table["video"].astype(str)) == ["1", "2"]
    for _, row in table.iterrows():
        truth = pd.read_csv(out / str(row["video"]) / f"{row['video']}_truth.csv.gz")
        assert row["frames"] == 20 and row["fps"] == 20.0
        assert row["sperm"] == (truth["class_id"] == 0).sum()
        assert row["cluster"] == (truth["class_id"] == 1).sum()
        assert row["pinhead"] == (truth["class_id"] == 2).sum()
        assert row["tracks"] == truth["track_id"].nunique()


def test_synth_refuses_a_file_as_output(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["synth", str(target), "--videos", "1", "--seconds", "1", "--fps", "10", "--quiet"]) == 1
    assert "file.txt" in capsys.readouterr().err


def test_evaluate_reproduces_motmetrics_on_mot15_files(capsys):
    """TUD-Stadtmitte as bundled with motmetrics (MOT15 gt without a class column), through main()."""
    import os

    import motmetrics

    data = Path(os.path.dirname(motmetrics.__file__)) / "data" / "TUD-Stadtmitte"
    assert main(["evaluate", str(data / "gt.txt"), str(data / "test.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    overall = next(line.split() for line in lines if line.startswith("OVERALL"))[1:]
    values = dict(zip(header, overall))
    assert float(values["MOTA"]) == pytest.approx(56.4014, abs=1e-3)
    assert float(values["IDF1"]) == pytest.approx(64.4619, abs=1e-3)


def test_evaluate_refuses_ground_truth_without_pedestrians(tmp_path, capsys):
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,10,20,30,40,1,3,1.0\n2,1,12,20,30,40,1,3,1.0\n")
    res = tmp_path / "res.txt"
    res.write_text("1,1,10,20,30,40,1,-1,-1,-1\n")
    assert main(["evaluate", str(gt), str(res)]) == 1
    assert "pedestrian" in capsys.readouterr().err


def test_track_says_why_it_found_no_track(tmp_path, capsys):
    det = tmp_path / "det.txt"
    det.write_text("".join(f"{f},-1,100,100,20,20,0.3,-1,-1,-1\n" for f in range(1, 11)))
    assert main(["track", "--detections", str(det), "--fps", "50", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning: no track" in err and "birth score" in err


# ----------------------------------------------------------------------------- every stage through main()
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A synthetic data set of two 1-s videos (320 x 240, 25 fps) written by ``spermtrack synth``."""
    root = tmp_path_factory.mktemp("cli") / "data"
    assert main(["synth", str(root), "--videos", "2", "--seconds", "1", "--fps", "25", "--seed", "5", "--density",
                 "8", "--width", "320", "--height", "240", "--quiet"]) == 0
    return root


def test_detect_writes_detections_of_every_frame(clip, tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "det"
    assert main(["detect", str(clip / "1"), "--detector", "blob", "--out", str(out), "--quiet"]) == 0
    dets = pd.read_csv(out / "detections.csv")
    assert dets["frame"].nunique() == 25 and {"x", "y", "score", "class_id"} <= set(dets.columns)
    assert (out / "det_mot.txt").is_file() and json.loads((out / "detections.json").read_text())["detector"]
    assert "detections in 25 frames" in capsys.readouterr().out


def test_detect_and_analyze_hand_the_pixel_size_to_the_detector(clip, tmp_path):
    out = tmp_path / "det"
    assert main(["detect", str(clip / "1"), "--um-per-px", "0.702", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "detections.json").read_text())["detector"]["um_per_px"] == 0.702
    assert main(["detect", str(clip / "1"), "--out", str(tmp_path / "plain"), "--quiet"]) == 0
    assert json.loads((tmp_path / "plain" / "detections.json").read_text())["detector"]["um_per_px"] is None
    res = tmp_path / "res"
    assert main(["analyze", str(clip / "1" / "1.mp4"), "--um-per-px", "0.4", "--no-video", "--out", str(res),
                 "--quiet"]) == 0
    assert json.loads((res / "summary.json").read_text())["provenance"]["detector"]["um_per_px"] == 0.4


def test_track_kinematics_and_evaluate_chain(clip, tmp_path, capsys):
    import pandas as pd

    trk, kin = tmp_path / "trk", tmp_path / "kin"
    assert main(["track", str(clip / "1"), "--detections", "gt", "--tracker", "sperm", "--out", str(trk)]) == 0
    tracks = pd.read_csv(trk / "tracks.csv")
    assert (tracks["track_id"] >= 1).any() and {"x_s", "y_s"} <= set(tracks.columns)
    assert json.loads((trk / "tracks.json").read_text())["tracker"]["tracker"] == "sperm"
    assert main(["kinematics", str(trk / "tracks.csv"), "--um-per-px", "0.351", "--fps", "25", "--out", str(kin)]) == 0
    summary = json.loads((kin / "summary.json").read_text())
    assert summary["counts"]["graded"] + summary["counts"]["ungraded"] == tracks.loc[tracks["track_id"] >= 0,
                                                                                     "track_id"].nunique()
    assert "numpy" in summary["provenance"]["versions"]
    capsys.readouterr()
    assert main(["evaluate", str(clip / "1"), str(trk / "tracks.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    overall = dict(zip(lines[0].split(), next(line.split() for line in lines if line.startswith("OVERALL"))[1:]))
    assert float(overall["IDF1"]) == pytest.approx(100.0)  # exact boxes, default tracker


def test_benchmark_runs_the_grid_through_the_registries(clip, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["benchmark", str(clip), "--detectors", "gt,blob", "--trackers", "sperm,sort", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "sperm" in printed and (out / "leaderboard.md").is_file() and (out / "benchmark.json").is_file()
    with pytest.raises(SystemExit) as exc:  # a bad option value is a usage error
        main(["benchmark", str(clip), "--trackers", "spermtrack", "--out", str(out), "--quiet"])
    assert exc.value.code == 2
    assert "unknown tracker(s) 'spermtrack'; choose from sperm" in capsys.readouterr().err


def test_the_same_tracker_names_everywhere(clip, tmp_path, capsys):
    """`track`, `benchmark` and the API resolve names in one registry: a peer name means the same peer."""
    for name in ("sort", "bytetrack"):
        assert main(["track", str(clip / "1"), "--tracker", name, "--out", str(tmp_path / name)]) == 0
    record = json.loads((tmp_path / "bytetrack" / "tracks.json").read_text())
    assert record["tracker"] == {"tracker": "bytetrack", "peer": "trackers", "fps": 25.0}
    with pytest.raises(SystemExit) as exc:
        main(["track", str(clip / "1"), "--tracker", "deepsort", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "unknown tracker 'deepsort'" in capsys.readouterr().err
