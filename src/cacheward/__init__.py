"""cacheward: poisoning-proof response caching for Flask APIs with API keys.

.. code-block:: python

    ward = Cacheward(app, keys=SQLiteKeyStore("keys.db", app=app))

    @app.get("/accounts/<account_id>")
    @ward.protected("accounts:read", authorize=lambda p, account_id: p.id == account_id)
    @ward.cached(ttl=60)
    def account(account_id): ...

``Cacheward`` and ``current_principal`` are imported on first use, so that importing
:mod:`cacheward.core` (from the scanner or the checker) never imports Flask.
"""

from typing import TYPE_CHECKING, Any

from .core.policy import Scope as Scope
from .core.principal import Principal as Principal
from .errors import CachewardError as CachewardError
from .errors import ConfigurationError as ConfigurationError
from .errors import UnkeyedInputError as UnkeyedInputError
from .errors import UnsafeCacheOrder as UnsafeCacheOrder

if TYPE_CHECKING:
    from .flask import Cacheward as Cacheward
    from .flask import current_principal as current_principal

__version__ = "0.1.0.dev0"

_LAZY = {"Cacheward", "current_principal"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import flask

        return getattr(flask, name)
    raise AttributeError(f"module 'cacheward' has no attribute {name!r}")


__all__ = [
    "Cacheward",
    "CachewardError",
    "ConfigurationError",
    "Principal",
    "Scope",
    "UnkeyedInputError",
    "UnsafeCacheOrder",
    "current_principal",
]
