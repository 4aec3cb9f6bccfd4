"""The bundled rules, one per module; importing this package registers them all."""

from . import (  # noqa: F401  (each module registers its rule)
    authenticated_no_cache_control,
    cache_outside_auth,
    credential_in_key,
    identity_unkeyed,
    key_in_query,
    lookup_before_auth,
    memoize_address_key,
    pickle_shared_cache,
    proxyfix_host_unkeyed,
    public_authenticated,
    query_string_ignored,
    suppression_without_reason,
    unkeyed_header,
)
