"""Detectors: frames in, detections table out (see spermtrack.schema)."""
