"""The ``cacheward check`` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.finding import Severity
from ..errors import CachewardError
from ..report import Format
from ..report.output import Output, exit_code, fail, output_options, write
from .runner import check_paths
from .summary import fold_lows


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_options(fail_on=Severity.MEDIUM)
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
    paths: tuple[Path, ...], verbose: bool, exclude: tuple[str, ...], out: Output
) -> None:
    """Statically check Flask and FastAPI source in PATHS for cache poisoning and cross-key leakage.

    Reads Python with ast; never imports or runs it. Silence one finding on its line
    with a reason: "# cacheward: ignore[ID] why it is safe". A rule that crashes is a
    note naming the rule; the other rules still run.

    Exit codes: 0 clean, 1 findings at or above --fail-on (default medium: low findings
    are advice), 2 usage or runtime error, 3 inconclusive (a rule crashed and nothing is
    at or above --fail-on; --inconclusive-ok makes it 0).
    """
    out.preflight("check")
    try:
        report = check_paths(paths, exclude=exclude)
    except CachewardError as exc:
        fail("check", str(exc))
    except Exception as exc:  # noqa: BLE001 - exit 2 and one line, never 1 and a traceback
        fail("check", f"internal error: {type(exc).__name__}: {exc} (please report this)")
    shown = report if verbose or out.fmt is not Format.TEXT else fold_lows(report)
    write(shown, out, "check")
    sys.exit(exit_code(report, out))
