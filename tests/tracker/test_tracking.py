"""Tiny scenes with obvious answers: crossings, gaps, births and deaths, streaming == batch."""

import numpy as np
import pandas as pd
import pytest

from spermtrack.tracker import Tracker, get_config, track


def _stream(dets: pd.DataFrame, config, frames=None) -> pd.DataFrame:
    tracker = Tracker(config)
    frames = range(int(dets["frame"].min()), int(dets["frame"].max()) + 1) if frames is None else frames
    parts = [tracker.update(dets[dets["frame"] == f], frame=f) for f in frames]
    return pd.concat(parts)


def _same_ids(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index(), check_like=False)


@pytest.mark.parametrize("preset", ["sperm", "sperm_online"])
def test_two_sperm_that_cross_keep_their_ids(crossing, id_count, preset):
    out = track(crossing(), preset)
    assert (id_count(out) == 1).all() and len(id_count(out)) == 2
    tracked = out[out["track_id"] >= 0]
    assert not tracked.duplicated(["frame", "track_id"]).any()


def test_crossing_heads_that_touch_with_jitter_keep_their_ids(walkers, id_count):
    # cross between frames 20 and 21 (1.5 px apart at both), 0.5 px jitter, half a head width per frame
    dets = walkers([(100.0, 100.0, 9.0, 1.5), (100.0, 161.5, 9.0, -1.5)], 45, noise=0.5, seed=4)
    out = track(dets)
    assert (id_count(out) == 1).all() and len(id_count(out)) == 2


def _still_cell_and_turning_passer() -> pd.DataFrame:
    """A still head (22 x 25 px box) and a smaller one (13 x 15) passing 3 px away that turns sharply beside it."""
    rows = []
    for f in range(40):
        rows.append({"frame": f, "x": 100.0, "y": 100.0, "w": 22.0, "h": 25.0, "gt": 0})
        x, y = (40.0 + 3.0 * f, 103.0) if f < 20 else (98.0 - 3.0 * (f - 20), 99.0 - 3.0 * (f - 20))
        rows.append({"frame": f, "x": x, "y": y, "w": 13.0, "h": 15.0, "gt": 1})
    return pd.DataFrame(rows).assign(score=1.0, class_id=0)


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_box_size_keeps_a_passer_from_taking_a_still_cells_id(id_count, engine, monkeypatch):
    """At the turn the centre distances favour exchanging the two ids; the size term does not."""
    from spermtrack.tracker import compiled

    if engine == "numpy":
        monkeypatch.setattr(compiled, "supports", lambda cfg: False)
    dets = _still_cell_and_turning_passer()
    assert (id_count(track(dets, "sperm_online")) == 2).all()  # centre distance alone: exchanged at frame 20
    assert (id_count(track(dets, "sperm_online", size_weight=2.0)) == 1).all()
    assert (id_count(track(dets, "sperm")) == 1).all()  # batch, annotated scores: annotated_size_weight


def _still_cell_missed_while_a_wobbling_passer_turns_beside_it() -> pd.DataFrame:
    """A still head (0.3 px jitter), not detected in frames 30-32, and a passer wobbling 2 px across its path that
    comes up to it and turns away; at frame 32 the passer's detection lies nearer the still head than the passer's
    own prediction (video 11 frames 0-1028 had four still cells taken over like this)."""
    rows = []
    for f in range(50):
        if not 30 <= f <= 32:
            rows.append({"frame": f, "x": 100.0 + 0.3 * (-1) ** f, "y": 100.0 - 0.3 * (-1) ** f, "gt": 0})
        wobble = 2.0 * (-1) ** f
        x, y = (106.0 + wobble, 100.0 + 3.0 * (33 - f)) if f <= 31 else (101.0 - 4.0 * (f - 32), 104.0 + wobble)
        rows.append({"frame": f, "x": x, "y": y, "gt": 1})
    return pd.DataFrame(rows).assign(w=18.0, h=18.0, score=0.9, class_id=0)


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_a_still_cell_keeps_its_id_when_a_wobbling_passer_turns_beside_it(id_count, engine, monkeypatch):
    """Scaled by each track's own innovations, the still track is too sure of its place to take the passer's
    detection; with one noise for every track it takes it and the ids are exchanged."""
    from spermtrack.tracker import compiled

    if engine == "numpy":
        monkeypatch.setattr(compiled, "supports", lambda cfg: False)
    dets = _still_cell_missed_while_a_wobbling_passer_turns_beside_it()
    assert (id_count(track(dets, "sperm_online", innovation_weight=0.0)) == 2).all()
    assert (id_count(track(dets, "sperm_online")) == 1).all()
    assert (id_count(track(dets, "sperm")) == 1).all()


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_the_innovation_scale_ranks_pairs_inside_the_gate_and_shuts_none_out(engine, monkeypatch):
    """A still head (the largest scale) still takes a lone detection anywhere inside its 16 px gate, and none
    beyond it, whether or not another track coasts far away with a wider gate."""
    from spermtrack.tracker import compiled

    if engine == "numpy":
        monkeypatch.setattr(compiled, "supports", lambda cfg: False)
    still = [{"frame": f, "x": 0.0, "y": 0.0} for f in range(20)]
    coasting = [{"frame": f, "x": 100.0, "y": 100.0} for f in (12, 13, 14)]  # 5 missed frames by frame 20: 21 px
    for near, taken in ((9.0, True), (15.9, True), (16.5, False)):
        for extra in ([], coasting):
            dets = pd.DataFrame(still + [{"frame": 20, "x": near, "y": 0.0}] + extra)
            out = track(dets.assign(w=10.0, h=10.0, score=0.9, class_id=0), "sperm_online")
            still_id = out.loc[(out["frame"] == 19) & (out["x"] == 0.0), "track_id"].item()
            assert (out.loc[out["x"] == near, "track_id"].item() == still_id) is taken


