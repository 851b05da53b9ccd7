"""VISEM-Tracking -> ultralytics conversion: split by video, labels identical, bad data sets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from spermtrack.training import PAPER_VAL_VIDEOS, convert_visem_to_yolo
from spermtrack.training.dataset import ConvertConfig, choose_val_videos, yolo_label_text
from spermtrack.errors import InputError


def _copy(root: Path, tmp_path: Path, rename: dict[str, str] | None = None) -> Path:
    dst = tmp_path / "visem"
    shutil.copytree(root, dst)
    for old, new in (rename or {}).items():
        folder = dst / new
        (dst / old).rename(folder)
        for sub in folder.rglob(f"{old}*"):
            sub.rename(sub.with_name(new + sub.name[len(old):]))
    return dst


def _videos_in(out: Path, split: str) -> set[str]:
    return {p.name.split("_frame_")[0] for p in (out / "images" / split).iterdir()}


def test_split_by_video_and_labels_identical(tiny_dataset, tmp_path):
    out = tmp_path / "yolo"
    data_yaml = convert_visem_to_yolo(tiny_dataset, out, val_videos=["2"])
    assert data_yaml == out / "data.yaml"
    assert _videos_in(out, "train") == {"1", "3"} and _videos_in(out, "val") == {"2"}
    n = 0
    for split in ("train", "val"):
        for img in (out / "images" / split).iterdir():
            vid, frame = img.stem.split("_frame_")
            label = out / "labels" / split / f"{img.stem}.txt"
            source = tiny_dataset / vid / "labels" / f"{vid}_frame_{frame}.txt"
            assert label.read_bytes() == source.read_bytes()
            assert img.read_bytes() == (tiny_dataset / vid / "images" / img.name).read_bytes()
            n += 1
    assert n == 12
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == {0: "sperm", 1: "cluster", 2: "pinhead"} and data["nc"] == 3
    assert Path(data["path"]) == out.resolve() and data["train"] == "images/train" and data["val"] == "images/val"
    split = json.loads((out / "split.json").read_text())
    assert split["splits"]["val"]["videos"] == ["2"] and split["splits"]["train"]["frames"] == 8
    assert split["splits"]["train"]["boxes"]["sperm"] > 0


def test_labels_ftid_only_drops_the_track_id(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    reference = {p.name: p.read_text() for p in (root / "1" / "labels").iterdir()}
    for vid in ("1", "2", "3"):
        shutil.rmtree(root / vid / "labels")
    out = tmp_path / "yolo"
    convert_visem_to_yolo(root, out, val_videos=["3"])
    for name, text in reference.items():
        got = (out / "labels" / "train" / name).read_text()
        a = np.loadtxt(text.splitlines(), ndmin=2)
        b = np.loadtxt(got.splitlines(), ndmin=2)
        assert sorted(map(tuple, a)) == sorted(map(tuple, b))
    split = json.loads((out / "split.json").read_text())
    assert split["splits"]["train"]["label_source"]["1"] == "labels_ftid"


def test_frames_decoded_from_the_video_when_there_are_no_images(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    shutil.rmtree(root / "1" / "images")
    out = tmp_path / "yolo"
    convert_visem_to_yolo(root, out, val_videos=["2"])
    decoded = sorted(p.name for p in (out / "images" / "train").iterdir() if p.name.startswith("1_"))
    assert decoded == [f"1_frame_{i}.jpg" for i in range(4)]
    import cv2

    assert cv2.imread(str(out / "images" / "train" / "1_frame_0.jpg")).shape == (240, 320, 3)


def test_paper_validation_videos_are_used_when_present(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, rename={"1": "52", "2": "11", "3": "82"})
    out = tmp_path / "yolo"
    convert_visem_to_yolo(root, out)
    assert _videos_in(out, "val") == {"52", "82"} and _videos_in(out, "train") == {"11"}
    assert set(PAPER_VAL_VIDEOS) == {"52", "54", "60", "82"}


def test_seeded_split_is_reproducible():
    ids = [str(i) for i in range(1, 21)]
    a = choose_val_videos(ids, seed=3)
    assert a == choose_val_videos(ids, seed=3) and len(a) == 4
    assert len({tuple(choose_val_videos(ids, seed=s)) for s in range(5)}) > 1
    assert choose_val_videos(["1", "2"], val_fraction=0.9) in (["1"], ["2"])
    assert choose_val_videos(["11", "52", "54"]) == ["52", "54"]
    assert choose_val_videos(["52", "54"], seed=0) in (["52"], ["54"])  # only paper videos: random split


def test_frame_step_and_max_frames(tiny_dataset, tmp_path):
    out = tmp_path / "yolo"
    convert_visem_to_yolo(tiny_dataset, out, val_videos=["1"], frame_step=2)
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["1_frame_0.jpg", "1_frame_2.jpg"]
    convert_visem_to_yolo(tiny_dataset, out, val_videos=["1"], max_frames_per_video=1)  # rewrites the same folder
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["1_frame_0.jpg"]
    assert len(list((out / "labels" / "train").iterdir())) == 2


def test_background_frames_kept_with_empty_labels(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    (root / "1" / "labels" / "1_frame_1.txt").write_text("")
    (root / "1" / "labels" / "1_frame_2.txt").unlink()
    out = tmp_path / "yolo"
    convert_visem_to_yolo(root, out, val_videos=["3"])
    assert (out / "labels" / "train" / "1_frame_1.txt").read_text() == ""
    assert (out / "labels" / "train" / "1_frame_2.txt").read_text() == ""
    assert json.loads((out / "split.json").read_text())["splits"]["train"]["background_frames"] == 2
    convert_visem_to_yolo(root, out, val_videos=["3"], include_background=False)
    assert not (out / "images" / "train" / "1_frame_1.jpg").exists()


def test_no_labelled_frames_is_a_clear_error(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    for vid in ("1", "2", "3"):
        shutil.rmtree(root / vid / "labels_ftid")
        for p in (root / vid / "labels").iterdir():
            p.write_text("")
    with pytest.raises(InputError, match="no labelled box in the selected frames of the train"):
        convert_visem_to_yolo(root, tmp_path / "yolo", val_videos=["1"])
    assert not (tmp_path / "yolo").exists()


def test_bad_data_sets_and_outputs(tiny_dataset, tmp_path):
    with pytest.raises(InputError, match="at least two videos"):
        convert_visem_to_yolo(tiny_dataset / "1", tmp_path / "a")
    with pytest.raises(InputError, match="not in the data set"):
        convert_visem_to_yolo(tiny_dataset, tmp_path / "a", val_videos=["7"])
    with pytest.raises(InputError, match="leave at least one for training"):
        convert_visem_to_yolo(tiny_dataset, tmp_path / "a", val_videos=["1", "2", "3"])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        convert_visem_to_yolo(tiny_dataset, foreign, val_videos=["1"])
    assert (foreign / "notes.txt").read_text() == "mine"
    root = _copy(tiny_dataset, tmp_path)
    (root / "2" / "labels" / "2_frame_0.txt").write_text("0 0.5 0.5 0.1\n")
    with pytest.raises(InputError, match=r"2_frame_0.txt:1"):
        convert_visem_to_yolo(root, tmp_path / "b", val_videos=["1"])
    with pytest.raises(InputError, match="does not exist"):
        convert_visem_to_yolo(tmp_path / "missing", tmp_path / "c")


def test_label_text_clipping_and_identity():
    text = "0 0.5 0.25 0.1 0.2\n2 0.1 0.9 0.05 0.05\n"
    assert yolo_label_text(text, with_id=False) is text
    clipped = yolo_label_text("0 1.0000005 0.5 0.1 0.1\n", with_id=False)
    assert clipped == "0 1.0 0.5 0.1 0.1\n"
    assert yolo_label_text("ckz3v 1 0.5 0.5 0.1 0.1\n\n", with_id=True) == "1 0.5 0.5 0.1 0.1\n"
    assert yolo_label_text("", with_id=False) == ""
    assert yolo_label_text("0 0.5 0.5 0.1 0.1", with_id=False) == "0 0.5 0.5 0.1 0.1\n"


@pytest.mark.parametrize("kw, match", [
    ({"frame_step": 0}, "frame_step"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"val_videos": "52"}, "list of video ids"),
    ({"val_videos": ()}, "at least one"),
    ({"max_frames_per_video": 0}, "max_frames_per_video"),
    ({"seed": -1}, "seed"),
])
def test_convert_config_validation(kw, match):
    with pytest.raises(InputError, match=match):
        ConvertConfig(**kw)
    assert ConvertConfig(val_videos=[52, "54"]).to_dict()["val_videos"] == ["52", "54"]


def test_frame_range_selections_of_one_mp4_only_video(tiny_dataset, tmp_path):
    """Training and validation frames of one video, decoded from its clip (no images/ folder)."""
    import cv2

    from spermtrack.training.dataset import VideoSelection, write_yolo_dataset

    root = _copy(tiny_dataset, tmp_path)
    shutil.rmtree(root / "1" / "images")
    data_yaml = write_yolo_dataset([VideoSelection(root / "1", split="train", stop=2, prefix="real1"),
                                    VideoSelection(root / "1", split="val", start=2, step=2, prefix="real1"),
                                    VideoSelection(root / "2", split="train", step=3)], tmp_path / "out")
    out = data_yaml.parent
    assert sorted(p.name for p in (out / "images" / "train").iterdir()) == \
        ["2_frame_0.jpg", "2_frame_3.jpg", "real1_frame_0.jpg", "real1_frame_1.jpg"]
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["real1_frame_2.jpg"]
    assert cv2.imread(str(out / "images" / "val" / "real1_frame_2.jpg")).shape == (240, 320, 3)
    assert (out / "labels" / "val" / "real1_frame_2.txt").read_text() == \
        (root / "1" / "labels" / "1_frame_2.txt").read_text()
    split = json.loads((out / "split.json").read_text())
    assert [s["start"] for s in split["selections"]] == [0, 2, 0]


def test_overlapping_selections_and_bad_selections_are_errors(tiny_dataset, tmp_path):
    from spermtrack.training.dataset import VideoSelection, write_yolo_dataset

    with pytest.raises(InputError, match="selected twice"):
        write_yolo_dataset([VideoSelection(tiny_dataset / "1", split="train", stop=3),
                            VideoSelection(tiny_dataset / "1", split="val", start=2)], tmp_path / "out")
    with pytest.raises(InputError, match="stop"):
        VideoSelection(tiny_dataset / "1", start=5, stop=5)
    with pytest.raises(InputError, match="split"):
        VideoSelection(tiny_dataset / "1", split="test")
    with pytest.raises(InputError, match="no video"):
        write_yolo_dataset([], tmp_path / "out2")
