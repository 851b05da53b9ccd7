"""trails: the one-second trail images by hand, the mirror views, and the model's settings."""

from __future__ import annotations

import numpy as np
import pytest

from spermtrack.errors import InputError
from spermtrack.regressors import VideoInputs, make_regressor
from spermtrack.regressors.trails import mirror_views, trail_images

pytest.importorskip("torch")


def _one_moving_head(n: int = 10) -> np.ndarray:
    """A dark 3 x 8 field; a bright pixel moves one column per frame along row 1, a still one sits at (0, 0)."""
    frames = np.zeros((n, 3, 8), dtype=np.uint8)
    frames[:, 0, 0] = 200
    for t in range(n):
        frames[t, 1, min(t, 7)] = 200
    return frames


def test_trail_images_by_hand():
    frames = _one_moving_head()
    f = frames.astype(np.float32)
    z = (f - f.mean()) / f.std()
    low, high = z.min(), z.max()
    images = trail_images(frames, window=5, stride=5)          # windows of frames 0-4 and 5-9
    assert images.shape == (2, 6, 3, 8) and images.dtype == np.float32
    start, middle, end, mx, mn, sd = images[0]
    assert start[1, 0] == high and middle[1, 2] == high and end[1, 4] == high
    np.testing.assert_allclose(mx[1], [high] * 5 + [low] * 3)   # the trail of frames 0-4
    np.testing.assert_allclose(mn[1], low)                      # no pixel is lit all the time on the path
    assert mx[0, 0] == mn[0, 0] == high and abs(sd[0, 0]) < 1e-5  # the still head: no trail
    # a pixel lit in one frame of five: standard deviation (high - low) * sqrt(0.16), times 3
    np.testing.assert_allclose(sd[1, :5], 3 * (high - low) * 0.4, rtol=1e-5)
    np.testing.assert_allclose(images[1, 0, 1, 5], high)       # the second window starts at frame 5


def test_a_video_shorter_than_a_window_gives_one_image_of_all_its_frames():
    images = trail_images(_one_moving_head(3), window=25, stride=25)
    assert images.shape == (1, 6, 3, 8)
    assert images[0, 2, 1, 2] == images[0, :3].max()           # its end frame is the last one


def test_windows_that_do_not_fit_are_left_out_and_a_blank_video_stays_finite():
    assert trail_images(_one_moving_head(10), window=4, stride=4).shape[0] == 2      # frames 0-3, 4-7; 8-9 left out
    blank = trail_images(np.full((6, 3, 8), 90, dtype=np.uint8), window=3, stride=3)
    assert blank.shape == (2, 6, 3, 8) and np.isfinite(blank).all() and (blank == 0).all()


def test_settings():
    assert make_regressor("trails").frames_needed() == 25
    assert make_regressor("trails", quick=True).frames_needed() == 4
    with pytest.raises(InputError, match="TrailsConfig.head"):
        make_regressor("trails", head="max")
    with pytest.raises(InputError, match="TrailsConfig.window"):
        make_regressor("trails", window=2)
    with pytest.raises(InputError, match="TrailsConfig.eval_flips"):
        make_regressor("trails", eval_flips="yes")


def test_mirror_views_by_hand():
    images = np.arange(2 * 1 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3)
    views = mirror_views(images)
    assert views.shape == (8, 1, 2, 3)
    np.testing.assert_array_equal(views[:2], images)
    np.testing.assert_array_equal(views[2, 0], [[2, 1, 0], [5, 4, 3]])   # left-right
    np.testing.assert_array_equal(views[4, 0], [[3, 4, 5], [0, 1, 2]])   # up-down
    np.testing.assert_array_equal(views[6, 0], [[5, 4, 3], [2, 1, 0]])   # both


def test_with_mirror_views_a_mirrored_video_gets_the_same_proportions():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (12, 24, 32), dtype=np.uint8) for _ in range(3)]
    videos = [VideoInputs(f"v{i}", frames=f, frame_step_s=0.04) for i, f in enumerate(frames)]
    mirrored = [VideoInputs(f"m{i}", frames=f[:, ::-1, ::-1].copy(), frame_step_s=0.04) for i, f in enumerate(frames)]
    targets = rng.dirichlet(np.ones(3), size=3)
    model = make_regressor("trails", quick=True).fit(videos, targets)
    assert model.config.eval_flips
    np.testing.assert_allclose(model.predict(mirrored), model.predict(videos), atol=1e-5)
    plain = make_regressor("trails", quick=True, eval_flips=False).fit(videos, targets)
    assert not np.allclose(plain.predict(mirrored), plain.predict(videos), atol=1e-5)   # the views make the difference
