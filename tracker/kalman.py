"""Constant-velocity Kalman filter, vectorised over a batch of tracks.

The state of one track is ``[x, y, vx, vy]`` (px, px/frame), optionally followed by
``[w, h]`` (px). The measurement is the detected centre ``[x, y]`` (plus ``[w, h]``).
Batches are plain arrays: means ``x`` of shape ``(N, d)`` and covariances ``P`` of
shape ``(N, d, d)``; one call updates every track at once (no per-track objects).
:func:`predict`, :func:`update` and the sequence functions also take means of shape
``(N, A, d)``: ``A`` components (e.g. the x and y axes of the per-axis model) that are
measured together and share one covariance, which is then computed once for all of them.
:func:`predict` and :func:`update` are :func:`kf_predict` and :func:`kf_update` for a
:class:`MotionModel`: the same constant-velocity filter, bit for bit, with the products by
``F`` (position += velocity), ``H`` (a selection) and diagonal ``R`` written as row and column
additions, selections and scalings (the hot path of the tracker and the smoother).

Motion model (per axis, time step dt = 1 frame)::

    p_{k+1} = p_k + v_k + a_k / 2
    v_{k+1} = v_k + a_k,          a_k ~ N(0, sigma_a^2)

i.e. piecewise-constant white acceleration, ``F = [[1, 1], [0, 1]]`` and
``Q = G G' sigma_a^2`` with ``G = [1/2, 1]'``, which is exactly
``filterpy.common.Q_discrete_white_noise(dim=2, dt=1, var=sigma_a**2)``.

Choosing sigma_a: it is the frame-to-frame change of velocity one expects, in
px/frame^2. A sperm head beating laterally with amplitude ``A`` px at ``f`` Hz,
filmed at ``fps``, accelerates by up to ``A * (2 pi f / fps)^2`` px/frame^2
(``A`` = 2 px, 10 Hz, 50 fps: 3.2 px/frame^2); straight swimmers and the
keyframe-interpolated VISEM annotations need far less. A turn from speed ``v`` in one
frame is an acceleration of up to ``2 v``. :func:`~spermtrack.tracker.config.motion_from_physical`
converts um/s^2 to px/frame^2 (divide by ``um_per_px * fps^2``).

References
----------
R. E. Kalman (1960); H. E. Rauch, F. Tung, C. T. Striebel (1965), "Maximum likelihood
estimates of linear dynamic systems", AIAA J. 3(8); R. Labbe, *Kalman and Bayesian
Filters in Python* (filterpy), whose ``KalmanFilter.predict``/``update`` (Joseph form)
these functions reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from spermtrack.tracker import compiled


@dataclass(frozen=True)
class MotionModel:
    """Matrices of a linear-Gaussian motion model.

    Attributes
    ----------
    F : ndarray, shape (d, d)
        State transition over one frame.
    Q : ndarray, shape (d, d)
        Process noise covariance per frame.
    H : ndarray, shape (m, d)
        Measurement matrix.
    R : ndarray, shape (m, m)
        Measurement noise covariance.
    """

    F: np.ndarray
    Q: np.ndarray
    H: np.ndarray
    R: np.ndarray

    @property
    def dim_x(self) -> int:
        """State dimension ``d``."""
        return self.F.shape[0]

    @property
    def dim_z(self) -> int:
        """Measurement dimension ``m``."""
        return self.H.shape[0]

    @cached_property
    def shift(self) -> tuple[np.ndarray | slice, np.ndarray | slice] | None:
        """``(dst, src)`` if ``F = I + E`` with ``E[dst[k], src[k]] = 1`` its only non-zero entries, else None.

        Each ``dst`` row of ``F`` then adds one other component (a constant-velocity model: position +=
        velocity), and ``dst`` and ``src`` are disjoint. :func:`predict` uses it. Each index is a slice
        when it is a run of consecutive components (as in :func:`constant_velocity_model`), since
        slicing is much faster than indexing with an array.
        """
        E = self.F - np.eye(self.dim_x)
        dst, src = np.nonzero(E)
        ok = (np.all(E[dst, src] == 1.0) and len(np.unique(dst)) == len(dst)
              and not np.intersect1d(dst, src).size)
        return (_as_slice(dst), _as_slice(src)) if ok else None

    @cached_property
    def measured(self) -> np.ndarray | None:
        """State components ``H`` selects (``H[k, measured[k]] = 1``, zeros elsewhere), if ``R`` is diagonal too.

        None for any other ``H`` or ``R``. :func:`update` uses it.
        """
        rows, sel = np.nonzero(self.H)
        ok = (np.array_equal(rows, np.arange(self.dim_z)) and np.all(self.H[rows, sel] == 1.0)
              and np.array_equal(self.R, np.diag(np.diagonal(self.R))))
        return sel if ok else None


def _as_slice(idx: np.ndarray) -> np.ndarray | slice:
    """``idx`` as the equivalent slice if it is a non-empty run of consecutive integers, else unchanged."""
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx


def constant_velocity_model(*, accel_std: float, measurement_std: float, size_std: float | None = None,
                            ndim: int = 2) -> MotionModel:
    """Build the constant-velocity model of the tracker.

    Parameters
    ----------
    accel_std : float
        White-noise acceleration standard deviation sigma_a, px/frame^2 (see module docstring).
    measurement_std : float
        Standard deviation of a measured coordinate, px; ``R = measurement_std^2 I``.
    size_std : float, optional
        If given, the state gets ``[w, h]`` with a random walk of this standard deviation
        (px/frame) and the measurement gets the detected ``[w, h]``.
    ndim : int
        Number of spatial axes (2 for images; 1 gives the per-axis model ``[p, v]``).

    Returns
    -------
    MotionModel
        ``F``, ``Q``, ``H``, ``R``. State order ``[x, y, vx, vy(, w, h)]``.
    """
    from filterpy.common import Q_discrete_white_noise  # imported here: filterpy loads scipy.stats (0.2 s)

    F = np.eye(2 * ndim)
    F[:ndim, ndim:] = np.eye(ndim)
    Q = Q_discrete_white_noise(2, dt=1.0, var=float(accel_std) ** 2, block_size=ndim, order_by_dim=False)
    H = np.zeros((ndim, 2 * ndim))
    H[:, :ndim] = np.eye(ndim)
    R = np.eye(ndim) * float(measurement_std) ** 2
    if size_std is not None:
        F = _block_diag(F, np.eye(2))
        Q = _block_diag(Q, np.eye(2) * float(size_std) ** 2)
        H = _block_diag(H, np.eye(2))
        R = _block_diag(R, np.eye(2) * float(measurement_std) ** 2)
    return MotionModel(F=np.ascontiguousarray(F), Q=np.ascontiguousarray(Q), H=H, R=R)


def _block_diag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]))
    out[:a.shape[0], :a.shape[1]] = a
    out[a.shape[0]:, a.shape[1]:] = b
    return out


def initial_state(z: np.ndarray, model: MotionModel, *, velocity_std: float) -> tuple[np.ndarray, np.ndarray]:
    """State of new tracks born from measurements ``z``.

    Parameters
    ----------
    z : ndarray, shape (N, m) or (N, A, m)
        Measurements (centre, and size if the model has it); ``A`` components share one covariance.
    model : MotionModel
        The model (decides the state layout).
    velocity_std : float
        Prior standard deviation of each velocity component, px/frame.

    Returns
    -------
    x : ndarray, shape (N, d) or (N, A, d)
        ``H' z`` (position from the measurement, velocity 0).
    P : ndarray, shape (N, d, d)
        ``H' R H`` plus ``velocity_std^2`` on the velocity diagonal.
    """
    H = model.H
    x = z @ H
    P0 = H.T @ model.R @ H
    vel = np.flatnonzero(~H.any(axis=0))
    P0[vel, vel] = float(velocity_std) ** 2
    return x, np.broadcast_to(P0, (len(z),) + P0.shape).copy()


def kf_predict(x: np.ndarray, P: np.ndarray, F: np.ndarray, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman prediction for a batch: ``x' = F x``, ``P' = F P F' + Q``.

    Parameters
    ----------
    x : ndarray, shape (N, d)
    P : ndarray, shape (N, d, d)
    F : ndarray, shape (d, d)
    Q : ndarray, shape (d, d) or (N, d, d)

    Returns
    -------
    x, P : ndarray
        New arrays (inputs are not modified).
    """
    return x @ F.T, F @ P @ F.T + Q


