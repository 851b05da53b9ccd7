"""Errors raised for bad user input.

Every problem with a file, a table or an option that the user can fix is an
:class:`InputError`. The CLI prints its message as one line and exits non-zero,
without a traceback; library callers can catch it as a ``ValueError``.
"""

from __future__ import annotations

from os import PathLike


class InputError(ValueError):
    """A user-fixable problem with an input file, table or option.

    Parameters
    ----------
    message : str
        What is wrong, phrased for the user. Line breaks (e.g. inside a quoted value from a file)
        are shown escaped, so the message stays one line.
    path : str or PathLike, optional
        The file the problem is in; prefixed to the message.
    line : int, optional
        1-based line number inside ``path``; added after the path.
    """

    def __init__(self, message: str, path: str | PathLike | None = None, line: int | None = None):
        # one line, whatever a quoted value from a file holds
        message = str(message).replace("\r", "\\r").replace("\n", "\\n")
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        super().__init__(where + message)


def torch_file_kind(path: str | PathLike) -> str | None:
    """What a file is when it cannot be a ``torch.save`` file, for a one-line refusal.

    ``torch.save`` writes a zip archive (``PK\\x03\\x04``) or, in the legacy format, a pickle
    (``\\x80``). Only the first 4 bytes are read.

    Returns
    -------
    str or None
        ``None`` when the header fits ``torch.save``; otherwise ``"a text file"`` or
        ``"another format"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return None
    return "a text file" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "another format"
