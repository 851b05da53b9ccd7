"""Peer trackers behind spermtrack's tracker interface, for benchmarks.

Every peer is used as its authors ship it, through its public API; nothing is
copied into this code base. Each is an optional extra: a peer whose package is
not installed is reported by :func:`available_peers` and raises a clear error
when asked for.

=================  =========================================  ==========================
name               implementation                             package
=================  =========================================  ==========================
``bytetrack``      ``trackers.ByteTrackTracker``               roboflow ``trackers``
``ocsort``         ``trackers.OCSORTTracker``                  roboflow ``trackers``
``botsort``        ``trackers.BoTSORTTracker`` (no CMC)        roboflow ``trackers``
``sort-rf``        ``trackers.SORTTracker``                    roboflow ``trackers``
``ul-bytetrack``   ``ultralytics.trackers.BYTETracker``        ``ultralytics``
``ul-botsort``     ``ultralytics.trackers.BOTSORT`` (no GMC)   ``ultralytics``
``trackpy``        ``trackpy.link`` (nearest-neighbour LAP)   ``trackpy``
=================  =========================================  ==========================

boxmot is not offered: its 25.0.0 release pins ``pandas<3``, ``opencv-python<5``
and ``filterpy<2``, which would downgrade spermtrack's own dependencies.

Peers run with their shipped defaults except for the frame rate, which is set
from the data where a peer takes one (ultralytics' trackers count their buffer
in frames and take none), and camera-motion compensation, which needs frames and is off in
detection-only benchmarks. Rows a peer leaves untracked get ``track_id == -1``.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from spermtrack.errors import InputError
from spermtrack.schema import validate_detections

_ROBOFLOW = {"bytetrack": "ByteTrackTracker", "ocsort": "OCSORTTracker", "botsort": "BoTSORTTracker",
             "sort-rf": "SORTTracker"}
_ULTRALYTICS = {"ul-bytetrack": "bytetrack", "ul-botsort": "botsort"}
PEER_PACKAGES: dict[str, str] = {**{k: "trackers" for k in _ROBOFLOW}, **{k: "ultralytics" for k in _ULTRALYTICS},
                                 "trackpy": "trackpy"}


def available_peers() -> dict[str, bool]:
    """Return ``{peer name: installed?}`` for every known peer."""
    return {name: importlib.util.find_spec(pkg) is not None for name, pkg in PEER_PACKAGES.items()}


def _boxes_xyxy(frame: pd.DataFrame) -> np.ndarray:
    x, y, w, h = (frame[c].to_numpy(np.float64) for c in ("x", "y", "w", "h"))
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1).reshape(-1, 4)


class _RoboflowPeer:
    """A roboflow ``trackers`` tracker driven frame by frame."""

    def __init__(self, name: str, *, fps: float):
        import trackers

        kwargs: dict = {"frame_rate": float(fps)}
        if name == "botsort":
            kwargs["enable_cmc"] = False
        self._make = lambda: getattr(trackers, _ROBOFLOW[name])(**kwargs)
        self._tracker = self._make()

    def reset(self) -> None:
        self._tracker = self._make()

    def ids(self, frame: pd.DataFrame) -> np.ndarray:
        import supervision as sv

        n = len(frame)
        out = np.full(n, -1, dtype=np.int64)
        dets = sv.Detections(xyxy=_boxes_xyxy(frame), confidence=frame["score"].to_numpy(np.float32),
                             class_id=np.zeros(n, dtype=int), data={"row": np.arange(n)})
        result = self._tracker.update(dets)
        if len(result):
            out[np.asarray(result.data["row"], dtype=np.int64)] = np.asarray(result.tracker_id, dtype=np.int64)
        return out


class _NumpyBoxes:
    """The minimal Results-like object ultralytics' trackers read (``conf``, ``cls``, ``xywh``)."""

    def __init__(self, xywh: np.ndarray, conf: np.ndarray, cls: np.ndarray):
        self.xywh, self.conf, self.cls = xywh, conf, cls

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> _NumpyBoxes:
        return _NumpyBoxes(self.xywh[index], self.conf[index], self.cls[index])


class _UltralyticsPeer:
    """ultralytics' BYTETracker or BOTSORT driven frame by frame, configured from its shipped yaml."""

    def __init__(self, name: str, *, fps: float):
        from pathlib import Path

        import yaml
        from ultralytics.trackers import BOTSORT, BYTETracker
        import ultralytics

        kind = _ULTRALYTICS[name]
        cfg_path = Path(ultralytics.__file__).parent / "cfg" / "trackers" / f"{kind}.yaml"
        cfg = yaml.safe_load(cfg_path.read_text())
        if kind == "botsort":
            cfg["gmc_method"] = "none"
            cfg["with_reid"] = False
        args = SimpleNamespace(**cfg)
        cls = BOTSORT if kind == "botsort" else BYTETracker
        self._make = lambda: cls(args)
        self._tracker = self._make()

    def reset(self) -> None:
        self._tracker = self._make()

    def ids(self, frame: pd.DataFrame) -> np.ndarray:
        n = len(frame)
        out = np.full(n, -1, dtype=np.int64)
        xywh = frame[["x", "y", "w", "h"]].to_numpy(np.float32).reshape(-1, 4)
        boxes = _NumpyBoxes(xywh, frame["score"].to_numpy(np.float32), np.zeros(n, dtype=np.float32))
        result = self._tracker.update(boxes)
        if len(result):
            out[result[:, -1].astype(np.int64)] = result[:, 4].astype(np.int64)
        return out


