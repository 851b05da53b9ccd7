"""The physics of the synthetic generator: paths, beats, focus, drift, placement (pure numpy, no pixels).

Each function draws one ingredient of :func:`spermtrack.synth.simulate.simulate_video` from a seeded
generator; see :mod:`spermtrack.synth` for the model they implement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from spermtrack.synth.config import (
    _ALH_UM,
    _ARC_DS_UM,
    _BEAT_HZ,
    _CURVED_KAPPA,
    _D_ROT_RAD2_S,
    _D_TRANS_UM2_S,
    _FADE_S,
    _KAPPA_CORR_UM,
    _KIND_CLUSTER,
    _KIND_PINHEAD,
    _KIND_SPERM,
    _PATH_PROBS,
    _PATHS,
    _TINTS_BGR,
    _YAW_RAD,
    GRADE_A_UM_S,
    GRADES,
    SynthConfig,
    VideoParams,
)


@dataclass(frozen=True)
class Trajectories:
    """Full simulated state of every body, including frames where it is out of view (for rendering).

    Sim index ``k`` is frame ``k - pad``; ``pad`` frames before frame 0 and after the last frame let
    the kinematics of tracks shorter than 2 s be computed over 2 s. Positions are unwrapped px in image axes
    (wrap onto the torus with :meth:`wrap`). Per-body arrays have shape ``(n_bodies, n_sim)``.

    Attributes
    ----------
    pad, window : int
        Padding frames and 1-s window length ``max(1, round(fps))`` in frames.
    margin_px : float
        Torus margin around the frame, px.
    pos_px, avg_px : ndarray (n, n_sim, 2)
        Exact head position and average-path position (observed, i.e. with drift), px.
    own_um : ndarray (n, n_sim, 2)
        Exact head displacement from its start without the drift (the cell's own motion), um.
    lateral_um : ndarray (n, n_sim)
        Signed lateral head offset from the average path, um.
    axis, head_angle, phase : ndarray (n, n_sim)
        Tail axis angle, head orientation (rad, image axes) and beat phase (rad).
    alpha : ndarray (n, n_sim)
        Focus (1 in focus, 0 out); labelled only when >= 0.5.
    box_w, box_h : ndarray (n, n_sim)
        Annotation box size, px.
    drift_px : ndarray (n_sim, 2)
        Common drift displacement since frame 0, px.
    static : dict of ndarray
        Per-body constants (kind, grade, path, tail and head geometry, beat, ...).
    members : list of dict
        Per cluster: ``offset`` (m, 2) px of its heads in the cluster frame, ``angle`` (m,) head directions,
        ``beat_hz`` (m,) and ``phase0`` (m,) of their tails.
    debris_px : ndarray (k, n_sim, 2)
        Debris positions (float32, unwrapped px); ``debris`` holds their radius, depth, tint and rim.
    """

    pad: int
    window: int
    margin_px: float
    pos_px: np.ndarray
    avg_px: np.ndarray
    own_um: np.ndarray
    lateral_um: np.ndarray
    axis: np.ndarray
    head_angle: np.ndarray
    phase: np.ndarray
    alpha: np.ndarray
    box_w: np.ndarray
    box_h: np.ndarray
    drift_px: np.ndarray
    static: dict
    members: list
    debris_px: np.ndarray
    debris: dict

    def wrap(self, xy: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map unwrapped px positions onto the torus ``[-margin, size + margin)`` around the frame."""
        m = self.margin_px
        size = np.array([width + 2 * m, height + 2 * m])
        return np.mod(xy + m, size) - m


def _ou(rng: np.random.Generator, n: int, steps: int, *, dt: float, tau: float, sd: float | np.ndarray = 1.0
        ) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck series, exact discretisation: ``x' = e x + sd sqrt(1 - e^2) N(0, 1)``.

    Returns an ``(n, steps)`` array with marginal sd ``sd`` (scalar or per-row) and correlation
    ``exp(-lag dt / tau)``.
    """
    w = rng.standard_normal((n, steps))
    if n == 0 or steps == 0:
        return w
    e = math.exp(-dt / tau)
    x0 = w[:, 0]
    if steps == 1:
        out = x0[:, None].copy()
    else:
        y, _ = lfilter([math.sqrt(1 - e * e)], [1.0, -e], w[:, 1:], axis=1, zi=(e * x0)[:, None])
        out = np.concatenate([x0[:, None], y], axis=1)
    return out * np.asarray(sd, dtype=np.float64).reshape(-1, 1) if np.ndim(sd) else out * sd


def _brownian(rng: np.random.Generator, n: int, steps: int, *, dt: float, d: float, dims: int = 2) -> np.ndarray:
    """Brownian displacement from 0, ``(n, steps, dims)``; per-axis step sd ``sqrt(2 D dt)``."""
    steps_ = rng.standard_normal((n, steps, dims)) * math.sqrt(2 * d * dt)
    steps_[:, 0] = 0.0
    return np.cumsum(steps_, axis=1)


def _rotational(rng: np.random.Generator, n: int, steps: int, *, dt: float, d: float) -> np.ndarray:
    """Angle random walk from 0, ``(n, steps)``; step sd ``sqrt(2 D_r dt)``."""
    return _brownian(rng, n, steps, dt=dt, d=d, dims=1)[..., 0]


def _window_frames(fps: float) -> int:
    return max(1, int(round(fps)))


def _net_progression(xy_um: np.ndarray, window: int, fps: float) -> np.ndarray:
    """Mean net progression over all sliding 1-s windows, um/s, batched over leading axes.

    The same quantity as :func:`spermtrack.kinematics.net_progression` (one track, px and calibration;
    the tests check they agree), vectorised over many paths for the speed bisection.

    ``P = mean_i |p_{i+W} - p_i| / (W / fps)`` with ``W = window`` frames (``round(fps)``).

    Parameters
    ----------
    xy_um : ndarray (..., n, 2)
        Positions in um at consecutive frames (needs ``n > window``).
    window : int
        Window length in frames.
    fps : float

    Returns
    -------
    ndarray (...)
        NaN where there is no full window.
    """
    xy = np.asarray(xy_um, dtype=np.float64)
    if xy.shape[-2] <= window:
        return np.full(xy.shape[:-2], np.nan)
    d = np.linalg.norm(xy[..., window:, :] - xy[..., :-window, :], axis=-1)
    return d.mean(axis=-1) / (window / fps)


def _arc_paths(rng: np.random.Generator, kappa0: np.ndarray, kappa_sd: np.ndarray, length_um: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth planar curves parametrised by arclength on a grid of ``_ARC_DS_UM``.

    Curvature ``kappa(s) = kappa0 + kappa_sd * OU(s; corr 40 um)``; heading ``theta(s) = theta0 +
    int kappa ds`` (theta0 uniform); position by the midpoint rule, starting at 0.

    Returns
    -------
    x, y, theta : ndarray (n, S)
    """
    n = len(kappa0)
    steps = int(math.ceil(length_um / _ARC_DS_UM)) + 2
    kappa = kappa0[:, None] + _ou(rng, n, steps, dt=_ARC_DS_UM, tau=_KAPPA_CORR_UM, sd=kappa_sd)
    theta0 = rng.uniform(-math.pi, math.pi, n)
    theta = theta0[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(kappa[:, 1:], axis=1) * _ARC_DS_UM],
                                             axis=1)
    mid = 0.5 * (theta[:, 1:] + theta[:, :-1])
    x = np.concatenate([np.zeros((n, 1)), np.cumsum(np.cos(mid), axis=1) * _ARC_DS_UM], axis=1)
    y = np.concatenate([np.zeros((n, 1)), np.cumsum(np.sin(mid), axis=1) * _ARC_DS_UM], axis=1)
    return x, y, theta


