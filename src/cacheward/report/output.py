"""The output options ``scan`` and ``check`` share, and what their exit codes mean.

Both commands take the same ``--format``, ``--output``/``-o``, ``--fail-on`` (every
severity, ``info`` included) and ``--inconclusive-ok``, write the report the same way and
turn a write error into one line on stderr and exit 2, never a traceback.

Exit codes:

- ``0`` clean: nothing at or above ``--fail-on``, and nothing left untested;
- ``1`` findings at or above ``--fail-on``;
- ``2`` usage or runtime error (bad option, unreadable input, unwritable ``--output``,
  a scan that reached no endpoint);
- ``3`` inconclusive: no finding at or above ``--fail-on``, but the report names
  something it could not test (``Report.inconclusive``); ``--inconclusive-ok`` makes it 0.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click

from ..core.finding import Report, Severity
from . import Format, render

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INCONCLUSIVE = 3

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True)
class Output:
    """What the shared options asked for."""

    fmt: Format = Format.TEXT
    path: Path | None = None
    fail_on: Severity = Severity.LOW
    inconclusive_ok: bool = False

    @property
    def color(self) -> bool:
        """Colored text only for a person at a terminal."""
        return self.fmt is Format.TEXT and self.path is None and sys.stdout.isatty()

    def preflight(self, command: str) -> None:
        """Exit 2 before any work when ``--output`` cannot be written (its folder is
        missing or not a folder): a long scan must not end in a lost report."""
        if self.path is not None and not self.path.parent.is_dir():
            fail(command, f"cannot write {self.path}: no such directory {self.path.parent}")


def output_options(*, fail_on: Severity) -> Callable[[F], F]:
    """The four shared options, ``fail_on`` being the command's default bar.

    The decorated command receives one ``out: Output`` keyword argument in their place.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(**kwargs: Any) -> object:
            kwargs["out"] = Output(
                Format(kwargs.pop("fmt")),
                kwargs.pop("output_path"),
                Severity(kwargs.pop("fail_on")),
                kwargs.pop("inconclusive_ok"),
            )
            return func(**kwargs)

        options = (
            click.option(
                "--format",
                "fmt",
                type=click.Choice([f.value for f in Format]),
                default=Format.TEXT.value,
                show_default=True,
                help="Output format.",
            ),
            click.option(
                "--output",
                "-o",
                "output_path",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Write the report to this file instead of standard output.",
            ),
            click.option(
                "--fail-on",
                type=click.Choice([s.value for s in Severity]),
                default=fail_on.value,
                show_default=True,
                help="Exit 1 when a finding is at or above this severity.",
            ),
            click.option(
                "--inconclusive-ok",
                is_flag=True,
                help="Exit 0, not 3, when nothing is at or above --fail-on but the report"
                " names something it could not test.",
            ),
        )
        wrapped: Any = command
        for option in reversed(options):
            wrapped = option(wrapped)
        return cast(F, wrapped)

    return decorate


def fail(command: str, message: str) -> NoReturn:
    """One clear line on stderr, exit 2 (the message must already be redacted)."""
    click.echo(f"cacheward {command}: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def write(report: Report, out: Output, command: str, redact: Callable[[str], str] = str) -> None:
    """Render ``report`` (through ``redact``) to ``out.path`` or stdout; a write error
    exits 2 with one line."""
    text = redact(render(report, out.fmt, color=out.color))
    if out.path is None:
        click.echo(text, nl=False)
        return
    try:
        out.path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(command, f"cannot write {out.path}: {exc.strerror or type(exc).__name__}")


def exit_code(report: Report, out: Output) -> int:
    """1 on findings at or above the bar, else 3 when inconclusive (unless allowed), else 0."""
    if report.at_or_above(out.fail_on):
        return EXIT_FINDINGS
    if report.inconclusive and not out.inconclusive_ok:
        return EXIT_INCONCLUSIVE
    return EXIT_OK
