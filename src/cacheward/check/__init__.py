"""``cacheward check``: a static checker for caching mistakes in Flask source.

It reads Python with :mod:`ast` (never imports or runs it), builds one model of the app
(:mod:`.model`, :mod:`.builder`, :mod:`.flow`) and runs small rules over it
(:mod:`.rules`, registered through :func:`.registry.rule`).

.. versionadded:: 0.1
"""

from .registry import RULES as RULES
from .registry import Rule as Rule
from .registry import all_rules as all_rules
from .runner import UnreadablePath as UnreadablePath
from .runner import check_paths as check_paths
