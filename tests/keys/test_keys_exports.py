"""The public names of ``cacheward.keys`` are pinned (httpx's exported-members test)."""

import cacheward.keys


def test_exported_names() -> None:
    # "@py_*" names come from pytest rewriting a package that ships a pytest plugin.
    public = {n for n in vars(cacheward.keys) if not n.startswith(("_", "@"))}
    modules = {"format", "store", "sqlite", "redis"}
    assert public - modules - {"TYPE_CHECKING"} == {
        "IssuedKey",
        "KeyRecord",
        "KeyStore",
        "MemoryKeyStore",
        "SQLiteKeyStore",
        "redact",
    }
    # Imported on first use, so that cacheward.keys works without redis-py.
    assert cacheward.keys.RedisKeyStore.__name__ == "RedisKeyStore"