def _sample_arc(curves: tuple[np.ndarray, ...], s: np.ndarray) -> list[np.ndarray]:
    """Linear interpolation of per-row curves (n, S) at arclengths ``s`` (n, m)."""
    size = curves[0].shape[1]
    f = s / _ARC_DS_UM
    i0 = np.clip(np.floor(f).astype(np.int64), 0, size - 2)
    a = f - i0
    out = []
    for c in curves:
        c0 = np.take_along_axis(c, i0, axis=1)
        c1 = np.take_along_axis(c, i0 + 1, axis=1)
        out.append(c0 + a * (c1 - c0))
    return out


def _progressive_paths(rng: np.random.Generator, target: np.ndarray, path: np.ndarray, t: np.ndarray,
                       window: int, fps: float) -> dict:
    """Average paths whose mean 1-s chord equals ``target`` (um/s), by bisection on the speed.

    Parameters
    ----------
    target : ndarray (n,)
        Target net progression of the average path, um/s.
    path : ndarray (n,) of {'straight', 'curved', 'circle'}
    t : ndarray (n_sim,)
        Sim times, s.

    Returns
    -------
    dict
        ``avg`` (n, n_sim, 2) um from 0, ``heading`` (n, n_sim), ``speed`` (n,) um/s,
        ``radius`` (n,) um (NaN unless a circle).
    """
    n = len(target)
    n_sim = len(t)
    if n == 0:
        return {"avg": np.zeros((0, n_sim, 2)), "heading": np.zeros((0, n_sim)), "speed": np.zeros(0),
                "radius": np.zeros(0)}
    sign = rng.choice([-1.0, 1.0], n)
    kappa0 = np.zeros(n)
    kappa_sd = np.full(n, 0.003)
    radius = np.full(n, np.nan)
    curved = path == "curved"
    kappa0[curved] = rng.uniform(*_CURVED_KAPPA, curved.sum())
    circle = path == "circle"
    r_lo = np.maximum(target[circle] / 1.6, np.where(target[circle] >= GRADE_A_UM_S, 20.0, 8.0))
    radius[circle] = r_lo + rng.uniform(0.0, 30.0, circle.sum())
    kappa0[circle] = 1.0 / radius[circle]
    kappa_sd[circle] = 0.0005
    kappa0 *= sign
    lo = 0.5 * target
    hi = np.where(circle, np.minimum(3 * target, 0.95 * math.pi * np.nan_to_num(radius, nan=1e9)), 3 * target)
    hi = np.maximum(hi, lo + 1e-9)
    duration = float(t[-1] - t[0])
    curves = _arc_paths(rng, kappa0, kappa_sd, float(hi.max()) * duration + 4 * _ARC_DS_UM)
    tt = (t - t[0])[None, :]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        x, y = _sample_arc(curves[:2], mid[:, None] * tt)
        chord = _net_progression(np.stack([x, y], axis=-1), window, fps)
        slow = chord < target
        lo = np.where(slow, mid, lo)
        hi = np.where(slow, hi, mid)
    speed = 0.5 * (lo + hi)
    x, y, th = _sample_arc(curves, speed[:, None] * tt)
    return {"avg": np.stack([x, y], axis=-1), "heading": th, "speed": speed, "radius": radius}


