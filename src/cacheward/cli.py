"""The ``cacheward`` command: ``scan``, ``check`` and ``demo``."""

from __future__ import annotations

import click

from . import __version__
from .check.cli import check_command
from .demo.cli import demo_command
from .scan.cli import scan_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cacheward")
def main() -> None:
    """Prove and keep response caching safe for APIs with API keys.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or runtime error,
    3 inconclusive (something could not be tested; --inconclusive-ok makes it 0).
    """


main.add_command(scan_command)
main.add_command(check_command)
main.add_command(demo_command)
