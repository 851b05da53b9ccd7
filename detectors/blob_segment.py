"""Image steps of the ``blob`` detector: band-pass, noise level, polarity and segmentation into heads.

Steps 1-7 of :mod:`spermtrack.detectors.blob` (see its docstring for the method), as pure functions of
one grayscale or band-passed frame: :func:`band_pass` (background model), :func:`noise_sd` (robust noise
level), :func:`polarity_evidence` / :func:`estimate_polarity` (bright or dark heads) and
:func:`find_blobs` (connected components, touching heads split, clusters, sub-pixel centres), which
returns the objects of a frame as :class:`Blobs`. The detector, its settings and its score model live in
:mod:`spermtrack.detectors.blob`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["Blobs", "band_pass", "estimate_polarity", "find_blobs", "noise_sd", "polarity_evidence"]


def band_pass(gray: np.ndarray, *, sigma_px: float, background_px: int, bright: bool = True) -> np.ndarray:
    """Band-pass a grayscale frame so that heads are positive peaks on a zero background.

    ``bp = G_sigma * I - box_B * I`` for bright heads, ``box_B * I - G_sigma * I`` for dark
    heads (``G_sigma``: Gaussian of ``sigma_px``; ``box_B``: mean over a ``background_px`` square,
    reflected at the borders).

    Parameters
    ----------
    gray : numpy.ndarray
        ``uint8`` ``(H, W)`` frame.
    sigma_px : float
        Gaussian sigma, px.
    background_px : int
        Odd side of the background box, px.
    bright : bool
        Heads brighter (True) or darker (False) than the background.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(H, W)``, grey levels.
    """
    import cv2

    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), sigma_px)
    background = cv2.boxFilter(gray, cv2.CV_32F, (background_px, background_px))
    if bright:
        return np.subtract(smooth, background, out=smooth)
    return np.subtract(background, smooth, out=background)


def noise_sd(bp: np.ndarray, *, step: int = 6) -> float:
    """Robust noise level of a band-passed frame: ``1.4826 * median(|bp - median(bp)|)``.

    Computed on every ``step``-th pixel in both directions (heads cover well under 1 % of a frame,
    so they do not move the median).
    """
    sample = bp[::step, ::step].ravel()
    med = float(np.median(sample))
    return 1.4826 * float(np.median(np.abs(sample - med)))


def polarity_evidence(gray: np.ndarray, *, sigma_px: float = 1.5, background_px: int = 25,
                      top_px: int = 20) -> dict:
    """The look decision of :func:`estimate_polarity` with its evidence.

    Returns
    -------
    dict
        ``polarity`` (``'bright'`` or ``'dark'``), ``bright_response`` and ``dark_response`` (the
        ``top_px``-th strongest positive and negative band-pass responses, grey levels), ``top_px``.
    """
    bp = band_pass(gray, sigma_px=sigma_px, background_px=background_px, bright=True).ravel()
    k = min(int(top_px), bp.size - 1)
    hi = float(np.partition(bp, bp.size - 1 - k)[bp.size - 1 - k])
    lo = float(np.partition(bp, k)[k])
    return {"polarity": "bright" if hi >= -lo else "dark", "bright_response": round(hi, 2),
            "dark_response": round(-lo, 2), "top_px": int(top_px)}


def estimate_polarity(gray: np.ndarray, *, sigma_px: float = 1.5, background_px: int = 25,
                      top_px: int = 20) -> str:
    """Guess whether heads are brighter or darker than the background.

    Compares the ``top_px``-th strongest positive and negative responses of the band-passed
    frame: phase-contrast heads saturate far above the background (and beat dark debris), bright-
    field heads are the darkest objects. Unreliable on a frame without cells, where debris decides:
    pass the polarity explicitly when you know it.

    Parameters
    ----------
    gray : numpy.ndarray
        ``uint8`` ``(H, W)`` frame.
    sigma_px, background_px : float, int
        Band-pass settings (see :func:`band_pass`).
    top_px : int
        How many extreme pixels per side to look past.

    Returns
    -------
    str
        ``'bright'`` or ``'dark'``.
    """
    return polarity_evidence(gray, sigma_px=sigma_px, background_px=background_px, top_px=top_px)["polarity"]


def _group_starts(sorted_labels: np.ndarray, n: int) -> np.ndarray:
    """Start of each label's run in a sorted label array (``n`` labels; empty runs allowed)."""
    return np.searchsorted(sorted_labels, np.arange(n))


