"""Peer trackers behind spermtrack's interface (skipped where the optional package is missing)."""

import numpy as np
import pandas as pd
import pytest

from spermtrack.errors import InputError
from spermtrack.tracker.peers import PEER_PACKAGES, PeerTracker, available_peers, track_peer

AVAILABLE = available_peers()


def _two_walkers(n_frames: int = 30) -> pd.DataFrame:
    rows = []
    for gt, (x0, y0, vx, vy) in enumerate([(50.0, 50.0, 2.0, 0.5), (300.0, 200.0, -1.5, 1.0)]):
        for f in range(n_frames):
            rows.append({"frame": f, "x": x0 + vx * f, "y": y0 + vy * f, "w": 20.0, "h": 20.0, "score": 0.9,
                         "class_id": 0, "gt": gt})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)


@pytest.mark.parametrize("name", sorted(PEER_PACKAGES))
def test_peer_keeps_every_row_and_separates_two_walkers(name):
    if not AVAILABLE[name]:
        pytest.skip(f"{PEER_PACKAGES[name]} not installed")
    dets = _two_walkers()
    out = track_peer(dets, name, fps=50.0)
    assert len(out) == len(dets)
    assert (out.index == dets.index).all()
    tracked = out[out["track_id"] >= 0]
    assert not tracked.duplicated(["frame", "track_id"]).any()
    assert len(tracked) >= 0.8 * len(dets)
    # every id stays on one walker
    assert (tracked.groupby("track_id")["gt"].nunique() == 1).all()
    assert tracked["track_id"].nunique() == 2


def test_unknown_peer_is_a_clear_error():
    with pytest.raises(InputError, match="unknown streaming peer"):
        PeerTracker("deepsort")


def test_peer_on_empty_table():
    name = next((n for n, ok in AVAILABLE.items() if ok and n != "trackpy"), None)
    if name is None:
        pytest.skip("no streaming peer installed")
    empty = pd.DataFrame({c: [] for c in ["frame", "x", "y", "w", "h", "score", "class_id"]})
    out = track_peer(empty, name)
    assert len(out) == 0 and "track_id" in out.columns
    assert np.issubdtype(out["track_id"].dtype, np.integer)