def test_a_one_frame_gap_keeps_the_id(walkers, id_count):
    dets = walkers([(50.0, 60.0, 4.0, 1.0)], 30, skip={(0, 15)})
    for preset in ("sperm", "sperm_online"):
        out = track(dets, preset)
        assert id_count(out).tolist() == [1]
        assert (out.loc[out["frame"] >= 2, "track_id"] >= 0).all()


def test_birth_needs_min_hits_and_death_follows_max_age(walkers):
    dets = walkers([(50.0, 50.0, 3.0, 0.0), (300.0, 300.0, 0.0, 0.0, 40)], 60)
    dets = dets[(dets["gt"] == 1) | (dets["frame"] < 20)]  # object 0 disappears after frame 19
    cfg = get_config("sperm_online", min_hits=4, max_age=3)
    tracker = Tracker(cfg)
    ids = {}
    for f in range(60):
        rows = tracker.update(dets[dets["frame"] == f], frame=f)
        ids[f] = rows["track_id"].tolist()
        if f in (20, 21, 22):
            assert tracker.n_tracks == 1  # object 0 kept alive while it misses <= 3 frames
        if f == 23:
            assert tracker.n_tracks == 0  # ... and deleted after the 4th miss
    assert ids[0] == ids[1] == ids[2] == [-1]  # tentative for min_hits - 1 frames
    assert ids[3] == [1]
    assert ids[40] == ids[42] == [-1] and ids[43] == [2]  # the late object: same rule, next id


def test_a_confident_track_outlives_a_doubtful_one_but_not_its_own_length(walkers):
    """confident_max_age keeps a track whose mean score reaches the birth score, up to as long as it was seen."""
    dets = walkers([(50.0, 50.0, 0.5, 0.0), (300.0, 300.0, 0.5, 0.0), (200.0, 100.0, 0.5, 0.0, 14)], 60)
    dets.loc[dets["gt"] == 1, "score"] = 0.65  # below the birth score 0.7 on average, after a 0.9 birth
    dets.loc[(dets["gt"] == 1) & (dets["frame"] == 0), "score"] = 0.9
    dets = dets[(dets["frame"] < 20) | (dets["frame"] >= 30)]  # all missed for 10 frames; object 2 seen 6
    tracker = Tracker(get_config("sperm_online", max_age=5, confident_max_age=12))
    alive = {}
    for f in range(30):
        tracker.update(dets[dets["frame"] == f], frame=f)
        alive[f] = tracker.n_tracks
    assert alive[19] == 3
    assert alive[25] == 2  # object 1 (mean score < 0.7) deleted after 6 misses, max_age + 1
    assert alive[26] == 1  # object 2 (6 hits) deleted after 7 misses: kept no longer than seen
    out = tracker.update(dets[dets["frame"] == 30], frame=30)
    assert out.loc[out["gt"] == 0, "track_id"].tolist() == [1]  # object 0 (20 hits) found again after 10 misses
    assert get_config("sperm_online", max_age=5).confident_max_age is None  # off unless set


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_scores_equal_to_the_birth_score_are_confident(walkers, engine, monkeypatch):
    """Three scores of 0.7 average to 0.6999999999999998: still confident at a birth score of 0.7."""
    from spermtrack.tracker import compiled

    if engine == "compiled" and not compiled.available():
        pytest.skip("numba is not installed")
    if engine == "numpy":
        monkeypatch.setattr(compiled, "supports", lambda cfg: False)
    dets = walkers([(50.0, 50.0, 0.0, 0.0)], 7, score=0.7)
    dets = dets[dets["frame"].isin([0, 1, 2, 6])]
    out = track(dets, "sperm_online", birth_score=0.7, min_hits=3, max_age=2, confident_max_age=20)
    assert out.sort_values("frame")["track_id"].tolist() == [-1, -1, 1, 1]


