"""``flask cacheward keys``: create prints a key once, list never does."""

from __future__ import annotations

import json
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from cacheward.flask.cli import cacheward_group
from cacheward.keys import KeyStore, MemoryKeyStore, SQLiteKeyStore
from cacheward.keys import format as key_format


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    s = SQLiteKeyStore(tmp_path / "keys.db")
    yield s
    s.close()


@pytest.fixture
def app(store: KeyStore) -> Flask:
    app = Flask(__name__)
    app.extensions["cacheward"] = types.SimpleNamespace(keys=store)
    return app


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def invoke(runner: FlaskCliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cacheward_group, ["keys", *args])
    return result.exit_code, result.stdout, result.stderr


def create(runner: FlaskCliRunner, *args: str) -> str:
    code, out, _ = invoke(runner, "create", *args)
    assert code == 0, out
    return out.strip().splitlines()[-1]


def test_create_prints_the_key_once(runner: FlaskCliRunner, store: KeyStore) -> None:
    code, out, err = invoke(
        runner, "create", "--principal", "alice", "--scope", "a:read", "--scope", "b:write"
    )
    assert code == 0
    plaintext = out.strip().splitlines()[-1]
    assert out.count(plaintext) == 1
    assert "will not be shown again" in err
    principal = store.verify(plaintext)
    assert principal is not None
    assert principal.id == "alice"
    assert principal.scopes == frozenset({"a:read", "b:write"})
    assert principal.key_id is not None and principal.key_id in out


def test_create_with_tenant_and_expiry(runner: FlaskCliRunner, store: KeyStore) -> None:
    plaintext = create(runner, "--principal", "bob", "--tenant", "acme", "--expires-in", "12h")
    principal = store.verify(plaintext)
    assert principal is not None and principal.tenant == "acme"
    record = store.get(principal.key_id or "")
    assert record is not None and record.expires is not None
    assert record.expires == pytest.approx(time.time() + 12 * 3600, abs=5)


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("3600s", 3600), ("15m", 900)])
def test_expires_in_units(runner: FlaskCliRunner, store: KeyStore, text: str, seconds: int) -> None:
    create(runner, "--principal", "p", "--expires-in", text)
    (record,) = store.list()
    assert record.expires == pytest.approx(time.time() + seconds, abs=5)


@pytest.mark.parametrize("bad", ["30", "3x", "0d", "-1d", "d"])
def test_bad_expiry_is_a_usage_error(runner: FlaskCliRunner, store: KeyStore, bad: str) -> None:
    code, _, err = invoke(runner, "create", "--principal", "p", "--expires-in", bad)
    assert code == 2
    assert "duration" in err
    assert store.list() == []


def test_create_needs_a_principal(runner: FlaskCliRunner) -> None:
    assert invoke(runner, "create")[0] == 2
    assert invoke(runner, "create", "--principal", "")[0] == 2


def test_list_never_prints_a_key(runner: FlaskCliRunner, store: KeyStore) -> None:
    keys = [
        create(runner, "--principal", "alice", "--scope", "s"),
        create(runner, "--principal", "bob"),
    ]
    store.verify(keys[0])
    for args in ([], ["--json"], ["--principal", "alice"]):
        code, out, _ = invoke(runner, "list", *args)
        assert code == 0
        for plaintext in keys:
            parsed = key_format.parse(plaintext)
            assert parsed is not None
            assert plaintext not in out
            assert parsed.secret not in out
            assert parsed.secret[:8] not in out
        for record in store.list():
            assert record.digest not in out


def test_list_table(runner: FlaskCliRunner, store: KeyStore) -> None:
    create(runner, "--principal", "alice", "--scope", "s1", "--scope", "s2", "--tenant", "acme")
    bob = store.create("bob")
    store.revoke(bob.id)
    store.create("carol", expires=time.time() - 1)
    code, out, _ = invoke(runner, "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "ID", "PRINCIPAL", "TENANT", "SCOPES", "CREATED", "LAST_USED", "EXPIRES", "STATUS",
    ]  # fmt: skip
    by_principal = {line.split()[1]: line for line in lines[1:]}
    assert by_principal["alice"].split()[2:4] == ["acme", "s1,s2"]
    assert by_principal["alice"].endswith("active")
    assert by_principal["bob"].startswith(bob.id) and by_principal["bob"].endswith("revoked")
    assert by_principal["carol"].endswith("expired")


