"""The demo: a synthetic VISEM-Tracking sample with exact truth, analysed as ``analyze`` would, then scored.

``spermtrack demo`` calls :func:`run_demo`; the command prints what it returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from spermtrack.constants import VISEM_UM_PER_PX
from spermtrack.detectors import DEFAULT_DETECTOR
from spermtrack.errors import InputError
from spermtrack.tracker.registry import DEFAULT_TRACKER

__all__ = ["DEMO_DIR", "DemoResult", "demo_comparison", "demo_score", "run_demo"]

#: Where the demo writes unless told otherwise (relative to the working folder).
DEMO_DIR = "spermtrack-demo"


@dataclass
class DemoResult:
    """What :func:`run_demo` made: the analysis, its score against the truth, and where it wrote."""

    analysis: object
    score: dict
    comparison: pd.DataFrame
    results: Path


def run_demo(out: str | Path = DEMO_DIR, *, seconds: float = 10.0, seed: int = 0, detector: str = DEFAULT_DETECTOR,
             tracker: str = DEFAULT_TRACKER, progress: bool = True,
             say: Callable[[str], None] = lambda line: None) -> DemoResult:
    """Write a synthetic sample to ``out/data``, analyse it into ``out/results`` and score it.

    Parameters
    ----------
    out : str or Path
        The demo folder (it holds ``data/`` and ``results/``).
    seconds, seed : float, int
        Length of the synthetic clip and its random seed (same seed, same bytes).
    detector, tracker : str
        Names from the detector and tracker registries.
    progress : bool
        Show progress bars.
    say : callable
        Receives one line per step (``[1/3] ...``).

    Returns
    -------
    DemoResult
    """
    from spermtrack.analysis import AnalyzeConfig, analyze_video
    from spermtrack.io.atomic import DATASET, check_output_folder
    from spermtrack.io.synth_truth import read_synthetic_truth
    from spermtrack.io.visem import list_videos, read_visem_video
    from spermtrack.pipeline import PipelineConfig
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    out = Path(out)
    data, results = out / "data", out / "results"
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder: choose a folder name for the demo", out)
    check_output_folder(data, kind=DATASET)
    check_output_folder(results)
    config = AnalyzeConfig(um_per_px=VISEM_UM_PER_PX, stages=PipelineConfig(detector=detector, tracker=tracker))
    say(f"[1/3] writing a {seconds:g}-s synthetic VISEM-Tracking sample to {data}")
    synth = SynthConfig(seconds=seconds, fps=50.0, width=640, height=480, um_per_px=VISEM_UM_PER_PX, density=30.0,
                        write_images=False)
    write_synthetic_dataset(data, n_videos=1, config=synth, seed=seed, progress=progress)
    folder = list_videos(data)[0]
    video = read_visem_video(folder, um_per_px=VISEM_UM_PER_PX)
    say(f"[2/3] analysing it: detect ({detector}), track ({tracker}), grade ({config.stages.preset})")
    analysis = analyze_video(video, config, progress=progress)
    truth = read_synthetic_truth(folder)
    score = demo_score(analysis, video, truth)
    analysis.write(results, progress=progress, extra_files={"score.json": json.dumps(score, indent=2)})
    say("[3/3] scored against the synthetic truth")
    return DemoResult(analysis=analysis, score=score, comparison=demo_comparison(analysis.summary, truth),
                      results=results)


def demo_score(analysis, video, truth) -> dict:
    """MOT metrics, kinematic error and grade error of a demo analysis against the synthetic truth."""
    import math

    from spermtrack.eval.kinematic import kinematic_accuracy, truth_reference
    from spermtrack.eval.mot import mot_metrics
    from spermtrack.kinematics import get_preset
    from spermtrack.synth import true_percentages

    gt = video.ground_truth
    mot = mot_metrics(gt, analysis.tracks, metric="centre", gate=10.0, n_frames=video.recording.n_frames)
    _, objects = truth
    reference = truth_reference(objects, gt, alh_factor=get_preset(analysis.config.stages.preset).alh_factor)
    _, kin = kinematic_accuracy(gt, analysis.tracks, analysis.kinematics, reference)
    true = true_percentages(objects)
    measured = analysis.summary["percent"]
    grades = {k: {"measured_pct": measured.get(k), "true_pct": true[k],
                  "error_points": None if measured.get(k) is None or math.isnan(true[k]) else measured[k] - true[k]}
              for k in ("a", "b", "c", "d", "progressive", "non_progressive", "immotile")}
    return {"tracking": {k: float(mot[k]) for k in ("HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN")},
            "kinematics": {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in kin.items()},
            "grades": grades}


def demo_comparison(summary: dict, truth):
    """Measured grade percentages next to the generator's true ones."""
    import pandas as pd

    from spermtrack.synth import true_percentages

    pct = summary["percent"]
    true_pct = true_percentages(truth[1]) if truth is not None else {}
    rows = []
    for key, name in (("a", "a rapid progressive"), ("b", "b slow progressive"), ("c", "c non-progressive"),
                      ("d", "d immotile"), ("progressive", "progressive (a+b)")):
        measured = pct.get(key)
        rows.append({"grade": name, "measured %": None if measured is None else round(measured, 1),
                     "true %": round(true_pct[key], 1) if key in true_pct else None})
    return pd.DataFrame(rows)
