"""Moved to :mod:`tests.support.proxies`.

Kept for parallel branches; remove after merge.
"""

from tests.support.proxies import *  # noqa: F403
from tests.support.proxies import HOST, HTTP_TIMEOUT, PROFILES, ROOT, Server  # noqa: F401
