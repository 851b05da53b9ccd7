"""Nothing lost, nothing silent (issue 17): faults of self-train, regress, crosscheck and the clinical CSV.

Each test meets a fault the way a user does, through ``spermtrack.cli.main``, and checks the promise:
an exit status, one line on stderr without a traceback, and no output left half-written.

=================================================  ==================================================
input or fault                                     promise
=================================================  ==================================================
``self-train --out`` a non-empty user folder       refused before any work, the folder untouched
``self-train --out`` inside its own input          refused before any work
``self-train`` failing after pseudo-labelling      nothing left: no output, no temporary folder, no
                                                   extra link to the input video
``self-train --start`` past the end                the error says so, with the video's frame count
``self-train --stop <= --start``, ``--conf 2``     usage errors (exit 2)
grades a-d contradicting the three categories      one line naming the file, the line and both values
``regress predict`` a video shorter than the       an error with both frame counts
model's input
``regress predict`` a uniform (black) video        a warning on stderr and the result marked
a malformed regressor checkpoint                   one line naming the file, never a traceback
a ``;``-separated tracks CSV                       says it is ``;``-separated
bad ``crosscheck`` / ``regress`` option values     usage errors (exit 2) in plain words
=================================================  ==================================================
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from spermtrack.cli import main
from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError

CSV = "semen_analysis_data_Train.csv"
CLIP_FRAMES = 30  # 1.2 s at 25 fps


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines and "Traceback" not in stderr, stderr
    return lines[-1]


def _usage_exit(argv: list[str]) -> int:
    """The exit status of a command refused as a usage error (by argparse or by the command)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _siblings(folder: Path) -> list[str]:
    """Temporary folders that an output left beside itself."""
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two tiny synthetic videos (1.2 s at 25 fps, 160 x 120 px) with their semen-analysis CSV."""
    root = tmp_path_factory.mktemp("faults_commands") / "data"
    assert main(["synth", str(root), "--videos", "2", "--seconds", "1.2", "--fps", "25", "--density", "8",
                 "--width", "160", "--height", "120", "--no-images", "--quiet"]) == 0
    return root


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h), False)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def _first_frame(data: Path) -> np.ndarray:
    from spermtrack.io.video import iter_frames

    return next(iter_frames(data / "1" / "1.mp4", gray=True))[1]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Fitted ``zeror`` and ``r3d18`` regressors (quick settings, random inputs), saved as 'regress train' does."""
    from spermtrack.crosscheck.inputs import InputSettings
    from spermtrack.regressors import VideoInputs, make_regressor

    folder = tmp_path_factory.mktemp("checkpoints")
    rng = np.random.default_rng(0)
    videos = [VideoInputs(f"v{i}", frames=rng.integers(0, 255, (24, 60, 80), dtype=np.uint8), frame_step_s=0.04)
              for i in range(2)]
    out = {}
    for name in ("zeror", "r3d18"):
        model = make_regressor(name, quick=True).fit(videos, np.array([[0.2, 0.3, 0.5], [0.4, 0.3, 0.3]]))
        out[name] = model.save(folder / f"{name}.pt",
                               inputs={**InputSettings.quick().to_dict(), "um_per_px": VISEM_UM_PER_PX})
    return out


# --------------------------------------------------------------------------------------------- self-train
def test_self_train_refuses_a_non_empty_folder_before_any_work(data, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code = main(["self-train", str(data / "1" / "1.mp4"), "--out", str(mine), "--start", "100000"])
    assert code == 1
    line = _one_line(capsys.readouterr().err)
    assert f"{mine}: is a folder that spermtrack did not write" in line
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]  # no pseudo/ left in the user's folder
    assert _siblings(tmp_path) == []


def test_self_train_refuses_an_output_inside_its_input(data, tmp_path, capsys):
    video = tmp_path / "1"
    shutil.copytree(data / "1", video)
    before = sorted(p.name for p in video.iterdir())
    code = main(["self-train", str(video), "--out", str(video / "adapted"), "--start", "100000"])
    assert code == 1
    assert "lies inside the input" in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in video.iterdir()) == before


def test_self_train_failing_after_pseudo_labels_leaves_nothing(data, tmp_path, capsys, monkeypatch):
    import spermtrack.detectors.train as train

    def broken(*args, **kwargs):
        raise InputError("training failed (simulated)")

    monkeypatch.setattr(train, "train_yolo", broken)
    video = tmp_path / "clip.mp4"
    shutil.copy(data / "1" / "1.mp4", video)
    out = tmp_path / "adapted"
    code = main(["self-train", str(video), "--out", str(out), "--frame-step", "8"])
    assert code == 1
    assert "training failed (simulated)" in _one_line(capsys.readouterr().err)
    assert not out.exists() and _siblings(tmp_path) == []
    assert os.stat(video).st_nlink == 1  # the hard link of the pseudo-label data set is gone too