def _wander_paths(rng: np.random.Generator, speed: np.ndarray, t: np.ndarray, *, d_rot: float) -> dict:
    """Slow wandering average paths (grade c): constant speed, heading random walk ``D_r``."""
    n, n_sim = len(speed), len(t)
    dt = float(t[1] - t[0]) if n_sim > 1 else 1.0
    heading = rng.uniform(-math.pi, math.pi, n)[:, None] + _rotational(rng, n, n_sim, dt=dt, d=d_rot)
    v = speed[:, None] * dt
    steps = np.stack([v * np.cos(heading), v * np.sin(heading)], axis=-1)
    steps[:, 0] = 0.0
    return {"avg": np.cumsum(steps, axis=1), "heading": heading}


def _beat(rng: np.random.Generator, n: int, t: np.ndarray, fps: float, *, hz: tuple[float, float],
          alh: tuple[float, float], yaw: tuple[float, float]) -> dict:
    """Beat frequency (< 0.4 fps), phase with jitter, ALH (half peak-to-peak, um) with slow modulation."""
    n_sim = len(t)
    dt = 1.0 / fps
    f_max = 0.4 * fps
    f = np.minimum(rng.uniform(*hz, n), f_max)
    amp = rng.uniform(*alh, n)
    yaw_amp = rng.uniform(*yaw, n)
    phase = (2 * math.pi * f[:, None] * t[None, :] + rng.uniform(0, 2 * math.pi, n)[:, None]
             + _ou(rng, n, n_sim, dt=dt, tau=0.2, sd=0.2))
    amp_t = amp[:, None] * np.clip(1 + _ou(rng, n, n_sim, dt=dt, tau=0.5, sd=0.15), 0.3, None)
    return {"beat_hz": f, "alh_um": amp, "phase": phase, "lateral": amp_t * np.sin(phase),
            "yaw": yaw_amp[:, None] * np.cos(phase)}


