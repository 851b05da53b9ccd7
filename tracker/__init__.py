"""Multi-object tracker: detections table in, tracks table out (see spermtrack.schema)."""
