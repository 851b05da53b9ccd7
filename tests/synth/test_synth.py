"""Tests of the synthetic VISEM-Tracking generator (spermtrack.synth). Tiny configs keep them fast."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.schema import GT_COLUMNS, validate_ground_truth
from spermtrack.io.visem_write import label_lines
from spermtrack.kinematics import net_progression
from spermtrack.synth import (SEMEN_COLUMNS, SynthConfig, render_frames, semen_analysis_table, simulate_video,
                             video_seed, write_synthetic_dataset)
from spermtrack.synth.motion import _net_progression

TINY = SynthConfig(seconds=2.0, fps=10.0, width=160, height=120, density=8.0, cluster_rate=0.15, pinhead_rate=0.15)
SMALL = SynthConfig(seconds=3.0, fps=25.0, width=320, height=240, density=25.0, write_images=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    write_synthetic_dataset(out, n_videos=2, config=TINY, seed=7, progress=False)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in {".txt", ".gz", ".csv", ".json"}}


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("kwargs, field", [
    ({"seconds": 0}, "seconds"), ({"seconds": -1.0}, "seconds"), ({"fps": 0}, "fps"), ({"fps": float("nan")}, "fps"),
    ({"width": 10}, "width"), ({"height": 20.5}, "height"), ({"um_per_px": -0.3}, "um_per_px"),
    ({"density": -1}, "density"), ({"grade_mix": (0.5, 0.5)}, "grade_mix"),
    ({"grade_mix": (0.5, 0.5, 0.5, 0.5)}, "grade_mix"), ({"grade_mix": (1.2, -0.2, 0, 0)}, "grade_mix"),
    ({"drift_um_s": -2}, "drift_um_s"), ({"cluster_rate": 0.6}, "cluster_rate"),
    ({"cluster_rate": 0.45, "pinhead_rate": 0.45}, "cluster_rate"), ({"polarity": "dark"}, "polarity"),
    ({"jpeg_quality": 0}, "jpeg_quality"), ({"fps": "50"}, "fps"), ({"write_images": "yes"}, "write_images"),
    ({"seconds": 0.01, "fps": 10}, "seconds"), ({"noise_sd": -1}, "noise_sd"), ({"box_px": 0}, "box_px"),
])
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(InputError, match=rf"SynthConfig\.{re.escape(field)}"):
        SynthConfig(**kwargs)


def test_config_normalises_and_serialises():
    cfg = SynthConfig(grade_mix=[0.1, 0.2, 0.3, 0.4], width=np.int64(320))
    assert cfg.grade_mix == pytest.approx((0.1, 0.2, 0.3, 0.4)) and isinstance(cfg.grade_mix, tuple)
    assert isinstance(cfg.width, int) and cfg.n_frames == 500
    assert json.loads(json.dumps(cfg.to_dict()))["grade_mix"] == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_bad_seed_video_id_and_arguments(tmp_path):
    with pytest.raises(InputError, match="seed"):
        simulate_video(TINY, seed=-1)
    with pytest.raises(InputError, match="video_id"):
        simulate_video(TINY, seed=1, video_id="../x")
    with pytest.raises(InputError, match="n_videos"):
        write_synthetic_dataset(tmp_path, n_videos=0, config=TINY, seed=1, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_synthetic_dataset(tmp_path / "file", n_videos=1, config=TINY, seed=1, progress=False)


# ----------------------------------------------------------------------------- physics
def test_net_progression_of_a_straight_line_is_its_speed_and_agrees_with_the_kinematics():
    fps, speed = 50.0, 30.0
    t = np.arange(200) / fps
    xy = np.stack([speed * t, 0 * t], axis=1)
    assert _net_progression(xy, 50, fps) == pytest.approx(speed)
    assert np.isnan(_net_progression(xy[:40], 50, fps))
    wiggly = xy + np.random.default_rng(0).normal(0, 2.0, xy.shape)  # um
    s = 0.351
    assert _net_progression(wiggly, 50, fps) == pytest.approx(net_progression(wiggly / s, fps=fps, um_per_px=s))


def test_simulation_is_deterministic_and_seed_dependent():
    a = simulate_video(SMALL, seed=3)
    b = simulate_video(SMALL, seed=3)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.objects, b.objects)
    c = simulate_video(SMALL, seed=4)
    assert not a.truth[["x", "y"]].equals(c.truth[["x", "y"]])


def test_truth_and_objects_tables():
    v = simulate_video(SMALL, seed=11, video_id="5")
    truth, objects = v.truth, v.objects
    validate_ground_truth(truth)
    assert list(truth.columns[:len(GT_COLUMNS) + 3]) == ["frame", "track_id", "gt_id", "class_id", "x", "y", "w", "h",
                                                          "score", "x_um", "y_um", "interpolated"]
    assert v.recording.source == "synthetic" and v.recording.n_frames == 75 and v.video_id == "5"
    assert (truth["score"] == 1.0).all() and not truth["interpolated"].any()
    assert truth["x"].between(0, SMALL.width, inclusive="left").all()
    assert truth["y"].between(0, SMALL.height, inclusive="left").all()
    assert np.allclose(truth["x_um"], truth["x"] * SMALL.um_per_px)
    assert truth["frame"].is_monotonic_increasing
    # ids: 1..N, one LabelBox-like gt_id per track
    assert objects["track_id"].tolist() == list(range(1, len(objects) + 1))
    assert set(truth["track_id"]) == set(objects["track_id"])
    assert objects["gt_id"].str.fullmatch(r"c[0-9a-z]{24}").all() and objects["gt_id"].is_unique
    assert (truth.groupby("track_id")["gt_id"].nunique() == 1).all()
    per = truth.groupby("track_id").agg(first=("frame", "min"), last=("frame", "max"), n=("frame", "size"))
    per = per.loc[objects["track_id"]]
    assert (per["first"].to_numpy() == objects["first_frame"].to_numpy()).all()
    assert (per["last"].to_numpy() == objects["last_frame"].to_numpy()).all()
    assert (per["n"].to_numpy() == objects["n_frames"].to_numpy()).all()
    sperm = objects[objects["class_id"] == 0]
    assert set(sperm["grade"]) <= set("abcd") and (objects.loc[objects["class_id"] != 0, "grade"] == "").all()
    assert set(objects["path"]) <= {"straight", "curved", "circle", "still"}


def test_every_graded_sperm_moves_as_its_grade_says():
    objs = []
    for seed, fps in ((1, 25.0), (2, 50.0), (3, 12.0)):
        cfg = SynthConfig(seconds=3.0, fps=fps, width=320, height=240, density=40.0, grade_mix=(0.3, 0.3, 0.2, 0.2),
                          write_images=False)
        objs.append(simulate_video(cfg, seed=seed).objects.assign(fps=fps))
    o = pd.concat(objs)
    s = o[o["class_id"] == 0]
    assert set(s["grade"]) == set("abcd")
    p = s["progression_um_s"]
    assert (p[s["grade"] == "a"] >= 25).all()
    assert p[s["grade"] == "b"].between(5, 25, inclusive="left").all()
    assert (p[s["grade"].isin(["c", "d"])] < 5).all()
    assert (s.loc[s["grade"].isin(["a", "b", "c"]), "beat_hz"] > 0).all()
    assert (s.loc[s["grade"] == "d", ["beat_hz", "alh_um"]] == 0).all().all()
    # beats stay below Nyquist (0.4 fps); ALH is the half peak-to-peak amplitude, a few um
    assert (o["beat_hz"] <= 0.4 * o["fps"] + 1e-9).all()
    assert s.loc[s["grade"] == "a", "alh_um"].between(0.5, 3.0).all()
    # exact-path kinematics are self-consistent: VCL >= VAP-ish >= VSL for motile cells
    motile = s[s["grade"].isin(["a", "b"])]
    assert (motile["vcl_um_s"] >= motile["vsl_um_s"] - 1e-9).all()


def test_drift_is_removed_from_the_true_progression():
    cfg = SynthConfig(seconds=3.0, fps=20.0, width=320, height=240, density=20.0, grade_mix=(0, 0, 0, 1),
                      drift_um_s=20.0, cluster_rate=0, pinhead_rate=0, write_images=False)
    o = simulate_video(cfg, seed=5).objects
    assert len(o) > 5
    assert (o["progression_um_s"] < 2.0).all()
    assert o["progression_obs_um_s"].median() == pytest.approx(20.0, rel=0.35)


def test_density_is_the_mean_number_of_labelled_sperm_per_frame():
    cfg = SynthConfig(seconds=2.0, fps=10.0, width=640, height=480, density=30.0, write_images=False)
    counts = [(simulate_video(cfg, seed=s).truth["class_id"] == 0).sum() / cfg.n_frames for s in range(4)]
    assert np.mean(counts) == pytest.approx(30.0, rel=0.12)


def test_box_sizes_are_visem_like():
    cfg = SynthConfig(seconds=2.0, fps=10.0, density=40.0, cluster_rate=0.1, pinhead_rate=0.1, write_images=False)
    t = pd.concat([simulate_video(cfg, seed=s).truth for s in range(4)])
    sperm = t[t["class_id"] == 0]
    assert 15 < sperm["w"].mean() < 30 and 15 < sperm["h"].mean() < 30
    assert 2 < sperm["w"].std() < 9 and sperm["w"].min() > 3
    pin = t[t["class_id"] == 2]
    assert len(pin) and 6 < pin["w"].mean() < 15
    clu = t[t["class_id"] == 1]
    assert len(clu) and clu["w"].mean() > sperm["w"].mean()


def test_empty_video():
    cfg = SynthConfig(seconds=0.5, fps=10.0, width=64, height=48, density=0.0, cluster_rate=0, pinhead_rate=0)
    v = simulate_video(cfg, seed=1)
    assert len(v.truth) == 0 and len(v.objects) == 0
    validate_ground_truth(v.truth)
    assert list(v.truth.columns[:3]) == ["frame", "track_id", "gt_id"]
    table = semen_analysis_table([v])
    assert np.isnan(table["Grade a (%)"].iloc[0]) and table["Sperm concentration (x10⁶/mL)"].iloc[0] == 0


# ----------------------------------------------------------------------------- pixels
def test_render_frames_shape_dtype_and_determinism():
    cfg = SynthConfig(seconds=0.5, fps=10.0, width=96, height=64, density=5.0)
    v = simulate_video(cfg, seed=2)
    it = render_frames(v)
    assert iter(it) is it
    frames = list(it)
    assert len(frames) == 5
    assert all(f.shape == (64, 96, 3) and f.dtype == np.uint8 for f in frames)
    again = list(render_frames(simulate_video(cfg, seed=2)))
    assert all(np.array_equal(a, b) for a, b in zip(frames, again))
    assert not np.array_equal(frames[0], frames[1])          # noise and motion change between frames
    assert 40 < frames[0].mean() < 90                          # dark phase-contrast background
    bright = next(render_frames(simulate_video(SynthConfig(seconds=0.2, fps=10, width=96, height=64,
                                                           polarity="bright"), seed=2)))
    assert bright.mean() > 120


def test_heads_are_bright_at_their_true_positions():
    cfg = SynthConfig(seconds=0.2, fps=10.0, width=320, height=240, density=15.0, grade_mix=(0, 0, 0, 1),
                      cluster_rate=0, pinhead_rate=0, focus_exit_per_s=0)
    v = simulate_video(cfg, seed=9)
    img = next(render_frames(v)).astype(float).mean(axis=2)
    rows = v.truth[v.truth["frame"] == 0]
    vals = [img[int(round(y)), int(round(x))] for x, y in zip(rows["x"], rows["y"])]
    assert np.median(vals) > 150 and np.median(img) < 90


# ----------------------------------------------------------------------------- files
def test_layout(dataset):
    vids = sorted(p.name for p in dataset.iterdir() if p.is_dir())
    assert vids == ["1", "2"]
    n = TINY.n_frames
    for vid in vids:
        d = dataset / vid
        assert (d / f"{vid}.mp4").stat().st_size > 0
        for k in range(n):
            assert (d / "images" / f"{vid}_frame_{k}.jpg").is_file()
            assert (d / "labels" / f"{vid}_frame_{k}.txt").is_file()
            assert (d / "labels_ftid" / f"{vid}_frame_{k}_with_ftid.txt").is_file()
        assert len(list((d / "labels").iterdir())) == n
        assert (d / f"{vid}_truth.csv.gz").is_file() and (d / f"{vid}_objects.csv").is_file()
    cfg = json.loads((dataset / "synth_config.json").read_text())
    assert cfg["seed"] == 7 and cfg["n_videos"] == 2 and cfg["config"]["fps"] == TINY.fps
    assert {"spermtrack", "numpy", "opencv"} <= set(cfg["versions"])
    assert [v["id"] for v in cfg["videos"]] == ["1", "2"]


def test_mp4_and_jpg_decode(dataset):
    import cv2

    from spermtrack.io.video import iter_frames, probe_video

    info = probe_video(dataset / "1" / "1.mp4")
    assert (info.width, info.height) == (TINY.width, TINY.height) and info.fps == pytest.approx(TINY.fps)
    assert sum(1 for _ in iter_frames(dataset / "1" / "1.mp4")) == TINY.n_frames
    img = cv2.imread(str(dataset / "1" / "images" / "1_frame_0.jpg"))
    assert img.shape == (TINY.height, TINY.width, 3)


def _read_labels(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def test_labels_are_centred_on_the_truth_and_consistent(dataset):
    w, h = TINY.width, TINY.height
    n_checked_clipped = n_checked = 0
    for vid in ("1", "2"):
        d = dataset / vid
        truth = pd.read_csv(d / f"{vid}_truth.csv.gz", dtype={"gt_id": str})
        for k in range(TINY.n_frames):
            yolo = _read_labels(d / "labels" / f"{vid}_frame_{k}.txt")
            ftid = _read_labels(d / "labels_ftid" / f"{vid}_frame_{k}_with_ftid.txt")
            rows = truth[truth["frame"] == k]
            assert len(yolo) == len(ftid) == len(rows)
            for a, b, (_, r) in zip(yolo, ftid, rows.iterrows()):
                assert len(a) == 5 and len(b) == 6
                assert b[0] == r["gt_id"] and b[1:] == a and int(a[0]) == r["class_id"]
                assert all(len(v.split(".")[1]) >= 6 for v in a[1:])
                cx, cy, bw, bh = (float(v) for v in a[1:])
                assert 0 <= cx <= 1 and 0 <= cy <= 1 and 0 < bw <= 1 and 0 < bh <= 1
                x1, x2 = max(r["x"] - r["w"] / 2, 0), min(r["x"] + r["w"] / 2, w)
                y1, y2 = max(r["y"] - r["h"] / 2, 0), min(r["y"] + r["h"] / 2, h)
                assert cx * w == pytest.approx((x1 + x2) / 2, abs=1e-3)
                assert cy * h == pytest.approx((y1 + y2) / 2, abs=1e-3)
                assert bw * w == pytest.approx(x2 - x1, abs=1e-3) and bh * h == pytest.approx(y2 - y1, abs=1e-3)
                clipped = (r["x"] - r["w"] / 2 < 0 or r["x"] + r["w"] / 2 > w or r["y"] - r["h"] / 2 < 0
                           or r["y"] + r["h"] / 2 > h)
                if not clipped:          # an unclipped box is centred exactly on the true head
                    assert cx * w == pytest.approx(r["x"], abs=1e-3) and cy * h == pytest.approx(r["y"], abs=1e-3)
                    n_checked += 1
                else:
                    n_checked_clipped += 1
    assert n_checked > 20 and n_checked_clipped > 0


def test_written_truth_round_trips(dataset):
    v = simulate_video(TINY, seed=video_seed(7, 1), video_id="2")
    got = pd.read_csv(dataset / "2" / "2_truth.csv.gz", dtype={"gt_id": str})
    pd.testing.assert_frame_equal(got, v.truth, check_dtype=False, rtol=1e-12)
    validate_ground_truth(got)
    obj = pd.read_csv(dataset / "2" / "2_objects.csv", dtype={"gt_id": str}, keep_default_na=False,
                      na_values={"radius_um": ["", "NaN"]})
    assert obj["track_id"].tolist() == v.objects["track_id"].tolist()
    assert obj["grade"].tolist() == v.objects["grade"].tolist()


def test_semen_csv_is_visem_dialect_and_true(dataset):
    raw = (dataset / "semen_analysis_data_Train.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]
    table = pd.read_csv(dataset / "semen_analysis_data_Train.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert list(table.columns) == list(SEMEN_COLUMNS)
    assert table["ID"].tolist() == [1, 2]
    for _, row in table.iterrows():
        vid = str(int(row["ID"]))
        obj = pd.read_csv(dataset / vid / f"{vid}_objects.csv", keep_default_na=False)
        sperm = obj[obj["class_id"] == 0]
        for g in "abcd":
            assert row[f"Grade {g} (%)"] == pytest.approx(100 * (sperm["grade"] == g).mean(), abs=0.006)
        assert row["Progressive motility (%)"] == pytest.approx(row["Grade a (%)"] + row["Grade b (%)"], abs=0.011)
        assert row["Non progressive sperm motility (%)"] == pytest.approx(row["Grade c (%)"])
        assert row["Immotile sperm (%)"] == pytest.approx(row["Grade d (%)"])
        assert row["Sperm concentration (x10⁶/mL)"] > 0


def test_same_seed_same_bytes(dataset, tmp_path):
    again = tmp_path / "again"
    write_synthetic_dataset(again, n_videos=2, config=TINY, seed=7, progress=False)
    a, b = _files(dataset), _files(again)
    assert a.keys() == b.keys() and len(a) > 4 * TINY.n_frames
    assert all(a[k] == b[k] for k in a)
    other = tmp_path / "other"
    write_synthetic_dataset(other, n_videos=1, config=TINY, seed=8, progress=False)
    assert _files(other)["1/1_truth.csv.gz"] != a["1/1_truth.csv.gz"]


def test_rewrite_removes_stale_frames_and_empty_frames_get_empty_files(tmp_path):
    cfg = SynthConfig(seconds=1.0, fps=5.0, width=64, height=48, density=0.0, cluster_rate=0, pinhead_rate=0)
    write_synthetic_dataset(tmp_path, n_videos=1, config=cfg, seed=1, progress=False)
    for k in range(5):
        assert (tmp_path / "1" / "labels" / f"1_frame_{k}.txt").read_text() == ""
        assert (tmp_path / "1" / "labels_ftid" / f"1_frame_{k}_with_ftid.txt").read_text() == ""
    shorter = SynthConfig(seconds=0.4, fps=5.0, width=64, height=48, density=0.0, write_images=False)
    write_synthetic_dataset(tmp_path, n_videos=1, config=shorter, seed=1, progress=False)
    assert sorted(p.name for p in (tmp_path / "1" / "labels").iterdir()) == ["1_frame_0.txt", "1_frame_1.txt"]
    assert not list((tmp_path / "1" / "images").glob("*.jpg"))
    table = pd.read_csv(tmp_path / "semen_analysis_data_Train.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert table["Grade a (%)"].isna().all()


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    cfg = SynthConfig(seconds=0.4, fps=5.0, width=64, height=48, density=2.0, write_images=False)
    write_synthetic_dataset(tmp_path, n_videos=1, config=cfg, seed=1, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "synth" in captured.err


def test_label_lines_clip_and_drop():
    rows = pd.DataFrame({"gt_id": ["a", "b", "c"], "class_id": [0, 2, 0], "x": [5.0, 50.0, 120.0],
                         "y": [10.0, 40.0, 10.0], "w": [20.0, 10.0, 10.0], "h": [10.0, 10.0, 10.0]})
    yolo, ftid = label_lines(rows, width=100, height=80)
    assert yolo.splitlines() == ["0 0.075000 0.125000 0.150000 0.125000", "2 0.500000 0.500000 0.100000 0.125000"]
    assert ftid.splitlines()[0] == "a 0 0.075000 0.125000 0.150000 0.125000"
    assert label_lines(rows.iloc[:0], width=100, height=80) == ("", "")