def _tail_params(rng: np.random.Generator, n: int, *, length: tuple[float, float], wave: tuple[float, float],
                 bend_sd: float, gain: tuple[float, float]) -> dict:
    return {"tail_len_um": rng.uniform(*length, n), "wave_amp_um": rng.uniform(*wave, n),
            "wavelength_um": rng.uniform(45.0, 80.0, n), "bend_um": rng.normal(0.0, bend_sd, n),
            "tail_gain": rng.uniform(*gain, n)}


def _head_params(rng: np.random.Generator, n: int, *, length: tuple[float, float], width: tuple[float, float],
                 gain: tuple[float, float]) -> dict:
    tint = _TINTS_BGR[rng.integers(0, len(_TINTS_BGR), n)]
    return {"head_len_um": rng.uniform(*length, n), "head_wid_um": rng.uniform(*width, n),
            "head_gain": rng.uniform(*gain, n), "tint": tint}


def _still_bodies(n: int, n_sim: int) -> dict:
    """Motion arrays of ``n`` bodies that do not move, to be filled in place group by group.

    ``avg`` (average path, um), ``lateral`` (beat offset across it, um), ``axis`` and ``head``
    (angles, rad) and ``phase`` have shape ``(n, n_sim)`` (``avg`` one more axis of 2); ``path``,
    ``beat_hz``, ``alh_um`` and ``speed_um_s`` one value per body.
    """
    return {"avg": np.zeros((n, n_sim, 2)), "lateral": np.zeros((n, n_sim)), "axis": np.zeros((n, n_sim)),
            "head": np.zeros((n, n_sim)), "phase": np.zeros((n, n_sim)), "path": np.full(n, "still", dtype="<U8"),
            "beat_hz": np.zeros(n), "alh_um": np.zeros(n), "speed_um_s": np.zeros(n)}


def _set_beat(m: dict, sel: np.ndarray, beat: dict) -> None:
    """Give the bodies ``sel`` of ``m`` a beat from :func:`_beat` (head angle = axis + yaw)."""
    m["lateral"][sel], m["phase"][sel] = beat["lateral"], beat["phase"]
    m["beat_hz"][sel], m["alh_um"][sel] = beat["beat_hz"], beat["alh_um"]
    m["head"][sel] = m["axis"][sel] + beat["yaw"]


def _set_immotile(rng: np.random.Generator, m: dict, sel: np.ndarray, fps: float) -> None:
    """Make the bodies ``sel`` of ``m`` immotile: Brownian translation and rotation, no beat."""
    if not len(sel):
        return
    n_sim, dt = m["avg"].shape[1], 1.0 / fps
    m["avg"][sel] = _brownian(rng, len(sel), n_sim, dt=dt, d=_D_TRANS_UM2_S["d"])
    m["axis"][sel] = rng.uniform(-math.pi, math.pi, len(sel))[:, None] + _rotational(rng, len(sel), n_sim, dt=dt,
                                                                                     d=_D_ROT_RAD2_S["d"])
    m["head"][sel] = m["axis"][sel]


def _own_motion(m: dict) -> np.ndarray:
    """Head positions (um, from 0): the average path plus the lateral beat along its normal."""
    normal = np.stack([-np.sin(m["axis"]), np.cos(m["axis"])], axis=-1)
    return m["avg"] + m["lateral"][..., None] * normal


