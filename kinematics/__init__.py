"""CASA kinematics and WHO 2021 motility grades from a tracks table.

Typical use (one video; ``tracks`` is a tracks table of :mod:`spermtrack.schema`)::

    from spermtrack.kinematics import analyze_tracks, get_preset, summarize
    from spermtrack.io.tables import write_kinematics   # files are written at the edge, by spermtrack.io

    result = analyze_tracks(tracks, 0.351, 50.0, get_preset("who2021"))    # or "casa", "visem"
    summary = summarize(result, chamber_depth_um=20.0, frame_size_px=(640, 480))
    write_kinematics("out", result.table, summary)     # out/kinematics.csv, out/summary.json

``compute_kinematics(tracks, um_per_px, fps, config)`` returns just the per-track table.

Definitions (with formulas and references) are in :mod:`spermtrack.kinematics.trajectory`; the grading
rule in :mod:`spermtrack.kinematics.grades`; noise handling in :mod:`spermtrack.kinematics.noise`; drift
in :mod:`spermtrack.kinematics.drift`; presets in :mod:`spermtrack.kinematics.config`.
This package imports only :mod:`spermtrack.schema` and :mod:`spermtrack.errors` from spermtrack.
"""

from spermtrack.kinematics.calibrate import Fit, agreement, fit_config, fit_threshold, leave_one_out
from spermtrack.kinematics.compute import (EXTRA_COLUMNS, KINEMATICS_COLUMNS, KinematicsResult, analyze_tracks,
                                           compute_kinematics, measured_rows)
from spermtrack.kinematics.config import (DEFAULT_PRESET, KINEMATICS_PRESETS, PRESET_SUMMARIES, KinematicsConfig,
                                          get_preset, load_visem_preset)
from spermtrack.kinematics.drift import estimate_drift
from spermtrack.kinematics.grades import GRADES, grade_table
from spermtrack.kinematics.summary import motility_percentages, summarize
from spermtrack.kinematics.trajectory import (average_path, average_path_velocity, beat_cross_frequency,
                                              curvilinear_velocity, lateral_head_displacement,
                                              mean_angular_displacement, net_progression,
                                              straight_line_velocity)

__all__ = ["DEFAULT_PRESET", "KinematicsConfig", "KINEMATICS_PRESETS", "PRESET_SUMMARIES", "get_preset", "load_visem_preset", "analyze_tracks",
           "compute_kinematics", "measured_rows", "KinematicsResult", "KINEMATICS_COLUMNS", "EXTRA_COLUMNS", "grade_table",
           "GRADES", "summarize", "motility_percentages", "estimate_drift",
           "Fit", "agreement", "fit_config", "fit_threshold", "leave_one_out", "average_path", "curvilinear_velocity",
           "straight_line_velocity", "average_path_velocity", "lateral_head_displacement",
           "beat_cross_frequency", "mean_angular_displacement", "net_progression"]
