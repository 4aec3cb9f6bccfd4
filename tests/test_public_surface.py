"""Every public module's exports are pinned exactly (httpx tests/test_exported_members.py):
an addition or a removal is a decision, made here, not an accident of an import."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

#: Names a module holds for its own typing or imports, never exported.
_PLUMBING = {"annotations", "TYPE_CHECKING", "Any"}

#: ``cacheward.keys`` and ``cacheward.scan`` are pinned as exactly in their own suites
#: (tests/keys/test_keys_exports.py, tests/scan/test_scan_exports.py).
EXPORTS: dict[str, set[str]] = {
    "cacheward": {
        "Cacheward",
        "CachewardError",
        "ConfigurationError",
        "Principal",
        "Scope",
        "UnkeyedInputError",
        "UnsafeCacheOrder",
        "current_principal",
    },
    "cacheward.flask": {"Cacheward", "current_principal"},
    "cacheward.core": {
        "CacheKey",
        "Confidence",
        "Entry",
        "Finding",
        "KeyPolicy",
        "Principal",
        "Purpose",
        "Report",
        "RequestFacts",
        "Scope",
        "Secrets",
        "Severity",
        "build_cache_key",
        "canonical_query",
        "parse_query",
        "principal_scope",
        "scope_token",
        "tenant_scope",
    },
    "cacheward.backends": {"Backend", "Lookup", "MemoryBackend", "backend_from_url"},
    "cacheward.testing": {
        "RedactedKey",
        "assert_no_cross_key_leak",
        "assert_no_cross_key_leak_async",
        "cacheward_keys",
        "cacheward_strict",
    },
    "cacheward.errors": {
        "BackendError",
        "BadRequestInput",
        "CachewardError",
        "ConfigurationError",
        "CredentialError",
        "CredentialInQuery",
        "ForeignCredential",
        "KeyStoreError",
        "MalformedHeader",
        "MalformedQuery",
        "MissingPrincipalError",
        "TargetError",
        "UnkeyableArgument",
        "UnkeyedInputError",
        "UnreadablePath",
        "UnsafeCacheOrder",
        "UnstorableValue",
    },
    "cacheward.report": {"Format", "render"},
    "cacheward.scan.probes": {"PROBES", "ProbeSpec"},
    "cacheward.check": {"RULES", "Rule", "UnreadablePath", "all_rules", "check_paths"},
    "cacheward.demo": set(),
    "cacheward.fastapi": {"Cacheward", "Principal"},
    "cacheward.starlette": {"Cacheward", "Principal"},
    "cacheward.asgi": {
        "AsyncBackend",
        "AsyncKeyStore",
        "AsyncMemoryBackend",
        "AsyncRedisKeyStore",
        "CachewardMiddleware",
        "ThreadedKeyStore",
        "as_async_keys",
        "async_backend_from_url",
    },
}


def public_names(module: ModuleType) -> set[str]:
    """What ``module`` offers by name: ``__all__`` if it declares one, else every public
    attribute that is not a submodule ("@py_*" names come from pytest's assertion
    rewriting of a package that ships a pytest plugin)."""
    declared = getattr(module, "__all__", None)
    if declared is not None:
        assert len(declared) == len(set(declared)), f"{module.__name__}: __all__ repeats a name"
        return set(declared)
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith(("_", "@"))
        and not isinstance(value, ModuleType)
        and name not in _PLUMBING
    }


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_exports_are_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert public_names(module) == EXPORTS[name]


@pytest.mark.parametrize("name", sorted(n for n in EXPORTS if n != "cacheward.testing"))
def test_every_export_resolves_and_nothing_public_is_left_out(name: str) -> None:
    """Each exported name can be reached (lazy ones too), and a package that declares
    ``__all__`` holds no other public, non-module name: a new import there is an
    addition to decide on, not a silent export."""
    module = importlib.import_module(name)
    for export in EXPORTS[name]:
        assert getattr(module, export) is not None, export
    if hasattr(module, "__all__"):
        stray = {
            n
            for n, v in vars(module).items()
            if not n.startswith(("_", "@")) and not isinstance(v, ModuleType)
        }
        assert stray - set(module.__all__) - _PLUMBING - {"Enum", "Report"} == set()

