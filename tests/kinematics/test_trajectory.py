"""Analytic trajectories through the single-trajectory reference functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spermtrack.errors import InputError
from spermtrack.kinematics import trajectory as T

FPS = 50.0
S = 0.351


def test_straight_line_has_unit_ratios_and_no_beat(line):
    xy = line(120, speed_px=2.0)
    vcl = T.curvilinear_velocity(xy, fps=FPS, um_per_px=S)
    vsl = T.straight_line_velocity(xy, fps=FPS, um_per_px=S)
    vap = T.average_path_velocity(xy, fps=FPS, um_per_px=S)
    assert vcl == pytest.approx(2.0 * S * FPS)
    assert vsl == pytest.approx(vcl) and vap == pytest.approx(vcl)
    assert T.linearity(vsl, vcl) == pytest.approx(1.0)
    assert T.straightness(vsl, vap) == pytest.approx(1.0)
    assert T.wobble(vap, vcl) == pytest.approx(1.0)
    assert T.beat_cross_frequency(xy, fps=FPS) == 0.0
    assert T.lateral_head_displacement(xy, um_per_px=S) == (0.0, 0.0)
    assert T.mean_angular_displacement(xy) == pytest.approx(0.0, abs=1e-9)
    assert T.net_progression(xy, fps=FPS, um_per_px=S) == pytest.approx(vcl)


def test_average_path_keeps_a_straight_line_straight_at_the_ends(line):
    xy = line(9, speed_px=1.5)
    np.testing.assert_allclose(T.average_path(xy, 5), xy, atol=1e-12)
    # the window shrinks symmetrically: the end points are kept
    wiggly = xy + np.array([[0, 1], [0, -1]] * 4 + [[0, 1]])
    avg = T.average_path(wiggly, 5)
    np.testing.assert_allclose(avg[[0, -1]], wiggly[[0, -1]])
    np.testing.assert_allclose(avg[1], wiggly[:3].mean(axis=0))
    np.testing.assert_allclose(avg[4], wiggly[2:7].mean(axis=0))


def test_circle_over_whole_turns_has_no_net_velocity():
    r, turns, n_per_turn = 30.0, 3, 50
    a = np.linspace(0, 2 * np.pi * turns, turns * n_per_turn + 1)
    xy = np.c_[200 + r * np.cos(a), 200 + r * np.sin(a)]
    vsl = T.straight_line_velocity(xy, fps=FPS, um_per_px=S)
    vcl = T.curvilinear_velocity(xy, fps=FPS, um_per_px=S)
    assert vsl == pytest.approx(0.0, abs=1e-9)
    assert vcl == pytest.approx(S * FPS * 2 * r * math.sin(math.pi / n_per_turn))
    assert T.linearity(vsl, vcl) == pytest.approx(0.0, abs=1e-9)
    # one window per second = one full turn: net progression 0 as well
    assert T.net_progression(xy, fps=FPS, um_per_px=S) == pytest.approx(0.0, abs=1e-9)
    assert T.mean_angular_displacement(xy) == pytest.approx(360.0 / n_per_turn)


def test_sinusoid_about_a_straight_line_gives_known_alh_and_bcf():
    # 10 Hz beat at 50 fps: 5 frames per cycle, so the 5-point average path is exactly the line
    amp, f = 2.0, 10.0
    t = np.arange(0, 10 + 1e-9, 1 / FPS)
    xy = np.c_[100 + 40 * t, 200 + amp * np.cos(2 * np.pi * f * t)]
    mean1, max1 = T.lateral_head_displacement(xy, um_per_px=1.0, factor=1)
    mean2, max2 = T.lateral_head_displacement(xy, um_per_px=1.0, factor=2)
    assert max1 == pytest.approx(amp)                                 # a sample sits on every crest
    assert mean1 == pytest.approx(amp * (1 + math.cos(math.pi / 5)) / 2, rel=1e-3)   # troughs sampled at 144 deg
    assert (mean2, max2) == pytest.approx((2 * mean1, 2 * max1))     # the x2 (peak-to-peak) convention
    assert T.beat_cross_frequency(xy, fps=FPS) == pytest.approx(2 * f, rel=1e-3)      # two crossings per cycle
    vsl = T.straight_line_velocity(xy, fps=FPS, um_per_px=1.0)
    assert vsl == pytest.approx(40.0, rel=1e-3)
    # the shrinking window leaves the beat in the first and last two points: VAP a little above 40
    assert T.average_path_velocity(xy, fps=FPS, um_per_px=1.0) == pytest.approx(40.0, rel=1e-2)


def test_measured_flags_leave_steps_out_of_vcl(line):
    xy = line(11, speed_px=1.0)
    xy[5] += [0.0, 10.0]                       # an interpolated point off the path
    measured = np.ones(11, bool)
    measured[5] = False
    assert T.curvilinear_velocity(xy, fps=FPS, um_per_px=1.0, measured=measured) == pytest.approx(FPS)
    assert T.curvilinear_velocity(xy, fps=FPS, um_per_px=1.0) > 2 * FPS


def test_window_progressions_use_round_fps_frames(line):
    xy = line(100, speed_px=1.0)
    w = T.window_progressions(xy, fps=45.4, um_per_px=1.0)
    assert len(w) == 100 - 45
    np.testing.assert_allclose(w, 45.4)
    assert math.isnan(T.net_progression(xy[:40], fps=45.4, um_per_px=1.0))


def test_degenerate_tracks_give_nan_not_errors():
    one = np.array([[1.0, 2.0]])
    assert math.isnan(T.straight_line_velocity(one, fps=FPS, um_per_px=S))
    assert math.isnan(T.curvilinear_velocity(one, fps=FPS, um_per_px=S))
    assert math.isnan(T.mean_angular_displacement(one))
    still = np.full((20, 2), 5.0)
    assert T.curvilinear_velocity(still, fps=FPS, um_per_px=S) == 0.0
    assert math.isnan(T.linearity(0.0, 0.0))


@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.array([[0.0, np.nan], [1.0, 1.0]])])
def test_bad_positions_are_input_errors(bad):
    with pytest.raises(InputError):
        T.curvilinear_velocity(bad, fps=FPS, um_per_px=S)


@pytest.mark.parametrize("kw", [{"fps": 0}, {"fps": -1}, {"um_per_px": float("nan")}, {"um_per_px": True}])
def test_bad_calibration_is_an_input_error(kw, line):
    args = {"fps": FPS, "um_per_px": S, **kw}
    with pytest.raises(InputError):
        T.straight_line_velocity(line(5), **args)


def test_bad_window_is_an_input_error(line):
    with pytest.raises(InputError):
        T.average_path(line(5), 4)
