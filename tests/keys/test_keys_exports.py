"""The public names of ``cacheward.keys`` are pinned (httpx's exported-members test)."""

import cacheward.keys


def test_exported_names() -> None:
    public = {name for name in vars(cacheward.keys) if not name.startswith("_")}
    modules = {"format", "store", "sqlite"}
    assert public - modules == {
        "IssuedKey",
        "KeyRecord",
        "KeyStore",
        "MemoryKeyStore",
        "SQLiteKeyStore",
        "redact",
    }