def _sperm_group(rng: np.random.Generator, counts: dict[str, int], t: np.ndarray, fps: float, window: int) -> dict:
    """All class-0 bodies: grades, own motion (um, from 0), angles, beat and look parameters."""
    grade = np.concatenate([np.full(counts[g], g) for g in GRADES]).astype("<U1")
    n = len(grade)
    m = _still_bodies(n, len(t))
    radius = np.full(n, np.nan)
    # a and b: progressive average paths
    prog = np.flatnonzero((grade == "a") | (grade == "b"))
    if len(prog):
        ga = grade[prog] == "a"
        target = np.where(ga, 27.5 + np.minimum(rng.gamma(1.2, 3.0, len(prog)), 42.5),
                          rng.uniform(7.0, 22.0, len(prog)))
        u = rng.random(len(prog))
        kinds = np.empty(len(prog), dtype="<U8")
        for g in ("a", "b"):
            sel = grade[prog] == g
            cum = np.cumsum(_PATH_PROBS[g])
            kinds[sel] = np.array(_PATHS)[np.searchsorted(cum, u[sel] * cum[-1], side="right").clip(0, 2)]
        res = _progressive_paths(rng, target, kinds, t, window, fps)
        m["avg"][prog], m["axis"][prog], m["path"][prog] = res["avg"], res["heading"], kinds
        m["speed_um_s"][prog] = res["speed"]
        radius[prog] = res["radius"]
        for g in ("a", "b"):
            sel = prog[grade[prog] == g]
            if len(sel):
                _set_beat(m, sel, _beat(rng, len(sel), t, fps, hz=_BEAT_HZ[g], alh=_ALH_UM[g], yaw=_YAW_RAD[g]))
    # c: beats in place
    c = np.flatnonzero(grade == "c")
    if len(c):
        vc = rng.uniform(0.2, 2.2, len(c))
        res = _wander_paths(rng, vc, t, d_rot=_D_ROT_RAD2_S["c"])
        m["avg"][c], m["axis"][c], m["speed_um_s"][c] = res["avg"], res["heading"], vc
        _set_beat(m, c, _beat(rng, len(c), t, fps, hz=_BEAT_HZ["c"], alh=_ALH_UM["c"], yaw=_YAW_RAD["c"]))
    # d: immotile
    _set_immotile(rng, m, np.flatnonzero(grade == "d"), fps)
    tails = _tail_params(rng, n, length=(45.0, 55.0), wave=(5.0, 11.0), bend_sd=20.0, gain=(0.6, 1.0))
    tails["wave_amp_um"][grade == "d"] = 0.0
    tails["bend_um"][grade == "d"] *= 1.5
    heads = _head_params(rng, n, length=(2.0, 2.8), width=(1.4, 2.0), gain=(0.85, 1.0))
    return {"n": n, "kind": np.full(n, _KIND_SPERM), "grade": grade, "own": _own_motion(m), **m,
            "radius_um": radius, **tails, **heads}


def _pinhead_group(rng: np.random.Generator, n: int, t: np.ndarray, fps: float, window: int) -> dict:
    """Class-2 bodies: tiny heads on shorter tails; half immotile, half swimming slowly (2-12 um/s)."""
    motile = rng.random(n) < 0.5
    m = _still_bodies(n, len(t))
    sel = np.flatnonzero(motile)
    if len(sel):
        kinds = np.where(rng.random(len(sel)) < 0.5, "straight", "curved")
        res = _progressive_paths(rng, rng.uniform(2.0, 12.0, len(sel)), kinds, t, window, fps)
        m["avg"][sel], m["axis"][sel], m["speed_um_s"][sel], m["path"][sel] = (res["avg"], res["heading"],
                                                                              res["speed"], kinds)
        _set_beat(m, sel, _beat(rng, len(sel), t, fps, hz=_BEAT_HZ["pin"], alh=_ALH_UM["pin"], yaw=_YAW_RAD["pin"]))
    _set_immotile(rng, m, np.flatnonzero(~motile), fps)
    tails = _tail_params(rng, n, length=(30.0, 45.0), wave=(2.0, 4.0), bend_sd=6.0, gain=(0.4, 0.8))
    tails["wave_amp_um"][~motile] = 0.0
    heads = _head_params(rng, n, length=(1.0, 1.4), width=(0.9, 1.2), gain=(0.6, 0.9))
    return {"n": n, "kind": np.full(n, _KIND_PINHEAD), "grade": np.full(n, "", dtype="<U1"), "own": _own_motion(m),
            **m, "radius_um": np.full(n, np.nan), "motile": motile, **tails, **heads}


