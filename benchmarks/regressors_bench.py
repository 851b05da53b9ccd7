"""Cross-check benchmark: the tracking path against every motility regressor, with the time each took.

Prints tables; it is a script, not a timed test. Every number is measured in this run.

Usage::

    python benchmarks/regressors_bench.py [--videos 20] [--seconds 6] [--folds 5] [--work DIR]

Data: ``--videos`` synthetic VISEM-Tracking videos (640 x 480, 50 fps, ``--seconds`` s each, seed 9400,
never used elsewhere), each with its own grade mixture (drawn per video, Dirichlet with mean
7 / 19 / 33 / 41 % a / b / c / d) and density (VISEM's real range); the targets are the generator's
true grade percentages (the semen-analysis CSV it writes).

Run: ``spermtrack crosscheck`` (:func:`spermtrack.crosscheck.run.run_crosscheck`) with every model,
``--folds``-fold cross-validation split by video, a fresh input cache (so the times include decoding),
default settings (the ones the CLI uses). Printed: MAE per category in percentage points for the
tracking path (blob + sperm + who2021) and each regressor, the seconds each took, the wall time of the
whole run, and the two checks of issue 13: every CNN beats ZeroR on progressive %, and the tracking
path beats every regressor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

SEED = 9400
CNNS = ("flow2d", "r3d18", "aefeat")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)

    import pandas as pd

    from spermtrack.crosscheck.run import CROSSCHECK_MODELS, run_crosscheck
    from spermtrack.synth import SynthConfig, write_synthetic_dataset

    work = args.work or Path(tempfile.mkdtemp(prefix="spermtrack-regressors-bench-"))
    data = work / "data"
    start = time.perf_counter()
    if not (data / "synth_config.json").is_file():
        config = SynthConfig(seconds=args.seconds, fps=50.0, write_images=False)
        write_synthetic_dataset(data, n_videos=args.videos, config=config, seed=SEED, progress=True)
    synth_s = time.perf_counter() - start
    cache = work / f"cache-{os.getpid()}"
    start = time.perf_counter()
    result = run_crosscheck(data, work / "crosscheck", models=CROSSCHECK_MODELS, folds=args.folds, seed=0,
                            cache_dir=cache, progress=True)
    run_s = time.perf_counter() - start
    mae = result.errors.pivot_table(index="source", columns="category", values="mae", sort=False)
    mae = mae.reindex(columns=["progressive", "non_progressive", "immotile", "all"])
    mae["pearson r (progressive)"] = result.errors[result.errors["category"] == "progressive"].set_index(
        "source")["pearson_r"]
    mae["seconds"] = result.errors.groupby("source", sort=False)["seconds"].first()
    pd.set_option("display.width", 200)
    print(f"\n{args.videos} synthetic videos of {args.seconds:g} s (seed {SEED}), {args.folds}-fold cross-validation "
          f"by video; {os.cpu_count()} CPU(s), python {sys.version.split()[0]}")
    print("MAE against the true percentages, percentage points:")
    print(mae.round(2).to_string())
    print(f"\nwall time of the cross-check (inputs decoded from scratch, every model, every fold): {run_s / 60:.1f} min "
          f"(data generation {synth_s / 60:.1f} min, not counted)")
    prog = mae["progressive"]
    beats = {m: bool(prog[m] < prog["zeror"]) for m in CNNS}
    print("every CNN beats ZeroR on progressive %: " + ("yes" if all(beats.values()) else "no") +
          " (" + ", ".join(f"{m} {prog[m]:.2f} vs {prog['zeror']:.2f}" for m in CNNS) + ")")
    regressors = list(CROSSCHECK_MODELS)
    best = min(regressors, key=lambda m: mae.loc[m, "all"])
    print(f"tracking beats every regressor (MAE over all categories): "
          f"{'yes' if mae.loc['tracking', 'all'] < mae.loc[best, 'all'] else 'no'} "
          f"(tracking {mae.loc['tracking', 'all']:.2f}, best regressor {best} {mae.loc[best, 'all']:.2f})")
    print(f"\nreport: {work / 'crosscheck' / 'crosscheck.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
