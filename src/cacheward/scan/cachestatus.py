"""Reading the RFC 9211 ``Cache-Status`` header: the one reader lives in
:mod:`cacheward.core.cachestatus` (shared with the guard and the pytest plugin)."""

from __future__ import annotations

from ..core.cachestatus import Member as Member
from ..core.cachestatus import parse as parse
from ..core.cachestatus import served_from_store as served_from_store
