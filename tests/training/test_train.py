"""Training: settings validation, and one offline epoch on a tiny synthetic data set."""

from __future__ import annotations

import json
import socket

import pytest

from spermtrack.detectors import TrainConfig, YoloDetector
from spermtrack.training import export_checkpoint, train_detector
from spermtrack.errors import InputError


@pytest.mark.parametrize("kw, match", [
    ({"model": "yolov9z"}, "must be one of yolov5n"),
    ({"model": "missing.pt"}, "model file not found"),
    ({"imgsz": 100}, "multiple of 32"),
    ({"epochs": 0}, "epochs"),
    ({"batch": 2.5}, "integer"),
    ({"flipud": 2}, "flipud"),
])
def test_train_config_validation(kw, match):
    with pytest.raises(InputError, match=match):
        TrainConfig(**kw)
    assert TrainConfig().to_dict()["model"] == "yolov5n"


def test_unknown_training_option(tiny_dataset, tmp_path):
    with pytest.raises(InputError, match="unknown training option.*mosiac"):
        train_detector(tiny_dataset, out_dir=tmp_path, mosiac=0.5)


@pytest.fixture()
def no_network(monkeypatch):
    """Every socket connection or DNS lookup fails, as on a machine without network; attempts are recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.mark.heavy
def test_one_epoch_offline(tiny_dataset, tmp_path, capfd, no_network):
    report = train_detector(tiny_dataset, out_dir=tmp_path / "run", model="yolov5n", epochs=1, imgsz=128, batch=4,
                            workers=0, val_videos=["3"], verbose=False)
    log = capfd.readouterr()
    text = log.out + log.err
    assert "Downloading" not in text and "download" not in text.lower()
    assert no_network == []  # not even an attempt (a font check would try requests.head)
    assert report["train_videos"] == ["1", "2"] and report["val_videos"] == ["3"]
    assert report["train_images"] == 8 and report["val_images"] == 4 and report["epochs_run"] == 1
    for key in ("mAP50", "mAP50_95", "precision", "recall"):
        assert 0.0 <= report[key] <= 1.0
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["mAP50"] == report["mAP50"] and saved["config"]["imgsz"] == 128
    assert not (tmp_path / "runs").exists()

    small = export_checkpoint(report["weights"], tmp_path / "small.pt", info={"note": "test"})
    det = YoloDetector(weights=str(small))
    assert det.config.imgsz == 128 and det.class_names == {0: "sperm", 1: "cluster", 2: "pinhead"}
    from ultralytics.nn.tasks import torch_safe_load

    ckpt, _ = torch_safe_load(str(small), safe_only=True)  # the exported file is weights_only-loadable
    assert ckpt["spermtrack"] == {"note": "test"} and ckpt["optimizer"] is None
    assert "/" not in str(ckpt["train_args"]["data"])
