"""File I/O at the edges: VISEM-Tracking layout, clinical CSVs, MOTChallenge text, video frames.

Core functions elsewhere take tables and arrays; only this package (and
functions named ``read_*``, ``write_*``, ``iter_*``) touch files.
"""
