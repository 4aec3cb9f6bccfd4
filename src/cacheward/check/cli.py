"""The ``cacheward check`` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.finding import Severity
from ..errors import CachewardError
from ..report import Format, render
from .runner import check_paths
from .summary import fold_lows


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default=Format.TEXT.value,
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    default=Severity.MEDIUM.value,
    show_default=True,
    help="Exit 1 when a finding is at or above this severity (low findings are advice).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="List low findings in the text report too (by default they are one summary line).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files matching this glob (path or file name); repeatable.",
)
def check_command(
    paths: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    fail_on: str,
    verbose: bool,
    exclude: tuple[str, ...],
) -> None:
    """Statically check Flask source in PATHS for cache poisoning and cross-key leakage.

    Reads Python with ast; never imports or runs it. Silence one finding on its line
    with a reason: "# cacheward: ignore[ID] why it is safe".

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or runtime error.
    """
    try:
        report = check_paths(paths, exclude=exclude)
    except CachewardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    color = fmt == Format.TEXT.value and output is None and sys.stdout.isatty()
    shown = report if verbose or fmt != Format.TEXT.value else fold_lows(report)
    text = render(shown, Format(fmt), color=color)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(2)
    sys.exit(1 if report.at_or_above(Severity(fail_on)) else 0)
