"""One validation policy for every settings class (spermtrack._validate.Config and its subclasses).

Every config class is built with numpy scalars in place of its numbers (accepted, stored as the
Python kind), and with a bool, NaN, inf, a float for an integer and a misspelt name (each refused
with a one-line InputError naming the class and the field).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil

import numpy as np
import pytest

import spermtrack
from spermtrack._validate import Config, boolean, choice, integer, number
from spermtrack.errors import InputError


def _all_configs() -> list[type]:
    for package in ("spermtrack", "spermtrack.detectors", "spermtrack.tracker", "spermtrack.kinematics",
                    "spermtrack.eval", "spermtrack.training", "spermtrack.synth", "spermtrack.scoring"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            if not info.name.endswith(("__main__", "cli")):
                importlib.import_module(info.name)
    found, todo = [], list(Config.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__qualname__)


CONFIGS = _all_configs()
#: Required arguments of the classes that have any.
REQUIRED = {
    "VideoSelection": {"folder": "videos/11"},
    "AnalyzeConfig": {"um_per_px": 0.351},
    "BlobScoreModel": {"features": ("snr", "log_area", "dark_ratio", "log_peaks", "border"),
                       "weights": (1.0, 0.0, 0.0, 0.0, 0.0), "intercept": 0.0, "min_score": 0.5},
}


def _numeric_fields(cls: type) -> list[tuple[str, object]]:
    out = []
    for f in dataclasses.fields(cls):
        default = REQUIRED.get(cls.__name__, {}).get(f.name, f.default)
        if isinstance(default, (bool, int, float)) and default is not dataclasses.MISSING:
            out.append((f.name, default))
    return out


CASES = [(cls, name, default) for cls in CONFIGS for name, default in _numeric_fields(cls)]


def _make(cls: type, **values):
    return cls(**{**REQUIRED.get(cls.__name__, {}), **values})


def test_every_settings_class_is_covered():
    names = {c.__name__ for c in CONFIGS}
    assert {"BlobConfig", "YoloConfig", "TrackerConfig", "KinematicsConfig", "SynthConfig", "PipelineConfig",
            "DetectionNoise", "TrainConfig", "ConvertConfig", "PhotometricConfig", "TrackpyConfig"} <= names
    assert len(CASES) > 120


@pytest.mark.parametrize("cls, field, default", CASES, ids=[f"{c.__name__}.{f}" for c, f, _ in CASES])
def test_numpy_scalars_are_accepted_as_their_python_kind(cls, field, default):
    if isinstance(default, bool):
        value, kind = np.bool_(default), bool
    elif isinstance(default, int):
        value, kind = np.int64(default), int
    else:
        value, kind = np.float32(default), float
    made = _make(cls, **{field: value})
    assert type(getattr(made, field)) is kind
    assert getattr(made, field) == pytest.approx(default, rel=1e-6)


@pytest.mark.parametrize("cls, field, default", CASES, ids=[f"{c.__name__}.{f}" for c, f, _ in CASES])
def test_wrong_kinds_and_non_finite_values_are_refused(cls, field, default):
    if isinstance(default, bool):
        bad = [1, "yes", None]
    elif isinstance(default, int):
        bad = [True, float(default) + 0.5, math.nan, math.inf, "3"]
    else:
        bad = [True, math.nan, math.inf, -math.inf, "0.5"]
    for value in bad:
        with pytest.raises(InputError, match=rf"{cls.__name__}\.{field} must be"):
            _make(cls, **{field: value})


@pytest.mark.parametrize("cls", CONFIGS, ids=[c.__name__ for c in CONFIGS])
def test_a_misspelt_name_is_refused_with_the_valid_ones(cls):
    good = _make(cls)
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(InputError, match=rf"unknown {cls.__name__} setting.*{first}x.*valid: {first}"):
        cls.from_dict({**REQUIRED.get(cls.__name__, {}), f"{first}x": 1})
    with pytest.raises(InputError, match="unknown"):
        good.replace(**{f"{first}x": 1})
    assert cls.from_dict(good.to_dict()) == good or cls.__name__ == "VideoSelection"


def test_the_validators_directly():
    assert number("O", "f", np.float32(0.5), lo=0, hi=1) == 0.5
    assert integer("O", "f", np.int8(3), lo=0) == 3
    assert boolean("O", "f", np.bool_(True)) is True
    assert choice("O", "f", "a", ("a", "b")) == "a"
    with pytest.raises(InputError, match=r"^O.f must be > 0 and <= 1, got 0$"):
        number("O", "f", 0, lo=0, lo_open=True, hi=1)
    with pytest.raises(InputError, match=r"^O.f must be an integer >= 1, got 0$"):
        integer("O", "f", 0, lo=1)
    with pytest.raises(InputError, match=r"^O.f must be one of 'a', 'b', got 'c'$"):
        choice("O", "f", "c", ("a", "b"))
    assert spermtrack.__version__
