"""cacheward: poisoning-proof response caching for Flask APIs with API keys.

.. code-block:: python

    ward = Cacheward(app, keys=SQLiteKeyStore("keys.db"))

    @app.get("/accounts/<account_id>")
    @ward.protected("accounts:read", authorize=lambda p, account_id: p.id == account_id)
    @ward.cached(ttl=60)
    def account(account_id): ...
"""

from .core.policy import Scope as Scope
from .core.principal import Principal as Principal
from .errors import CachewardError as CachewardError
from .errors import ConfigurationError as ConfigurationError
from .errors import UnkeyedInputError as UnkeyedInputError
from .errors import UnsafeCacheOrder as UnsafeCacheOrder

__version__ = "0.1.0.dev0"
