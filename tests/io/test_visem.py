"""VISEM-Tracking layout: labels_ftid / labels parsing, video folders, compact real table."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.errors import InputError
from spermtrack.io.video import write_video
from spermtrack.io.synth_truth import read_synthetic_truth
from spermtrack.io.train_tracks import read_train_tracks
from spermtrack.io.visem import VisemVideo, list_videos, parse_label_text, read_labels, read_labels_ftid, read_visem_video
from spermtrack.schema import DETECTION_COLUMNS, GT_COLUMNS, validate_detections, validate_ground_truth

FIXTURES = Path(__file__).parent / "fixtures" / "visem"


@pytest.fixture(scope="session")
def REAL(reference):  # noqa: N802 - reads like the constant it replaces
    return reference / "visem_real"

ID_A, ID_B, ID_C = "ckz3v9nzv00033867jsekqdcl", "cl4weyuo90009356hxr59smjp", "ckz6ru2eb0001386lefk6js4m"
ID_NEW = "ckzznewid0000000000000000"


def copy_fixture(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def gray_frames(n: int, width: int = 64, height: int = 48):
    for i in range(n):
        yield np.full((height, width), 20 + 30 * i, np.uint8)


# ------------------------------------------------------------------------------------------- labels_ftid
def test_labels_ftid_fixture_values():
    gt = read_labels_ftid(FIXTURES / "21", width=640, height=480)
    assert list(gt.columns) == list(GT_COLUMNS)
    validate_ground_truth(gt)
    assert gt["frame"].tolist() == [0, 0, 0, 1, 1, 1, 4, 4]          # frame 2 has no file, frame 3 an empty one
    assert gt["gt_id"].tolist() == [ID_A, ID_B, ID_C, ID_C, ID_A, ID_B, ID_A, ID_NEW]
    # integer ids: 1..N by first appearance (frame, then line), stable whatever the line order later
    assert gt["track_id"].tolist() == [1, 2, 3, 3, 1, 2, 1, 4]
    assert gt["class_id"].tolist() == [0, 1, 2, 2, 0, 1, 0, 0]
    first = gt.iloc[0]
    assert (first.x, first.y, first.w, first.h) == (160.0, 240.0, 20.0, 18.0)   # normalised * 640 x 480
    assert gt.loc[gt.gt_id == ID_B, "w"].tolist() == [40.0, 40.0]
    assert (gt["score"] == 1.0).all()
    assert gt["frame"].dtype == np.int64 and gt["track_id"].dtype == np.int64
    assert gt["gt_id"].map(type).eq(str).all()


def test_labels_ftid_accepts_the_labels_ftid_folder_itself():
    a = read_labels_ftid(FIXTURES / "21", width=64, height=48)
    b = read_labels_ftid(FIXTURES / "21" / "labels_ftid", width=64, height=48)
    pd.testing.assert_frame_equal(a, b)


def test_synthetic_numeric_string_ids():
    gt = read_labels_ftid(FIXTURES / "7", width=100, height=100)
    assert gt["gt_id"].tolist() == ["2", "1", "1", "10", "2"]
    assert gt["track_id"].tolist() == [1, 2, 2, 3, 1]                 # by first appearance, not by the number
    assert gt["class_id"].tolist() == [0, 0, 0, 1, 0]


def test_labels_without_ids_match_labels_ftid():
    det = read_labels(FIXTURES / "21", width=640, height=480)           # classes.txt holds no number: skipped
    gt = read_labels_ftid(FIXTURES / "21", width=640, height=480)
    assert list(det.columns) == list(DETECTION_COLUMNS)
    validate_detections(det)
    pd.testing.assert_frame_equal(det, gt[list(DETECTION_COLUMNS)])


def test_malformed_fixture_names_file_and_line():
    with pytest.raises(InputError) as err:
        read_labels_ftid(FIXTURES / "99", width=640, height=480)
    assert err.value.path.endswith("99_frame_0_with_ftid.txt")
    assert err.value.line == 2
    assert str(err.value).startswith(f"{err.value.path}:2: ")
    assert "expected 6 fields" in str(err.value)


def write_ftid(tmp_path: Path, *lines: str, frame: int = 0, name: str = "5") -> Path:
    folder = tmp_path / name / "labels_ftid"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_frame_{frame}_with_ftid.txt").write_text("".join(line + "\n" for line in lines))
    return tmp_path / name


GOOD = f"{ID_A} 0 0.5 0.5 0.03 0.04"


@pytest.mark.parametrize("bad, message", [
    (f"{ID_B} 0 0.5 0.5 0.03", "expected 6 fields"),
    (f"{ID_B} 0 0.5 0.5 0.03 0.04 0.9", "expected 6 fields"),
    (f"{ID_B} 0 0.5 abc 0.03 0.04", "cy is not a number: 'abc'"),
    (f"{ID_B} 0 nan 0.5 0.03 0.04", "NaN or infinite"),
    (f"{ID_B} 0 0.5 inf 0.03 0.04", "NaN or infinite"),
    (f"{ID_B} 0 1.2 0.5 0.03 0.04", "outside [0, 1]"),
    (f"{ID_B} 0 -0.01 0.5 0.03 0.04", "outside [0, 1]"),
    (f"{ID_B} 0 320 240 17 18", "outside [0, 1]"),                     # pixels instead of normalised
    (f"{ID_B} 0 0.5 0.5 0 0.04", "must be positive"),
    (f"{ID_B} 0 0.5 0.5 0.03 -0.04", "must be positive"),
    (f"{ID_B} 0 0.5 0.5 1.5 0.04", "above 1"),
    (f"{ID_B} 3 0.5 0.5 0.03 0.04", "unknown class '3'"),
    (f"{ID_B} sperm 0.5 0.5 0.03 0.04", "unknown class 'sperm'"),
    (f"0 {ID_B} 0.5 0.5 0.03 0.04", "swapped"),                        # labels order: class before id
    ("0 0.5 0.5 0.03 0.04", "looks like a labels/ line"),              # a labels/ file in labels_ftid/
    (f"{ID_A} 0 0.6 0.6 0.03 0.04", "occurs twice in this frame (first on line 1)"),
])
def test_bad_ftid_line_is_reported_with_file_and_line(tmp_path, bad, message):
    folder = write_ftid(tmp_path, GOOD, bad)
    with pytest.raises(InputError) as err:
        read_labels_ftid(folder, width=640, height=480)
    assert err.value.line == 2, str(err.value)
    assert err.value.path.endswith("5_frame_0_with_ftid.txt")
    assert message in str(err.value)


def test_float_class_and_border_rounding_are_accepted(tmp_path):
    folder = write_ftid(tmp_path, f"{ID_A} 1.0 1.0000005 -0.0000005 0.03 0.04")
    gt = read_labels_ftid(folder, width=640, height=480)
    assert gt["class_id"].tolist() == [1]


def test_error_reports_the_right_file_among_many(tmp_path):
    for frame in range(5):
        write_ftid(tmp_path, GOOD, frame=frame)
    write_ftid(tmp_path, GOOD, f"{ID_B} 0 0.5 0.5 0.03 0.04", f"{ID_C} 0 0.5 0.5 0.03 x", frame=3)
    with pytest.raises(InputError) as err:
        read_labels_ftid(tmp_path / "5", width=640, height=480)
    assert err.value.path.endswith("5_frame_3_with_ftid.txt") and err.value.line == 3


def test_bom_and_utf8_errors(tmp_path):
    folder = tmp_path / "5" / "labels_ftid"
    folder.mkdir(parents=True)
    (folder / "5_frame_0_with_ftid.txt").write_text("\ufeff" + GOOD + "\n", encoding="utf-8")
    assert len(read_labels_ftid(tmp_path / "5", width=10, height=10)) == 1
    (folder / "5_frame_1_with_ftid.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="5_frame_1_with_ftid.txt: is not a UTF-8 text file"):
        read_labels_ftid(tmp_path / "5", width=10, height=10)


def test_two_files_for_one_frame(tmp_path):
    folder = write_ftid(tmp_path, GOOD, frame=1)
    (folder / "labels_ftid" / "5_frame_01_with_ftid.txt").write_text(GOOD + "\n")
    with pytest.raises(InputError, match="two label files describe frame 1"):
        read_labels_ftid(folder, width=10, height=10)


def test_labels_line_errors(tmp_path):
    folder = tmp_path / "5" / "labels"
    folder.mkdir(parents=True)
    (folder / "5_frame_0.txt").write_text(f"0 0.5 0.5 0.1 0.1\n{GOOD}\n")
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "5", width=10, height=10)
    assert err.value.line == 2 and "looks like a labels_ftid/ line" in str(err.value)


def test_empty_or_missing_labels(tmp_path):
    (tmp_path / "5" / "labels_ftid").mkdir(parents=True)
    gt = read_labels_ftid(tmp_path / "5", width=10, height=10)
    assert gt.empty and list(gt.columns) == list(GT_COLUMNS)
    validate_ground_truth(gt)
    with pytest.raises(InputError, match="does not exist"):
        read_labels_ftid(tmp_path / "nope", width=10, height=10)
    with pytest.raises(InputError, match="width must be a positive integer"):
        read_labels_ftid(tmp_path / "5", width=0, height=10)


def test_parse_label_text_is_pure():
    acc = parse_label_text(f"{GOOD}\n\n{ID_B} 1 0.1 0.2 0.3 0.4\n", with_id=True, frame=7)
    assert acc.ids == [ID_A, ID_B] and acc.classes == ["0", "1"] and acc.lines == [1, 3]
    assert acc.frames == [7] and acc.counts == [2]


# ------------------------------------------------------------------------------------------- video folders
def test_read_video_folder_with_mp4(tmp_path):
    folder = copy_fixture("21", tmp_path)
    write_video(folder / "21.mp4", gray_frames(6), fps=47.5)
    video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    assert isinstance(video, VisemVideo)
    assert video.video_id == "21" and video.video_path == folder / "21.mp4" and video.images_dir is None
    rec = video.recording
    assert rec.fps == pytest.approx(47.5)                                # from the container, not 50
    assert (rec.width, rec.height, rec.n_frames) == (64, 48, 6)
    assert rec.um_per_px == 0.351 and rec.source == str(folder)
    assert video.label_source == "labels_ftid" and video.has_identities
    assert video.ground_truth["x"].iloc[0] == 0.25 * 64
    frames = list(video.iter_frames(gray=True))
    assert [i for i, _ in frames] == list(range(6)) and frames[0][1].shape == (48, 64)
    assert read_visem_video(folder, fps=30, um_per_px=0.5).recording.fps == 30.0


def test_read_video_folder_images_only_needs_fps(tmp_path):
    folder = copy_fixture("21", tmp_path)
    (folder / "images").mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / "images" / f"21_frame_{i}.png"), np.full((30, 40), 10 * i, np.uint8))
    with pytest.raises(InputError, match="fps= in Python"):
        read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    video = read_visem_video(folder, fps=48.0, um_per_px=VISEM_UM_PER_PX)
    assert (video.recording.width, video.recording.height, video.recording.n_frames) == (40, 30, 5)
    assert video.video_path is None and video.images_dir == folder / "images"
    assert [i for i, _ in video.iter_frames(start=3)] == [3, 4]


def test_n_frames_covers_every_labelled_frame(tmp_path):
    folder = copy_fixture("21", tmp_path)
    write_video(folder / "21.mp4", gray_frames(3), fps=50)               # labels run to frame 4
    assert read_visem_video(folder, um_per_px=VISEM_UM_PER_PX).recording.n_frames == 5


def test_labels_only_folder_has_no_identities(tmp_path):
    folder = copy_fixture("21", tmp_path)
    shutil.rmtree(folder / "labels_ftid")
    write_video(folder / "21.mp4", gray_frames(5), fps=50)
    video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    assert video.label_source == "labels" and not video.has_identities
    assert list(video.ground_truth.columns) == list(DETECTION_COLUMNS) and len(video.ground_truth) == 8


def test_unlabelled_folder(tmp_path):
    folder = tmp_path / "31"
    folder.mkdir()
    write_video(folder / "31.mp4", gray_frames(4), fps=45)
    video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    assert video.label_source == "none" and video.ground_truth.empty and video.recording.n_frames == 4
    assert list(video.ground_truth.columns) == list(GT_COLUMNS)


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_visem_video(tmp_path / "missing", um_per_px=VISEM_UM_PER_PX)
    folder = copy_fixture("21", tmp_path)
    with pytest.raises(InputError, match="frame size is unknown"):
        read_visem_video(folder, fps=50, um_per_px=VISEM_UM_PER_PX)
    (folder / "21.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="cannot be decoded"):
        read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(InputError, match="there are no frames"):
        VisemVideo("bare", bare, None, pd.DataFrame(), None, None).iter_frames()


def test_folder_errors_propagate_label_problems(tmp_path):
    folder = copy_fixture("99", tmp_path)
    write_video(folder / "99.mp4", gray_frames(2), fps=50)
    with pytest.raises(InputError, match=r"99_frame_0_with_ftid\.txt:2: "):
        read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)


def test_list_videos(tmp_path):
    for name in ("100", "11", "2", "abc"):
        (tmp_path / name / "labels_ftid").mkdir(parents=True)
    (tmp_path / "12").mkdir()
    (tmp_path / "12" / "12.mp4").write_bytes(b"x")
    (tmp_path / "notes").mkdir()                                        # not a video folder
    (tmp_path / "readme.txt").write_text("hi")
    assert [p.name for p in list_videos(tmp_path)] == ["2", "11", "12", "100", "abc"]
    assert list_videos(tmp_path / "11") == [tmp_path / "11"]
    with pytest.raises(InputError, match="holds no VISEM-Tracking video folder"):
        list_videos(tmp_path / "notes")
    with pytest.raises(InputError, match="does not exist"):
        list_videos(tmp_path / "nowhere")
    with pytest.raises(InputError, match="is not a folder"):
        list_videos(tmp_path / "readme.txt")


# ------------------------------------------------------------------------------------------- synthetic truth
def test_read_synthetic_truth(tmp_path):
    folder = copy_fixture("7", tmp_path)
    assert read_synthetic_truth(folder) is None
    truth = read_labels_ftid(folder, width=100, height=100).assign(x_exact=1.25)
    truth.to_csv(folder / "7_truth.csv.gz", index=False)
    with pytest.raises(InputError, match="7_objects.csv is missing"):
        read_synthetic_truth(folder)
    pd.DataFrame({"track_id": [1, 2, 3], "grade": ["a", "c", "d"]}).to_csv(folder / "7_objects.csv", index=False)
    got_truth, objects = read_synthetic_truth(folder)
    assert got_truth["gt_id"].tolist() == ["2", "1", "1", "10", "2"]   # stays str
    assert got_truth["x_exact"].tolist() == [1.25] * 5
    assert objects["grade"].tolist() == ["a", "c", "d"]


# ------------------------------------------------------------------------------------------- real data
def test_real_frame_of_video_13(REAL):
    with pytest.raises(InputError, match="fps= in Python"):
        read_visem_video(REAL / "13", um_per_px=VISEM_UM_PER_PX)
    video = read_visem_video(REAL / "13", fps=49.0, um_per_px=VISEM_UM_PER_PX)
    rec = video.recording
    assert (rec.width, rec.height, rec.n_frames, rec.fps) == (640, 480, 1, 49.0)
    gt = video.ground_truth
    assert len(gt) == 43 and gt["track_id"].tolist() == list(range(1, 44))
    assert (gt["class_id"] == 0).all() and (gt["frame"] == 0).all()
    assert gt["gt_id"].iloc[0] == "ckz3vqjlf000b3867lm528m2k"
    assert (gt["x"].iloc[0], gt["y"].iloc[0]) == pytest.approx((0.103125 * 640, 0.24166666666666667 * 480))
    det = read_labels(REAL / "13", width=640, height=480)
    pd.testing.assert_frame_equal(det, gt[list(DETECTION_COLUMNS)])
    assert REAL / "13" in list_videos(REAL)
    assert read_synthetic_truth(REAL / "13") is None


@pytest.fixture(scope="module")
def train_tracks(REAL):
    return read_train_tracks(REAL / "train_tracks.csv.gz")


def test_real_train_tracks(train_tracks):
    assert list(train_tracks) == ["11", "12", "13", "14", "15", "19", "21", "22", "23", "24", "29", "30", "35",
                                  "36", "38", "47"]
    assert sum(len(gt) for _, gt in train_tracks.values()) == 498_153
    assert sum(gt["track_id"].max() for _, gt in train_tracks.values()) == 890
    rec, gt = train_tracks["35"]
    assert rec.n_frames == 1440 and rec.fps == 48.0                     # 1,440 frames / 30 s
    assert train_tracks["11"][0].fps == 49.0
    assert (rec.width, rec.height, rec.um_per_px) == (640, 480, 0.351)
    validate_ground_truth(gt)
    assert gt["frame"].is_monotonic_increasing


def test_train_tracks_agree_with_the_real_label_file(train_tracks, REAL):
    compact = train_tracks["13"][1]
    compact = compact[compact["frame"] == 0].set_index("gt_id")
    folder = read_labels_ftid(REAL / "13", width=640, height=480).set_index("gt_id")
    assert set(compact.index) == set(folder.index)
    for col in ("x", "y", "w", "h"):                                    # the compact table rounds to 6 digits
        np.testing.assert_allclose(compact.loc[folder.index, col], folder[col], atol=1e-3)


def test_train_tracks_video_selection(REAL):
    got = read_train_tracks(REAL / "train_tracks.csv.gz", videos=[23, "14"], seconds=29.4)
    assert list(got) == ["23", "14"]
    assert got["14"][0].fps == pytest.approx(1470 / 29.4)
    with pytest.raises(InputError, match="has no video.*99"):
        read_train_tracks(REAL / "train_tracks.csv.gz", videos=["99"])


def test_train_tracks_errors(tmp_path):
    path = tmp_path / "tracks.csv"
    header = "video,frame,track_id,class_id,cx,cy,w,h\n"
    path.write_text(header + "5,0,a,0,0.5,0.5,0.1,0.1\n5,1,a,0,0.5,1.5,0.1,0.1\n")
    with pytest.raises(InputError, match=r"tracks\.csv:3: centre outside"):
        read_train_tracks(path)
    path.write_text(header + "5,0,a,0,0.5,0.5,0.1,0.1\n5,0,a,0,0.6,0.5,0.1,0.1\n")
    with pytest.raises(InputError, match=r"tracks\.csv:3: video 5: track_id 'a' occurs twice in frame 0"):
        read_train_tracks(path)
    path.write_text(header + "5,0,a,0,0.5,0.5,0.1,0.1\n5,x,b,0,0.6,0.5,0.1,0.1\n")
    with pytest.raises(InputError, match=r"tracks\.csv:3: column 'frame'"):
        read_train_tracks(path)
    path.write_text("video,frame,cx\n5,0,0.5\n")
    with pytest.raises(InputError, match=r"tracks\.csv:1: is missing column"):
        read_train_tracks(path)
    path.write_text(header + "5,1,b,0,0.5,0.5,0.1,0.1\n5,0,a,2,0.5,0.5,0.1,0.1\n5,1,a,0,0.5,0.5,0.1,0.1\n")
    rec, gt = read_train_tracks(path, seconds=2)["5"]
    assert gt["frame"].tolist() == [0, 1, 1] and gt["gt_id"].tolist() == ["a", "b", "a"]
    assert gt["track_id"].tolist() == [1, 2, 1] and rec.fps == 1.0 and rec.n_frames == 2
    with pytest.raises(InputError, match="does not exist"):
        read_train_tracks(tmp_path / "missing.csv.gz")
