"""Provenance: the versions and settings saved beside every output."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata

_PACKAGES = ("spermtrack", "numpy", "pandas", "scipy", "opencv-python", "lap", "filterpy", "motmetrics",
             "trackeval", "ultralytics", "torch")


def versions(packages: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
    """Return installed versions of the packages that shape results (``"not installed"`` if absent).

    Reads package metadata only: nothing heavy (torch, ultralytics) is imported.
    """
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(**settings: object) -> dict:
    """Return a provenance record: UTC time, the command line, versions and the given settings.

    Parameters
    ----------
    **settings
        Configs (as dicts), calibration, inputs: whatever produced the output.
    """
    return {"created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv), "versions": versions(), **settings}
