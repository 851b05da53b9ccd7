"""Golden files: a fixed-seed synthetic clip through the command line gives the stored results.

An unintended change of tracks, kinematics or leaderboard shows up here as a diff. If a change is
intended, regenerate with ``python tests/golden/make_golden.py`` and say so in the commit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.produce(tmp_path_factory.mktemp("golden"))


def _same_table(new: pd.DataFrame, old: pd.DataFrame) -> None:
    assert list(new.columns) == list(old.columns) and len(new) == len(old)
    for col in old.columns:
        a, b = new[col].to_numpy(), old[col].to_numpy()
        if old[col].dtype.kind in "fi" and new[col].dtype.kind in "fi":
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=0, atol=2e-6, equal_nan=True,
                                       err_msg=col)
        else:
            assert [str(v) for v in a] == [str(v) for v in b], col


@pytest.mark.parametrize("name", ["tracks.csv", "leaderboard.csv"])
def test_tables_match_the_golden_files(produced, name):
    _same_table(produced[name].reset_index(drop=True), pd.read_csv(GOLDEN / name))


def test_kinematics_summary_matches_the_golden_file(produced):
    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    new = dict(flat(json.loads(json.dumps(produced["summary.json"]))))
    old = dict(flat(json.loads((GOLDEN / "summary.json").read_text())))
    assert set(new) == set(old)
    for key, value in old.items():
        if isinstance(value, float):
            assert new[key] == pytest.approx(value, abs=2e-6), key
        else:
            assert new[key] == value, key
