"""``reelkit`` entry point: subcommands, common options, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence

from core import __version__
from core.errors import ReelkitError, out_of_memory

# Subcommand modules; each defines ``add_parser(subparsers)`` and ``run(args) -> int`` (nuke_install: ``reelkit nuke``).
COMMANDS = ("info", "convert", "degrade", "pairs", "align", "palette", "train", "infer", "validate", "restore", "demo",
            "dataset", "verify", "generate", "inverse", "models", "nuke_install", "export_nuke", "mcp", "vision", "farm")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="reelkit",
        description="reelkit: supervised ML film restoration and dataset building (headless core).",
    )
    parser.add_argument("--version", action="version", version=f"reelkit {__version__}")
    parser.add_argument("--threads", type=int, default=None, metavar="N", dest="cap_threads",
                        help="the most CPU threads any step may use (before the command: reelkit --threads 1 demo); "
                             "default: $REELKIT_THREADS, else the cores free when a step starts (core.threads)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser)
    for name in COMMANDS:
        importlib.import_module(f"core.cli.{name}").add_parser(sub)
    _add_examples(parser, ())
    return parser


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown option is reported under this subcommand's usage line (argparse
    leaves it to the top-level parser, whose usage says nothing about the subcommand's options)."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that the examples epilog keeps its lines (core.cli.examples)."""

    def _fill_text(self, text, width, indent):
        if text.startswith("examples:\n"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _add_examples(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
    """Give every subcommand its examples epilog (core.cli.examples.EXAMPLES)."""
    from core.cli.examples import epilog

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                _add_examples(child, (*path, name))
    if path:
        parser.epilog = parser.epilog or epilog(" ".join(path))
        parser.formatter_class = _HelpFormatter


def add_output_options(parser: argparse.ArgumentParser, *, default: str | None = None,
                       scheduler: bool = False, frames: bool = False) -> None:
    """The options every writing command shares: ``--output-dir``, ``--force``, ``--quiet`` (the first two
    from the job spec, :data:`core.jobs.JOB_PARAMS`); with ``frames``, its ``--frames`` too; with
    ``scheduler``, a per-frame job's ``--scheduler`` (core.scale: local, processes:N, tcp://host:port).

    One rule: ``--output-dir`` is required (a command that writes many files never picks the current
    folder for you), unless the command names a folder of its own (``default``: ``demo`` writes
    ``demo_output``).
    """
    from core.jobs import JOB_PARAMS

    if frames:
        parser.add_argument(JOB_PARAMS["frames"].flag, help=JOB_PARAMS["frames"].help)
    out, force = JOB_PARAMS["output_dir"], JOB_PARAMS["force"]
    parser.add_argument(out.flag, "-o", required=default is None, default=default,
                        help=out.help + ("" if default is None else f"; default {default!r}"))
    parser.add_argument(force.flag, action="store_true", help=force.help)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    if scheduler:
        from core.scale import SCALE_PARAMS

        SCALE_PARAMS.add_arguments(parser)


def add_colorspace_options(parser: argparse.ArgumentParser, *, reads: bool = True, writes: bool = True,
                           reference: bool = False) -> None:
    """``--input-colorspace`` (commands that read images), ``--output-colorspace`` (commands that write them)
    and ``--reference-colorspace`` (commands that also read a reference)."""
    from core.io import COLORSPACE_PARAMS

    skip = (([] if reads else ["input_colorspace"]) + ([] if writes else ["output_colorspace"])
            + ([] if reference else ["reference_colorspace"]))
    COLORSPACE_PARAMS.add_arguments(parser, skip=skip)


def colorspace_values(args) -> dict[str, str | None]:
    """The colour-space options of ``args`` as keyword arguments (``None`` = auto; names checked)."""
    from core.io import colorspace_option

    return {name: colorspace_option(getattr(args, name), name="--" + name.replace("_", "-"))
            for name in ("input_colorspace", "reference_colorspace", "output_colorspace") if hasattr(args, name)}


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C), raised where the job is.

    Not ``KeyboardInterrupt`` itself: CPython 3.11 marks a ``KeyboardInterrupt``
    of exactly that type that ends an ``exec``/``eval`` of a string (what every
    dataclass and namedtuple definition runs while a lazy import loads) as
    unhandled even when it is caught, and ``python -m`` then kills itself with
    SIGINT at exit (gh-128130): the parent saw -2 after "interrupted", not 130.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM (what farm managers and ``kill`` send), raised where the job is and unwound like Ctrl-C."""


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[list[int]]:
    """While the command runs, SIGINT raises :class:`Interrupted` and SIGTERM :class:`Terminated`.

    Only the first signal raises: a second one (a farm manager's repeat, a
    double Ctrl-C) must not break the clean-up of the first (the current
    frame's temporary file removed, the manifest written). Yields the list of
    signals received. Outside the main thread nothing is installed.
    """
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        if len(received) == 1:
            raise Terminated() if signum == signal.SIGTERM else Interrupted()

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        previous = {}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors, Ctrl-C and SIGTERM end in one line on stderr.

    Exit status: 0 done, 1 error, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
    """
    from core.threads import ENV, passive_waiting

    passive_waiting()  # before torch or onnxruntime load their thread pools
    with _signals_as_interrupts() as received:
        command = "reelkit"  # until the arguments are parsed
        try:
            parser = build_parser()  # imports every command's module: a Ctrl-C here is one line too
            args = parser.parse_args(argv)
            command = f"reelkit {args.command}"
            cap = getattr(args, "cap_threads", None)  # a command's own --threads (infer) is another option
            if cap is not None:
                if cap < 1:
                    parser.error(f"--threads {cap}: expected an integer >= 1")
                os.environ[ENV] = str(cap)  # every step of this command reads it (core.threads.job_threads)
            from core.scale import scheduler

            with scheduler(getattr(args, "scheduler", None), name="--scheduler"):  # reached before anything is written
                return int(args.func(args) or 0)
        except BaseException as exc:
            # after a signal, whatever the unwinding raised (a half-closed zip file...) is the signal's doing
            signum = received[0] if received else signal.SIGINT if isinstance(exc, KeyboardInterrupt) else None
            if signum is not None:
                word = "terminated" if signum == signal.SIGTERM else "interrupted"
                print(f"{command}: {word}", file=sys.stderr)
                return 128 + signum
            if isinstance(exc, MemoryError) and not isinstance(exc, ReelkitError):  # outside a per-frame job
                exc = out_of_memory(exc)
            if isinstance(exc, (ReelkitError, OSError)):  # OSError: disk full, permission denied... still one line
                print(f"{command}: error: {exc}", file=sys.stderr)
                return 1
            raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
