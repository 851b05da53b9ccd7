"""cnnmean: the mean of the CNN regressors, trained or referring to the shipped checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from spermtrack.errors import InputError
from spermtrack.regressors import FOUR, VideoInputs, load_regressor, make_regressor, shipped_checkpoint

pytest.importorskip("torch")


def _videos(n: int, *, height: int = 60, width: int = 80, flow: int = 32, seed: int = 0) -> list[VideoInputs]:
    rng = np.random.default_rng(seed)
    return [VideoInputs(f"v{i}", frames=rng.integers(0, 255, (24, height, width), dtype=np.uint8), frame_step_s=0.04,
                        flow=rng.normal(size=(3, 8, flow, flow)).astype(np.float32)) for i in range(n)]


def test_it_predicts_the_mean_of_its_members_and_survives_a_checkpoint(tmp_path):
    videos = _videos(4)
    y = np.random.default_rng(1).dirichlet(np.ones(3), 3)
    model = make_regressor("cnnmean", quick=True, members=["flow2d", "aefeat"]).fit(videos[:3], y)
    assert list(model.members_) == ["flow2d", "aefeat"]
    members = [m.predict(videos) for m in model.members_.values()]
    np.testing.assert_allclose(model.predict(videos), (members[0] + members[1]) / 2, atol=1e-12)
    assert model.frames_needed() == 4                          # aefeat's quick stack of 4 frames; flow2d needs 2
    loaded, _ = load_regressor(model.save(tmp_path / "m.pt"), expect="cnnmean")
    assert loaded.reference_ is None
    np.testing.assert_allclose(loaded.predict(videos), model.predict(videos), atol=1e-6)


@pytest.mark.parametrize("members", [["flow2d"], ["flow2d", "flow2d"], ["flow2d", "trackfeat"], "flow2d"])
def test_members_must_be_two_or_three_different_cnns(members):
    with pytest.raises(InputError, match="CNNMeanConfig.members"):
        make_regressor("cnnmean", members=members)


def test_the_shipped_mean_refers_to_the_shipped_cnns(tmp_path):
    import torch

    path = shipped_checkpoint("cnnmean")
    assert path.stat().st_size < 20_000                       # names and hashes, no weights
    model, inputs = load_regressor(path, expect="cnnmean")
    assert model.categories == FOUR and inputs["frame_width"] == 160
    videos = _videos(2, height=120, width=160, flow=64)
    members = [load_regressor(shipped_checkpoint(m), expect=m)[0].predict(videos) for m in ("flow2d", "r3d18", "aefeat")]
    np.testing.assert_allclose(model.predict(videos), np.mean(members, axis=0), atol=1e-6)
    # saved again, it still refers to the shipped files
    again = model.save(tmp_path / "again.pt")
    assert again.stat().st_size < 20_000 and load_regressor(again)[0].reference_ == model.reference_
    # a member replaced after the mean was measured: refused in one line
    payload = torch.load(path, weights_only=True)
    payload["state"]["r3d18.shipped"] = "0" * 64
    torch.save(payload, tmp_path / "stale.pt")
    with pytest.raises(InputError, match="the shipped r3d18 checkpoint is not the one this mean was measured with"):
        load_regressor(tmp_path / "stale.pt")


def test_the_shipped_members_are_found_whatever_the_working_directory_holds(tmp_path, monkeypatch):
    (tmp_path / "flow2d").mkdir()                             # e.g. 'regress train ... --out flow2d'
    (tmp_path / "r3d18").write_text("not a checkpoint")
    monkeypatch.chdir(tmp_path)
    model, _ = load_regressor(shipped_checkpoint("cnnmean"), expect="cnnmean")
    assert set(model.members_) == {"flow2d", "r3d18", "aefeat"} and model.reference_ is not None


def test_a_member_whose_state_does_not_fit_is_named(tmp_path):
    import torch

    y = np.random.default_rng(1).dirichlet(np.ones(3), 2)
    path = make_regressor("cnnmean", quick=True, members=["flow2d", "r3d18"]).fit(_videos(2), y).save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    del payload["state"]["r3d18.net"]
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(InputError, match="member r3d18: its state has no 'net'"):
        load_regressor(tmp_path / "bad.pt")
