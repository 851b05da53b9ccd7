"""Errors raised for bad user input.

Every problem with a file, a table or an option that the user can fix is an
:class:`InputError`. The CLI prints its message as one line and exits non-zero,
without a traceback; library callers can catch it as a ``ValueError``.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from os import PathLike


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of file names (lone surrogates) shown as U+FFFD.

    POSIX file names are bytes; Python keeps bytes that are not UTF-8 as lone surrogates, which no
    UTF-8 writer (a terminal, CSV, JSON, HTML, Arrow) accepts. Use this for text that is shown or
    stored; open files by their real name.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that surrogateescape did not make
        return text.encode("utf-8", "replace").decode("utf-8")


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
        message = printable(str(message).replace("\r", "\\r").replace("\n", "\\n"))
        self.path = None if path is None else printable(str(path))
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        super().__init__(where + message)


class UsageError(InputError):
    """A command-line option that cannot be used as given (e.g. one that does not apply to the chosen
    detector). The CLI reports it as a usage error: one line, exit status 2."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread so that every output unit cleans up.

    Parameters
    ----------
    message : str, optional
        What was kept, for the closing line (e.g. "3 of 5 videos finished; summary.csv describes them").
    signum : int
        The signal that stopped the run.
    """

    def __init__(self, message: str = "", signum: int = signal.SIGINT):
        super().__init__(message)
        self.signal = signum


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` (as Ctrl-C raises KeyboardInterrupt).

    A terminated run then cleans up exactly as an interrupted one: temporary output folders are
    removed and worker processes are stopped. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum, frame):
        raise Interrupted(signum=signum)

    previous = signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        with interrupts_redelivered():
            yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Seconds after which an interrupt swallowed by a finalizer is sent again (long after the hook returned).
REDELIVERY_DELAY_S = 0.01


class Redelivery:
    """A :data:`sys.unraisablehook` that sends again an interrupt Python could not raise where it arrived.

    A signal handler runs between any two lines, also inside a finalizer (``__del__``) or a weakref
    callback (matplotlib's transforms use them). There Python cannot propagate the exception: it
    prints "Exception ignored in ..." with a traceback and carries on, so the run would neither stop
    nor stay quiet. This hook prints nothing for a swallowed :class:`KeyboardInterrupt` (or
    :class:`Interrupted`) and sends its signal again a moment later, so that the handler stops the
    run at an ordinary line (were it swallowed again, it is sent again). Every other unraisable
    exception goes to ``previous``.

    Parameters
    ----------
    previous : callable
        The hook that was installed before (it gets every other unraisable exception).
    """

    def __init__(self, previous: Callable):
        self.previous = previous
        self._timers: list[threading.Timer] = []

    def __call__(self, unraisable) -> None:
        try:
            if not isinstance(unraisable.exc_value, KeyboardInterrupt):
                self.previous(unraisable)
                return
            self._send_again(getattr(unraisable.exc_value, "signal", signal.SIGINT))
        except KeyboardInterrupt as again:  # a signal that arrived while this hook ran
            self._send_again(getattr(again, "signal", signal.SIGINT))

    def _send_again(self, signum: int) -> None:
        """Mark ``signum`` as arrived in the main thread a moment from now, from a helper thread.

        Not at once: the handler would then run inside this hook, which swallows it too.
        ``_thread.interrupt_main`` does nothing when the signal is ignored or left to the system.
        """
        timer = threading.Timer(REDELIVERY_DELAY_S, _thread.interrupt_main, (signum,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def cancel(self) -> None:
        """Send nothing more: the run this hook served is over (a late interrupt would hit its exit)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


@contextlib.contextmanager
def interrupts_redelivered() -> Iterator[None]:
    """Within the block, an interrupt swallowed by a finalizer is sent again (see :class:`Redelivery`)."""
    previous = sys.unraisablehook
    hook = sys.unraisablehook = Redelivery(previous)
    try:
        yield
    finally:
        hook.cancel()
        sys.unraisablehook = previous
