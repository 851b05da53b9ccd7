"""The ``spermtrack`` command line: one entry point, one subcommand per job.

Each command parses its flags, calls one library function and prints what it returns; the commands
live in :mod:`~spermtrack.cli.data` (synth, info, demo), :mod:`~spermtrack.cli.stages` (detect, track,
kinematics, analyze), :mod:`~spermtrack.cli.scoring` (evaluate, benchmark) and
:mod:`~spermtrack.cli.training` (train-detector, self-train, regress, crosscheck); their shared flags
are in :mod:`~spermtrack.cli.options`.

User errors (a missing file, a malformed label line, a bad option value) are
printed as one line naming the file and line, with exit status 1 and no
traceback. Usage errors exit with status 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

from spermtrack.cli.data import add_demo, add_info, add_synth
from spermtrack.cli.scoring import add_benchmark, add_evaluate
from spermtrack.cli.stages import add_analyze, add_detect, add_kinematics, add_track
from spermtrack.cli.training import add_crosscheck, add_regress, add_self_train, add_train_detector
from spermtrack.cli.options import EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE
from spermtrack.errors import InputError, Interrupted, UsageError, terminate_as_interrupt

__all__ = ["build_parser", "main"]

#: Every subcommand's parser builder, in the order ``spermtrack --help`` lists them.
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_synth, add_info, add_detect, add_track, add_kinematics, add_evaluate, add_benchmark, add_train_detector,
    add_self_train, add_analyze, add_regress, add_crosscheck, add_demo]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``spermtrack`` argument parser with all subcommands."""
    from spermtrack import __version__

    parser = argparse.ArgumentParser(
        prog="spermtrack",
        description="Tracking-first analysis of human sperm videos: detect, track, CASA kinematics, WHO grades.")
    parser.add_argument("--version", action="version", version=f"spermtrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spermtrack`` command; returns the exit status."""
    import warnings

    os.environ.setdefault("YOLO_OFFLINE", "1")
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed as its own bytes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape" if stream is sys.stdout else "backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"spermtrack {args.command}"
    if args.command not in ("train-detector", "self-train") or getattr(args, "quiet", False):
        # ultralytics' own lines (a settings file created, a config folder that is not writable) are noise
        # outside training; only its errors are shown
        os.environ.setdefault("YOLO_VERBOSE", "False")

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prefix}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default", UserWarning)
        warnings.showwarning = show
        try:
            with terminate_as_interrupt():
                return int(args.func(args) or 0)
        except UsageError as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except InputError as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return EXIT_INPUT_ERROR
        except OSError as exc:  # a full or read-only disk, a permission, a file that vanished
            from spermtrack.io.atomic import describe_os_error

            message = describe_os_error(exc)
            if not exc.filename and getattr(args, "out", None) is not None:
                message = f"{args.out}: {message}"  # the system named no file: name the output being written
            print(f"{prefix}: error: {message}", file=sys.stderr)
            return EXIT_INPUT_ERROR
        except KeyboardInterrupt as exc:
            done = str(exc) if isinstance(exc, Interrupted) and str(exc) else "no partial output was kept"
            word = "terminated" if getattr(exc, "signal", signal.SIGINT) == signal.SIGTERM else "interrupted"
            print(f"{prefix}: {word}; {done}", file=sys.stderr)
            return EXIT_TERMINATED if word == "terminated" else EXIT_INTERRUPTED
