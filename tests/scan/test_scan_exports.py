"""The scanner's public names are pinned (httpx tests/test_exported_members.py)."""

from __future__ import annotations

from types import ModuleType

import cacheward.scan
from cacheward.core.finding import SCAN_CHECK_IDS
from cacheward.scan.probes import PROBES


def test_exported_names() -> None:
    public = {
        n
        for n, v in vars(cacheward.scan).items()
        if not n.startswith(("_", "@")) and not isinstance(v, ModuleType)
    }
    assert public == {
        "Credential",
        "Endpoint",
        "Placement",
        "Redactor",
        "Settings",
        "mask",
        "scan",
        "scan_async",
    }


def test_every_probe_module_is_registered() -> None:
    names = {p.name for p in PROBES}
    assert len(names) == len(PROBES) == 22
    assert {"cacheable-authenticated", "set-cookie-cacheable", "key-in-url"} <= names
    assert all(p.active for p in PROBES if p.name not in SCAN_CHECK_IDS[-3:])


def test_cli_registers_scan() -> None:
    """``scan`` is listed and resolves to a command (the group imports it lazily, so
    ``main.commands`` holds it only once something resolved it)."""
    import click

    from cacheward.cli import main

    ctx = click.Context(main)
    assert "scan" in main.list_commands(ctx)
    command = main.get_command(ctx, "scan")
    assert isinstance(command, click.Command) and command.name == "scan"