def _suppress_close_peaks(px: np.ndarray, py: np.ndarray, value: np.ndarray, comp: np.ndarray,
                          min_sep: float) -> np.ndarray:
    """Keep peaks that have no stronger peak of the same component within ``min_sep`` px."""
    n = len(px)
    if n <= 1 or min_sep <= 0:
        return np.ones(n, dtype=bool)
    d2 = (px[:, None] - px[None, :]) ** 2 + (py[:, None] - py[None, :]) ** 2
    idx = np.arange(n)
    stronger = (value[:, None] > value[None, :]) | ((value[:, None] == value[None, :]) & (idx[:, None] < idx[None, :]))
    near = (d2 < min_sep * min_sep) & (comp[:, None] == comp[None, :]) & stronger
    return ~near.any(axis=0)


@dataclass(frozen=True)
class Blobs:
    """Objects found in one band-passed frame (parallel arrays, one entry per object).

    Attributes
    ----------
    x, y : numpy.ndarray
        Sub-pixel centre (weighted centroid), px.
    peak : numpy.ndarray
        Maximum of the band-passed frame over the object (grey levels).
    area : numpy.ndarray
        Foreground pixels of the object (of its share of the component when split).
    n_peaks : numpy.ndarray
        Intensity peaks of the object's connected component.
    cluster : numpy.ndarray of bool
        The component is a cluster (one object for the whole component).
    bw, bh : numpy.ndarray
        Bounding box of the component, px.
    """

    x: np.ndarray
    y: np.ndarray
    peak: np.ndarray
    area: np.ndarray
    n_peaks: np.ndarray
    cluster: np.ndarray
    bw: np.ndarray
    bh: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def select(self, keep: np.ndarray) -> Blobs:
        """The objects where ``keep`` is True (or at the given indices)."""
        return Blobs(**{k: v[keep] for k, v in asdict(self).items()})

    def to_frame(self) -> pd.DataFrame:
        """The objects as a table (for inspection)."""
        return pd.DataFrame(asdict(self))


def _empty_blobs() -> Blobs:
    f, i = np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
    return Blobs(x=f, y=f, peak=f, area=i, n_peaks=i, cluster=np.empty(0, dtype=bool), bw=f, bh=f)


