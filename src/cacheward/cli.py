"""The ``cacheward`` command: ``scan``, ``check`` and ``demo``.

Each subcommand's module is imported only when that subcommand runs (or help lists it):
``cacheward check`` reads source with :mod:`ast` and must not pay for importing Flask,
httpx and rich, which ``scan`` and ``demo`` need (they were most of its start-up time).
"""

from __future__ import annotations

import importlib

import click

from . import __version__

#: Subcommand name to ``(module, attribute)``, imported on first use.
_COMMANDS = {
    "scan": ("cacheward.scan.cli", "scan_command"),
    "check": ("cacheward.check.cli", "check_command"),
    "demo": ("cacheward.demo.cli", "demo_command"),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported when resolved, not at start-up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            module, attr = _COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
                raise TypeError(f"{module}.{attr} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cacheward")
def main() -> None:
    """Prove and keep response caching safe for APIs with API keys.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or runtime error,
    3 inconclusive (something could not be tested; --inconclusive-ok makes it 0).
    """