def test_self_train_start_past_the_end_says_so(data, tmp_path, capsys):
    code = main(["self-train", str(data / "1" / "1.mp4"), "--out", str(tmp_path / "o"), "--start", "500"])
    assert code == 1
    line = _one_line(capsys.readouterr().err)
    assert f"--start 500 is past the end of the video: it has {CLIP_FRAMES} frames" in line
    assert "--conf" not in line
    assert not (tmp_path / "o").exists() and _siblings(tmp_path) == []


@pytest.mark.parametrize("options, words", [(["--start", "10", "--stop", "5"], "--stop (5) must be greater than "
                                                                              "--start (10)"),
                                            (["--conf", "2"], "argument --conf: must be a score above 0 and at "
                                                              "most 1")])
def test_self_train_bad_option_values_are_usage_errors(data, tmp_path, capsys, options, words):
    assert _usage_exit(["self-train", str(data / "1" / "1.mp4"), "--out", str(tmp_path / "o"), *options]) == 2
    line = _one_line(capsys.readouterr().err)
    assert words in line and "SelfTrainConfig" not in line
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_self_train_writes_its_output_as_a_unit(data, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    shutil.copy(data / "1" / "1.mp4", video)
    out = tmp_path / "adapted"
    assert main(["self-train", str(video), "--out", str(out), "--epochs", "1"]) == 0
    assert f"wrote {out.resolve() / 'detector.pt'}" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"detector.pt", "self_train.json", "pseudo_labels", "run", ".spermtrack-output"} <= names
    assert not names & {"pseudo", "dataset"} and not any(n.startswith(".self-train-work") for n in names)
    assert any((out / "pseudo_labels").glob("clip_frame_*.txt"))
    assert os.stat(video).st_nlink == 1 and _siblings(tmp_path) == []


