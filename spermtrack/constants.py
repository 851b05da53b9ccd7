"""Domain constants: the facts about VISEM-Tracking and WHO 2021 that the code relies on, each stated once.

Everything else imports them from here; a literal such as 0.351 or 25 um/s appears nowhere else.

Sources: Thambawita et al., "VISEM-Tracking, a human spermatozoa tracking dataset", Scientific Data
10:260 (2023) and its official repository (simulamet-host/visem-tracking); World Health Organization,
WHO laboratory manual for the examination and processing of human semen, 6th ed. (2021).
"""

from __future__ import annotations

import re

__all__ = [
    "CLASS_NAMES", "FPS_RANGE", "FTID_LABEL_DIR", "UM_PER_PX_RANGE", "GRADES", "IMAGE_DIR", "LABEL_DIR", "LABEL_FILE_RE", "SEMEN_ANALYSIS_CSV",
    "SYNTH_CONFIG_JSON", "VISEM_11_HELD_OUT_FROM", "VISEM_FRAME_SIZE", "VISEM_TRAIN_VIDEOS", "VISEM_UM_PER_PX",
    "VISEM_VAL_VIDEOS", "WHO_A_UM_S", "WHO_B_UM_S", "WHO_REFERENCE_LIMITS", "WHO_MIN_ASSESSED", "ANALYSIS_VERSION", "MIN_GRADED_TRACKS", "ftid_file_name", "image_file_name",
    "label_file_name", "objects_file_name", "truth_file_name",
]

# ----------------------------------------------------------------------------------------- VISEM-Tracking
#: Pixel size in um: not published with the data; the community value 100/285 (motilitAI, DeepSpermMotility).
VISEM_UM_PER_PX: float = 0.351
#: Frame size of every VISEM-Tracking clip, px (width, height).
VISEM_FRAME_SIZE: tuple[int, int] = (640, 480)
#: Official training videos (simulamet-host/visem-tracking, VISEM_Tracking_after_index_corrections.yaml).
VISEM_TRAIN_VIDEOS: tuple[str, ...] = ("11", "12", "13", "14", "15", "19", "21", "22", "23", "24", "29", "30", "35",
                                       "36", "38", "47")
#: Official validation videos of the same split.
VISEM_VAL_VIDEOS: tuple[str, ...] = ("52", "54", "60", "82")
#: Frames of the shared real video 11 from this index on are held out: never trained or tuned on.
VISEM_11_HELD_OUT_FROM: int = 1029
#: Object classes of VISEM-Tracking labels.
CLASS_NAMES: dict[int, str] = {0: "sperm", 1: "cluster", 2: "pinhead"}

#: Frame rates accepted, frames/s: CASA records at 25-200 fps, high-speed sperm studies up to about 1000.
FPS_RANGE: tuple[float, float] = (1.0, 1000.0)
#: Pixel sizes accepted, um/px: from a 100x oil objective on a small-pixel camera (about 0.05) to a 4x objective
#: on a large-pixel one (about 5); the range leaves a margin on both sides.
UM_PER_PX_RANGE: tuple[float, float] = (0.01, 20.0)

# ----------------------------------------------------------------------------------------- file layout
#: Sub-folders of a video folder.
IMAGE_DIR, LABEL_DIR, FTID_LABEL_DIR = "images", "labels", "labels_ftid"
#: The frame number in a label or image file name: ``11_frame_42.txt``, ``11_frame_42_with_ftid.txt``.
LABEL_FILE_RE = re.compile(r"_frame_(\d+)(?:_with_ftid)?$")
#: The clinical table beside the videos (VISEM's name; the synthetic generator writes the same).
SEMEN_ANALYSIS_CSV = "semen_analysis_data_Train.csv"
#: Written last at the root of a synthetic data set: its presence marks a complete set.
SYNTH_CONFIG_JSON = "synth_config.json"


def label_file_name(video_id: str, frame: int) -> str:
    """``labels/`` file of one frame: ``<id>_frame_<n>.txt``."""
    return f"{video_id}_frame_{frame}.txt"


def ftid_file_name(video_id: str, frame: int) -> str:
    """``labels_ftid/`` file of one frame: ``<id>_frame_<n>_with_ftid.txt``."""
    return f"{video_id}_frame_{frame}_with_ftid.txt"


def image_file_name(video_id: str, frame: int, suffix: str = ".jpg") -> str:
    """``images/`` file of one frame: ``<id>_frame_<n>.jpg``."""
    return f"{video_id}_frame_{frame}{suffix}"


def truth_file_name(video_id: str) -> str:
    """Exact synthetic truth of one video: ``<id>_truth.csv.gz``."""
    return f"{video_id}_truth.csv.gz"


def objects_file_name(video_id: str) -> str:
    """Per-object synthetic truth (grades, kinematics) of one video: ``<id>_objects.csv``."""
    return f"{video_id}_objects.csv"


# ----------------------------------------------------------------------------------------- WHO 2021
#: Motility grades: a rapidly progressive, b slowly progressive, c non-progressive, d immotile.
GRADES: tuple[str, ...] = ("a", "b", "c", "d")
#: Grade a: the head covers at least 25 um from start to end point in one second.
WHO_A_UM_S: float = 25.0
#: Grade b: 5 to < 25 um in one second; below 5 um (one head length) is non-progressive.
WHO_B_UM_S: float = 5.0
#: Lower reference limits (5th centiles): progressive (a + b) and total motility (a + b + c), %.
WHO_REFERENCE_LIMITS: dict[str, float] = {"progressive_pct": 30.0, "motile_pct": 42.0}
#: Version of what an analysis computes beyond its settings (detector defaults, shipped models, grading
#: rules). Part of every rerun key and cache key: bump it when such a default changes, so that an archive
#: rerun or a cross-check cache never reuses a result made under the old defaults.
ANALYSIS_VERSION: int = 11
#: Spermatozoa WHO 2021 asks to assess for motility (at least 200, in two replicates of 200 each).
WHO_MIN_ASSESSED: int = 200
#: Fewer graded tracks than this make a warning: the percentages are too uncertain to report alone.
MIN_GRADED_TRACKS: int = 20