def test_empty_frames_and_frame_gaps_are_stepped_through(walkers, id_count):
    dets = walkers([(50.0, 60.0, 2.0, 1.0)], 30, skip={(0, 10), (0, 11)})
    dets.loc[dets["frame"] >= 12, "frame"] += 0  # frames 10 and 11 hold no detection at all
    out = track(dets, "sperm_online")
    assert id_count(out).tolist() == [1]
    # streaming: empty tables with frame=, and skipped frames, give the same result
    tracker = Tracker("sperm_online")
    parts = []
    for f in range(30):
        if f == 10:
            parts.append(tracker.update(dets.iloc[:0], frame=f))
        elif f == 11:
            continue  # skipped entirely
        else:
            parts.append(tracker.update(dets[dets["frame"] == f]))
    _same_ids(pd.concat(parts), out)


def test_empty_table_gives_an_empty_tracks_table():
    empty = pd.DataFrame({c: [] for c in ["frame", "x", "y", "w", "h", "score", "class_id"]})
    for preset in ("sperm", "sperm_online", "sort"):
        out = track(empty, preset)
        assert len(out) == 0
        for col in ("frame", "x", "y", "w", "h", "score", "class_id", "track_id", "confirmed"):
            assert col in out.columns
        assert out["track_id"].dtype == np.int64 and out["frame"].dtype == np.int64
        assert out["confirmed"].dtype == bool
    rows = Tracker().update(empty)
    assert len(rows) == 0 and "track_id" in rows.columns


def test_a_track_that_starts_late(walkers, id_count):
    dets = walkers([(50.0, 50.0, 2.0, 0.0), (200.0, 200.0, -2.0, 1.0, 25)], 50)
    out = track(dets)
    assert len(id_count(out)) == 2 and (id_count(out) == 1).all()
    late = out[out["gt"] == 1]
    assert late["frame"].min() == 25 and (late["track_id"] >= 0).all()  # back-filled from its first frame


def test_detection_order_within_a_frame_does_not_matter(crossing):
    dets = crossing(noise=0.3, seed=1)
    extra = crossing(noise=0.3, seed=2)
    extra["x"] += 40.0
    dets = pd.concat([dets, extra], ignore_index=True)
    ref = track(dets)
    for seed in range(3):
        shuffled = dets.sample(frac=1.0, random_state=seed)
        out = track(shuffled)
        _same_ids(out, ref)


@pytest.mark.parametrize("preset", ["sperm", "sort", "iou_bytetrack"])
def test_streaming_equals_batch_with_offline_steps_off(crossing, walkers, preset):
    dets = pd.concat([crossing(noise=0.5, seed=3),
                      walkers([(400.0, 100.0, -3.0, 2.0, 5)], 40, skip={(0, 12), (0, 13), (0, 30)})],
                     ignore_index=True)
    dets["score"] = np.random.default_rng(0).uniform(0.05, 1.0, len(dets))
    cfg = get_config(preset).online_only()
    batch = track(dets.sample(frac=1.0, random_state=5), cfg)
    streamed = _stream(dets, cfg)
    _same_ids(streamed, batch)
    # the offline=False shortcut is the same thing
    _same_ids(track(dets, preset, offline=False), batch)


def test_same_input_same_output(crossing):
    dets = crossing(noise=0.4, seed=7)
    pd.testing.assert_frame_equal(track(dets), track(dets))


def test_reset_starts_over(crossing):
    dets = crossing()
    tracker = Tracker("sperm_online")
    first = pd.concat([tracker.update(dets[dets["frame"] == f]) for f in range(40)])
    tracker.reset()
    second = pd.concat([tracker.update(dets[dets["frame"] == f]) for f in range(40)])
    pd.testing.assert_frame_equal(first, second)


