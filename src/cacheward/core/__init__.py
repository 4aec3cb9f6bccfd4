"""The pure core shared by the guard, the scanner and the checker.

Nothing here imports Flask, Werkzeug or httpx, and nothing does I/O: principals, request
facts, key policies, cache keys, entries and findings are plain values.
"""

from .cachekey import CacheKey as CacheKey
from .cachekey import build_cache_key as build_cache_key
from .cachekey import principal_scope as principal_scope
from .cachekey import scope_token as scope_token
from .cachekey import tenant_scope as tenant_scope
from .entry import Entry as Entry
from .facts import RequestFacts as RequestFacts
from .finding import Confidence as Confidence
from .finding import Finding as Finding
from .finding import Report as Report
from .finding import Severity as Severity
from .policy import KeyPolicy as KeyPolicy
from .policy import Scope as Scope
from .principal import Principal as Principal
from .query import canonical_query as canonical_query
from .query import parse_query as parse_query
from .secret import Purpose as Purpose
from .secret import Secrets as Secrets
