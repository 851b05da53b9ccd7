"""TrackerConfig validation, presets, misspelt parameters and unit conversion."""

import json

import numpy as np

import pytest

from spermtrack.errors import InputError
from spermtrack.tracker import TRACKER_PRESETS, Tracker, TrackerConfig, get_config, motion_from_physical, track
from spermtrack.tracker.config import REFERENCE_FPS, REFERENCE_UM_PER_PX


@pytest.mark.parametrize("field, value", [
    ("max_distance", 0.0), ("max_distance", float("nan")), ("accel_std", -1.0), ("measurement_std", "2"),
    ("min_hits", 0), ("min_hits", 2.5), ("max_age", -1), ("max_gap", True), ("iou_threshold", 1.0),
    ("high_score", 1.5), ("cost", "euclid"), ("two_stage", 1), ("low_gate_scale", 0.0),
    ("smooth_accel_std", 0.0), ("gap_gate", -3.0), ("confident_max_age", -1), ("uncertain_confident_max_age", 2.5),
    ("max_age", 10**20), ("confident_max_age", 10**7), ("max_gap", 10**7), ("size_weight", -1.0),
    ("annotated_size_weight", -0.5), ("innovation_weight", 1.5), ("innovation_floor", 0.0),
    ("innovation_floor", 1e-160), ("innovation_ceiling", -1.0), ("size_weight", 1e300),
    ("annotated_size_weight", 1e300), ("long_gap", -1), ("long_gap", 10**7), ("annotated_long_gap", 2.5),
    ("annotated_long_gap", -3), ("max_interpolated_gap", -1), ("annotated_max_interpolated_gap", 1.5),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(InputError, match=field):
        TrackerConfig(**{field: value})


def test_an_innovation_floor_above_the_ceiling_is_refused():
    with pytest.raises(InputError, match="innovation_floor"):
        TrackerConfig(innovation_floor=4.0, innovation_ceiling=3.0)


def test_low_score_above_high_score_is_refused():
    with pytest.raises(InputError, match="low_score"):
        TrackerConfig(low_score=0.8, high_score=0.5)


def test_misspelt_override_lists_valid_names(walkers):
    dets = walkers([(10.0, 10.0, 1.0, 0.0)], 5)
    for call in (lambda: track(dets, max_distanse=5.0), lambda: get_config("sperm", maxage=3),
                 lambda: Tracker("sperm", min_hit=2), lambda: TrackerConfig.from_dict({"gap": 3}),
                 lambda: TrackerConfig().replace(smoth=True)):
        with pytest.raises(InputError, match="valid: .*max_distance.*min_hits"):
            call()


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InputError, match="sperm.*sort.*bytetrack"):
        get_config("deepsort")


def test_to_dict_round_trips_through_json():
    for name in TRACKER_PRESETS:
        cfg = get_config(name)
        again = TrackerConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert again == cfg


def test_config_is_frozen():
    cfg = TrackerConfig()
    with pytest.raises(AttributeError):
        cfg.max_age = 3


def test_presets():
    sort = get_config("sort")
    assert (sort.cost, sort.iou_threshold, sort.max_age, sort.min_hits, sort.two_stage) == ("iou", 0.3, 1, 3, False)
    assert not sort.has_offline_steps
    sperm = get_config()
    assert sperm.cost == "centre" and sperm.two_stage and sperm.gap_closing and sperm.smooth
    assert sperm.max_distance > sperm.max_speed
    assert not get_config("sperm_online").has_offline_steps
    assert get_config("sperm", max_age=9).max_age == 9


def test_online_only_switches_every_offline_step_off():
    cfg = get_config("sperm", min_track_len=5).online_only()
    assert not cfg.has_offline_steps and cfg.max_distance == get_config("sperm").max_distance


def test_presets_rescale_to_the_recording():
    base = get_config("sperm")
    half = get_config("sperm", fps=REFERENCE_FPS / 2)
    assert half.max_speed == pytest.approx(2 * base.max_speed)
    assert half.accel_std == pytest.approx(4 * base.accel_std)
    assert half.max_distance - half.max_speed == pytest.approx(base.max_distance - base.max_speed)
    assert half.max_age == base.max_age and half.measurement_std == base.measurement_std
    big_px = get_config("sperm", um_per_px=2 * REFERENCE_UM_PER_PX)
    assert big_px.max_speed == pytest.approx(base.max_speed / 2)
    # explicit overrides win and are taken as given
    assert get_config("sperm", fps=25.0, max_speed=3.0).max_speed == 3.0
    assert get_config("sperm", fps=REFERENCE_FPS) == base
    with pytest.raises(InputError, match="fps"):
        get_config("sperm", fps=0)


def test_motion_from_physical():
    p = motion_from_physical(fps=50.0, um_per_px=0.351, max_speed_um_s=175.5, accel_std_um_s2=877.5,
                             localisation_um=0.351)
    assert p["max_speed"] == pytest.approx(10.0)
    assert p["max_distance"] == pytest.approx(13.0)
    assert p["accel_std"] == pytest.approx(1.0)
    assert p["measurement_std"] == pytest.approx(1.0)
    assert get_config("sperm", **p).max_speed == pytest.approx(10.0)
    with pytest.raises(InputError, match="fps"):
        motion_from_physical(fps=-1.0, um_per_px=0.3)


def test_annotated_scores_keep_the_fixed_settings():
    """Scores all 1 (annotated boxes): births at the cap, lost tracks kept max_age frames."""
    cfg = get_config("sperm").adapted(np.ones(500))
    assert (cfg.birth_score, cfg.max_age, cfg.confident_max_age, cfg.birth_quantile) == (0.85, 5, None, None)


def test_annotated_scores_weigh_box_sizes_and_a_detector_s_do_not():
    assert get_config("sperm").size_weight == 0.0
    assert get_config("sperm").adapted(np.ones(500)).size_weight == 2.0
    assert get_config("sperm").adapted(np.linspace(0.1, 1.0, 1001)).size_weight == 0.0
    assert get_config("sperm", annotated_size_weight=None).adapted(np.ones(500)).size_weight == 0.0
    assert get_config("sperm", size_weight=3.0).adapted(np.ones(500)).size_weight == 3.0  # raised, not lowered
    assert get_config("sperm", size_weight=0.5).adapted(np.linspace(0.1, 1.0, 1001)).size_weight == 0.5


def test_annotated_scores_link_long_gaps_and_a_detector_s_do_not():
    assert get_config("sperm").long_gap == 0
    assert get_config("sperm").adapted(np.ones(500)).long_gap == 25
    assert get_config("sperm").adapted(np.linspace(0.1, 1.0, 1001)).long_gap == 0
    assert get_config("sperm", annotated_long_gap=None).adapted(np.ones(500)).long_gap == 0
    assert get_config("sperm", long_gap=40).adapted(np.ones(500)).long_gap == 40  # raised, not lowered


def test_annotated_scores_get_no_interpolated_rows_and_a_detector_s_do():
    assert get_config("sperm").max_interpolated_gap is None
    assert get_config("sperm").adapted(np.ones(500)).max_interpolated_gap == 0
    assert get_config("sperm").adapted(np.linspace(0.1, 1.0, 1001)).max_interpolated_gap is None
    assert get_config("sperm", annotated_max_interpolated_gap=None).adapted(np.ones(500)).max_interpolated_gap is None
    assert get_config("sperm", annotated_max_interpolated_gap=3,
                      max_interpolated_gap=2).adapted(np.ones(500)).max_interpolated_gap == 2  # lowered, not raised


def test_detector_scores_set_the_birth_score_and_a_longer_coast():
    scores = np.linspace(0.1, 1.0, 1001)  # lower quartile 0.325 -> clipped to high_score 0.6
    cfg = get_config("sperm").adapted(scores)
    assert (cfg.birth_score, cfg.max_age) == (0.6, 15)
    scores = np.random.default_rng(0).uniform(0.6, 1.0, 4000)  # lower quartile about 0.7
    assert get_config("sperm").adapted(scores).birth_score == pytest.approx(0.7, abs=0.01)
    assert get_config("sperm", uncertain_max_age=None).adapted(scores).max_age == 5
    assert get_config("sperm", max_age=40).adapted(scores).max_age == 40
    assert get_config("sperm").adapted(scores).confident_max_age == 35
    assert get_config("sperm", uncertain_confident_max_age=None).adapted(scores).confident_max_age is None
    assert get_config("sperm", confident_max_age=60).adapted(scores).confident_max_age == 60  # raised, not lowered


def test_continuous_scores_near_one_are_a_detector_s_and_annotations_with_false_positives_are_not():
    confident = np.random.default_rng(1).uniform(0.99, 1.0, 2000)  # blob on easy video
    cfg = get_config("sperm").adapted(confident)
    assert (cfg.birth_score, cfg.max_age) == (0.85, 15)
    annotated = np.concatenate([np.ones(1800), np.random.default_rng(2).uniform(0.2, 0.7, 200)])  # + noise FPs
    assert get_config("sperm").adapted(annotated).max_age == 5


def test_adaptation_is_batch_only_and_optional():
    scores = np.linspace(0.1, 1.0, 100)
    for cfg in (get_config("sperm_online"), get_config("sperm").online_only(), get_config("sort"),
                get_config("sperm", birth_quantile=None)):
        assert cfg.adapted(scores) is cfg
    assert get_config("sperm").adapted(np.array([0.01, 0.05])) == get_config("sperm")  # nothing above low_score


def test_the_tracker_reports_the_settings_it_used(walkers):
    from spermtrack.tracker import make_tracker

    tracker = make_tracker("sperm")
    assert tracker.to_dict()["birth_quantile"] == 0.25
    dets = walkers([(50, 50, 2, 0), (50, 150, 2, 1), (300, 300, -1, 2)], 30)
    tracker.track(dets.assign(score=np.linspace(0.3, 1.0, len(dets))))
    used = tracker.to_dict()
    assert used["birth_quantile"] is None and 0.6 <= used["birth_score"] <= 0.85 and used["max_age"] == 15


def test_tracks_must_score_a_share_of_the_adapted_birth_score_on_average():
    scores = np.random.default_rng(0).uniform(0.6, 1.0, 4000)  # lower quartile about 0.7
    cfg = get_config("sperm").adapted(scores)
    assert get_config("sperm").min_track_score == 0.0
    assert cfg.min_track_score == round(0.85 * cfg.birth_score, 4)
    assert get_config("sperm").adapted(np.ones(500)).min_track_score == round(0.85 * 0.85, 4)  # annotated boxes too
    assert get_config("sperm", track_score_ratio=None).adapted(scores).min_track_score == 0.0
    assert get_config("sperm", min_track_score=0.9).adapted(scores).min_track_score == 0.9  # raised, not lowered
    assert get_config("sperm").online_only().min_track_score == 0.0
    assert get_config("sperm_online").adapted(scores).min_track_score == 0.0
    with pytest.raises(InputError, match="track_score_ratio"):
        get_config("sperm", track_score_ratio=1.5)
    with pytest.raises(InputError, match="min_track_score"):
        get_config("sperm", min_track_score=-0.1)
