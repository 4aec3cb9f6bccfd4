"""The probes, one module each, in the order they run for an endpoint.

Passive probes are plain functions of the baselines; active probes are generators that
send requests (attack inputs, keys in the URL) and run only when the endpoint's cache
buster was shown to work, except ``cache-deception``, whose every path is fresh. Where no
buster works, :mod:`.crosskey_unbusted` runs too, read-only, after every other endpoint.
"""

from __future__ import annotations

from . import (  # issue 16: the technique classes of WCVS 2.0, Param Miner and the papers
    cacheable,
    cloaking,
    cpdos,
    crosskey,
    deception,
    deception_path,
    duplicate_host,
    error_cached,
    fat_get,
    hidden_cache,
    host_header,
    key_in_url,
    method_override,
    miner,
    param_pollution,
    path_normalization,
    response_splitting,
    set_cookie,
    unkeyed_cookie,
    unkeyed_header,
    unkeyed_param,
)
from .base import ProbeSpec

PROBES: tuple[ProbeSpec, ...] = (
    ProbeSpec("cacheable-authenticated", look=cacheable.look),
    ProbeSpec("set-cookie-cacheable", look=set_cookie.look),
    ProbeSpec("key-in-url", key_in_url.probe),  # sends requests: needs a working buster
    ProbeSpec("cross-key", crosskey.probe),
    ProbeSpec("error-cached", error_cached.probe),
    # Every deceptive path is fresh (a random name), so it runs where nothing busts too.
    ProbeSpec("cache-deception", deception.probe, unbusted=True),
    ProbeSpec("method-override", method_override.probe),
    ProbeSpec("unkeyed-param", unkeyed_param.probe),
    ProbeSpec("param-cloaking", cloaking.probe),
    ProbeSpec("fat-get", fat_get.probe),
    ProbeSpec("unkeyed-header", unkeyed_header.probe),
    # Plain GETs on fresh busters only; it skips endpoints where a fresh buster is a hit.
    ProbeSpec("hidden-cache", hidden_cache.probe, unbusted=True),
    ProbeSpec("header-wordlist", miner.headers),
    ProbeSpec("param-wordlist", miner.params),
    ProbeSpec("unkeyed-cookie", unkeyed_cookie.probe),
    ProbeSpec("cpdos", cpdos.probe),
    ProbeSpec("host-header", host_header.probe),
    # Raw requests (h11 sends no second Host): over the network only, else a note.
    ProbeSpec("duplicate-host", duplicate_host.probe),
    ProbeSpec("response-splitting", response_splitting.probe),
    ProbeSpec("path-normalization", path_normalization.probe),
    ProbeSpec("cache-deception-path", deception_path.probe),
    ProbeSpec("param-pollution", param_pollution.probe),
)

__all__ = ["PROBES", "ProbeSpec"]
