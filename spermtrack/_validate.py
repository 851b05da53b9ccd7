"""One place that validates configuration values, with one policy and one message format.

Policy
------
- Numbers are ``int``, ``float`` or numpy integer/floating scalars, finite, never ``bool``; they are
  stored as Python ``float``.
- Integers are ``int`` or numpy integer scalars, never ``bool`` and never floats (``3.0`` is refused);
  stored as Python ``int``.
- Booleans are ``True``/``False`` or ``numpy.bool_``; stored as Python ``bool``.
- Choices are strings from a fixed tuple.
- A misspelt setting name is refused with the list of valid names.

Every message reads ``<Owner>.<field> must be <what>, got <value>`` and is an
:class:`~spermtrack.errors.InputError`, which the command line prints as one line.

:class:`Config` is the base of every frozen settings dataclass: ``from_dict`` and ``replace`` refuse
unknown names, ``to_dict`` gives plain JSON types, and the ``_number`` / ``_integer`` / ... helpers
validate a field in ``__post_init__`` and store its canonical value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields, replace
from typing import Any

import numpy as np

from spermtrack.errors import InputError

__all__ = ["Config", "boolean", "calibration", "check_names", "choice", "integer", "number", "physical"]


def _fail(owner: str, field: str, what: str, value: object) -> InputError:
    return InputError(f"{owner}.{field} must be {what}, got {value!r}")


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def number(owner: str, field: str, value: object, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite number within the bounds, as ``float``.

    Raises
    ------
    InputError
        Not a number (``bool`` included), not finite, or out of ``[lo, hi]`` (open ends as asked).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(owner, field, "a number", value)
    v = float(value)
    if not math.isfinite(v):
        raise _fail(owner, field, "a finite number", value)
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and (v >= hi if hi_open else v > hi)):
        raise _fail(owner, field, _range_text(lo, hi, lo_open, hi_open), value)
    return v


def integer(owner: str, field: str, value: object, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer within ``[lo, hi]``, as ``int``.

    Raises
    ------
    InputError
        Not an ``int`` or numpy integer (``bool`` and floats such as 3.0 are refused), or out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _fail(owner, field, "an integer", value)
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _fail(owner, field, f"an integer {_range_text(lo, hi, False, False)}", value)
    return v


def boolean(owner: str, field: str, value: object) -> bool:
    """``True`` or ``False`` (``numpy.bool_`` accepted), as ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(owner, field, "True or False", value)
    return bool(value)


def choice(owner: str, field: str, value: object, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise _fail(owner, field, f"one of {', '.join(map(repr, choices))}", value)
    return value


def physical(owner: str, field: str, value: object) -> float:
    """One calibration quantity, ``fps`` or ``um_per_px``, as a float within its physical range.

    The ranges are :data:`~spermtrack.constants.FPS_RANGE` and :data:`~spermtrack.constants.UM_PER_PX_RANGE`
    (ranges that make physical sense for sperm videos).

    Raises
    ------
    InputError
        Missing, not a number, not finite, or outside its range (the message gives the range and why).
    """
    from spermtrack.constants import FPS_RANGE, UM_PER_PX_RANGE

    (lo, hi), unit = {"fps": (FPS_RANGE, "frames/s"), "um_per_px": (UM_PER_PX_RANGE, "um per pixel")}[field]
    if value is None:
        raise InputError(f"{owner}.{field} is required (calibration is never guessed)")
    v = number(owner, field, value, lo=0, lo_open=True)
    if not lo <= v <= hi:
        raise InputError(f"{owner}.{field} must be between {lo:g} and {hi:g} {unit} for a microscope video of "
                         f"sperm, got {value!r}")
    return v


def calibration(fps: object, um_per_px: object, *, owner: str = "calibration") -> tuple[float, float]:
    """``(fps, um_per_px)`` as floats within their physical ranges (:func:`physical`, fps first)."""
    return physical(owner, "fps", fps), physical(owner, "um_per_px", um_per_px)


def check_names(owner: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Refuse names that are not settings of ``owner`` (misspelt options), listing the valid ones."""
    valid = list(valid)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise InputError(f"unknown {owner} setting(s) {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Config:
    """Base of the frozen settings dataclasses (see the module docstring)."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all settings, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Build from a plain dict (e.g. one saved by :meth:`to_dict`); unknown names are an InputError."""
        if not isinstance(values, dict):
            raise InputError(f"{cls.__name__} settings must be a mapping, got {type(values).__name__}")
        check_names(cls.__name__, values, cls.field_names())
        return cls(**values)

    def replace(self, **changes: Any):
        """A validated copy with some settings changed (unknown names are an InputError)."""
        check_names(type(self).__name__, changes, self.field_names())
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (tuples as lists), for JSON provenance."""
        return _plain(asdict(self))

    # -- helpers for __post_init__: validate one field and store its canonical value --------------------------
    def _set(self, field: str, value: Any) -> Any:
        object.__setattr__(self, field, value)
        return value

    def _number(self, field: str, **bounds: Any) -> float:
        return self._set(field, number(type(self).__name__, field, getattr(self, field), **bounds))

    def _optional_number(self, field: str, **bounds: Any) -> float | None:
        return None if getattr(self, field) is None else self._number(field, **bounds)

    def _integer(self, field: str, **bounds: Any) -> int:
        return self._set(field, integer(type(self).__name__, field, getattr(self, field), **bounds))

    def _optional_integer(self, field: str, **bounds: Any) -> int | None:
        return None if getattr(self, field) is None else self._integer(field, **bounds)

    def _pair(self, field: str, *, ordered: bool = True, as_int: bool = False, **bounds: Any) -> tuple:
        """A ``(low, high)`` pair of numbers (integers with ``as_int``), ``low <= high`` when ``ordered``."""
        owner, value = type(self).__name__, getattr(self, field)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
            raise _fail(owner, field, "a (low, high) pair", value)
        check = integer if as_int else number
        pair = tuple(check(owner, field, v, **bounds) for v in value)
        if ordered and pair[0] > pair[1]:
            raise _fail(owner, field, "a (low, high) pair with low <= high", value)
        return self._set(field, pair)

    def _path(self, field: str) -> str | None:
        """An optional path, stored as ``str``."""
        value = getattr(self, field)
        if value is None:
            return None
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise _fail(type(self).__name__, field, "a path", value)
        return self._set(field, str(value))

    def _boolean(self, field: str) -> bool:
        return self._set(field, boolean(type(self).__name__, field, getattr(self, field)))

    def _choice(self, field: str, choices: Sequence[str]) -> str:
        return choice(type(self).__name__, field, getattr(self, field), choices)

    def _fail(self, field: str, what: str) -> InputError:
        """An InputError in the module's format for a rule that involves more than bounds."""
        return _fail(type(self).__name__, field, what, getattr(self, field))