def test_gap_closing_joins_a_track_broken_for_five_frames(walkers, id_count):
    skip = {(0, f) for f in range(20, 25)}
    dets = walkers([(50.0, 80.0, 3.0, 1.0), (60.0, 300.0, 2.0, -1.0)], 50, skip=skip)
    broken = track(dets, "sperm", max_age=2, gap_closing=False)
    assert id_count(broken)[0] == 2  # the online tracker gives up after 2 missed frames
    joined = track(dets, "sperm", max_age=2)
    assert id_count(joined).tolist() == [1, 1]
    assert joined["track_id"].nunique() == 2


def test_gap_closing_does_not_join_unrelated_tracks(walkers, id_count):
    # object 0 ends at frame 19; object 1 starts far away at frame 22
    dets = walkers([(50.0, 80.0, 3.0, 1.0), (400.0, 400.0, -1.0, 0.0, 22)], 40)
    dets = dets[(dets["gt"] == 1) | (dets["frame"] < 20)]
    out = track(dets)
    assert out.groupby("gt")["track_id"].first().nunique() == 2


def test_on_annotated_boxes_a_cell_out_of_view_for_20_frames_keeps_its_id(walkers, id_count):
    """The long-gap rounds link it along its average path; the gap itself gets no interpolated rows."""
    skip = {(0, f) for f in range(20, 40)}
    dets = walkers([(50.0, 80.0, 2.0, 0.5), (60.0, 300.0, 1.5, -1.0)], 70, skip=skip)
    out = track(dets, "sperm")
    assert id_count(out).tolist() == [1, 1]
    assert not out.loc[out["interpolated"], "frame"].between(20, 39).any()
    assert id_count(track(dets, "sperm", annotated_long_gap=None))[0] == 2


def test_the_long_gap_rounds_do_not_move_a_still_cell(walkers, id_count):
    """A still cell that leaves view is not the one of the same size that appears 60 px away 20 frames later."""
    dets = walkers([(100.0, 100.0, 0.0, 0.0), (160.0, 100.0, 0.0, 0.0, 40)], 80)
    dets = dets[(dets["gt"] == 1) | (dets["frame"] < 20)]
    assert track(dets, "sperm").groupby("gt")["track_id"].first().nunique() == 2


def test_gap_closing_on_annotated_boxes_does_not_join_boxes_of_other_sizes(walkers):
    """A 22 px box ends; 8 frames later (past max_age) a 12 px one goes on along its path."""
    a = walkers([(50.0, 80.0, 2.0, 1.0)], 20, size=22.0)
    b = walkers([(106.0, 108.0, 2.0, 1.0, 28)], 60, size=12.0).assign(gt=1)  # where a would be at frame 28
    same = pd.concat([a, b.assign(w=22.0, h=22.0)], ignore_index=True)
    assert track(same, "sperm").groupby("gt")["track_id"].first().nunique() == 1
    other = pd.concat([a, b], ignore_index=True)
    assert track(other, "sperm").groupby("gt")["track_id"].first().nunique() == 2
    assert track(other, "sperm", annotated_size_weight=None).groupby("gt")["track_id"].first().nunique() == 1


def test_backfill_gives_tentative_hits_their_id(walkers):
    dets = walkers([(50.0, 80.0, 3.0, 1.0)], 20)
    online = track(dets, "sperm", backfill=False, gap_closing=False, interpolate=False, smooth=False)
    assert (online.loc[online["frame"] < 2, "track_id"] == -1).all()
    filled = track(dets, "sperm")
    assert (filled["track_id"] == 1).all() and filled["confirmed"].all()


def test_interpolated_rows_are_flagged_and_lie_on_the_line(walkers):
    dets = walkers([(50.0, 80.0, 3.0, 1.0)], 30, skip={(0, 10), (0, 11), (0, 12)})
    dets["score"] = np.linspace(0.75, 0.95, len(dets))  # a detector's scores: its missing boxes are misses
    out = track(dets, "sperm")
    assert len(out) == len(dets) + 3
    assert not out["interpolated"].iloc[:len(dets)].any()
    new = out[out["interpolated"]]
    assert sorted(new["frame"]) == [10, 11, 12]
    np.testing.assert_allclose(new["x"], 50.0 + 3.0 * new["frame"])
    np.testing.assert_allclose(new["y"], 80.0 + new["frame"])
    assert (new["score"] == 0).all() and (new["track_id"] == 1).all() and np.isnan(new["gt"]).all()
    assert list(new.index) == [len(dets), len(dets) + 1, len(dets) + 2]
    assert "interpolated" not in track(dets, "sperm", interpolate=False).columns
    assert not track(dets, "sperm", max_interpolated_gap=2)["interpolated"].any()
    assert track(dets, "sperm", max_interpolated_gap=3)["interpolated"].sum() == 3