def kf_update(x: np.ndarray, P: np.ndarray, z: np.ndarray, H: np.ndarray,
              R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman measurement update for a batch, Joseph form (as filterpy's ``KalmanFilter.update``).

    ``y = z - H x``, ``S = H P H' + R``, ``K = P H' S^-1``, ``x' = x + K y``,
    ``P' = (I - K H) P (I - K H)' + K R K'``.

    Parameters
    ----------
    x : ndarray, shape (N, d)
    P : ndarray, shape (N, d, d)
    z : ndarray, shape (N, m)
    H : ndarray, shape (m, d)
    R : ndarray, shape (m, m) or (N, m, m)

    Returns
    -------
    x, P : ndarray
        New arrays (inputs are not modified).
    """
    PHT = P @ H.T
    K = PHT @ _inv(H @ PHT + R)
    return _joseph_update(x, P, z - x @ H.T, K, K @ H, K @ R)


def _joseph_update(x: np.ndarray, P: np.ndarray, y: np.ndarray, K: np.ndarray, KH: np.ndarray,
                   KR: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x + K y`` and ``(I - K H) P (I - K H)' + K R K'`` given the innovation ``y``, gain ``K``, ``K H``, ``K R``.

    ``x`` (and ``y``) may have axes between the batch and the state dimension that share ``P`` and ``K``.
    """
    x_new = x + _gain_product(K, y)
    I_KH = np.eye(x.shape[-1]) - KH
    return x_new, I_KH @ P @ np.swapaxes(I_KH, -1, -2) + KR @ np.swapaxes(K, -1, -2)


def predict(x: np.ndarray, P: np.ndarray, model: MotionModel) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kf_predict` with the model's ``F`` and ``Q``, bit for bit, faster for constant-velocity models.

    When ``F = I + E`` adds one component to another (:attr:`MotionModel.shift`), ``F x`` and
    ``F P F'`` are computed by adding the shifted rows and columns: every entry is then the same
    single rounded sum of two terms that the matrix product forms (the other products are exact
    zeros), so the result is identical, without a batched matrix product.

    Parameters
    ----------
    x : ndarray, shape (N, d) or (N, A, d)
        Means (``A`` components sharing one covariance, see the module docstring).
    P : ndarray, shape (N, d, d)
    model : MotionModel

    Returns
    -------
    x, P : ndarray
        New arrays (inputs are not modified).
    """
    if model.shift is None:
        return kf_predict(x, P, model.F, model.Q)
    dst, src = model.shift
    x_new = x.copy()
    x_new[..., dst] += x[..., src]
    P_new = P.copy()
    P_new[:, dst, :] += P[:, src, :]
    P_new[:, :, dst] += P_new[:, :, src]
    P_new += model.Q
    return x_new, P_new


def update(x: np.ndarray, P: np.ndarray, z: np.ndarray, model: MotionModel) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kf_update` with the model's ``H`` and ``R``, bit for bit, faster when ``H`` selects components.

    With a selection ``H`` and a diagonal ``R`` (:attr:`MotionModel.measured`), ``H x``, ``P H'``,
    ``H P H'``, ``K H`` and ``K R`` are column selections, placements and scalings: the matrix
    products they replace add only exact zeros, so the result is identical.

    Parameters
    ----------
    x : ndarray, shape (N, d) or (N, A, d)
        Means (``A`` components sharing one covariance, see the module docstring).
    P : ndarray, shape (N, d, d)
    z : ndarray, shape (N, m) or (N, A, m)
    model : MotionModel

    Returns
    -------
    x, P : ndarray
        New arrays (inputs are not modified).
    """
    sel = model.measured
    if sel is None:
        return kf_update(x, P, z, model.H, model.R)
    PHT = P[:, :, sel]
    K = PHT @ _inv(PHT[:, sel, :] + model.R)
    KH = np.zeros(P.shape)
    KH[:, :, sel] = K
    return _joseph_update(x, P, z - x[..., sel], K, KH, K * np.diagonal(model.R))


def _gain_product(K: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``K y`` for a batch of matrices ``K`` (N, d, m) and vectors ``y`` (N, m) or (N, A, m).

    Each ``K[n]`` applies to all ``A`` components of ``y[n]``; the result has shape (N, d) or (N, A, d).
    """
    K = K[(slice(None),) + (None,) * (y.ndim - 2)]
    return (K @ y[..., None])[..., 0]


def _inv(S: np.ndarray) -> np.ndarray:
    """Inverse of a batch of small symmetric matrices (closed form for 1 x 1 and 2 x 2)."""
    m = S.shape[-1]
    if m == 1:
        return 1.0 / S
    if m == 2:
        a, b, c, d = S[..., 0, 0], S[..., 0, 1], S[..., 1, 0], S[..., 1, 1]
        det = a * d - b * c
        out = np.empty_like(S)
        out[..., 0, 0] = d / det
        out[..., 0, 1] = -b / det
        out[..., 1, 0] = -c / det
        out[..., 1, 1] = a / det
        return out
    return np.linalg.inv(S)


def innovation_covariance(P: np.ndarray, H: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``S = H P H' + R`` for a batch, shape (N, m, m)."""
    return H @ P @ H.T + R


def transition_powers(F: np.ndarray, Q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Transition and accumulated process noise over ``k = 0 .. n`` frames.

    Returns
    -------
    Fk : ndarray, shape (n + 1, d, d)
        ``F^k``.
    Qk : ndarray, shape (n + 1, d, d)
        ``sum_{j < k} F^j Q F^j'`` (the process noise of k blind predictions; ``Qk[0] = 0``).
    """
    d = F.shape[0]
    Fk = np.empty((n + 1, d, d))
    Qk = np.empty((n + 1, d, d))
    Fk[0] = np.eye(d)
    Qk[0] = 0.0
    for k in range(1, n + 1):
        Fk[k] = F @ Fk[k - 1]
        Qk[k] = F @ Qk[k - 1] @ F.T + Q
    return Fk, Qk


def filter_sequences(z: np.ndarray, observed: np.ndarray, lengths: np.ndarray, model: MotionModel, *,
                     velocity_std: float, store: bool = True) -> dict[str, np.ndarray]:
    """Run the Kalman filter over many sequences at once (time-major, longest first).

    Parameters
    ----------
    z : ndarray, shape (T, N, m) or (T, N, A, m)
        Measurements; ``z[t, n]`` is used where ``observed[t, n]``. With ``A``, every sequence has
        ``A`` components (e.g. the x and y axes of the per-axis model) measured at the same steps,
        which share one covariance: it is computed once for all of them, with the same result.
    observed : ndarray of bool, shape (T, N)
        Which steps have a measurement; ``observed[0, n]`` must be True (the filter starts
        from the first measurement with :func:`initial_state`).
    lengths : ndarray of int, shape (N,)
        Sequence lengths, **non-increasing** (so that the sequences alive at step ``t``
        are the first ``sum(lengths > t)``); steps ``t >= lengths[n]`` are ignored.
    model : MotionModel
    velocity_std : float
        Prior velocity standard deviation of :func:`initial_state`, px/frame.
    store : bool
        Keep every step (needed for :func:`rts_smooth_sequences`); otherwise only the
        final state of each sequence is returned.

    Returns
    -------
    dict
        ``x_last`` (N, d), ``P_last`` (N, d, d): filtered state at each sequence's last step;
        with ``store``: ``xf``, ``Pf`` (filtered, shape (T, N, d[, d])) and ``xp``, ``Pp``
        (predicted priors; ``xp[0] = xf[0]``). With ``A`` components the means get the
        ``A`` axis: (N, A, d) and (T, N, A, d).
    """
    T, N = observed.shape
    lengths = np.asarray(lengths)
    if N and np.any(np.diff(lengths) > 0):
        raise ValueError("lengths must be non-increasing")
    if compiled.available() and _per_axis(model) and T and N and lengths.max() <= T:
        # the same filter, sequence by sequence in one compiled loop (the offline steps' hot path)
        axes = z if z.ndim == 4 else z[:, :, None]
        out = compiled.filter_axes(axes, observed, lengths, model.Q, float(model.R[0, 0]), velocity_std, store)
        if z.ndim == 3:
            out = {k: v[..., 0, :] if k.startswith("x") else v for k, v in out.items()}
        return out
    d = model.dim_x
    mean_shape = (N,) + z.shape[2:-1] + (d,)
    alive = np.searchsorted(-lengths, -np.arange(T), side="left")  # sequences with length > t
    x_last = np.empty(mean_shape)
    P_last = np.empty((N, d, d))
    out: dict[str, np.ndarray] = {}
    if store:
        xf = np.full((T,) + mean_shape, np.nan)
        Pf = np.full((T, N, d, d), np.nan)
        xp = np.full((T,) + mean_shape, np.nan)
        Pp = np.full((T, N, d, d), np.nan)
    if T == 0 or N == 0:
        out.update(x_last=x_last, P_last=P_last)
        if store:
            out.update(xf=xf, Pf=Pf, xp=xp, Pp=Pp)
        return out
    x, P = initial_state(z[0], model, velocity_std=velocity_std)
    if store:
        xp[0], Pp[0] = x, P
        xf[0], Pf[0] = x, P
    ends = lengths - 1
    for t in range(T):
        n = int(alive[t])
        if n == 0:
            break
        if t > 0:
            x, P = predict(x[:n], P[:n], model)
            if store:
                xp[t, :n], Pp[t, :n] = x, P
            obs = observed[t, :n]
            if obs.all():
                x, P = update(x, P, z[t, :n], model)
            elif obs.any():
                idx = np.flatnonzero(obs)
                x = x.copy()
                P = P.copy()
                x[idx], P[idx] = update(x[idx], P[idx], z[t, idx], model)
        if store:
            xf[t, :n], Pf[t, :n] = x, P
        done = np.flatnonzero(ends[:n] == t)
        if done.size:
            x_last[done] = x[done]
            P_last[done] = P[done]
    out.update(x_last=x_last, P_last=P_last)
    if store:
        out.update(xf=xf, Pf=Pf, xp=xp, Pp=Pp)
    return out


_AXIS_F = np.array([[1.0, 1.0], [0.0, 1.0]])
"""Transition of the per-axis constant-velocity model ``[p, v]`` (the one the compiled filter and smoother run)."""


def _per_axis(model: MotionModel) -> bool:
    """True for the per-axis constant-velocity model ``[p, v]`` measured in ``p`` (what the compiled filter runs)."""
    return (np.array_equal(model.F, _AXIS_F) and np.array_equal(model.H, [[1.0, 0.0]])
            and model.R.shape == (1, 1) and model.Q.shape == (2, 2))


def rts_smooth_sequences(filtered: dict[str, np.ndarray], lengths: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Rauch-Tung-Striebel backward pass over the output of :func:`filter_sequences`.

    ``C_t = Pf_t F' (Pp_{t+1})^-1``, ``xs_t = xf_t + C_t (xs_{t+1} - xp_{t+1})``,
    starting from ``xs_{L-1} = xf_{L-1}`` at each sequence's last step. The gains ``C_t``
    do not depend on the smoothed means, so they are computed for every step at once
    (NaN beyond each sequence's end); only the means are recursed step by step.

    Parameters
    ----------
    filtered : dict
        ``xf``, ``Pf``, ``xp``, ``Pp`` from :func:`filter_sequences` with ``store=True``.
    lengths : ndarray of int, shape (N,)
        The same non-increasing lengths.
    F : ndarray, shape (d, d)

    Returns
    -------
    ndarray, shape (T, N, d) or (T, N, A, d)
        Smoothed means, shaped as ``xf`` (NaN beyond each sequence's end).
    """
    xf, Pf, xp, Pp = filtered["xf"], filtered["Pf"], filtered["xp"], filtered["Pp"]
    T, N = xf.shape[:2]
    if (compiled.available() and np.array_equal(F, _AXIS_F) and T and N
            and np.max(lengths) <= T):  # the same recursion, sequence by sequence, compiled
        if xf.ndim == 4:
            return compiled.rts_axes(filtered, lengths, F)
        axes = {k: v[:, :, None] if k.startswith("x") else v for k, v in filtered.items()}
        return compiled.rts_axes(axes, lengths, F)[:, :, 0]
    xs = xf.copy()
    alive = np.searchsorted(-np.asarray(lengths), -np.arange(T), side="left").tolist()  # sequences with length > t
    C = Pf[:-1] @ F.T @ _inv(Pp[1:])  # C[t] = C_t
    for t in range(T - 2, -1, -1):
        n = alive[t + 1]
        if n == 0:
            continue
        xs[t, :n] = xf[t, :n] + _gain_product(C[t, :n], xs[t + 1, :n] - xp[t + 1, :n])
    return xs