def find_blobs(bp: np.ndarray, threshold: float, *, min_area_px: int, max_area_px: int,
               min_separation_px: float, cluster_area_px: int, cluster_min_peaks: int,
               cluster_pair_px: float = 0.0) -> Blobs:
    """Segment a band-passed frame into heads and clusters with sub-pixel centres.

    Connected components (8-connected) of ``bp > threshold`` with ``min_area_px <= area <=
    max_area_px`` are kept. Their peaks are the local maxima (3 x 3) of ``bp``, minus those closer
    than ``min_separation_px`` to a stronger peak of the same component. A component with at least
    ``cluster_min_peaks`` peaks, with two peaks closer than ``cluster_pair_px``, or with one peak
    and at least ``cluster_area_px`` pixels, is one
    cluster; a component with two or more peaks (below the cluster rule) is split, each pixel going
    to its nearest peak; any other component is one head. Centres are centroids weighted by
    ``bp - threshold``.

    Parameters
    ----------
    bp : numpy.ndarray
        ``float32`` band-passed frame (heads positive).
    threshold : float
        Foreground threshold ``T`` (grey levels).
    min_area_px, max_area_px, min_separation_px, cluster_area_px, cluster_min_peaks, cluster_pair_px
        See :class:`~spermtrack.detectors.blob.BlobConfig`.

    Returns
    -------
    Blobs
        One entry per object (unordered).
    """
    import cv2

    mask = (bp > threshold).view(np.uint8)
    pts = cv2.findNonZero(mask)
    if pts is None:
        return _empty_blobs()
    n_labels, labels = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
    pts = pts.reshape(-1, 2)  # OpenCV 4 returns (N, 1, 2), OpenCV 5 (N, 2)
    lab = labels[pts[:, 1], pts[:, 0]]
    order = np.argsort(lab, kind="stable")
    lab = lab[order]
    xs = pts[order, 0].astype(np.float64)
    ys = pts[order, 1].astype(np.float64)
    val = bp[pts[order, 1], pts[order, 0]]
    starts = np.searchsorted(lab, np.arange(n_labels))
    area = np.diff(np.append(starts, len(lab)))
    safe = np.minimum(starts, len(lab) - 1)
    nonempty = area > 0
    peak = np.where(nonempty, np.maximum.reduceat(val, safe), 0.0)
    bw = np.where(nonempty, np.maximum.reduceat(xs, safe) - np.minimum.reduceat(xs, safe) + 1, 0.0)
    bh = np.where(nonempty, np.maximum.reduceat(ys, safe) - np.minimum.reduceat(ys, safe) + 1, 0.0)
    keep = nonempty & (area >= min_area_px) & (area <= max_area_px)
    keep[0] = False  # label 0 is the background
    if not keep.any():
        return _empty_blobs()

    # local maxima among foreground pixels (3 x 3 neighbourhood), then merge close ones
    p_idx = np.flatnonzero((val >= _neighbourhood_max(bp, xs.astype(np.intp), ys.astype(np.intp), _SQUARE3))
                           & keep[lab])
    p_idx = p_idx[_suppress_close_peaks(xs[p_idx], ys[p_idx], val[p_idx], lab[p_idx], min_separation_px)]
    n_peaks = np.bincount(lab[p_idx], minlength=n_labels)

    weight = (val - threshold).astype(np.float64)
    pair_dist = np.full(n_labels, np.inf)
    two = p_idx[n_peaks[lab[p_idx]] == 2]  # lab is sorted, so the two peaks of a component are adjacent
    if two.size:
        first, second = two[0::2], two[1::2]
        pair_dist[lab[first]] = np.hypot(xs[first] - xs[second], ys[first] - ys[second])
    cluster = keep & ((n_peaks >= cluster_min_peaks) | ((n_peaks <= 1) & (area >= cluster_area_px))
                      | ((n_peaks == 2) & (pair_dist < cluster_pair_px)))
    split = keep & ~cluster & (n_peaks >= 2)
    whole = np.flatnonzero(keep & ~split)
    sw = np.bincount(lab, weight, n_labels)[whole]
    sx = np.bincount(lab, weight * xs, n_labels)[whole]
    sy = np.bincount(lab, weight * ys, n_labels)[whole]
    ok = sw > 0
    whole, sw, sx, sy = whole[ok], sw[ok], sx[ok], sy[ok]
    parts = {"x": [sx / sw], "y": [sy / sw], "peak": [peak[whole]], "area": [area[whole]],
             "n_peaks": [n_peaks[whole]], "cluster": [cluster[whole]], "bw": [bw[whole]], "bh": [bh[whole]]}
    if split.any():
        sp = np.flatnonzero(split[lab])
        pk = p_idx[split[lab[p_idx]]]
        d2 = (xs[sp, None] - xs[None, pk]) ** 2 + (ys[sp, None] - ys[None, pk]) ** 2
        d2[lab[sp, None] != lab[None, pk]] = np.inf
        owner = np.argmin(d2, axis=1)
        w = weight[sp]
        psw = np.bincount(owner, w, len(pk))
        ok = psw > 0
        comp = lab[pk][ok]
        parts["x"].append(np.bincount(owner, w * xs[sp], len(pk))[ok] / psw[ok])
        parts["y"].append(np.bincount(owner, w * ys[sp], len(pk))[ok] / psw[ok])
        parts["peak"].append(val[pk][ok].astype(np.float64))
        parts["area"].append(np.bincount(owner, minlength=len(pk))[ok])
        parts["n_peaks"].append(n_peaks[comp])
        parts["cluster"].append(np.zeros(len(comp), dtype=bool))
        parts["bw"].append(bw[comp])
        parts["bh"].append(bh[comp])
    out = {k: np.concatenate(v) for k, v in parts.items()}
    return Blobs(x=out["x"], y=out["y"], peak=out["peak"].astype(np.float64), area=out["area"].astype(np.int64),
                 n_peaks=out["n_peaks"].astype(np.int64), cluster=out["cluster"].astype(bool),
                 bw=out["bw"].astype(np.float64), bh=out["bh"].astype(np.float64))



def _neighbourhood_max(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``max(image[y + dy, x + dx])`` over the ``(dy, dx)`` offsets inside the image, at each ``(x, y)``.

    The same values as ``cv2.dilate(image, kernel)[ys, xs]`` (whose border never wins) for the kernel
    whose non-zero cells are ``offsets``, computed at the given pixels only.
    """
    h, w = image.shape
    yy = ys[:, None] + offsets[None, :, 0]
    xx = xs[:, None] + offsets[None, :, 1]
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    values = image[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
    return np.where(inside, values, -np.inf).max(axis=1) if len(xs) else np.zeros(0, image.dtype)


_SQUARE3 = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
