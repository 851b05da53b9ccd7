"""Pixel size: detectors resample frames to the scale they were fitted at and map detections back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spermtrack.detectors import BlobDetector, make_detector, with_pixel_size
from spermtrack.detectors.base import REFERENCE_UM_PER_PX, pixel_scale, resample, unscale
from spermtrack.detectors.yolo import inference_size
from spermtrack.errors import InputError
from spermtrack.eval.detection import match_centres

HEADS = [(30.3, 40.7), (80.0, 25.25), (120.6, 90.1), (55.5, 95.5)]


def test_pixel_scale_is_relative_to_visem():
    assert REFERENCE_UM_PER_PX == 0.351
    assert pixel_scale(None) == 1.0
    assert pixel_scale(0.702) == pytest.approx(2.0)
    assert pixel_scale(0.1755) == pytest.approx(0.5)


def test_resample_and_unscale_keep_pixel_centres():
    image = np.zeros((48, 64), np.uint8)
    assert resample(image, 1.0) is image
    assert resample(image, 0.5).shape == (24, 32) and resample(image, 2.0).shape == (96, 128)
    table = pd.DataFrame({"frame": [0], "x": [9.5], "y": [3.5], "w": [10.0], "h": [8.0], "score": [1.0], "class_id": [0]})
    back = unscale(table, 2.0)
    # pixel 9.5 of a 2x frame covers the original's 4.5 (centres of pixels map to centres)
    assert back.loc[0, ["x", "y", "w", "h"]].tolist() == [4.5, 1.5, 5.0, 4.0]
    assert unscale(table, 1.0) is table


@pytest.mark.parametrize("zoom", [0.5, 2.0])
def test_blob_at_another_pixel_size_finds_the_same_heads(heads, zoom):
    """Heads drawn at ``zoom`` times VISEM's magnification are found where they are, given the pixel size."""
    centres = [((x + 0.5) * zoom - 0.5, (y + 0.5) * zoom - 0.5) for x, y in HEADS]
    frame = heads(centres, width=int(160 * zoom), height=int(120 * zoom), sigma=(3.0 * zoom, 2.0 * zoom))
    det = BlobDetector(um_per_px=REFERENCE_UM_PER_PX / zoom).detect(frame)
    truth = pd.DataFrame(np.asarray(centres), columns=["x", "y"])
    matched = match_centres(truth, det.drop(columns="frame"), max_dist=2 * zoom)
    assert len(det) == len(HEADS) and len(matched) == len(HEADS), det
    assert (det["w"] == 22.0 * zoom).all()  # boxes in the frame's own pixels


@pytest.mark.parametrize("zoom, wrong_class", [(2.0, 1), (0.5, 2)])
def test_blob_without_the_pixel_size_misclasses_heads(heads, zoom, wrong_class):
    """Why the option exists: taken at VISEM's scale, 2x heads read as clusters and 0.5x heads as pinheads."""
    frame = heads([(zoom * x, zoom * y) for x, y in HEADS], width=int(160 * zoom), height=int(120 * zoom),
                  sigma=(3.0 * zoom, 2.0 * zoom))
    assert (BlobDetector().detect(frame)["class_id"] == wrong_class).all()
    scaled = BlobDetector(um_per_px=REFERENCE_UM_PER_PX / zoom)
    assert (scaled.detect(frame)["class_id"] == 0).all()
    assert scaled.to_dict()["um_per_px"] == pytest.approx(REFERENCE_UM_PER_PX / zoom)


def test_yolo_inference_size_follows_the_frame_and_pixel_size():
    assert inference_size((480, 640), 0.351) == 640
    assert inference_size((480, 640), 0.702) == 1280  # coarse pixels: heads enlarged to VISEM's size
    assert inference_size((960, 1280), 0.1755) == 640
    assert inference_size((528, 698), 0.351) == 704
    assert inference_size((10, 10), 0.01) == 32 and inference_size((4000, 6000), 5.0) == 4096


def test_yolo_takes_the_pixel_size_unless_imgsz_is_given(synth_clip):
    _, frames = synth_clip
    det = make_detector("yolo", um_per_px=0.702)
    det.detect_video(frames[:1])
    assert det.to_dict()["imgsz"] == 1280
    fixed = make_detector("yolo", um_per_px=0.702, imgsz=320)
    fixed.detect_video(frames[:1])
    assert fixed.to_dict()["imgsz"] == 320


def test_with_pixel_size_only_for_detectors_that_scale():
    assert with_pixel_size("blob", {}, 0.5) == {"um_per_px": 0.5}
    assert with_pixel_size("yolo", {"weights": "w.pt"}, 0.5) == {"weights": "w.pt", "um_per_px": 0.5}
    assert with_pixel_size("blob", {"um_per_px": 0.2}, 0.5) == {"um_per_px": 0.2}
    assert with_pixel_size("gt", {}, 0.5) == {} and with_pixel_size("trackpy", {}, 0.5) == {}
    assert with_pixel_size("blob", {}, None) == {}


@pytest.mark.parametrize("value", [0, -0.3, float("nan"), "0.3"])
def test_bad_pixel_size_is_refused(value):
    with pytest.raises(InputError, match="um_per_px"):
        BlobDetector(um_per_px=value)
