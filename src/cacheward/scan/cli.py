"""``cacheward scan``: the command-line front of the scanner.

Exit codes (shared with ``check``, see :mod:`cacheward.report.output`): 0 clean, 1
findings at or above ``--fail-on``, 2 usage or runtime error (including a scan in which
no endpoint could be reached: that is not "clean"), 3 inconclusive (something could not
be tested and nothing is at or above ``--fail-on``; ``--inconclusive-ok`` makes it 0).
No key ever reaches stdout, stderr, ``--output`` or a log line in clear.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NoReturn, TypeVar, cast

import click

from ..core.finding import Report, Severity
from ..report import Format
from ..report.output import Output, exit_code, output_options, write
from ..report.output import fail as _fail_line
from . import credential
from .credential import Credential, CredentialError, Placement, RedactingFilter, Redactor
from .engine import Settings, scan_async
from .progress import Silent, for_stream
from .target import Endpoint, TargetError, check_url, endpoints, parse_path_params

F = TypeVar("F", bound=Callable[..., object])
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Headers ``--header`` may not set: framing is the client's, credentials the keys'.
_NOT_REQUIRED = frozenset({"content-length", "transfer-encoding", "connection", "host"})


def fail(message: str, redact: Callable[[str], str] = str) -> NoReturn:
    _fail_line("scan", redact(message))


def grouped(
    name: str, build: Callable[..., object], *options: Callable[[F], F]
) -> Callable[[F], F]:
    """Declare ``options`` and hand the command one ``name`` argument instead: what
    ``build`` makes of their values (each group decides one thing)."""

    def decorate(func: F) -> F:
        own: list[str] = []

        @functools.wraps(func)
        def command(**kwargs: Any) -> object:
            kwargs[name] = build(**{k: kwargs.pop(k) for k in own})
            return func(**kwargs)

        wrapped: Any = command
        before = len(getattr(command, "__click_params__", []))
        for option in reversed(options):
            wrapped = option(wrapped)
        own.extend(p.name for p in wrapped.__click_params__[before:] if p.name)
        return cast(F, wrapped)

    return decorate


def _credentials(
    keys: tuple[str, ...],
    key_header: str,
    key_bearer: bool,
    key_query: str | None,
    key_cookie: str | None,
    low: tuple[str, ...],
) -> list[Credential]:
    """The principals: ``--key`` (or the environment); none is a public-target scan."""
    if sum((key_bearer, key_query is not None, key_cookie is not None)) > 1:
        fail("--key-bearer, --key-query and --key-cookie are exclusive")
    try:
        pairs = credential.parse_pairs(keys) if keys else credential.from_env()
        placement = (
            Placement.BEARER
            if key_bearer
            else Placement.QUERY
            if key_query
            else Placement.COOKIE
            if key_cookie
            else Placement.HEADER
        )
        return credential.build(
            pairs,
            placement=placement,
            header=key_header,
            query=key_query or "api_key",
            cookie=key_cookie or "session",
            low=low,
        )
    except CredentialError as exc:
        fail(str(exc))


_credential_options = grouped(
    "creds",
    _credentials,
    click.option(
        "--key",
        "keys",
        multiple=True,
        metavar="NAME=KEY",
        help=f"A principal's key (repeatable; or ${credential.ENV_KEYS}). None: scan a"
        " public API as an anonymous caller (the cross-key checks are skipped).",
    ),
    click.option(
        "--key-header", default="X-API-Key", show_default=True, help="Header that carries the key."
    ),
    click.option("--key-bearer", is_flag=True, help="Send the key as Authorization: Bearer."),
    click.option(
        "--key-query", default=None, metavar="NAME", help="Send the key as a query parameter."
    ),
    click.option(
        "--key-cookie",
        default=None,
        metavar="NAME",
        help="Send the key as cookie NAME (a session cookie), in the one Cookie header.",
    ),
    click.option(
        "--low-key",
        "low",
        multiple=True,
        metavar="NAME",
        help="A principal that must NOT read these URLs.",
    ),
)


def parse_headers(items: Sequence[str], creds: Sequence[Credential]) -> tuple[tuple[str, str], ...]:
    """``Name: value`` strings (``--header``) to pairs; the header a key travels in, and
    framing headers, are refused (errors never echo a value)."""
    taken = {(c.credential_header or "").lower() for c in creds} - {"", "cookie"}
    out: list[tuple[str, str]] = []
    for i, item in enumerate(items, 1):
        name, sep, value = item.partition(":")
        name = name.strip()
        if not sep or not _HEADER_NAME.match(name) or "\n" in value or "\r" in value:
            fail(f"--header #{i} is not 'Name: value'")
        if name.lower() in _NOT_REQUIRED or name.lower() in taken:
            fail(f"--header #{i}: {name} cannot be set with --header")
        out.append((name, value.strip()))
    return tuple(out)


def _settings(
    concurrency: int, rate: float, budget: int, timeout: float, aggressive: bool
) -> Settings:
    return Settings(concurrency, rate, budget, timeout, aggressive)


def _limit(name: str, kind: Any, default: float, help: str) -> Callable[[F], F]:
    return click.option(name, type=kind, default=default, show_default=True, help=help)


_limit_options = grouped(
    "settings",
    _settings,
    _limit("--concurrency", click.IntRange(1, 256), 8, "Requests in flight at once."),
    _limit("--rate", click.FloatRange(0), 50.0, "Requests per second, all endpoints (0: none)."),
    _limit("--budget", click.IntRange(10), 400, "Requests per endpoint."),
    _limit("--timeout", click.FloatRange(0.1), 10.0, "Seconds per request."),
    click.option(
        "--aggressive",
        is_flag=True,
        help="Also try unsafe methods (POST, PUT, PATCH, DELETE) in overrides.",
    ),
)


def _targets(
    urls: Sequence[str], spec: str | None, path_params: Sequence[str], redact: Redactor
) -> tuple[list[Endpoint], list[str]]:
    """The endpoints, and the notes on spec operations that will not be scanned."""
    try:
        found, skipped = endpoints(urls, spec, parse_path_params(path_params))
    except TargetError as exc:
        fail(str(exc), redact)
    if not found:
        fail("no endpoints to scan" + (f" ({skipped[0]})" if skipped else ""), redact)
    return found, skipped


def _log_to_stderr(redact: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redact))
    logger = logging.getLogger("cacheward.scan")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _run(
    targets: list[Endpoint],
    creds: list[Credential],
    settings: Settings,
    skipped: list[str],
    out: Output,
) -> Report:
    redact = Redactor(creds)
    progress = for_stream(sys.stderr) if out.path or out.fmt is Format.TEXT else Silent()
    try:
        return asyncio.run(scan_async(targets, creds, settings, progress=progress, gaps=skipped))
    except KeyboardInterrupt:
        fail("interrupted: no report written")
    except Exception as exc:  # noqa: BLE001 - any crash is exit 2, never a traceback with a key
        fail(f"{type(exc).__name__}: {exc}", redact)


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
        help="Where nothing busts (or every key got one unproven body), wait (twice, at"
        " most SECONDS each) for the entry to expire so each key caches its own"
        " response; writes the test keys' own data.",
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
            fail(
                f"--identity {name or item!r}: expected NAME=VALUE for a --key NAME,"
                " the value 3 characters or more"
            )
        pairs.append((name, value.strip()))
    if whoami and not whoami.startswith("/"):
        try:
            check_url(whoami)
        except TargetError as exc:
            fail(f"--whoami: {exc}")
    return {"identities": tuple(pairs), "whoami": whoami or None, "wait_ttl": wait_ttl}


@click.command("scan", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("urls", nargs=-1, required=True)
@click.option(
    "--openapi",
    "spec",
    type=click.Path(exists=True, dir_okay=False),
    help="OpenAPI 3 or Swagger 2, JSON or YAML; URL is then the base (the spec's servers"
    " or basePath path is added to it).",
)
@click.option(
    "--path-param",
    "path_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="With --openapi: a value for path parameter NAME (repeatable; wins over the"
    " spec's examples).",
)
@_credential_options
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="A header the API requires, sent on every request (repeatable; Cookie values"
    " merge into the one Cookie header).",
)
@output_options(fail_on=Severity.LOW)
@_limit_options
@click.option("-v", "--verbose", is_flag=True, help="Log every request (redacted) to stderr.")
@oracle_options
def scan_command(
    urls: tuple[str, ...],
    spec: str | None,
    path_params: tuple[str, ...],
    creds: list[Credential],
    headers: tuple[str, ...],
    settings: Settings,
    verbose: bool,
    identity: tuple[str, ...],
    whoami: str | None,
    wait_ttl: float,
    out: Output,
) -> None:
    """Probe a running API for cache poisoning and cross-key leakage.

    Every probe carries its own cache buster (query, else a Vary header or a cookie);
    where none busts, only a read-only cross-key check runs and nothing is poisoned.
    No cookie jar: a Set-Cookie is never replayed.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or runtime error,
    3 inconclusive: nothing at or above --fail-on, but something could not be tested
    (an endpoint no buster busts, a spent budget, a result to check by hand; see the
    "not tested" notes). --inconclusive-ok makes 3 an exit 0.
    """
    redact = Redactor(creds)
    known = oracle_settings(identity, whoami, wait_ttl, creds)
    settings = replace(settings, headers=parse_headers(headers, creds), **known)
    targets, skipped = _targets(urls, spec, path_params, redact)
    if verbose:
        _log_to_stderr(redact)
    out.preflight("scan")
    report = _run(targets, creds, settings, skipped, out)
    write(report, out, "scan", redact)
    if report.stats.get("endpoints_scanned") == 0:
        fail("no endpoint could be scanned (see the notes)")
    sys.exit(exit_code(report, out))
