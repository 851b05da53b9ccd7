"""Write synthetic videos in the exact VISEM-Tracking layout, through the writers of :mod:`spermtrack.io`."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spermtrack.constants import FTID_LABEL_DIR, IMAGE_DIR, LABEL_DIR, SEMEN_ANALYSIS_CSV, SYNTH_CONFIG_JSON
from spermtrack.errors import InputError
from spermtrack.io.atomic import DATASET, output_folder, write_json
from spermtrack.io.clinical import write_semen_analysis_csv
from spermtrack.io.synth_truth import write_synthetic_truth
from spermtrack.io.visem_write import remove_stale_frame_files, write_frame_files
from spermtrack.schema import Recording
from spermtrack.synth.config import GRADES, SynthConfig, _check_seed, video_seed
from spermtrack.synth.render import render_frames
from spermtrack.synth.simulate import SyntheticVideo, simulate_video

SEMEN_COLUMNS: tuple[str, ...] = (
    "ID", "Progressive motility (%)", "Non progressive sperm motility (%)", "Immotile sperm (%)", "Grade a (%)",
    "Grade b (%)", "Grade c (%)", "Grade d (%)", "Sperm concentration (x10⁶/mL)")



def true_percentages(objects: pd.DataFrame) -> dict[str, float]:
    """The true WHO 2021 percentages of a synthetic video, from its objects table (``<id>_objects.csv``).

    Over the sperm (class 0) tracks: ``a``, ``b``, ``c``, ``d`` in percent, ``progressive = a + b``,
    ``non_progressive = c``, ``immotile = d`` (all NaN when the video has no sperm track). This is the
    truth that measured percentages (sperm tracks graded by :mod:`spermtrack.kinematics`) are compared with.
    """
    grades = objects.loc[objects["class_id"].to_numpy() == 0, "grade"].astype(str).to_numpy()
    n = len(grades)
    pct = {g: (100.0 * float(np.count_nonzero(grades == g)) / n if n else math.nan) for g in GRADES}
    return {**pct, "progressive": pct["a"] + pct["b"], "non_progressive": pct["c"], "immotile": pct["d"]}


def semen_analysis_table(videos: Sequence[SyntheticVideo], *, chamber_depth_um: float = 20.0) -> pd.DataFrame:
    """The true semen-analysis values of synthetic videos, in VISEM's ``semen_analysis_data_Train.csv`` columns.

    Percentages are over the graded sperm (class-0 tracks) of each video: grade a, b, c, d;
    progressive = a + b, non-progressive = c, immotile = d (NaN when a video has no sperm track).
    Concentration (x10^6/mL) = mean labelled sperm per frame / (field area * ``chamber_depth_um``):
    ``n / (W H s^2 * depth um^3) * 1e12 um^3/mL / 1e6`` (depth 20 um reproduces the median ratio
    of lab concentration to per-frame count on the real training videos, about 1.3).

    Returns
    -------
    pandas.DataFrame
        Columns ``SEMEN_COLUMNS``; ``ID`` is the video id as an int when it is numeric.
    """
    rows = []
    for v in videos:
        pct = true_percentages(v.objects)
        rec = v.recording
        per_frame = float((v.truth["class_id"] == 0).sum()) / rec.n_frames
        volume_ml = rec.width * rec.height * rec.um_per_px ** 2 * chamber_depth_um * 1e-12
        rows.append({
            "ID": int(v.video_id) if v.video_id.isdigit() else v.video_id,
            SEMEN_COLUMNS[1]: pct["a"] + pct["b"], SEMEN_COLUMNS[2]: pct["c"], SEMEN_COLUMNS[3]: pct["d"],
            SEMEN_COLUMNS[4]: pct["a"], SEMEN_COLUMNS[5]: pct["b"], SEMEN_COLUMNS[6]: pct["c"],
            SEMEN_COLUMNS[7]: pct["d"], SEMEN_COLUMNS[8]: per_frame / volume_ml / 1e6})
    return pd.DataFrame(rows, columns=list(SEMEN_COLUMNS))


def write_synthetic_video(video: SyntheticVideo, out: str | Path, *, progress_bar=None) -> Path:
    """Render and write one simulated video into ``out/<id>/`` in the VISEM-Tracking layout.

    Writes ``<id>.mp4`` (container fps = config fps), ``images/<id>_frame_<n>.jpg`` (if
    ``config.write_images``), ``labels/<id>_frame_<n>.txt``, ``labels_ftid/<id>_frame_<n>_with_ftid.txt``
    (an empty file for a frame without boxes), ``<id>_truth.csv.gz`` and ``<id>_objects.csv``. Every
    file is written atomically; the gzip header carries no name or time, so the same seed gives the
    same bytes. Per-frame files of this video id left by an earlier run beyond the new length are removed.

    Parameters
    ----------
    video : SyntheticVideo
    out : str or Path
        Data-set root; the video folder is created inside it.
    progress_bar : tqdm or None
        Updated once per frame.

    Returns
    -------
    Path
        The video folder.
    """
    import cv2

    from spermtrack.io.video import write_video

    cfg = video.config
    vid = video.video_id
    folder = Path(out) / vid
    for sub in (LABEL_DIR, FTID_LABEL_DIR) + ((IMAGE_DIR,) if cfg.write_images else ()):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    n_frames = video.recording.n_frames
    remove_stale_frame_files(folder, vid, n_frames, images=cfg.write_images)
    truth = video.truth
    frames = truth["frame"].to_numpy()
    bounds = np.searchsorted(frames, np.arange(n_frames + 1))

    def stream() -> Iterator[np.ndarray]:
        for k, img in enumerate(render_frames(video)):
            jpg = None
            if cfg.write_images:
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                if not ok:
                    raise InputError("OpenCV could not encode a jpg frame", folder / IMAGE_DIR)
                jpg = buf.tobytes()
            write_frame_files(folder, vid, k, truth.iloc[bounds[k]:bounds[k + 1]], width=cfg.width,
                              height=cfg.height, image=jpg)
            if progress_bar is not None:
                progress_bar.update(1)
            yield img

    # mp4v: the same seed gives the same bytes (H.264 through libx264 did not, 1 run in 6)
    write_video(folder / f"{vid}.mp4", stream(), cfg.fps, codec="mp4v")
    write_synthetic_truth(folder, vid, truth, video.objects)
    return folder


def write_synthetic_dataset(out: str | Path, *, n_videos: int, config: SynthConfig, seed: int,
                            progress: bool = True) -> list[Path]:
    """Simulate, render and write ``n_videos`` videos in the exact VISEM-Tracking layout, as one unit.

    Video ``i`` (1-based id ``str(i)``) is ``simulate_video(config, seed=video_seed(seed, i - 1))``,
    written by :func:`write_synthetic_video`. Then ``semen_analysis_data_Train.csv`` (VISEM's dialect:
    UTF-8 with BOM, ``;`` separator, ``,`` decimal mark; the true percentages, see
    :func:`semen_analysis_table`) and ``synth_config.json`` (config, seed, per-video draws and versions)
    are written at the root. Everything is written into a temporary folder that becomes ``out`` only
    when complete (:func:`spermtrack.io.atomic.output_folder`): an interrupted run leaves no partial
    data set, and ``out`` must be new, empty or an earlier output of spermtrack.

    Parameters
    ----------
    out : str or Path
        Data-set root (created if needed).
    n_videos : int
        Number of videos (>= 1).
    config : SynthConfig
    seed : int
        Non-negative; the same seed gives byte-identical labels, truth and CSV files.
    progress : bool
        Show a tqdm progress bar over frames on stderr.

    Returns
    -------
    list of Path
        The video folders, in id order.

    Raises
    ------
    InputError
        Bad arguments, or ``out`` is an existing file or a non-empty folder spermtrack did not write.
    """
    import cv2
    from tqdm import tqdm

    import spermtrack

    if not isinstance(config, SynthConfig):
        raise InputError(f"config must be a SynthConfig, got {type(config).__name__}")
    seed = _check_seed(seed)
    if isinstance(n_videos, bool) or not isinstance(n_videos, (int, np.integer)) or n_videos < 1:
        raise InputError(f"n_videos must be a positive integer, got {n_videos!r}")
    out = Path(out)
    folders, videos, records = [], [], []
    with output_folder(out, kind=DATASET) as tmp, tqdm(total=int(n_videos) * config.n_frames, disable=not progress,
                                         file=sys.stderr, unit="frame", desc="synth", dynamic_ncols=True) as bar:
        for i in range(int(n_videos)):
            vs = video_seed(seed, i)
            video = simulate_video(config, seed=vs, video_id=str(i + 1))
            bar.set_postfix_str(f"video {i + 1}/{n_videos}")
            folders.append(out / write_synthetic_video(video, tmp, progress_bar=bar).name)
            sperm = video.objects[video.objects["class_id"] == 0]
            records.append({
                "id": video.video_id, "seed": vs, "density": video.params.density,
                "grade_mix": list(video.params.grade_mix), "drift_um_s": video.params.drift_um_s,
                "drift_angle_deg": math.degrees(video.params.drift_angle_rad), "box_px": video.params.box_px,
                "n_frames": video.recording.n_frames, "n_tracks": int(len(video.objects)),
                "n_sperm_tracks": int(len(sperm)),
                "labelled_sperm_per_frame": float((video.truth["class_id"] == 0).sum()) / video.recording.n_frames})
            videos.append(_Summary(video.video_id, video.recording, video.objects, video.truth))
        write_semen_analysis_csv(tmp / SEMEN_ANALYSIS_CSV, semen_analysis_table(videos))
        write_json(tmp / SYNTH_CONFIG_JSON, {
            "generator": "spermtrack.synth", "seed": seed, "n_videos": int(n_videos), "config": config.to_dict(),
            "videos": records,
            "versions": {"spermtrack": spermtrack.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                         "opencv": cv2.__version__},
        })
    return folders


@dataclass(frozen=True)
class _Summary:
    """The parts of a SyntheticVideo that :func:`semen_analysis_table` needs (lets the full state be freed)."""

    video_id: str
    recording: Recording
    objects: pd.DataFrame
    truth: pd.DataFrame
