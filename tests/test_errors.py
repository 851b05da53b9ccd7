"""Interrupts: SIGTERM as Ctrl-C, and an interrupt that lands in a finalizer still stops the run."""

import signal
import sys
import time

import pytest

from spermtrack.errors import REDELIVERY_DELAY_S, Interrupted, interrupts_redelivered, terminate_as_interrupt


class _RaisesWhenCollected:
    """Raises ``exc`` from ``__del__``, where Python cannot propagate it (as a signal arriving there)."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def __del__(self):
        raise self.exc


def _ordinary_lines(seconds: float = 2.0) -> None:
    """Run ordinary lines, where a pending signal handler runs, for up to ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.001)


def test_sigterm_raises_interrupted_naming_the_signal():
    with pytest.raises(Interrupted) as caught, terminate_as_interrupt():
        signal.raise_signal(signal.SIGTERM)
        _ordinary_lines()
    assert caught.value.signal == signal.SIGTERM


def test_a_termination_swallowed_by_a_finalizer_is_delivered_again_without_a_traceback(capsys):
    with pytest.raises(Interrupted) as caught, terminate_as_interrupt():
        _RaisesWhenCollected(Interrupted(signum=signal.SIGTERM))  # collected at once: Python ignores its raise
        _ordinary_lines()
    assert caught.value.signal == signal.SIGTERM
    assert "Exception ignored" not in capsys.readouterr().err


def test_a_ctrl_c_swallowed_by_a_finalizer_is_delivered_again():
    with pytest.raises(KeyboardInterrupt), interrupts_redelivered():
        _RaisesWhenCollected(KeyboardInterrupt())
        _ordinary_lines()


def test_other_exceptions_of_finalizers_go_to_the_previous_hook():
    seen = []
    previous, sys.unraisablehook = sys.unraisablehook, lambda unraisable: seen.append(unraisable.exc_value)
    try:
        with interrupts_redelivered():
            _RaisesWhenCollected(ValueError("not an interrupt"))
        assert [str(exc) for exc in seen] == ["not an interrupt"]
    finally:
        sys.unraisablehook = previous


def test_the_hook_is_restored_after_the_block():
    before = sys.unraisablehook
    with interrupts_redelivered():
        assert sys.unraisablehook is not before
    assert sys.unraisablehook is before


def test_leaving_the_block_cancels_a_pending_redelivery():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with interrupts_redelivered():
            _RaisesWhenCollected(Interrupted(signum=signal.SIGTERM))  # its redelivery is due in 10 ms
        _ordinary_lines(10 * REDELIVERY_DELAY_S)
        assert seen == []
    finally:
        signal.signal(signal.SIGTERM, previous)
