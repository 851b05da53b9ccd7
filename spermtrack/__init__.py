"""spermtrack: tracking-first analysis of human sperm videos.

Pixels become detections (:mod:`spermtrack.detectors`), detections become
tracks (:mod:`spermtrack.tracker`), tracks become CASA kinematics and WHO 2021
grades (:mod:`spermtrack.kinematics`), and every stage can be scored against
ground truth (:mod:`spermtrack.eval`). All stages share the long tables of
:mod:`spermtrack.schema`.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "analyze"]


def __getattr__(name: str):
    """``spermtrack.analyze`` is loaded on first use, so that ``import spermtrack`` stays light."""
    if name == "analyze":
        from spermtrack.analysis import analyze

        return analyze
    raise AttributeError(f"module 'spermtrack' has no attribute {name!r}")