def _cluster_group(rng: np.random.Generator, n: int, t: np.ndarray, fps: float, um_per_px: float) -> dict:
    """Class-1 bodies: 2-5 heads stuck head to head, Brownian, slowly rotating; tails beat weakly."""
    n_sim = len(t)
    dt = 1.0 / fps
    own = _brownian(rng, n, n_sim, dt=dt, d=_D_TRANS_UM2_S["cluster"])
    omega = _ou(rng, n, n_sim, dt=dt, tau=2.0, sd=0.1)
    axis = rng.uniform(-math.pi, math.pi, n)[:, None] + np.cumsum(omega, axis=1) * dt
    members = []
    spread = np.zeros(n)
    for _ in range(n):
        k = int(min(2 + rng.poisson(1.0), 5))
        r = rng.uniform(0.6, 1.2 + 0.35 * k, k) / um_per_px
        ang = rng.uniform(-math.pi, math.pi, k)
        off = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=-1)
        off -= off.mean(axis=0)
        # heads point inwards (towards the centre), tails radiate outwards
        face = ang + math.pi + rng.normal(0, 0.3, k)
        members.append({"offset": off, "angle": face, "beat_hz": np.minimum(rng.uniform(3.0, 10.0, k), 0.4 * fps),
                        "phase0": rng.uniform(0, 2 * math.pi, k)})
        spread[len(members) - 1] = 2 * float(np.linalg.norm(off, axis=1).max())
    tails = _tail_params(rng, n, length=(45.0, 55.0), wave=(1.0, 3.0), bend_sd=8.0, gain=(0.5, 0.9))
    heads = _head_params(rng, n, length=(2.0, 2.8), width=(1.4, 2.0), gain=(0.8, 1.0))
    zeros = np.zeros((n, n_sim))
    return {"n": n, "kind": np.full(n, _KIND_CLUSTER), "grade": np.full(n, "", dtype="<U1"),
            "path": np.full(n, "still", dtype="<U8"), "own": own, "avg": own.copy(), "lateral": zeros,
            "axis": axis, "head": axis.copy(), "phase": zeros.copy(), "beat_hz": np.zeros(n), "alh_um": np.zeros(n),
            "speed_um_s": np.zeros(n), "radius_um": np.full(n, np.nan), "members": members, "spread_px": spread,
            **tails, **heads}


def _drift(rng: np.random.Generator, params: VideoParams, t: np.ndarray, fps: float, pad: int) -> np.ndarray:
    """Common drift displacement (n_sim, 2) in um, zero at frame 0.

    Velocity ``U (1 + 0.25 OU) (cos psi, sin psi)``, ``psi = psi0 + 0.2 OU`` (OU time scale 5 s).
    """
    n_sim = len(t)
    dt = 1.0 / fps
    ou = _ou(rng, 2, n_sim, dt=dt, tau=5.0)
    speed = params.drift_um_s * np.clip(1 + 0.25 * ou[0], 0, None)
    psi = params.drift_angle_rad + 0.2 * ou[1]
    vel = np.stack([speed * np.cos(psi), speed * np.sin(psi)], axis=-1) * dt
    disp = np.concatenate([np.zeros((1, 2)), np.cumsum(vel[:-1], axis=0)], axis=0)
    return disp - disp[pad]


