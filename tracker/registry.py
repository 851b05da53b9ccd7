"""The one place where a tracker name becomes a tracker: :func:`make_tracker`.

Every command (``track``, ``benchmark``, ``demo``, the Python API and the benchmark scripts)
resolves tracker names here, so a name means the same thing everywhere.

=================  ==============================================================================
name               tracker
=================  ==============================================================================
``sperm``          spermtrack's tracker, the default (:data:`DEFAULT_TRACKER`): Kalman + Hungarian
                   with gap closing, back-filling, encounter swaps, smoothing, interpolation
``sperm_online``   the same engine without any offline step (what streaming gives)
``sort``           SORT (Bewley et al. 2016) in spermtrack's engine: IoU, filtered boxes
``iou_bytetrack``  a ByteTrack-like IoU preset in spermtrack's engine
``bytetrack``,     peers: roboflow ``trackers`` (ByteTrack, OC-SORT, BoT-SORT, SORT), ultralytics'
``ocsort``, ...    trackers and trackpy's linker (:mod:`spermtrack.tracker.peers`)
=================  ==============================================================================

Every tracker follows :class:`TrackerProtocol`: ``update(frame_detections)`` (streaming),
``reset()``, ``track(detections)`` (a whole table; spermtrack's presets add their offline steps
there) and ``to_dict()`` (settings, saved beside every output).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pandas as pd

from spermtrack.errors import InputError
from spermtrack.tracker.config import DEFAULT_TRACKER

__all__ = ["DEFAULT_TRACKER", "PresetTracker", "TrackerProtocol", "available_trackers", "make_tracker", "tracker_help",
           "tracker_names"]



@runtime_checkable
class TrackerProtocol(Protocol):
    """What every tracker offers (spermtrack's presets and the peers alike)."""

    name: str

    def update(self, detections: pd.DataFrame) -> pd.DataFrame:
        """Track one frame; return its rows with ``track_id``."""

    def reset(self) -> None:
        """Forget all tracks."""

    def track(self, detections: pd.DataFrame) -> pd.DataFrame:
        """Track a whole detections table; return the tracks table."""

    def to_dict(self) -> dict:
        """Settings, for provenance."""


class PresetTracker:
    """spermtrack's engine under a preset name, behind :class:`TrackerProtocol`.

    ``update``/``reset`` stream through :class:`~spermtrack.tracker.Tracker` (online steps only);
    ``track`` runs :func:`~spermtrack.tracker.track` on a whole table with the preset's offline steps
    (gap closing, back-filling, encounter swaps, smoothing, interpolation), independent of the streaming state.

    Parameters
    ----------
    name : str
        A preset of :data:`~spermtrack.tracker.config.TRACKER_PRESETS`.
    fps, um_per_px : float, optional
        Calibration the preset's motion parameters are rescaled to.
    **overrides
        :class:`~spermtrack.tracker.config.TrackerConfig` parameters to change.
    """

    def __init__(self, name: str, *, fps: float | None = None, um_per_px: float | None = None,
                 **overrides: Any) -> None:
        from spermtrack.tracker.config import get_config
        from spermtrack.tracker.online import Tracker

        self.name = name
        self.config = get_config(name, fps=fps, um_per_px=um_per_px, **overrides)
        #: The config the last :meth:`track` ran with (its birth score resolved from the scores).
        self.used_config = self.config
        self._stream = Tracker(self.config)

    def update(self, detections: pd.DataFrame) -> pd.DataFrame:
        """Track one frame (see :meth:`Tracker.update <spermtrack.tracker.Tracker.update>`)."""
        return self._stream.update(detections)

    def reset(self) -> None:
        """Forget all tracks of the streaming state."""
        self._stream.reset()

    def track(self, detections: pd.DataFrame) -> pd.DataFrame:
        """Track a whole table, offline steps included."""
        from spermtrack.tracker.batch import track
        from spermtrack.tracker.online import detection_arrays

        self.used_config = self.config.adapted(detection_arrays(detections)[2])
        return track(detections, self.used_config)

    def to_dict(self) -> dict:
        """Name and settings (px/frame for this recording; those of the last :meth:`track`), for provenance."""
        return {"tracker": self.name, **self.used_config.to_dict()}


def tracker_names() -> tuple[str, ...]:
    """Every name :func:`make_tracker` accepts: spermtrack's presets, then the peers."""
    from spermtrack.tracker.config import TRACKER_PRESETS
    from spermtrack.tracker.peers import PEER_PACKAGES

    return tuple(TRACKER_PRESETS) + tuple(PEER_PACKAGES)


def tracker_help() -> str:
    """One sentence naming every tracker (:func:`tracker_names`) and the default, for help texts."""
    from spermtrack.tracker.config import TRACKER_PRESETS
    from spermtrack.tracker.peers import PEER_PACKAGES

    ours = [n for n in TRACKER_PRESETS if n != DEFAULT_TRACKER]
    peers = ", ".join(f"{n} ({PEER_PACKAGES[n]})" for n in PEER_PACKAGES)
    return (f"spermtrack's tracker '{DEFAULT_TRACKER}' (default), its variants {', '.join(map(repr, ours))}, or a "
            f"peer: {peers}")


def available_trackers() -> dict[str, bool]:
    """``{name: usable here?}``: spermtrack's presets always; a peer when its package is installed."""
    from spermtrack.tracker.config import TRACKER_PRESETS
    from spermtrack.tracker.peers import available_peers

    return {**{name: True for name in TRACKER_PRESETS}, **available_peers()}


def make_tracker(name: str = DEFAULT_TRACKER, *, fps: float | None = None, um_per_px: float | None = None,
                 **options: Any) -> TrackerProtocol:
    """Build a tracker by name.

    Parameters
    ----------
    name : str
        One of :func:`tracker_names` (see the module docstring).
    fps, um_per_px : float, optional
        Calibration of the recording. spermtrack's presets rescale their motion parameters to it;
        peers that count time in frames take ``fps`` (``um_per_px`` does not concern them).
    **options
        spermtrack presets: :class:`~spermtrack.tracker.config.TrackerConfig` parameters to change;
        ``trackpy``: ``search_range``, ``memory``; other peers take none.

    Returns
    -------
    TrackerProtocol

    Raises
    ------
    InputError
        An unknown name (the message lists them), a misspelt option, a bad value, or a peer whose
        package is not installed.
    """
    from spermtrack.tracker.config import TRACKER_PRESETS
    from spermtrack.tracker.peers import PEER_PACKAGES, PeerTracker, TrackpyLinker

    if name in TRACKER_PRESETS:
        return PresetTracker(name, fps=fps, um_per_px=um_per_px, **options)
    if name == "trackpy":
        return TrackpyLinker(**options)
    if name in PEER_PACKAGES:
        if options:
            raise InputError(f"the peer tracker {name} takes no options, got {', '.join(sorted(options))}")
        return PeerTracker(name, fps=50.0 if fps is None else float(fps))
    raise InputError(f"unknown tracker {name!r}; choose one of {', '.join(tracker_names())}")
