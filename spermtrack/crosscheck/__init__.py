"""Cross-checking the tracking path with motility regressors: data, inputs, cross-validation, reports.

- :mod:`~spermtrack.crosscheck.data`: a data set's videos and their lab (or true) motility values;
- :mod:`~spermtrack.crosscheck.inputs`: what the regressors read about a video, prepared in one
  streaming pass and cached;
- :mod:`~spermtrack.crosscheck.cv`: cross-validation split by video, agreement metrics;
- :mod:`~spermtrack.crosscheck.train`: ``spermtrack regress train`` / ``predict``;
- :mod:`~spermtrack.crosscheck.run`: ``spermtrack crosscheck`` and its report.

The models themselves are in :mod:`spermtrack.regressors` (no I/O there).
"""
