"""Recipes of the shipped models: the data they may read (never a held-out clip) and the SVIA conversion."""

from __future__ import annotations

import numpy as np
import pytest

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.detectors.verify import PATCH_RADIUS
from spermtrack.errors import InputError
from spermtrack.io.boxes import read_box_csv
from spermtrack.io.visem import read_visem_video
from spermtrack.training.recipes import RECIPES, _svia_as_visem, in_region, make_checkpoint


def test_an_svia_clip_becomes_a_video_folder_with_the_same_sperm_boxes(reference, tmp_path):
    svia = reference / "svia"
    video = read_visem_video(_svia_as_visem(svia, "S_0002", tmp_path), um_per_px=VISEM_UM_PER_PX)
    boxes = read_box_csv(svia / "S_0002_boxes.csv")
    sperm = boxes[boxes["class_id"] == 0].sort_values(["frame", "x", "y"])
    got = video.ground_truth.sort_values(["frame", "x", "y"])
    assert video.recording.n_frames == 19 and len(got) == len(sperm)
    np.testing.assert_allclose(got[["x", "y", "w", "h"]].to_numpy(), sperm[["x", "y", "w", "h"]].to_numpy(),
                               atol=1e-3)  # 6 decimals of the normalised coordinates


def _frame_ranges(item, video=None):
    """Every (video, stop) frame range in a recipe, nested dicts included."""
    if isinstance(item, dict):
        video = item.get("video", video)
        if "stop" in item:
            yield video, item["stop"]
        for value in item.values():
            yield from _frame_ranges(value, video)


def test_no_recipe_reads_video_11_past_frame_1028():
    ranges = [(name, video, stop) for name, recipe in RECIPES.items() for video, stop in _frame_ranges(recipe)]
    assert ranges  # the walk finds the recipes' ranges
    for name, video, stop in ranges:
        if video == "11":
            assert stop is not None and stop <= 1029, (name, stop)


def test_no_recipe_trains_on_held_out_data():
    for name, recipe in RECIPES.items():
        real = recipe.get("real", {})
        for part in ("train", "val"):
            if part in real and "held_out_from" in real:
                assert real[part]["stop"] <= real["held_out_from"], name
        if "svia" in recipe:
            assert recipe["svia"]["held_out"] not in recipe["svia"]["train"], name
    assert RECIPES["blob"]["dark"]["validation"] not in RECIPES["blob"]["dark"]["clips"]


def test_recipes_that_need_the_svia_clips_say_so(tmp_path):
    with pytest.raises(InputError, match="needs --svia"):
        make_checkpoint("blob", tmp_path, visem=tmp_path)


def test_the_training_device_is_cpu_unless_a_gpu_is_named():
    from spermtrack.detectors.train import TrainConfig

    assert TrainConfig().device == "cpu" and TrainConfig(device="0").device == "0"
    with pytest.raises(InputError, match="device must be 'cpu' or CUDA device numbers"):
        TrainConfig(device="cuda")


def test_a_crossfit_detector_never_trains_on_the_frames_it_detects_and_is_never_installed(tmp_path):
    for name in ("crossfit-a", "crossfit-b"):
        recipe = RECIPES[name]
        seen = set()
        for part in ("train", "val"):
            seen |= set(range(recipe["real"][part]["start"], recipe["real"][part]["stop"]))
        detects = set(range(recipe["detects"]["start"], recipe["detects"]["stop"]))
        assert detects and not seen & detects, name
        with pytest.raises(InputError, match="tuning instrument"):
            make_checkpoint(name, tmp_path, install=True, visem=tmp_path)


def _seen(name: str) -> set[int]:
    """Video 11 frames a crossfit checkpoint trained or picked its epoch on."""
    real = RECIPES[name]["real"]
    return set().union(*(range(real[part]["start"], real[part]["stop"]) for part in ("train", "val")))


VERIFIERS = [name for name in RECIPES if name.startswith("verifier")]


@pytest.mark.parametrize("name", VERIFIERS)
def test_a_verifier_learns_only_from_detections_of_frames_their_detector_never_saw(name):
    real = RECIPES[name]["real"]
    train = set(range(real["train"]["start"], real["train"]["stop"]))
    calibrate = set(range(real["calibrate"]["start"], real["calibrate"]["stop"]))
    assert train and calibrate and not train & calibrate
    assert max(train | calibrate) < real["held_out_from"] == 1029
    detected = set()
    for checkpoint in real["crossfit"]:
        detects = set(range(RECIPES[checkpoint]["detects"]["start"], RECIPES[checkpoint]["detects"]["stop"]))
        assert not _seen(checkpoint) & detects, checkpoint
        detected |= detects
    assert train | calibrate <= detected
    assert RECIPES[name]["svia"]["held_out"] not in RECIPES[name]["svia"]["train"]
    if "rescores" in RECIPES[name]:  # a tuning instrument never learns from the frames it rescores
        rescored = set(range(RECIPES[name]["rescores"]["start"], RECIPES[name]["rescores"]["stop"]))
        assert not rescored & (train | calibrate)


def test_the_verifier_tuning_instruments_cover_both_crossfit_splits_and_are_never_installed(tmp_path):
    rescored = [RECIPES[name]["rescores"] for name in ("verifier-a", "verifier-b")]
    assert {(r["start"], r["stop"]) for r in rescored} == \
        {(RECIPES[n]["detects"]["start"], RECIPES[n]["detects"]["stop"]) for n in ("crossfit-a", "crossfit-b")}
    with pytest.raises(InputError, match="tuning instrument"):
        make_checkpoint("verifier-a", tmp_path, install=True)


def test_a_box_lies_in_a_region_from_x_min_up_to_but_not_at_x_max():
    x = np.array([0.0, 299.9, 300.0, 319.9, 320.0, 639.0])
    assert in_region(x, None).all() and in_region(x, {}).all()
    assert in_region(x, {"x_max": 300.0}).tolist() == [True, True, False, False, False, False]
    assert in_region(x, {"x_min": 300.0, "x_max": 320.0}).tolist() == [False, False, True, True, False, False]


@pytest.mark.parametrize("fold", ["a", "b"])
def test_a_spatial_verifier_never_learns_where_it_rescores_and_the_pair_rescores_the_whole_frame(fold, tmp_path):
    x = np.arange(0.0, 640.0, 0.5)
    pair = [RECIPES[f"verifier-{fold}-{side}"] for side in ("left", "right")]
    for recipe in pair:
        learnt, rescored = in_region(x, recipe["real"]["region"]), in_region(x, recipe["rescores"]["region"])
        assert learnt.any() and rescored.any() and not (learnt & rescored).any()
        # no training patch (cut PATCH_RADIUS + margin px each way) reaches a pixel of the half it rescores
        assert np.abs(x[learnt][:, None] - x[rescored][None, :]).min() >= PATCH_RADIUS + recipe["margin"]
        assert recipe["rescores"]["start"] == RECIPES[f"verifier-{fold}"]["rescores"]["start"]
    covered = sum(in_region(x, recipe["rescores"]["region"]).astype(int) for recipe in pair)
    assert (covered == 1).all()
    with pytest.raises(InputError, match="tuning instrument"):
        make_checkpoint(f"verifier-{fold}-left", tmp_path, install=True)


def test_the_verifier_recipe_needs_video_11_and_the_svia_clips(tmp_path):
    with pytest.raises(InputError, match="needs --visem"):
        make_checkpoint("verifier", tmp_path, visem=tmp_path)
