"""``flask cacheward``: manage the API keys of the app's key store.

::

    flask cacheward keys create --principal alice --scope accounts:read --expires-in 90d
    flask cacheward keys list [--principal alice] [--json]
    flask cacheward keys revoke <key id>

The store is the one given to ``Cacheward(app, keys=...)`` (build an SQLite one with
``SQLiteKeyStore("keys.db", app=app)`` so that it lives in the instance folder, wherever
the command runs from). Secrets are printed once, by
``create``, and never again: ``list`` shows ids, not keys.

Exit codes: 0 done, 1 no such key, 2 usage or runtime error.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any, NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from ..errors import KeyStoreError
from ..keys import format as key_format
from ..keys.sqlite import SQLiteKeyStore
from ..keys.store import KeyRecord, KeyStore

cacheward_group = AppGroup("cacheward", help="Manage cacheward for this app.")

_DURATION_RE = re.compile(r"\A\s*(\d+)\s*([smhdw])\s*\Z")
_ID_RE = re.compile(rf"\A[a-z2-7]{{{key_format.ID_LENGTH}}}\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """Seconds in a duration such as ``30d``, ``12h``, ``15m`` or ``3600s``."""
    if value is None:
        return None
    m = _DURATION_RE.match(value)
    if m is None or int(m.group(1)) == 0:
        raise click.BadParameter(f"{value!r} is not a duration like 30d, 12h, 15m or 3600s")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def _store() -> KeyStore:
    """The app's key store, or exit 2 saying how to configure one."""
    ext = current_app.extensions.get("cacheward")
    store = getattr(ext, "keys", None)
    if not isinstance(store, KeyStore):
        click.echo(
            "Error: this app has no cacheward key store;"
            " initialise Cacheward(app, keys=...) first.",
            err=True,
        )
        sys.exit(2)
    return store


def _fail(exc: KeyStoreError) -> NoReturn:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(2)


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _status(record: KeyRecord, now: float) -> str:
    if record.revoked is not None:
        return "revoked"
    if record.expires is not None and record.expires <= now:
        return "expired"
    return "active"


def _row(record: KeyRecord, now: float) -> dict[str, Any]:
    """What ``list`` shows of a key: never its secret or digest."""
    return {
        "id": record.id,
        "principal": record.principal_id,
        "tenant": record.tenant,
        "scopes": sorted(record.scopes),
        "created": _when(record.created),
        "last_used": _when(record.last_used),
        "expires": _when(record.expires),
        "revoked": _when(record.revoked),
        "status": _status(record, now),
    }


def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = ",".join(value)
    return str(value) if value else "-"


def _key_id(arg: str) -> tuple[str, str]:
    """The key id named by ``arg``, and how to echo it.

    A whole key is accepted (revoking a leaked key is the urgent case) but never echoed.
    """
    parsed = key_format.parse(arg)
    if parsed is not None:
        return parsed.id, parsed.id
    if _ID_RE.match(arg):
        return arg, arg
    return arg, key_format.redact(arg)


@cacheward_group.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys."""


@keys_group.command("create")
@click.option("--principal", "principal", required=True, help="Who the key authenticates.")
@click.option("--scope", "scopes", multiple=True, help="A scope the key grants (repeatable).")
@click.option("--tenant", default=None, help="The tenant the principal belongs to.")
@click.option(
    "--expires-in",
    "expires_in",
    callback=_duration,
    default=None,
    help="Lifetime, e.g. 90d, 12h, 15m or 3600s.",
)
def create_command(
    principal: str, scopes: tuple[str, ...], tenant: str | None, expires_in: int | None
) -> None:
    """Issue a new key and print it, this once."""
    store = _store()
    expires = None if expires_in is None else time.time() + expires_in
    try:
        issued = store.create(principal, scopes=scopes, tenant=tenant, expires=expires)
    except KeyStoreError as exc:
        _fail(exc)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--principal") from exc
    click.echo(f"Created key {issued.id} for principal {issued.principal_id!r}.")
    click.echo("Store it now: it will not be shown again.", err=True)
    click.echo("")
    click.echo(issued.plaintext)


@keys_group.command("list")
@click.option("--principal", default=None, help="Only this principal's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(principal: str | None, as_json: bool) -> None:
    """List keys, newest first (ids and metadata only; never a secret)."""
    store = _store()
    try:
        records = store.list(principal)
    except KeyStoreError as exc:
        _fail(exc)
    now = time.time()
    rows = [_row(r, now) for r in records]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        # Name the file: an empty list from the wrong database must not look like an answer.
        where = f" in {store.path}" if isinstance(store, SQLiteKeyStore) else ""
        click.echo(f"No keys{where}.")
        return
    headers = ["id", "principal", "tenant", "scopes", "created", "last_used", "expires", "status"]
    table = [[_cell(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(cells[i]) for cells in table)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for cells in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())


@keys_group.command("revoke")
@click.argument("key")
def revoke_command(key: str) -> None:
    """Revoke the key with id KEY (or the whole key, if it leaked); it stops working on
    the next request."""
    store = _store()
    key_id, shown = _key_id(key)
    try:
        record = store.get(key_id)
        if record is None:
            click.echo(f"Error: no key with id {shown!r}.", err=True)
            sys.exit(1)
        if record.revoked is not None:
            click.echo(f"Key {shown} was already revoked.")
            return
        store.revoke(key_id)
    except KeyStoreError as exc:
        _fail(exc)
    click.echo(f"Revoked key {shown}.")
