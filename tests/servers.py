"""Moved to :mod:`tests.support.redis` (and ``free_port`` to :mod:`tests.support.ports`).

Kept for parallel branches (``from servers import ...``); remove after merge.
"""

from tests.support.binaries import need_binary as require  # noqa: F401
from tests.support.ports import HOST, free_port  # noqa: F401
from tests.support.redis import RedisCluster, RedisServer  # noqa: F401
