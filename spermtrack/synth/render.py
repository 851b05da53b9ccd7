"""Render a simulated video as phase-contrast (or bright-field) BGR frames, one frame at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from spermtrack.synth.config import _KIND_CLUSTER, SynthConfig, _rng
from spermtrack.synth.simulate import SyntheticVideo, Trajectories, simulate_video

_TAIL_SEGMENTS = ((0.0, 0.08, 1.3), (0.08, 0.3, 1.05), (0.3, 0.5, 0.65), (0.5, 0.7, 0.3), (0.7, 1.0, 0.08))
_TAIL_POINTS = 24
_SHIFT = 4                     # cv2 drawing: fixed-point sub-pixel coordinates, 1/16 px
_ONE = 1 << _SHIFT


class _Renderer:
    """Draws one frame at a time from a :class:`Trajectories`; holds only frame-sized buffers."""

    def __init__(self, config: SynthConfig, paths: Trajectories, seed: int):
        import cv2

        self.cv2 = cv2
        self.config = config
        self.paths = paths
        self.um = float(config.um_per_px)
        self.w, self.h = config.width, config.height
        self.phase_contrast = config.polarity == "phase"
        look = _rng(seed, "look")
        self.rng = _rng(seed, "render")
        self.bg = self._background(look)
        self.noise_pos, self.noise_neg = self._noise_bank(self.rng)
        st = paths.static
        self.kind = st["kind"]
        self.tail_px = st["tail_len_um"] / self.um
        self.reach_px = self.tail_px + 30.0          # tail plus head, box and cluster spread
        self.members = paths.members
        self.cluster_index = {int(b): i for i, b in enumerate(np.flatnonzero(self.kind == _KIND_CLUSTER))}
        if self.phase_contrast:
            self.tail_dark, self.core_value, self.rim_value, self.halo_gain = 32.0, 190.0, 150.0, 1.5
        else:
            self.tail_dark, self.core_value, self.rim_value, self.halo_gain = 30.0, 70.0, 45.0, 0.0

    # -- static layers
    def _background(self, rng: np.random.Generator) -> np.ndarray:
        cv2 = self.cv2
        w, h = self.w, self.h
        if self.phase_contrast:
            base = np.array([61.0, 56.0, 53.0]) * rng.uniform(0.92, 1.08) + rng.normal(0, 1.0, 3)
        else:
            base = np.array([182.0, 178.0, 172.0]) * rng.uniform(0.95, 1.05) + rng.normal(0, 1.5, 3)
        coarse = rng.standard_normal((4, 5)).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        smooth = smooth / max(float(np.abs(smooth).max()), 1e-6)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
        vignette = -(((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2)
        gain = 1.0 + self.config.illumination * (0.6 * smooth + 1.6 * (vignette - vignette.mean()))
        texture = np.zeros((h, w), np.float32)
        for sigma, amp in ((2.0, 1.0), (10.0, 1.5)):
            noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
            texture += amp * noise / max(float(noise.std()), 1e-6)
        bg = base[None, None, :] * gain[..., None] + texture[..., None]
        return np.clip(np.rint(bg), 0, 255).astype(np.uint8)

    def _noise_bank(self, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
        cv2 = self.cv2
        pos, neg = [], []
        sd = float(self.config.noise_sd)
        for _ in range(4):
            n = rng.standard_normal((self.h + 32, self.w + 32, 3)).astype(np.float32)
            n = cv2.GaussianBlur(n, (0, 0), 0.5)
            n *= sd / max(float(n.std()), 1e-6)
            q = np.rint(n)
            pos.append(np.clip(q, 0, 255).astype(np.uint8))
            neg.append(np.clip(-q, 0, 255).astype(np.uint8))
        return pos, neg

    # -- one frame
    def frame(self, k: int) -> np.ndarray:
        cv2 = self.cv2
        p = self.paths
        s = k + p.pad
        dark = np.zeros((self.h, self.w, 3), np.uint8)
        bright = np.zeros((self.h, self.w, 3), np.uint8)
        self._draw_debris(dark, bright, s)
        xy = p.wrap(p.pos_px[:, s], self.w, self.h)
        alpha = p.alpha[:, s]
        reach = self.reach_px
        near = ((xy[:, 0] > -reach) & (xy[:, 0] < self.w + reach) & (xy[:, 1] > -reach) & (xy[:, 1] < self.h + reach)
                & (alpha > 0.02))
        tails, heads = self._collect(np.flatnonzero(near), xy, alpha, s, k)
        self._draw_tails(dark, tails)
        if self.phase_contrast:
            self._draw_heads(bright, heads, rim=True)
        else:
            self._draw_heads(dark, heads, rim=False)
        img = self.bg.copy()
        blur = float(self.config.blur_px)
        if self.phase_contrast:
            core = cv2.GaussianBlur(bright, (0, 0), blur) if blur > 0 else bright
            small = cv2.resize(bright, (max(1, self.w // 4), max(1, self.h // 4)), interpolation=cv2.INTER_AREA)
            halo = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.0), (self.w, self.h), interpolation=cv2.INTER_LINEAR)
            img = cv2.add(img, core)
            img = cv2.addWeighted(img, 1.0, halo, self.halo_gain, 0.0)
        else:
            img = cv2.add(img, cv2.GaussianBlur(bright, (0, 0), blur) if blur > 0 else bright)
        img = cv2.subtract(img, cv2.GaussianBlur(dark, (0, 0), blur) if blur > 0 else dark)
        if self.config.noise_sd > 0:
            i = int(self.rng.integers(0, len(self.noise_pos)))
            oy, ox = (int(v) for v in self.rng.integers(0, 32, 2))
            img = cv2.add(img, self.noise_pos[i][oy:oy + self.h, ox:ox + self.w])
            img = cv2.subtract(img, self.noise_neg[i][oy:oy + self.h, ox:ox + self.w])
        return img

    def _draw_debris(self, dark: np.ndarray, bright: np.ndarray, s: int) -> None:
        cv2 = self.cv2
        p = self.paths
        if len(p.debris_px) == 0:
            return
        xy = p.wrap(p.debris_px[:, s].astype(np.float64), self.w, self.h)
        d = p.debris
        r = d["radius"]
        vis = (xy[:, 0] > -6) & (xy[:, 0] < self.w + 6) & (xy[:, 1] > -6) & (xy[:, 1] < self.h + 6)
        sign = 1.0 if self.phase_contrast else 0.8
        for i in np.flatnonzero(vis):
            c = (int(round(xy[i, 0] * _ONE)), int(round(xy[i, 1] * _ONE)))
            if d["rim"][i] > 0 and self.phase_contrast:
                v = float(d["rim"][i])
                cv2.circle(bright, c, int(round((r[i] + 1.2) * _ONE)), (v, v, v), 1, cv2.LINE_AA, _SHIFT)
            col = tuple(float(v) for v in d["depth"][i] * sign * d["tint"][i])
            cv2.circle(dark, c, max(1, int(round(r[i] * _ONE))), col, -1, cv2.LINE_AA, _SHIFT)

    def _collect(self, idx: np.ndarray, xy: np.ndarray, alpha: np.ndarray, s: int, k: int) -> tuple[dict, dict]:
        """Gather the tails and heads to draw (cluster members expanded) as flat arrays in px."""
        p = self.paths
        st = p.static
        um = self.um
        t = k / self.config.fps
        cols: dict[str, list] = {key: [] for key in ("x", "y", "axis", "head", "phase", "len", "amp", "lam", "bend",
                                                      "tgain", "hlen", "hwid", "hgain", "tint", "alpha")}

        def add(x, y, axis, head, phase, body, alpha_):
            n = np.size(x)
            cols["x"].append(np.broadcast_to(x, n)); cols["y"].append(np.broadcast_to(y, n))
            cols["axis"].append(np.broadcast_to(axis, n)); cols["head"].append(np.broadcast_to(head, n))
            cols["phase"].append(np.broadcast_to(phase, n))
            for key, src, scale in (("len", "tail_len_um", 1 / um), ("amp", "wave_amp_um", 1 / um),
                                    ("lam", "wavelength_um", 1 / um), ("bend", "bend_um", 1 / um),
                                    ("tgain", "tail_gain", 1.0), ("hlen", "head_len_um", 1 / um),
                                    ("hwid", "head_wid_um", 1 / um), ("hgain", "head_gain", 1.0)):
                cols[key].append(np.broadcast_to(st[src][body] * scale, n))
            cols["tint"].append(np.broadcast_to(st["tint"][body], (n, 3)))
            cols["alpha"].append(np.broadcast_to(alpha_, n))

        single = idx[self.kind[idx] != _KIND_CLUSTER]
        if len(single):
            add(xy[single, 0], xy[single, 1], p.axis[single, s], p.head_angle[single, s], p.phase[single, s], single,
                alpha[single])
        for body in idx[self.kind[idx] == _KIND_CLUSTER]:
            mem = self.members[self.cluster_index[int(body)]]
            rot = p.axis[body, s]
            c, sn = math.cos(rot), math.sin(rot)
            off = mem["offset"] @ np.array([[c, sn], [-sn, c]])
            face = mem["angle"] + rot
            phase = 2 * math.pi * mem["beat_hz"] * t + mem["phase0"]
            wob = 0.15 * np.sin(phase)
            for j in range(len(face)):
                add(xy[body, 0] + off[j, 0], xy[body, 1] + off[j, 1], face[j] + wob[j], face[j] + 0.5 * wob[j],
                    phase[j], body, alpha[body])
        if not cols["x"]:
            return {}, {}
        flat = {key: np.concatenate(v) for key, v in cols.items()}
        return flat, flat

    def _draw_tails(self, canvas: np.ndarray, tl: dict) -> None:
        if not tl:
            return
        cv2 = self.cv2
        u = np.linspace(0.0, 1.0, _TAIL_POINTS)[None, :]
        length = tl["len"][:, None]
        along = u * length
        lam = np.maximum(tl["lam"][:, None], 1.0)
        lateral = (tl["amp"][:, None] * u ** 0.7 * np.sin(2 * math.pi * along / lam - tl["phase"][:, None])
                   + tl["bend"][:, None] * u ** 1.5)
        head = tl["head"]
        bx = tl["x"] - 0.5 * tl["hlen"] * np.cos(head)
        by = tl["y"] - 0.5 * tl["hlen"] * np.sin(head)
        ca, sa = np.cos(tl["axis"])[:, None], np.sin(tl["axis"])[:, None]
        px = bx[:, None] - along * ca - lateral * sa
        py = by[:, None] - along * sa + lateral * ca
        pts = np.rint(np.stack([px, py], axis=-1) * _ONE).astype(np.int32)
        strength = tl["tgain"] * tl["alpha"]
        for lo, hi, factor in _TAIL_SEGMENTS:
            a, b = int(round(lo * (_TAIL_POINTS - 1))), int(round(hi * (_TAIL_POINTS - 1))) + 1
            value = np.rint(self.tail_dark * factor * strength).astype(np.int64)
            thick = 2 if lo == 0.0 else 1
            for v in np.unique(value):
                if v <= 0:
                    continue
                sel = np.flatnonzero(value == v)
                cv2.polylines(canvas, [pts[i, a:b] for i in sel], False, (float(v),) * 3, thick, cv2.LINE_AA, _SHIFT)

    def _draw_heads(self, canvas: np.ndarray, hd: dict, *, rim: bool) -> None:
        if not hd:
            return
        cv2 = self.cv2
        order = np.argsort(hd["alpha"], kind="stable")     # faint (out of focus) ones first
        for i in order:
            c = (int(round(hd["x"][i] * _ONE)), int(round(hd["y"][i] * _ONE)))
            ang = math.degrees(hd["head"][i])
            a, b = 0.5 * hd["hlen"][i], 0.5 * hd["hwid"][i]
            g = hd["hgain"][i] * hd["alpha"][i]
            if rim:
                col = tuple(float(v) for v in hd["tint"][i] * (self.rim_value / 255.0) * g)
                cv2.ellipse(canvas, c, (int((a + 0.6) * _ONE), int((b + 0.5) * _ONE)), ang, 0, 360, col, -1,
                            cv2.LINE_AA, _SHIFT)
                v = tuple(float(ch) for ch in hd["tint"][i] * (self.core_value / 255.0) * g)
                fx, fy = math.cos(hd["head"][i]) * 0.3 * a, math.sin(hd["head"][i]) * 0.3 * a
                cc = (int(round((hd["x"][i] + fx) * _ONE)), int(round((hd["y"][i] + fy) * _ONE)))
                cv2.ellipse(canvas, cc, (max(1, int(0.55 * a * _ONE)), max(1, int(0.55 * b * _ONE))), ang, 0, 360,
                            v, -1, cv2.LINE_AA, _SHIFT)
            else:
                v = self.core_value * g
                cv2.ellipse(canvas, c, (int(a * _ONE), int(b * _ONE)), ang, 0, 360, (v, v, v), -1, cv2.LINE_AA,
                            _SHIFT)


def render_frames(video: SyntheticVideo) -> Iterator[np.ndarray]:
    """Yield the video's frames one at a time: BGR ``uint8`` arrays of shape ``(height, width, 3)``.

    Deterministic given ``video.seed`` (the same pixels every time); memory does not grow with the
    clip length (one frame's buffers plus a static background and a small noise bank).

    Look (phase contrast): background BGR about (64, 59, 56) times a smooth illumination field
    ``1 + illumination * (...)`` plus a faint static texture; heads are anti-aliased ellipses (a tinted
    rim and a saturating white core) with a glow (the head layer blurred at 1/4 resolution); tails are
    anti-aliased polylines of a travelling wave, darkest at the midpiece and fading towards the tip;
    debris are dark dots, some with a bright rim; everything is blurred by ``blur_px`` and sensor
    noise (sd ``noise_sd``, slightly correlated like a demosaiced colour sensor) is added.
    Bodies out of focus fade with their focus factor.

    Parameters
    ----------
    video : SyntheticVideo
        From :func:`simulate_video`.

    Yields
    ------
    numpy.ndarray
        One frame, in order, ``video.recording.n_frames`` in all.
    """
    paths = video.paths
    if paths is None:
        paths = simulate_video(video.config, seed=video.seed, video_id=video.video_id).paths
    renderer = _Renderer(video.config, paths, video.seed)
    for k in range(video.recording.n_frames):
        yield renderer.frame(k)

