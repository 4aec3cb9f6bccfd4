"""``cacheward scan``: the command-line front of the scanner.

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or runtime error
(including a scan in which no endpoint could be reached: that is not "clean").
No key ever reaches stdout, stderr, ``--output`` or a log line in clear.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..core.finding import Severity
from ..report import Format, render
from . import credential
from .credential import Credential, CredentialError, Placement, RedactingFilter, Redactor
from .engine import Settings, scan_async
from .progress import Silent, for_stream
from .target import TargetError, check_url, endpoints

_SEVERITIES = [s.value for s in Severity if s is not Severity.INFO]


def _fail(message: str, redact: Redactor | None = None) -> None:
    click.echo(f"cacheward scan: error: {redact(message) if redact else message}", err=True)
    sys.exit(2)


# --- identity-oracle options (--identity, --whoami, --wait-ttl) -------------------------
#: The longest --wait-ttl accepted: the scan waits at most twice this per endpoint.
MAX_WAIT_TTL = 120.0


def oracle_options(command: Callable[..., None]) -> Callable[..., None]:
    """What the user knows about each principal, and whether to wait out a TTL."""
    command = click.option(
        "--wait-ttl",
        type=click.FloatRange(0, MAX_WAIT_TTL),
        default=0.0,
        metavar="SECONDS",
        help="Where nothing busts, wait (twice, at most SECONDS each) for the entry to"
        " expire so each key caches its own response; writes the test keys' own data.",
    )(command)
    command = click.option(
        "--whoami",
        default=None,
        metavar="URL",
        help="A URL (or a path on the first URL's host) returning the caller's identity.",
    )(command)
    return click.option(
        "--identity",
        "identity",
        multiple=True,
        metavar="NAME=VALUE",
        help="A value only NAME's responses carry (e-mail, id); repeatable.",
    )(command)


def oracle_settings(
    identity: tuple[str, ...], whoami: str | None, wait_ttl: float, creds: list[Credential]
) -> dict[str, Any]:
    """The :class:`Settings` fields of the oracle options (a bad one is a usage error)."""
    names = {c.name for c in creds}
    pairs = []
    for item in identity:
        name, eq, value = item.partition("=")
        if not eq or name not in names or len(value.strip()) < 3:
            _fail(
                f"--identity {name or item!r}: expected NAME=VALUE for a --key NAME,"
                " the value 3 characters or more"
            )
        pairs.append((name, value.strip()))
    if whoami and not whoami.startswith("/"):
        try:
            check_url(whoami)
        except TargetError as exc:
            _fail(f"--whoami: {exc}")
    return {"identities": tuple(pairs), "whoami": whoami or None, "wait_ttl": wait_ttl}


# ------------------------------------------------------------------------------------------


@click.command("scan", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("urls", nargs=-1, required=True)
@click.option(
    "--openapi",
    "spec",
    type=click.Path(exists=True, dir_okay=False),
    help="OpenAPI JSON/YAML; URL is then the base.",
)
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="NAME=KEY",
    help=f"A principal's key (repeatable; or ${credential.ENV_KEYS}).",
)
@click.option(
    "--key-header", default="X-API-Key", show_default=True, help="Header that carries the key."
)
@click.option("--key-bearer", is_flag=True, help="Send the key as Authorization: Bearer.")
@click.option(
    "--key-query", default=None, metavar="NAME", help="Send the key as a query parameter."
)
@click.option(
    "--low-key",
    "low",
    multiple=True,
    metavar="NAME",
    help="A principal that must NOT read these URLs.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default="text",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report here (default stdout).",
)
@click.option("--fail-on", type=click.Choice(_SEVERITIES), default="low", show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=50.0,
    show_default=True,
    help="Requests per second, all endpoints (0: unlimited).",
)
@click.option(
    "--budget",
    type=click.IntRange(10),
    default=400,
    show_default=True,
    help="Requests per endpoint.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds per request.",
)
@click.option(
    "--aggressive",
    is_flag=True,
    help="Also try unsafe methods (POST, PUT, PATCH, DELETE) in overrides.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request (redacted) to stderr.")
@oracle_options
def scan_command(
    urls: tuple[str, ...],
    spec: str | None,
    keys: tuple[str, ...],
    key_header: str,
    key_bearer: bool,
    key_query: str | None,
    low: tuple[str, ...],
    fmt: str,
    output: str | None,
    fail_on: str,
    concurrency: int,
    rate: float,
    budget: int,
    timeout: float,
    aggressive: bool,
    verbose: bool,
    identity: tuple[str, ...],
    whoami: str | None,
    wait_ttl: float,
) -> None:
    """Probe a running API for cache poisoning and cross-key leakage.

    Every probe carries its own cache buster (query, else a Vary header or a cookie);
    where none busts, only a read-only cross-key check runs and nothing is poisoned.
    """
    if key_bearer and key_query:
        _fail("--key-bearer and --key-query are exclusive")
    try:
        pairs = credential.parse_pairs(keys) if keys else credential.from_env()
    except CredentialError as exc:
        _fail(str(exc))
    placement = (
        Placement.BEARER if key_bearer else Placement.QUERY if key_query else Placement.HEADER
    )
    try:
        creds = credential.build(
            pairs, placement=placement, header=key_header, query=key_query or "api_key", low=low
        )
    except CredentialError as exc:
        _fail(str(exc))
    redact = Redactor(creds)
    if not creds:
        _fail(f"no keys: pass --key NAME=KEY or set {credential.ENV_KEYS}")
    try:
        targets, notes = endpoints(urls, spec)
    except TargetError as exc:
        _fail(str(exc), redact)
    if not targets:
        _fail("no endpoints to scan")
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(RedactingFilter(redact))
        logger = logging.getLogger("cacheward.scan")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    known = oracle_settings(identity, whoami, wait_ttl, creds)
    settings = Settings(concurrency, rate, budget, timeout, aggressive, **known)
    progress = for_stream(sys.stderr) if output or fmt == "text" else Silent()
    try:
        report = asyncio.run(scan_async(targets, creds, settings, progress=progress, notes=notes))
    except Exception as exc:  # noqa: BLE001 - any crash is exit 2, never a traceback with a key
        _fail(f"{type(exc).__name__}: {exc}", redact)
    text = redact(
        render(report, Format(fmt), color=fmt == "text" and not output and sys.stdout.isatty())
    )
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    if report.stats.get("endpoints_scanned") == 0:
        _fail("no endpoint could be scanned (see the notes)")
    sys.exit(1 if report.at_or_above(Severity(fail_on)) else 0)
