"""Synthetic VISEM-Tracking: sperm videos with exact ground truth, in the data set's own layout.

Three layers, kept apart:

physics (:func:`simulate_video`, pure, no pixels)
    every object's exact sub-pixel head position in every frame, its grade and its true kinematics;
rendering (:func:`render_frames`, pure, streaming)
    phase-contrast-looking BGR frames drawn from the physics;
files (:func:`write_synthetic_dataset`)
    the exact VISEM-Tracking folder layout (mp4, jpg frames, ``labels``, ``labels_ftid``) plus the
    truth tables and a ``semen_analysis_data_Train.csv`` in VISEM's own CSV dialect.

Model
-----
Units: positions in um internally, px in the tables (``um_per_px`` converts); time in s; ``dt = 1/fps``.

*Field and population.* The camera sees a ``width x height`` px window of a larger torus (the window
plus a margin longer than a tail on every side). Objects are placed uniformly on the torus and move
for the whole clip; leaving the torus on one side re-enters on the other, always out of view. Uniform
motion on a torus keeps the density uniform and constant, so sperm enter and leave through the
window's borders at the steady-state rate for any speed, drift or path shape (the equivalent of a
Poisson birth process at the borders plus an initial population). The placement at frame 0 is
stratified (each grade gets its exact share of the window, rounded systematically), so a video's
mean count matches ``density`` closely. A track is one visit of a body to the window; it ends where
the head centre leaves the frame (labelling starts again only once the average path is clearly
inside, so a wobbling head does not flicker at the border). Motile cells also leave and re-enter the
focal plane (a two-state telegraph process; exit hazard ``focus_exit_per_s`` for progressive cells,
0.3x for grade c, 0.1x for grade d, mean time out ``focus_return_s``): they fade out and in over
about 0.12 s and are labelled only while in focus, so tracks also start and end inside the field
(real VISEM: 21 % of track starts and 24 % of ends are away from the border). A body that comes
back into view within ``reid_gap_s`` keeps its track id (an annotator would re-identify it): that is
the only source of gaps.

*Grades and paths (WHO 2021).* Each sperm gets a grade from the video's a/b/c/d mixture; the
mixture is the fraction of in-focus sperm in any one frame (what a technician counting a field
sees; fast cells cross the field and so make more tracks per cell than slow ones). Net progression
is the mean over all 1-s windows of the head's net displacement / 1 s, with the common drift
removed. Targets keep a margin from the thresholds (25 and 5 um/s):

- a: target progression 27.5 + Gamma(shape 1.2, scale 3) um/s (median about 30, capped at 70;
  real tracks >= 25 um/s: median 28.7, max 51), beat 10-22 Hz, ALH 1.0-2.5 um; average path
  straight 55 %, gently curved 35 %, large circle 10 %.
- b: target progression uniform 7-22 um/s (real tracks within 5-25: median 14.6, quartiles
  10.7/18.8), beat 5-14 Hz, ALH 0.5-1.5 um; straight 40 %, curved 40 %, circle 20 %.
- c: beats in place: the average path wanders at 0.2-2.2 um/s (heading diffusion 0.15 rad^2/s),
  beat 4-12 Hz, ALH 0.3-1.0 um; net progression stays below about 3 um/s.
- d: immotile, no beat: translational Brownian motion (D = 0.1 um^2/s, about 0.6 um/s net over 1 s)
  and slow rotational diffusion.

Measured over 7,300 sperm in 150 random configurations (fps 5-120, 0.3-6 s, 0.2-0.7 um/px), the true
progression of grade a lies in 27.4-57, b in 7.0-22.1, c below 2.6 and d below 1.4 um/s.

The average path of a and b cells is parametrised by arclength: heading = integral of a curvature
``kappa(s) = kappa0 + sd * OU(s)`` (correlation length 40 um; ``kappa0 = 0`` straight, 1/250-1/80
per um curved, 1/R circle). Its speed is solved (bisection) so that the mean 1-s chord of the
average path equals the target. The head oscillates about the average path along the path normal,
``A(t) sin(phi(t))`` with ``phi = 2 pi f t + jitter`` (``f`` below 0.4 fps, so it never aliases) and a
slowly modulated amplitude; the head orientation is the path heading plus a yaw in phase with the
beat; the tail is a travelling wave (amplitude 4-9 um at the tip, wavelength 45-80 um, length
45-55 um, plus a static bend) drawn behind the head along the path heading.

*Other objects.* Clusters (class 1): 2-5 heads stuck together head to head, tails radiating and
beating weakly; Brownian (0.02 um^2/s) with slow rotation; box = spread of the heads + one head box.
Pinheads (class 2): a tiny head on a shorter tail, half immotile, half slowly swimming (2-12 um/s);
box about 10 x 10 px. Expected per-frame counts are ``density * rate / (1 - cluster_rate -
pinhead_rate)`` (VISEM: 3.3 % and 3.4 % of all boxes are clusters and pinheads). Debris: unlabelled
dark dots 1.6-5.6 px wide, some with a bright rim or a reddish tint; 80 % float (drift + Brownian),
20 % are stuck to the glass and do not drift.

*Drift.* A common fluid velocity per video, ``U (1 + 0.25 OU) (cos psi, sin psi)`` with
``psi = psi0 + 0.2 OU`` rad (OU time scale 5 s), added to every cell and floating debris.

*Annotation boxes.* Centred on the exact head position. Side = video style ``N(22, 3.5)`` px
(clipped to 15-32; real per-video means 17-30) + track ``N(0, 3)`` + per-axis ``N(0, 2.5)`` (height
0.7 px smaller) + a slow per-frame variation ``OU(sd 1.3 px, 1 s)``: real boxes are 22.0 +/- 5.3 (w)
and 21.3 +/- 5.1 (h) px, w-h correlation 0.77, within-track sd 1.3 px. Sizes scale with
``0.351 / um_per_px``. A label box is clipped to the frame like an annotator's; the truth table keeps
the exact centre and the unclipped size.

Calibration against the real data (``benchmarks/synth_vs_real.py`` prints the side-by-side table)
----------------------------------------------------------------------------------------------
- density (mean sperm per frame, when ``density=None``): log-normal, median 14.8, log-sd 0.94,
  clipped to 2-65: the fit to the 20 annotated VISEM-Tracking videos (2.2-62.3, median 17).
- grade mix (``grade_mix=None``): Dirichlet with mean a/b/c/d = 7/19/33/41 % and concentration 8,
  so progressive (a+b) is 26 +/- 15 %, non-progressive 33 +/- 16 %, immotile 41 +/- 16 % per video:
  the lab values of the 16 training participants are 28 +/- 16, 32 +/- 10 and 40 +/- 19 % (WHO 2010
  categories), and in the real tracks 5 % of track-frames have 1-s progression >= 25 um/s, 23 %
  5-25 um/s and 72 % < 5 um/s (per track 16 / 39 / 45 %), which the synthetic tracks reproduce
  (per track 14-15 / 38-45 / 40-47 %, per track-frame 4-5 / 18-24 / 71-77 % in three samples of
  32-64 videos).
- drift (``drift_um_s=None``): log-normal, median 0.1 um/s, log-sd 1.4, at most 4 um/s. On the real
  videos a robust estimate (the median over tracks of the 1-s displacement, median over time) is
  0-0.3 um/s in 13 of 16 videos and 0.8 and 1.8 um/s in two; the per-frame mean displacement of all
  tracks (0-3.0 um/s, median 0.6) is dominated by the motile cells of sparse videos and reads about
  1.4 um/s on synthetic videos with no drift at all.
- look: a dark grey (BGR about 61/56/53 before the cells add light), slightly blue background with
  mild uneven illumination and a faint texture; bright saturated heads 6-9 px with a glow and a cyan,
  green, pink, lavender or white tint; thin dark tails, darkest at the midpiece and fading towards
  the tip (the physical pixel size makes a 50-um tail 140 px long, but in real phase-contrast frames
  its distal part is hardly visible); 1200 debris dots per megapixel (real frame: about 1100);
  sensor noise of 2 grey levels; 0.9 px optical blur; jpg quality 92.

Conventions: ALH is half the peak-to-peak lateral head displacement about the average path
(OpenCASA reports twice this). ``bcf_hz`` counts crossings of the exact head path over the average
path per second (about 2 x beat frequency for a sine).
"""

from spermtrack.synth.config import GRADES, SynthConfig, VideoParams, draw_video_params, video_seed
from spermtrack.synth.render import render_frames
from spermtrack.synth.simulate import SyntheticVideo, Trajectories, simulate_video
from spermtrack.synth.write import (SEMEN_COLUMNS, semen_analysis_table, true_percentages, write_synthetic_dataset,
                                    write_synthetic_video)

__all__ = [
    "GRADES", "SEMEN_COLUMNS", "SynthConfig", "SyntheticVideo", "Trajectories", "VideoParams", "draw_video_params",
    "render_frames", "semen_analysis_table", "simulate_video", "true_percentages", "video_seed",
    "write_synthetic_dataset",
    "write_synthetic_video",
]
