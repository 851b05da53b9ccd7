"""Multi-object tracker for small look-alike objects: detections table in, tracks table out.

A constant-velocity Kalman filter vectorised over all tracks, gated Hungarian
assignment (``lap.lapjv``) on centre distance, Mahalanobis distance or IoU with
ByteTrack-style two-stage matching and OC-SORT-style observation-centric re-update,
and, in batch mode, gap closing, back-filling, encounter swaps and RTS smoothing (see
:mod:`~spermtrack.tracker.online` and :mod:`~spermtrack.tracker.offline`). Batch tracking runs the
same engine compiled with numba where it is installed (:mod:`~spermtrack.tracker.compiled`).

Entry points
------------
:func:`make_tracker`
    The registry: a tracker by name (spermtrack's presets and the peers), all with one protocol
    (``update``, ``reset``, ``track``, ``to_dict``); every command resolves names here.
:class:`Tracker`
    Streaming: ``Tracker(config).update(frame_detections)`` returns that frame's rows
    with ``track_id``; ``reset()`` starts over.
:func:`track`
    Batch: ``track(detections, "sperm", **overrides)`` returns the whole tracks table.

Both take a :class:`TrackerConfig` or a preset name from :data:`TRACKER_PRESETS`
(:func:`get_config`). Tables follow :mod:`spermtrack.schema`; rows not (yet) in a
confirmed track have ``track_id == -1`` and ``confirmed == False``.
"""

from spermtrack.tracker.batch import explain_no_tracks, track
from spermtrack.tracker.config import TRACKER_PRESETS, TrackerConfig, get_config, motion_from_physical
from spermtrack.tracker.kalman import constant_velocity_model, kf_predict, kf_update
from spermtrack.tracker.online import Tracker
from spermtrack.tracker.registry import (DEFAULT_TRACKER, TrackerProtocol, available_trackers, make_tracker,
                                         tracker_names)

__all__ = ["DEFAULT_TRACKER", "TRACKER_PRESETS", "Tracker", "TrackerConfig", "TrackerProtocol", "available_trackers",
           "constant_velocity_model", "explain_no_tracks", "get_config", "kf_predict", "kf_update", "make_tracker",
           "motion_from_physical", "track", "tracker_names"]
