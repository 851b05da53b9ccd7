"""Every registry owns its names, default and help, and every default named anywhere resolves.

The stage registries (detectors, trackers, kinematics presets, regressors) are the only owners of the
names a user types. This test walks every command's parser and every settings class and checks that each
default it names is a name its registry knows, and that each registry's help covers all its names.
"""

from __future__ import annotations

import argparse
import inspect

import pytest

import spermtrack
from spermtrack.analysis import AnalyzeConfig
from spermtrack.scoring.grid import DEFAULT_DETECTORS, DEFAULT_TRACKERS, DETECTORS
from spermtrack.cli import build_parser
from spermtrack.crosscheck.inputs import InputSettings
from spermtrack.detectors import (DEFAULT_DETECTOR, DETECTOR_NAMES, DETECTOR_OPTIONS, DETECTOR_SUMMARIES,
                                  FRAME_DETECTORS, REGISTRY, YOLO_MODELS)
from spermtrack.kinematics import DEFAULT_PRESET, KINEMATICS_PRESETS, PRESET_SUMMARIES, get_preset
from spermtrack.pipeline import PipelineConfig
from spermtrack.regressors import REGRESSOR_SUMMARIES, REGRESSORS
from spermtrack.tracker import make_tracker, tracker_names
from spermtrack.tracker.registry import DEFAULT_TRACKER, tracker_help

#: Which registry the value of each flag names.
REGISTRY_OF = {"--detector": DETECTOR_NAMES, "--tracker": tracker_names(), "--preset": KINEMATICS_PRESETS,
               "--model": tuple(REGRESSORS), "--detectors": DETECTORS, "--trackers": tracker_names(),
               "--models": tuple(REGRESSORS)}
#: Flags whose names come from another list in one command.
REGISTRY_OF_COMMAND = {("train-detector", "--model"): YOLO_MODELS}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            out.update({f"{name} {action}": q for action, q in nested[0].choices.items()})
        else:
            out[name] = p
    return out


COMMANDS = _commands()


def test_every_command_is_walked():
    assert {"synth", "info", "detect", "track", "kinematics", "evaluate", "benchmark", "train-detector",
            "self-train", "analyze", "regress train", "regress predict", "crosscheck", "demo"} == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_default_a_command_names_resolves(command):
    for action in COMMANDS[command]._actions:
        flag = next((o for o in action.option_strings if o in REGISTRY_OF), None)
        if flag is None or action.default is None:
            continue
        names = action.default.split(",") if isinstance(action.default, str) else list(action.default)
        known = REGISTRY_OF_COMMAND.get((command, flag), REGISTRY_OF[flag])
        assert names and set(names) <= set(known), (command, flag, action.default)
        if action.choices is not None:
            assert set(names) <= set(action.choices)
        if action.type is not None:  # the flag's own parser accepts its default
            assert action.type(action.default) is not None


def test_every_default_a_setting_or_function_names_resolves():
    stages = PipelineConfig()
    assert (stages.detector, stages.tracker, stages.preset) == (DEFAULT_DETECTOR, DEFAULT_TRACKER, DEFAULT_PRESET)
    assert AnalyzeConfig(um_per_px=0.351).stages == stages
    assert InputSettings().stages == stages
    for name, value in inspect.signature(spermtrack.analyze).parameters.items():
        if name in ("detector", "tracker", "preset"):
            assert value.default == {"detector": DEFAULT_DETECTOR, "tracker": DEFAULT_TRACKER,
                                     "preset": DEFAULT_PRESET}[name]
    assert set(DEFAULT_DETECTORS) <= set(DETECTORS) and set(DEFAULT_TRACKERS) <= set(tracker_names())
    assert DEFAULT_DETECTOR in FRAME_DETECTORS
    assert make_tracker(DEFAULT_TRACKER).to_dict()["tracker"] == DEFAULT_TRACKER
    assert get_preset(DEFAULT_PRESET).name == DEFAULT_PRESET


def test_each_registry_owns_help_for_every_name():
    assert set(DETECTOR_SUMMARIES) == set(DETECTOR_NAMES) == set(REGISTRY)
    assert set(DETECTOR_OPTIONS) == set(DETECTOR_NAMES) | {"public"}
    assert set(PRESET_SUMMARIES) == set(KINEMATICS_PRESETS)
    assert set(REGRESSOR_SUMMARIES) == set(REGRESSORS)
    text = tracker_help()
    assert all(f"{name}" in text for name in tracker_names())


def test_the_command_help_comes_from_the_registries():
    help_text = COMMANDS["analyze"].format_help().replace("\n", " ")
    help_text = " ".join(help_text.split())
    for name in FRAME_DETECTORS:
        assert " ".join(f"{name}: {DETECTOR_SUMMARIES[name]}".split()) in help_text
    for name in KINEMATICS_PRESETS:
        assert " ".join(f"{name}: {PRESET_SUMMARIES[name]}".split()) in help_text