def test_on_annotated_boxes_a_frame_without_a_box_gets_no_row(walkers, id_count):
    """An annotator who drew no box saw no cell: the track keeps its id across the frames, without rows."""
    dets = walkers([(50.0, 80.0, 3.0, 1.0)], 30, score=1.0, skip={(0, 10), (0, 11), (0, 12)})
    out = track(dets, "sperm")
    assert len(out) == len(dets) and not out["interpolated"].any()
    assert id_count(out).tolist() == [1]
    assert track(dets, "sperm", annotated_max_interpolated_gap=None)["interpolated"].sum() == 3


def test_rts_columns_smooth_a_noisy_line_and_leave_x_alone(walkers):
    dets = walkers([(50.0, 80.0, 2.0, 0.5)], 200, noise=1.0, seed=9)
    out = track(dets, "sperm", smooth_accel_std=0.01, smooth_measurement_std=1.0)
    pd.testing.assert_series_equal(out["x"], dets["x"].astype(float))
    truth_x = 50.0 + 2.0 * out["frame"]
    truth_y = 80.0 + 0.5 * out["frame"]
    raw = np.hypot(out["x"] - truth_x, out["y"] - truth_y)
    smooth = np.hypot(out["x_s"] - truth_x, out["y_s"] - truth_y)
    assert np.sqrt((smooth ** 2).mean()) < 0.5 * np.sqrt((raw ** 2).mean())


def test_min_track_len_drops_short_tracks(walkers):
    dets = walkers([(50.0, 80.0, 3.0, 1.0), (300.0, 300.0, 0.0, 0.0, 40)], 46)
    out = track(dets, "sperm", min_track_len=10)
    assert (out.loc[out["gt"] == 1, "track_id"] == -1).all()
    assert (out.loc[out["gt"] == 0, "track_id"] == 1).all()
    assert np.isnan(out.loc[out["gt"] == 1, "x_s"]).all()


def test_tracks_that_score_low_on_average_are_dropped(walkers):
    dets = walkers([(50.0, 80.0, 3.0, 1.0), (300.0, 300.0, 0.0, 0.0)], 60, skip={(1, 30)})
    frame = dets["frame"].to_numpy()
    # the still object: confident for 10 frames and every 5th frame, low-scoring (0.3) between: mean 0.5
    dets["score"] = np.where((dets["gt"] == 1) & (frame >= 10) & (frame % 5 != 0), 0.3, 0.9)
    kept = track(dets, "sperm", track_score_ratio=None)
    assert (kept.loc[kept["gt"] == 1, "track_id"] == 2).all() and (kept["interpolated"]).sum() == 1
    for out in (track(dets, "sperm", min_track_score=0.6, track_score_ratio=None), track(dets, "sperm")):
        assert (out.loc[out["gt"] == 1, "track_id"] == -1).all() and np.isnan(out.loc[out["gt"] == 1, "x_s"]).all()
        assert (out.loc[out["gt"] == 0, "track_id"] == 1).all()
        assert not out["interpolated"].any()  # the dropped track's gap gets no row


def test_false_positives_do_not_chain_into_tracks():
    rng = np.random.default_rng(5)
    n = 300
    fp = pd.DataFrame({"frame": np.arange(n), "x": rng.uniform(0, 640, n), "y": rng.uniform(0, 480, n),
                       "w": 18.0, "h": 18.0, "score": 0.8, "class_id": 0})
    out = track(fp)
    assert (out["track_id"] == -1).all()


def test_sort_preset_tracks_pedestrian_boxes_by_iou(walkers, id_count):
    dets = walkers([(100.0, 200.0, 5.0, 0.0), (500.0, 210.0, -5.0, 0.0)], 60, size=80.0)
    out = track(dets, "sort")
    assert len(id_count(out)) >= 2
    # SORT gives no id in the first min_hits - 1 frames of a track and never back-fills
    assert (out.loc[out["frame"] < 2, "track_id"] == -1).all()


