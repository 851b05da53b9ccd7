"""The synthetic annotator: what is labelled, as which track, under which id, with which true kinematics.

Turns the simulated bodies of :mod:`spermtrack.synth.motion` into labelled tracks for
:func:`spermtrack.synth.simulate.simulate_video`: :func:`_in_view` (the frames an annotator labels a body
in), :func:`_segments` (a body's labelled frames cut into tracks), :func:`_cuid` (LabelBox-like ids) and
:func:`_kinematics` (a track's true kinematics from its exact path). Pure numpy, no pixels.
"""

from __future__ import annotations

import numpy as np

from spermtrack.synth.motion import Trajectories, _net_progression


def _cuid(rng: np.random.Generator, n: int) -> list[str]:
    """LabelBox-like ids: ``'c'`` + 24 lowercase alphanumerics."""
    alphabet = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))
    chars = alphabet[rng.integers(0, 36, (n, 24))]
    return ["c" + "".join(row) for row in chars]


def _segments(visible: np.ndarray, epoch: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Split one body's visible frames into tracks: runs merge across gaps <= max_gap within one torus epoch.

    Returns
    -------
    list of (first_frame, last_frame)
    """
    idx = np.flatnonzero(visible)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero((np.diff(idx) > max_gap + 1) | (epoch[idx[1:]] != epoch[idx[:-1]]))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(idx) - 1]])
    return [(int(idx[s]), int(idx[e])) for s, e in zip(starts, ends)]


def _in_view(head: np.ndarray, avg: np.ndarray, lateral_px: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which bodies an annotator labels in which frame, ``(n, n_frames)`` bool, before the focus test.

    A body is labelled while its head centre is inside the frame. To stop a head that oscillates
    about its path from flickering in and out at the border, labelling (re)starts only once the
    average path is at least ``lateral_px + 1`` px inside (so the head is surely inside), except in
    frame 0 where everything inside is labelled.
    """
    inside = (head[..., 0] >= 0) & (head[..., 0] < width) & (head[..., 1] >= 0) & (head[..., 1] < height)
    edge = np.minimum(np.minimum(avg[..., 0], width - avg[..., 0]), np.minimum(avg[..., 1], height - avg[..., 1]))
    deep = edge >= lateral_px[:, None] + 1.0
    state = np.zeros_like(inside)
    if inside.shape[1]:
        state[:, 0] = inside[:, 0]
    for k in range(1, inside.shape[1]):
        state[:, k] = inside[:, k] & (state[:, k - 1] | deep[:, k])
    return state


def _kinematics(paths: Trajectories, body: int, first: int, last: int, fps: float, um_per_px: float) -> dict:
    """True kinematics of one track from exact positions.

    See :func:`~spermtrack.synth.simulate.simulate_video` for the formulas.
    """
    w = paths.window
    a, b = first + paths.pad, last + paths.pad
    if b - a < 2 * w:     # shorter than 2 s: the 2-s span centred on the track, from the simulated path around it
        mid = (a + b) // 2
        a = max(0, mid - w)
        b = min(paths.pos_px.shape[1] - 1, a + 2 * w)
        a = max(0, b - 2 * w)
    own = paths.own_um[body, a:b + 1]
    obs = paths.pos_px[body, a:b + 1] * um_per_px
    avg = paths.avg_px[body, a:b + 1] * um_per_px - paths.drift_px[a:b + 1] * um_per_px
    span = (b - a) / fps
    step = np.linalg.norm(np.diff(own, axis=0), axis=1)
    lat = paths.lateral_um[body, a:b + 1]
    crossings = int(np.count_nonzero(np.signbit(lat[1:]) != np.signbit(lat[:-1]))) if np.any(lat) else 0
    return {
        "progression_um_s": float(_net_progression(own, w, fps)),
        "progression_obs_um_s": float(_net_progression(obs, w, fps)),
        "vcl_um_s": float(step.sum() / span),
        "vsl_um_s": float(np.linalg.norm(own[-1] - own[0]) / span),
        "vap_um_s": float(np.linalg.norm(np.diff(avg, axis=0), axis=1).sum() / span),
        "bcf_hz": crossings / span,
    }