def test_list_json(runner: FlaskCliRunner, store: KeyStore) -> None:
    plaintext = create(runner, "--principal", "alice", "--scope", "s", "--tenant", "t")
    store.create("bob")
    assert store.verify(plaintext) is not None
    code, out, _ = invoke(runner, "list", "--json", "--principal", "alice")
    assert code == 0
    (row,) = json.loads(out)
    assert row["principal"] == "alice"
    assert row["tenant"] == "t"
    assert row["scopes"] == ["s"]
    assert row["status"] == "active"
    assert row["last_used"] is not None and row["expires"] is None
    assert set(row) == {
        "id", "principal", "tenant", "scopes", "created", "last_used", "expires", "revoked",
        "status",
    }  # fmt: skip


def test_list_empty(runner: FlaskCliRunner) -> None:
    code, out, err = invoke(runner, "list")
    assert (code, err) == (0, "") and out.startswith("No keys")
    code, out, _ = invoke(runner, "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_revoke(runner: FlaskCliRunner, store: KeyStore) -> None:
    plaintext = create(runner, "--principal", "alice")
    other = create(runner, "--principal", "alice")
    principal = store.verify(plaintext)
    assert principal is not None and principal.key_id is not None
    code, out, _ = invoke(runner, "revoke", principal.key_id)
    assert code == 0 and "Revoked" in out
    assert store.verify(plaintext) is None
    assert store.verify(other) is not None
    code, out, _ = invoke(runner, "revoke", principal.key_id)
    assert code == 0 and "already revoked" in out


def test_revoke_a_leaked_key_by_its_plaintext(runner: FlaskCliRunner, store: KeyStore) -> None:
    plaintext = create(runner, "--principal", "alice")
    code, out, err = invoke(runner, "revoke", plaintext)
    assert code == 0
    assert plaintext not in out + err
    assert store.verify(plaintext) is None


def test_revoke_unknown_id_exits_1(runner: FlaskCliRunner) -> None:
    code, out, err = invoke(runner, "revoke", "abcdefgh2345")
    assert code == 1
    assert "no key with id 'abcdefgh2345'" in err


def test_revoke_unknown_does_not_echo_a_secret(runner: FlaskCliRunner) -> None:
    almost = key_format.generate()[0][:-1] + "!"
    code, out, err = invoke(runner, "revoke", almost)
    assert code == 1
    assert almost[16:40] not in out + err


def test_no_extension_exits_2() -> None:
    for extensions in ({}, {"cacheward": types.SimpleNamespace(keys=None)}):
        app = Flask(__name__)
        app.extensions.update(extensions)
        result = app.test_cli_runner().invoke(cacheward_group, ["keys", "list"])
        assert result.exit_code == 2
        assert "initialise Cacheward(app, keys=...) first" in result.stderr


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="flask.commands") if e.name == "cacheward"]
    assert ep.load() is cacheward_group


def _instance_app(instance: Path) -> Flask:
    """What ``flask --app`` builds, each time it runs: a store in the instance folder."""
    from cacheward import Cacheward

    app = Flask("keysapp", instance_path=str(instance))
    app.config["CACHEWARD_SECRET"] = "s" * 32
    Cacheward(app, keys=SQLiteKeyStore("keys.db", app=app))
    return app


def test_cli_finds_the_apps_keys_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: a relative store path resolved against the current directory, so
    ``keys list`` run from elsewhere printed "No keys." and made an empty database."""
    instance = tmp_path / "instance"
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    runner = _instance_app(instance).test_cli_runner()
    code, out, _ = invoke(runner, "create", "--principal", "alice")
    assert code == 0
    monkeypatch.chdir(elsewhere)
    code, out, _ = invoke(_instance_app(instance).test_cli_runner(), "list", "--json")
    assert code == 0 and [row["principal"] for row in json.loads(out)] == ["alice"]
    assert list(here.iterdir()) == [] and list(elsewhere.iterdir()) == []
    assert (instance / "keys.db").is_file()


def test_a_relative_path_without_app_is_refused(tmp_path: Path) -> None:
    from cacheward.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="app.instance_path"):
        SQLiteKeyStore("keys.db")


def test_an_empty_list_names_the_file(tmp_path: Path) -> None:
    runner = _instance_app(tmp_path / "instance").test_cli_runner()
    code, out, _ = invoke(runner, "list")
    assert code == 0 and str(tmp_path / "instance" / "keys.db") in out