def test_low_score_detections_only_continue_tracks(walkers):
    dets = walkers([(50.0, 80.0, 3.0, 1.0)], 30)
    dets.loc[dets["frame"].between(10, 14), "score"] = 0.3  # between low_score and high_score
    out = track(dets, "sperm_online")
    assert (out.loc[out["frame"] >= 2, "track_id"] == 1).all()
    lonely = walkers([(50.0, 80.0, 3.0, 1.0)], 30, score=0.3)
    assert (track(lonely, "sperm")["track_id"] == -1).all()  # never born from low scores


def test_duplicate_rows_are_separate_detections(walkers):
    dets = walkers([(50.0, 80.0, 3.0, 1.0)], 20)
    doubled = pd.concat([dets, dets.iloc[5:6]], ignore_index=True)
    out = track(doubled, "sperm")
    assert len(out) == len(doubled)
    frame5 = out[out["frame"] == 5]
    assert sorted(frame5["track_id"]) == [-1, 1]  # one joins the track, the copy stays alone


def test_filtered_boxes_follow_sort_and_keep_the_detections(walkers):
    """SORT's convention: tracked rows report the Kalman-filtered box, closer to the truth than the noisy one."""
    dets = walkers([(100.0, 100.0, 4.0, 2.0), (300.0, 300.0, -3.0, 1.0)], 60, noise=1.5, seed=4, size=60.0)
    out = track(dets, "sort")
    assert get_config("sort").boxes == "filtered" and get_config("sperm").boxes == "measured"
    np.testing.assert_array_equal(out["x_det"].to_numpy(), dets["x"].to_numpy())
    tracked = out["track_id"].to_numpy() >= 0
    assert tracked.sum() > 100
    np.testing.assert_array_equal(out.loc[~tracked, "x"].to_numpy(), dets.loc[~tracked, "x"].to_numpy())
    t = out[tracked]
    frame_in_track = t["frame"] - t.groupby("gt")["frame"].transform("min")
    late = t[frame_in_track >= 10]
    truth_x = np.where(late["gt"] == 0, 100.0 + 4.0 * late["frame"], 300.0 - 3.0 * late["frame"])
    err_filtered = np.sqrt(np.mean((late["x"] - truth_x) ** 2))
    err_measured = np.sqrt(np.mean((late["x_det"] - truth_x) ** 2))
    assert err_filtered < 0.8 * err_measured
    assert "x_det" not in track(dets, "sperm").columns


def test_why_there_is_no_track():
    from spermtrack.tracker import explain_no_tracks

    weak = pd.DataFrame({"frame": np.arange(10), "x": 50.0, "y": 50.0, "w": 20.0, "h": 20.0, "score": 0.4,
                         "class_id": 0})
    cfg = get_config("sperm")
    note = explain_no_tracks(weak, track(weak, cfg), cfg)
    assert "birth score 0.70" in note and "highest score is 0.40" in note
    scattered = weak.assign(score=0.9, x=np.arange(10) * 100.0 + 20.0, frame=np.arange(10) * 5)
    note = explain_no_tracks(scattered, track(scattered, cfg), cfg)
    assert "3 times in a row" in note
    assert explain_no_tracks(weak.assign(score=0.9), track(weak.assign(score=0.9), cfg), cfg) is None
    assert explain_no_tracks(weak.iloc[:0], track(weak.iloc[:0], cfg), cfg) is None
    two_frames = weak.iloc[:2].assign(score=0.9)  # a 2-frame clip: too short, not a frame-rate problem
    note = explain_no_tracks(two_frames, track(two_frames, cfg), cfg)
    assert "too short: 2 frame(s)" in note and "frame rate" not in note


def test_why_there_is_no_track_when_every_track_scores_low_on_average():
    from spermtrack.tracker import explain_no_tracks, make_tracker

    # one still object: confident for 5 frames, then 0.3 (mean 0.36); its own scores set the thresholds
    dets = pd.DataFrame({"frame": np.arange(50), "x": 50.0, "y": 50.0, "w": 20.0, "h": 20.0,
                         "score": np.where(np.arange(50) < 5, 0.9, 0.3), "class_id": 0})
    tracker = make_tracker("sperm")
    out = tracker.track(dets)
    used = tracker.used_config
    assert not (out["track_id"] >= 0).any() and used.min_track_score == round(0.85 * used.birth_score, 4)
    note = explain_no_tracks(dets, out, used)
    assert f"1 track(s) were found, but none scores {used.min_track_score:.2f}" in note
    assert "mean score is 0.36" in note and "track_score_ratio" in note
