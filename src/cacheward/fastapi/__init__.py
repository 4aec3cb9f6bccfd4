"""The guard for FastAPI: ``Security(ward.protected(...))`` and ``@ward.cached(...)``.

Needs ``pip install 'cacheward[fastapi]'``.
"""

from ..core.principal import Principal as Principal
from .extension import Cacheward as Cacheward

__all__ = ["Cacheward", "Principal"]
