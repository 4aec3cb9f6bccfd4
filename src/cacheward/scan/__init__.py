"""``cacheward scan``: a black-box scanner for cache poisoning and cross-key leakage.

Probes are generators (one module each under :mod:`cacheward.scan.probes`) driven by an
async httpx runner; :func:`scan_async` returns a :class:`~cacheward.core.finding.Report`.
"""

from .credential import Credential as Credential
from .credential import Placement as Placement
from .credential import Redactor as Redactor
from .credential import mask as mask
from .engine import Settings as Settings
from .engine import scan as scan
from .engine import scan_async as scan_async
from .target import Endpoint as Endpoint