# --------------------------------------------------------------------------------------- clinical CSV
def test_grades_that_contradict_the_three_categories_are_refused(data, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(data, root)
    lines = (root / CSV).read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(";")
    fields = lines[2].split(";")  # video 2, line 3 of the file
    fields[header.index("Progressive motility (%)")] = "95,00"
    fields[header.index("Non progressive sperm motility (%)")] = "2,50"
    fields[header.index("Immotile sperm (%)")] = "2,50"
    lines[2] = ";".join(fields)
    (root / CSV).write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    code = main(["regress", "train", str(root), "--model", "zeror", "--folds", "2", "--quick", "--out",
                 str(tmp_path / "m"), "--cache", str(tmp_path / "cache"), "--quiet"])
    assert code == 1
    line = _one_line(capsys.readouterr().err)
    assert f"{root / CSV}:3: grades a + b contradict progressive motility" in line
    assert "'Progressive motility (%)' 95 %" in line
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------------------------- regress predict
def test_regress_predict_on_a_one_frame_video_gives_both_frame_counts(data, checkpoints, tmp_path, capsys):
    model = checkpoints["r3d18"]  # quick: clips of 4 frames
    video = _write_video(tmp_path / "one.mp4", [_first_frame(data)])
    code = main(["regress", "predict", str(video), "--model", str(model), "--quiet"])
    assert code == 1
    line = _one_line(capsys.readouterr().err)
    assert f"{video}: is too short for the r3d18 model: it needs at least 4 frames" in line
    assert line.endswith("the video has 1")


@pytest.mark.parametrize("name", ["zeror", "r3d18"])
def test_regress_predict_on_a_uniform_video_warns_and_marks_the_result(checkpoints, tmp_path, capsys, name):
    model = checkpoints[name]
    video = _write_video(tmp_path / "black.mp4", [np.zeros((120, 160), np.uint8)] * 30)
    assert main(["regress", "predict", str(video), "--model", str(model), "--quiet"]) == 0
    captured = capsys.readouterr()
    warning = _one_line(captured.err)
    assert warning.startswith("spermtrack regress predict: warning:") and "has no contrast" in warning
    assert "UNRELIABLE" in captured.out


def test_regress_predict_on_a_normal_video_has_no_warning(data, checkpoints, capsys):
    model = checkpoints["r3d18"]
    assert main(["regress", "predict", str(data / "1" / "1.mp4"), "--model", str(model), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "UNRELIABLE" not in captured.out


def _edit(payload: dict, how: str) -> dict:
    payload = dict(payload)
    if how == "label":
        payload["model"] = "flow2d"
    elif how == "label-same-settings":
        payload["model"], payload["config"] = "flow2d", {}
    elif how == "unknown":
        payload["model"] = "resnet9000"
    elif how == "empty-state":
        payload["state"] = {}
    elif how == "no-state":
        del payload["state"]
    elif how == "state-not-dict":
        payload["state"] = "weights"
    elif how == "missing-tensor":
        last = list(payload["state"]["net"])[-2:]  # the final linear layer's weight and bias
        payload["state"] = {**payload["state"], "net": {k: v for k, v in payload["state"]["net"].items()
                                                        if k not in last}}
    elif how == "categories":
        payload["categories"] = ["a", "b", "c", "d"]
    elif how == "settings":
        payload["config"] = {**payload["config"], "layers": 3}
    elif how == "nan":
        net = dict(payload["state"]["net"])
        key = next(iter(net))
        net[key] = net[key] * float("nan")
        payload["state"] = {**payload["state"], "net": net}
    return payload


@pytest.mark.parametrize("how", ["label", "label-same-settings", "unknown", "empty-state", "no-state",
                                 "state-not-dict", "missing-tensor", "categories", "settings", "nan"])
def test_a_malformed_regressor_checkpoint_is_one_line_naming_the_file(data, checkpoints, tmp_path, capsys, how):
    import torch

    good = checkpoints["r3d18"]
    bad = tmp_path / "model.pt"
    torch.save(_edit(torch.load(good, weights_only=True), how), bad)
    code = main(["regress", "predict", str(data / "1" / "1.mp4"), "--model", str(bad), "--quiet"])
    assert code == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"spermtrack regress: error: {bad}: holds ")
    assert "state_dict" not in line and "KeyError" not in line


def test_a_zeror_checkpoint_with_a_state_of_the_wrong_size(data, checkpoints, tmp_path, capsys):
    import torch

    good = checkpoints["zeror"]
    payload = torch.load(good, weights_only=True)
    torch.save({**payload, "state": {"mean": [0.5, 0.5]}}, tmp_path / "short.pt")
    code = main(["regress", "predict", str(data / "1" / "1.mp4"), "--model", str(tmp_path / "short.pt"), "--quiet"])
    assert code == 1
    assert "its state's 'mean' has shape (2,), the model needs (3,)" in _one_line(capsys.readouterr().err)


# ---------------------------------------------------------------------------------------- low items
@pytest.mark.parametrize("sep, name", [(";", "';'"), ("\t", "tab")])
def test_a_semicolon_separated_tracks_csv_says_so(tmp_path, capsys, sep, name):
    header = ["frame", "x", "y", "w", "h", "score", "class_id", "track_id"]
    rows = [[str(f), str(10 + f), "20,5" if sep == ";" else "20.5", "4", "4", "1", "0", "1"] for f in range(5)]
    path = tmp_path / "tracks.csv"
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    code = main(["kinematics", str(path), "--fps", "25", "--um-per-px", "0.5", "--out", str(tmp_path / "k")])
    assert code == 1
    line = _one_line(capsys.readouterr().err)
    assert f"{path}:1: looks {name}-separated: a tracks table must be comma-separated" in line
    assert "missing column" not in line


@pytest.mark.parametrize("command, options, words", [
    (["crosscheck"], ["--margin", "-3"], "argument --margin: must be a number of percentage points from 0 to 100"),
    (["crosscheck"], ["--margin", "nan"], "argument --margin: must be a number of percentage points"),
    (["crosscheck"], ["--margin", "inf"], "argument --margin: must be a number of percentage points"),
    (["crosscheck"], ["--models", "zeror,cnn"], "argument --models: unknown regressor(s) 'cnn'; choose from zeror"),
    (["crosscheck"], ["--models", ","], "argument --models: give at least one regressor"),
    (["crosscheck"], ["--models", "zeror,zeror"], "argument --models: 'zeror' named more than once"),
    (["crosscheck"], ["--folds", "1"], "argument --folds: must be at least 2"),
    (["regress", "train", "--model", "zeror"], ["--folds", "1"], "argument --folds: must be at least 2"),
])
def test_bad_crosscheck_and_regress_option_values_are_usage_errors(data, tmp_path, capsys, command, options, words):
    assert _usage_exit([*command, str(data), "--quick", "--quiet", "--out", str(tmp_path / "o"), *options]) == 2
    line = _one_line(capsys.readouterr().err)
    assert words in line and "crosscheck.margin" not in line
    assert not (tmp_path / "o").exists()
