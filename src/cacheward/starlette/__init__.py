"""The guard for plain Starlette endpoints: see :mod:`cacheward.starlette.extension`.

Needs ``pip install 'cacheward[fastapi]'``.
"""

from ..core.principal import Principal as Principal
from .extension import Cacheward as Cacheward

__all__ = ["Cacheward", "Principal"]
