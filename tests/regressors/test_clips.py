"""Clips cut along tracks: the plan (frames and centres) and the crops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.regressors.clips import CLIP_FRAMES, CLIP_PX, clip_plan, cut_clips


def _track(tid: int, frames, x0: float, vx: float, y: float = 50.0) -> pd.DataFrame:
    frames = np.asarray(list(frames))
    return pd.DataFrame({"track_id": tid, "frame": frames, "x": x0 + vx * frames, "y": y})


def test_plan_takes_one_second_at_the_middle_of_each_track():
    tracks = pd.concat([_track(1, range(0, 200), 10, 1.0), _track(2, range(50, 60), 100, 0.0),
                        _track(-1, range(5), 0, 0)])
    plan = clip_plan(tracks, fps=50)
    assert plan["track_id"].unique().tolist() == [1, 2]
    one = plan[plan["track_id"] == 1]
    assert len(one) == CLIP_FRAMES and one["frame"].max() - one["frame"].min() == 49 and abs(one["frame"].mean() - 99.5) <= 1  # 50 frames, centred
    np.testing.assert_allclose(one["x"], 10 + one["frame"])
    short = plan[plan["track_id"] == 2]
    assert short["frame"].between(50, 59).all() and short["frame"].is_monotonic_increasing  # frames repeat


def test_plan_interpolates_missed_frames():
    tracks = _track(3, [0, 10], 0, 2.0)
    plan = clip_plan(tracks, fps=10)
    np.testing.assert_allclose(plan["x"], 2.0 * plan["frame"])


def _frames_with_a_dot(n: int, centres, size=(120, 160)):
    for k in range(n):
        image = np.zeros(size, np.uint8)
        x, y = centres(k)
        image[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2] = 255
        yield k, image


def test_crops_follow_the_head_at_any_pixel_size():
    tracks = _track(1, range(60), 20, 1.5, y=60.0)
    plan = clip_plan(tracks, fps=50)
    for um_per_px in (0.351, 0.7):
        clips, ids = cut_clips(_frames_with_a_dot(60, lambda k: (20 + 1.5 * k, 60.0)), plan, um_per_px=um_per_px)
        assert clips.shape == (1, CLIP_FRAMES, CLIP_PX, CLIP_PX) and ids.tolist() == [1]
        centre = clips[0, :, CLIP_PX // 2 - 3:CLIP_PX // 2 + 3, CLIP_PX // 2 - 3:CLIP_PX // 2 + 3].sum(axis=(1, 2))
        assert (centre > 0.9 * clips[0].sum(axis=(1, 2))).all()  # the dot stays in the middle
    # coarser pixels: the same 16.8 um field holds fewer pixels, so the dot looks larger
    small, _ = cut_clips(_frames_with_a_dot(60, lambda k: (20 + 1.5 * k, 60.0)), plan, um_per_px=0.351)
    large, _ = cut_clips(_frames_with_a_dot(60, lambda k: (20 + 1.5 * k, 60.0)), plan, um_per_px=0.7)
    assert (large[0, 0] > 20).sum() > (small[0, 0] > 20).sum()


def test_empty_plan_and_short_stream():
    empty = clip_plan(pd.DataFrame({"track_id": [-1], "frame": [0], "x": [1.0], "y": [1.0]}), fps=50)
    clips, ids = cut_clips(iter(()), empty, um_per_px=0.351)
    assert clips.shape == (0, CLIP_FRAMES, CLIP_PX, CLIP_PX) and len(ids) == 0  # a model can take no clip
    plan = clip_plan(_track(1, range(100), 10, 0.5), fps=50)
    with pytest.raises(InputError, match="the video ended before frame"):
        cut_clips(_frames_with_a_dot(30, lambda k: (10, 50)), plan, um_per_px=0.351)
    with pytest.raises(InputError, match="needs the columns"):
        clip_plan(pd.DataFrame({"track_id": [1]}), fps=50)