def _focus(rng: np.random.Generator, exit_rate: np.ndarray, return_s: float, n_sim: int, fps: float
           ) -> np.ndarray:
    """Focus factor alpha (n, n_sim) in [0, 1] from a stationary two-state telegraph process.

    In-focus dwell ~ Exp(1/exit_rate), out-of-focus dwell ~ Exp(return_s); the 0/1 state is smoothed by
    a centred moving average of about ``_FADE_S`` so cells fade in and out.
    """
    n = len(exit_rate)
    state = np.ones((n, n_sim), dtype=np.float64)
    duration = n_sim / fps
    for i in range(n):
        rate = float(exit_rate[i])
        if rate <= 0:
            continue
        p_in = 1.0 / (1.0 + rate * return_s)
        inside = bool(rng.random() < p_in)
        now = 0.0
        while now < duration:
            dwell = rng.exponential(1.0 / rate if inside else return_s)
            if not inside:
                a, b = int(math.ceil(now * fps)), int(math.ceil(min(now + dwell, duration) * fps))
                state[i, a:b] = 0.0
            now += dwell
            inside = not inside
    r = max(1, int(round(_FADE_S * fps)) | 1)
    if r > 1 and n:
        padded = np.pad(state, ((0, 0), (r // 2, r // 2)), mode="edge")
        csum = np.concatenate([np.zeros((n, 1)), np.cumsum(padded, axis=1)], axis=1)
        state = (csum[:, r:] - csum[:, :-r]) / r
    return state


def _debris(rng: np.random.Generator, config: SynthConfig, world: tuple[float, float], margin: float,
            drift_px: np.ndarray, fps: float) -> tuple[np.ndarray, dict]:
    """Unlabelled debris: uniform on the torus; 80 % float (drift + Brownian), 20 % stuck to the glass."""
    area = world[0] * world[1]
    k = int(rng.poisson(config.debris_per_mpx * area / 1e6))
    n_sim = len(drift_px)
    start = np.stack([rng.uniform(-margin, world[0] - margin, k), rng.uniform(-margin, world[1] - margin, k)], -1)
    floating = rng.random(k) < 0.8
    brown = _brownian(rng, k, n_sim, dt=1.0 / fps, d=_D_TRANS_UM2_S["debris"]) / config.um_per_px
    pos = start[:, None, :] + floating[:, None, None] * (brown + drift_px[None])
    radius = np.exp(rng.uniform(math.log(0.8), math.log(2.8), k))
    depth = rng.uniform(15.0, 45.0, k) * np.clip(radius / 1.5, 0.6, 1.2)
    reddish = rng.random(k) < 0.2
    tint = np.where(reddish[:, None], np.array([1.15, 1.1, 0.6]), np.array([1.0, 1.0, 0.95]))
    rim = (rng.random(k) < 0.35) * rng.uniform(6.0, 18.0, k)
    return pos.astype(np.float32), {"radius": radius, "depth": depth, "tint": tint, "rim": rim}


def _systematic_round(expected: np.ndarray, u: float) -> np.ndarray:
    """Integers with the given expectations whose total is within 1 of the expected total.

    ``k_i = floor(C_i + u) - floor(C_{i-1} + u)`` with ``C`` the cumulative sum and one uniform ``u``
    (systematic sampling): each ``k_i`` is ``floor`` or ``ceil`` of its expectation.
    """
    c = np.concatenate([[0.0], np.cumsum(expected)])
    return np.diff(np.floor(c + u)).astype(np.int64)


def _place(rng: np.random.Generator, label: np.ndarray, width: int, height: int, margin: float) -> np.ndarray:
    """Uniform positions on the torus at frame 0, stratified so that the frame gets its exact share.

    Within each stratum (bodies with the same ``label``), ``n * A_frame / A_torus`` (rounded
    systematically across strata) bodies are placed uniformly in the frame and the rest uniformly in the margin
    ring. The
    marginal distribution is still uniform on the torus; only the count in view is no longer binomial,
    so a video's mean count matches the requested density closely.

    Returns
    -------
    ndarray (n, 2)
        Positions in px.
    """
    n = len(label)
    out = np.zeros((n, 2))
    world = (width + 2 * margin, height + 2 * margin)
    share = width * height / (world[0] * world[1])
    values = np.unique(label)
    sizes = np.array([np.count_nonzero(label == v) for v in values], dtype=np.float64)
    k_in = _systematic_round(sizes * share, rng.random())
    for value, k in zip(values, k_in):
        idx = np.flatnonzero(label == value)
        idx = idx[rng.permutation(len(idx))]
        k = int(k)
        inner, outer = idx[:k], idx[k:]
        out[inner] = np.stack([rng.uniform(0, width, k), rng.uniform(0, height, k)], axis=-1)
        todo = outer
        while len(todo):
            cand = np.stack([rng.uniform(-margin, world[0] - margin, len(todo)),
                             rng.uniform(-margin, world[1] - margin, len(todo))], axis=-1)
            ring = (cand[:, 0] < 0) | (cand[:, 0] >= width) | (cand[:, 1] < 0) | (cand[:, 1] >= height)
            out[todo[ring]] = cand[ring]
            todo = todo[~ring]
    return out