@dataclass
class PeerTracker:
    """A peer tracker with spermtrack's streaming interface.

    Parameters
    ----------
    name : str
        One of :data:`PEER_PACKAGES` except ``trackpy`` (which links whole tables; use :func:`track_peer`).
    fps : float
        Frame rate of the data, passed to peers that scale their buffers by it.
    """

    name: str
    fps: float = 50.0

    def __post_init__(self) -> None:
        if self.name not in PEER_PACKAGES or self.name == "trackpy":
            valid = ", ".join(n for n in PEER_PACKAGES if n != "trackpy")
            raise InputError(f"unknown streaming peer tracker {self.name!r}; choose one of {valid}")
        _require(self.name)
        self._impl = (_RoboflowPeer if self.name in _ROBOFLOW else _UltralyticsPeer)(self.name, fps=self.fps)

    def reset(self) -> None:
        """Forget all tracks and restart ids."""
        self._impl.reset()

    def update(self, frame_detections: pd.DataFrame) -> pd.DataFrame:
        """Track one frame: return its rows with ``track_id`` (-1 where the peer reports none)."""
        out = frame_detections.copy()
        out["track_id"] = self._impl.ids(frame_detections) if len(frame_detections) else np.zeros(0, np.int64)
        return out

    def track(self, detections: pd.DataFrame) -> pd.DataFrame:
        """Track a whole table, frame by frame, from a fresh state (the streaming state is kept)."""
        return track_peer(detections, self.name, fps=self.fps)

    def to_dict(self) -> dict:
        """Name, package and frame rate, for provenance."""
        return {"tracker": self.name, "peer": PEER_PACKAGES[self.name], "fps": self.fps}


@dataclass
class TrackpyLinker:
    """trackpy's linker (``trackpy.link``): it links a whole table at once, so it has no streaming update.

    Parameters
    ----------
    search_range : float
        Largest displacement per frame, px.
    memory : int
        Frames a particle may vanish and keep its id.
    """

    search_range: float = 15.0
    memory: int = 3
    name: str = "trackpy"

    def __post_init__(self) -> None:
        from spermtrack._validate import integer, number

        self.search_range = number("TrackpyLinker", "search_range", self.search_range, lo=0, lo_open=True)
        self.memory = integer("TrackpyLinker", "memory", self.memory, lo=0)
        _require("trackpy")

    def update(self, frame_detections: pd.DataFrame) -> pd.DataFrame:
        """Not available: trackpy links whole tables (use :meth:`track`)."""
        raise InputError("the trackpy linker has no frame-by-frame mode: track the whole table (track())")

    def reset(self) -> None:
        """Nothing to forget (no streaming state)."""

    def track(self, detections: pd.DataFrame) -> pd.DataFrame:
        """Link a whole table with ``trackpy.link``."""
        return track_peer(detections, "trackpy", search_range=self.search_range, memory=self.memory)

    def to_dict(self) -> dict:
        """Settings, for provenance."""
        return {"tracker": self.name, "peer": "trackpy", "search_range": self.search_range, "memory": self.memory}


def _require(name: str) -> None:
    if not available_peers()[name]:
        raise InputError(f"peer tracker {name!r} needs the package {PEER_PACKAGES[name]!r}: "
                         f"pip install {PEER_PACKAGES[name]}")


def _track_frames(detections: pd.DataFrame, update: Callable[[pd.DataFrame], np.ndarray]) -> np.ndarray:
    order = np.argsort(detections["frame"].to_numpy(), kind="stable")
    frames = detections["frame"].to_numpy()[order]
    ids = np.full(len(detections), -1, dtype=np.int64)
    if len(frames) == 0:
        return ids
    starts = np.searchsorted(frames, np.arange(frames[0], frames[-1] + 2))
    for lo, hi in zip(starts[:-1], starts[1:]):
        rows = order[lo:hi]
        ids[rows] = update(detections.iloc[rows])
    return ids


def _trackpy_ids(detections: pd.DataFrame, *, search_range: float, memory: int) -> np.ndarray:
    import trackpy

    trackpy.quiet()
    table = pd.DataFrame({"frame": detections["frame"].to_numpy(), "x": detections["x"].to_numpy(),
                          "y": detections["y"].to_numpy(), "row": np.arange(len(detections))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # adaptive_stop: trackpy's documented remedy for oversize subnetworks in dense frames
        linked = trackpy.link(table, search_range, memory=memory, adaptive_stop=0.2 * search_range)
    ids = np.full(len(detections), -1, dtype=np.int64)
    ids[linked["row"].to_numpy()] = linked["particle"].to_numpy(np.int64) + 1
    return ids


def track_peer(detections: pd.DataFrame, name: str, *, fps: float = 50.0, search_range: float = 15.0,
               memory: int = 3) -> pd.DataFrame:
    """Track a whole detections table with a peer tracker.

    Parameters
    ----------
    detections : pandas.DataFrame
        Detections table (contract columns); extra columns are carried through.
    name : str
        A peer name from :data:`PEER_PACKAGES`.
    fps : float
        Frame rate of the data.
    search_range : float
        trackpy only: maximum displacement per frame in px.
    memory : int
        trackpy only: frames a particle may vanish and keep its id.

    Returns
    -------
    pandas.DataFrame
        The input rows in input order with ``track_id`` added (-1 where untracked).
    """
    dets = validate_detections(detections)
    if name == "trackpy":
        _require(name)
        ids = _trackpy_ids(dets, search_range=search_range, memory=memory) if len(dets) else np.zeros(0, np.int64)
    else:
        peer = PeerTracker(name, fps=fps)
        ids = _track_frames(dets, peer._impl.ids)
    out = dets.copy()
    out["track_id"] = ids
    return out
